package edgecolbert.colbert

import ai.onnxruntime.OnnxJavaType
import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtException
import ai.onnxruntime.OrtSession
import ai.onnxruntime.TensorInfo
import java.nio.IntBuffer
import java.nio.LongBuffer

/**
 * An ONNX bundle on ONNX Runtime's Java API (com.microsoft.onnxruntime:onnxruntime on the JVM,
 * onnxruntime-android in the app: the same API). Runs fp32, fp16 and int8 artifacts (int8 uses the
 * com.microsoft MatMulNBits and GatherBlockQuantized ops). One session serves concurrent callers.
 */
class OnnxEncoder(private val session: OrtSession, private val settings: ColbertSettings) : Encoder {
    private val env = OrtEnvironment.getEnvironment()
    private val int32 = (session.inputInfo["input_ids"]?.info as? TensorInfo)?.type == OnnxJavaType.INT32

    override fun encode(batch: Batch, kind: InputKind): FloatArray {
        checkSequenceBound(batch.width, settings.io)
        val max = settings.io.maxBatch ?: batch.rows
        if (batch.rows <= max) return run(batch)
        val out = FloatArray(batch.rows * batch.width * settings.dim)
        var start = 0
        while (start < batch.rows) {
            val end = minOf(start + max, batch.rows)
            val part = Batch(end - start, batch.width, batch.ids.copyOfRange(start * batch.width, end * batch.width),
                batch.mask.copyOfRange(start * batch.width, end * batch.width))
            System.arraycopy(run(part), 0, out, start * batch.width * settings.dim, part.rows * batch.width * settings.dim)
            start = end
        }
        return out
    }

    private fun tensor(values: LongArray, shape: LongArray): OnnxTensor =
        if (int32) OnnxTensor.createTensor(env, IntBuffer.wrap(IntArray(values.size) { values[it].toInt() }), shape)
        else OnnxTensor.createTensor(env, LongBuffer.wrap(values), shape)

    private fun run(batch: Batch): FloatArray {
        val shape = longArrayOf(batch.rows.toLong(), batch.width.toLong())
        tensor(batch.ids, shape).use { ids ->
            tensor(batch.mask, shape).use { mask ->
                session.run(mapOf("input_ids" to ids, "attention_mask" to mask)).use { result ->
                    val output = result.get(0) as OnnxTensor
                    val expected = batch.rows.toLong() * batch.width * settings.dim
                    val buffer = output.floatBuffer
                    if (buffer.remaining().toLong() != expected) {
                        throw BundleException.UnreadableModel("model.onnx", "the model gave ${buffer.remaining()} floats, not " +
                            "${batch.rows} x ${batch.width} x ${settings.dim}; re-export the bundle")
                    }
                    return FloatArray(buffer.remaining()).also { buffer.get(it) }
                }
            }
        }
    }

    override fun close() = session.close()

    companion object : EncoderFactory {
        override fun open(files: BundleFiles, manifest: Manifest, settings: ColbertSettings, options: EngineOptions): Encoder {
            val env = OrtEnvironment.getEnvironment()
            val sessionOptions = OrtSession.SessionOptions().apply {
                setIntraOpNumThreads(options.threads)
                setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR)
                if (options.xnnpack) addXnnpack(mapOf("intra_op_num_threads" to options.threads.coerceAtLeast(1).toString()))
            }
            val session = try {
                val path = files.localPath(manifest.artifact)
                if (path != null) env.createSession(path.toString(), sessionOptions)
                else env.createSession(files.readBytes(manifest.artifact), sessionOptions)
            } catch (e: OrtException) {
                throw BundleException.UnreadableModel(manifest.artifact, "${manifest.artifact}: ONNX Runtime cannot load it " +
                    "(${e.message?.lineSequence()?.firstOrNull()?.take(160)}); re-export the bundle")
            }
            val names = session.inputNames
            if (!names.containsAll(listOf("input_ids", "attention_mask"))) {
                session.close()
                throw BundleException.UnreadableModel(manifest.artifact, "${manifest.artifact} takes ${names.joinToString()}, " +
                    "not input_ids and attention_mask; re-export the bundle")
            }
            return OnnxEncoder(session, settings)
        }
    }
}
