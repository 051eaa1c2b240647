package edgecolbert.colbert

/**
 * A target's compiled encoder: a batch of ids in, one vector per position out, as a row-major
 * [rows x width x dim] float array (fp32 for every precision). [kind] lets a bucketed engine pick its bucket.
 * Implementations are safe to call from several threads at once.
 */
interface Encoder : AutoCloseable {
    fun encode(batch: Batch, kind: InputKind): FloatArray
}

/** Options an app passes to an engine. */
data class EngineOptions(
    /** Intra-op threads; 0 lets the engine choose. */
    val threads: Int = 0,
    /** ONNX Runtime's XNNPACK execution provider (Android builds carry it); off on the JVM. */
    val xnnpack: Boolean = false,
)

/** Opens a bundle's artifact as an [Encoder]: one per target (ONNX here; LiteRT and ExecuTorch in the app). */
fun interface EncoderFactory {
    fun open(files: BundleFiles, manifest: Manifest, settings: ColbertSettings, options: EngineOptions): Encoder
}

/** Refuses a sequence past the export bound, as every engine does. */
fun checkSequenceBound(width: Int, io: IoSpec) {
    if (width > io.maxSequence) {
        throw InputPastBoundException("sequence of $width tokens is past this bundle's export bound of ${io.maxSequence}; " +
            "truncate to document_length first")
    }
}

/** Runs one bucket: (bucket, int32 ids [1 x length], mask [1 x length]) -> vectors [1 x length x dim]. */
fun interface BucketRunner {
    fun run(bucket: Bucket, ids: IntArray, mask: IntArray): FloatArray
}

/**
 * A bucketed target's encoding (spec/bundle.md): each row through the smallest bucket of its kind that holds
 * it, padded with pad_token_id and mask 0, one row at a time; the padding is cut off again. The LiteRT and
 * ExecuTorch encoders of the app take the choice and the padding from here.
 */
fun encodeInBuckets(settings: ColbertSettings, batch: Batch, kind: InputKind, runner: BucketRunner): FloatArray {
    checkSequenceBound(batch.width, settings.io)
    val bucket = settings.io.bucketFor(batch.width, kind)
    val dim = settings.dim
    val out = FloatArray(batch.rows * batch.width * dim)
    for (row in 0 until batch.rows) {
        val ids = IntArray(bucket.length) { settings.padTokenId }
        val mask = IntArray(bucket.length)
        for (i in 0 until batch.width) {
            ids[i] = batch.ids[row * batch.width + i].toInt()
            mask[i] = batch.mask[row * batch.width + i].toInt()
        }
        val vectors = runner.run(bucket, ids, mask)
        if (vectors.size != bucket.length * dim) {
            throw BundleException.UnreadableModel(bucket.name, "bucket ${bucket.name} gave ${vectors.size} floats, not " +
                "${bucket.length} x $dim; re-export the bundle")
        }
        System.arraycopy(vectors, 0, out, row * batch.width * dim, batch.width * dim)
    }
    return out
}
