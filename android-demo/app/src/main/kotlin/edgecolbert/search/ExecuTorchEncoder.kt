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
import edgecolbert.colbert.checkSequenceBound
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor
import java.io.File

/**
 * A `.pte` bundle on ExecuTorch's Android API (XNNPACK-delegated, dynamic sequence length). The padding and
 * the bound check come from the tested core. NOT COMPILED OR RUN on the machine this was written on.
 */
class ExecuTorchEncoder private constructor(private val module: Module, private val settings: ColbertSettings) : Encoder {
    private val lock = Any()

    override fun encode(batch: Batch, kind: InputKind): FloatArray {
        checkSequenceBound(batch.width, settings.io)
        val rows = settings.io.maxBatch ?: batch.rows
        val out = FloatArray(batch.rows * batch.width * settings.dim)
        for (start in 0 until batch.rows step rows) {
            val end = minOf(start + rows, batch.rows)
            val shape = longArrayOf((end - start).toLong(), batch.width.toLong())
            val ids = Tensor.fromBlob(batch.ids.copyOfRange(start * batch.width, end * batch.width), shape)
            val mask = Tensor.fromBlob(batch.mask.copyOfRange(start * batch.width, end * batch.width), shape)
            val vectors = synchronized(lock) { module.forward(EValue.from(ids), EValue.from(mask)) }[0].toTensor().dataAsFloatArray
            System.arraycopy(vectors, 0, out, start * batch.width * settings.dim, vectors.size)
        }
        return out
    }

    override fun close() = module.destroy()

    companion object {
        /** ExecuTorch loads from a file: the bundle's .pte is copied to [cacheDir] first when it sits in assets. */
        fun factory(cacheDir: File) = EncoderFactory { files: BundleFiles, manifest: Manifest, settings: ColbertSettings, _: EngineOptions ->
            val path = files.localPath(manifest.artifact)?.toFile() ?: File(cacheDir, "model.pte").also { target ->
                files.open(manifest.artifact).use { input -> target.outputStream().use { input.copyTo(it) } }
            }
            val module = try {
                Module.load(path.absolutePath)
            } catch (e: RuntimeException) {
                throw BundleException.UnreadableModel(manifest.artifact, "${manifest.artifact}: ExecuTorch cannot load it (${e.message}); re-export the bundle")
            }
            ExecuTorchEncoder(module, settings)
        }
    }
}
