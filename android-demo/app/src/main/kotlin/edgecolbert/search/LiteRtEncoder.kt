package edgecolbert.search

import edgecolbert.colbert.Batch
import edgecolbert.colbert.BundleException
import edgecolbert.colbert.BundleFiles
import edgecolbert.colbert.ColbertSettings
import edgecolbert.colbert.Encoder
import edgecolbert.colbert.EncoderFactory
import edgecolbert.colbert.EngineOptions
import edgecolbert.colbert.InputKind
import edgecolbert.colbert.Manifest
import edgecolbert.colbert.encodeInBuckets
import org.tensorflow.lite.Interpreter
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * A TFLite bundle on LiteRT's Android API: one signature per bucket. The bucket choice and padding come from
 * the tested core ([encodeInBuckets]). NOT COMPILED OR RUN on the machine this was written on (no Android SDK,
 * no Google Maven); the JVM tests cover everything but the interpreter call.
 */
class LiteRtEncoder private constructor(private val interpreter: Interpreter, private val settings: ColbertSettings) : Encoder {
    private val lock = Any() // an Interpreter is not safe to call from several threads

    override fun encode(batch: Batch, kind: InputKind): FloatArray = encodeInBuckets(settings, batch, kind) { bucket, ids, mask ->
        val out = ByteBuffer.allocateDirect(4 * bucket.length * settings.dim).order(ByteOrder.nativeOrder())
        synchronized(lock) {
            interpreter.runSignature(mapOf("input_ids" to arrayOf(ids), "attention_mask" to arrayOf(mask)),
                mapOf("embeddings" to out), bucket.name)
        }
        out.rewind()
        FloatArray(bucket.length * settings.dim).also { out.asFloatBuffer().get(it) }
    }

    override fun close() = interpreter.close()

    companion object : EncoderFactory {
        override fun open(files: BundleFiles, manifest: Manifest, settings: ColbertSettings, options: EngineOptions): Encoder {
            val bytes = files.open(manifest.artifact).use { it.readBytes() }
            val model = ByteBuffer.allocateDirect(bytes.size).order(ByteOrder.nativeOrder()).put(bytes).also { it.rewind() }
            val interpreter = try {
                Interpreter(model, Interpreter.Options().setNumThreads(options.threads.coerceAtLeast(1)).setUseXNNPACK(options.xnnpack))
            } catch (e: IllegalArgumentException) {
                throw BundleException.UnreadableModel(manifest.artifact, "${manifest.artifact}: LiteRT cannot load it (${e.message}); re-export the bundle")
            }
            val missing = settings.io.buckets.map { it.name } - interpreter.signatureKeys.toSet()
            if (missing.isNotEmpty()) {
                interpreter.close()
                throw BundleException.UnreadableModel(manifest.artifact, "${manifest.artifact} lacks the signatures ${missing.joinToString()}; re-export the bundle")
            }
            return LiteRtEncoder(interpreter, settings)
        }
    }
}
