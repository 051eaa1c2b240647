package edgecolbert.colbert

import org.bytedeco.tensorflowlite.BuiltinOpResolver
import org.bytedeco.tensorflowlite.FlatBufferModel
import org.bytedeco.tensorflowlite.Interpreter
import org.bytedeco.tensorflowlite.InterpreterBuilder
import org.bytedeco.tensorflowlite.SignatureRunner

/**
 * A TEST STAND-IN for the app's LiteRtEncoder, which needs LiteRT's Android artifacts: the same TFLite C++
 * runtime through JavaCPP's linux-x86_64 build (org.bytedeco:tensorflow-lite), one signature runner per bucket,
 * driven by the library's [encodeInBuckets] exactly as LiteRtEncoder is.
 */
class JavaCppTfliteEncoder private constructor(
    private val model: FlatBufferModel,
    private val interpreter: Interpreter,
    private val settings: ColbertSettings,
) : Encoder {
    private val runners = HashMap<String, SignatureRunner>()

    override fun encode(batch: Batch, kind: InputKind): FloatArray = synchronized(this) {
        encodeInBuckets(settings, batch, kind) { bucket, ids, mask ->
            val runner = runners.getOrPut(bucket.name) {
                interpreter.GetSignatureRunner(bucket.name)?.also { check(it.AllocateTensors() == 0) { "AllocateTensors failed" } }
                    ?: throw BundleException.UnreadableModel(bucket.name, "the model has no signature ${bucket.name}; re-export the bundle")
            }
            runner.input_tensor("input_ids").data().i32().put(ids, 0, ids.size)
            runner.input_tensor("attention_mask").data().i32().put(mask, 0, mask.size)
            check(runner.Invoke() == 0) { "Invoke failed on ${bucket.name}" }
            FloatArray(bucket.length * settings.dim).also { runner.output_tensor("embeddings").data().f().get(it) }
        }
    }

    override fun close() {
        interpreter.close()
        model.close()
    }

    companion object : EncoderFactory {
        override fun open(files: BundleFiles, manifest: Manifest, settings: ColbertSettings, options: EngineOptions): Encoder {
            val path = requireNotNull(files.localPath(manifest.artifact)) { "the stand-in reads bundles from a directory" }
            val model = FlatBufferModel.BuildFromFile(path.toString())
                ?: throw BundleException.UnreadableModel(manifest.artifact, "${manifest.artifact}: TFLite cannot load it; re-export the bundle")
            val interpreter = Interpreter()
            check(InterpreterBuilder(model, BuiltinOpResolver()).apply(interpreter) == 0) { "InterpreterBuilder failed" }
            interpreter.SetNumThreads(options.threads.coerceAtLeast(1))
            return JavaCppTfliteEncoder(model, interpreter, settings)
        }
    }
}
