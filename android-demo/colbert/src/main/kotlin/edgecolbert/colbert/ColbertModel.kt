package edgecolbert.colbert

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.withContext
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonPrimitive
import java.nio.file.Path

/**
 * What an app does with a bundle: tokenise, encode in batches, keep vectors, score, rank, index and self-test.
 * Every method is safe to call from several threads; the suspend ones run on [dispatcher], off the main
 * thread, and stop at the next batch when their coroutine is cancelled.
 */
class ColbertModel(
    val bundle: ColbertBundle,
    private val encoder: Encoder,
    val batchSize: Int = 16,
    private val dispatcher: CoroutineDispatcher = Dispatchers.Default,
) : AutoCloseable {
    val settings: ColbertSettings get() = bundle.settings
    val tokenizer: ColbertTokenizer get() = bundle.tokenizer
    val modelDigest: String get() = bundle.modelDigest

    fun encodeQueries(texts: List<String>): List<Vectors> = encode(texts, InputKind.QUERY)

    fun encodeDocuments(texts: List<String>, progress: (Int) -> Unit = {}): List<Vectors> =
        encode(texts, InputKind.DOCUMENT, progress)

    /**
     * Batches of texts of similar length (sorted by token count, as the Python runtime and sentence-transformers
     * do), so little padding is computed; the vectors come back in the texts' order. [progress] gets the count
     * encoded so far; [checkCancelled] runs before each batch.
     */
    private fun encode(texts: List<String>, kind: InputKind, progress: (Int) -> Unit = {}, checkCancelled: () -> Unit = {}): List<Vectors> {
        val rows = texts.map { tokenizer.row(it, kind) }
        val order = rows.indices.sortedBy { rows[it].size }
        val out = arrayOfNulls<Vectors>(rows.size)
        val dim = settings.dim
        var done = 0
        for (members in order.chunked(batchSize)) {
            checkCancelled()
            val batch = tokenizer.pad(members.map { rows[it] }, kind)
            val vectors = encoder.encode(batch, kind)
            members.forEachIndexed { r, i ->
                val kept = tokenizer.kept(batch, r, kind)
                val data = FloatArray(kept.size * dim)
                kept.forEachIndexed { n, pos -> System.arraycopy(vectors, (r * batch.width + pos) * dim, data, n * dim, dim) }
                out[i] = Vectors(kept.size, dim, data)
            }
            done += members.size
            progress(done)
        }
        return out.map { requireNotNull(it) }
    }

    /** The [k] best of [documents] for [query]: (index, MaxSim). */
    fun rank(query: String, documents: List<String>, k: Int = 10): List<Ranked> {
        val q = encodeQueries(listOf(query)).single()
        val scores = encodeDocuments(documents).map { Scoring.maxSim(q, it) }.toFloatArray()
        return Scoring.rank(scores, k)
    }

    /** An index of [texts] encoded as documents, tied to this model; metadata defaults to the texts. */
    fun buildIndex(texts: List<String>, metadata: List<JsonElement> = texts.map(::JsonPrimitive),
                   dtype: VectorDtype = VectorDtype.FLOAT32, progress: (Int) -> Unit = {}): MultiVectorIndex =
        MultiVectorIndex.build(encodeDocuments(texts, progress), metadata, modelDigest, dtype)

    /** The [k] best documents of [index] for [query]; refuses an index built with another model. */
    fun search(index: SearchIndex, query: String, k: Int = 10): List<Hit> {
        checkIndex(index)
        return index.search(encodeQueries(listOf(query)).single(), k)
    }

    fun checkIndex(index: SearchIndex) {
        if (index.modelDigest != modelDigest) {
            throw IndexException.OtherModel("the index was built with another model (digest ${index.modelDigest.take(12)}, " +
                "this bundle's is ${modelDigest.take(12)}); rebuild it with this bundle")
        }
    }

    /** golden.json through the whole path (tokenizer, encoder, scoring), judged by the spec's golden rule. */
    fun selfTest(): SelfTestReport {
        val golden = bundle.golden
        val mismatches = golden.queries.filterNot { idsMatch(it, InputKind.QUERY) }.map { it.text } +
            golden.documents.filterNot { idsMatch(it, InputKind.DOCUMENT) }.map { it.text }
        val queries = encodeQueries(golden.queries.map { it.text })
        val documents = encodeDocuments(golden.documents.map { it.text })
        val metrics = try {
            GoldenRule.measure(golden, queries, documents)
        } catch (e: IllegalStateException) {
            return SelfTestReport(false, mismatches.isEmpty(), mismatches, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                Double.NaN, listOf(e.message ?: "vectors differ in count"))
        }
        val failures = GoldenRule.judge(golden, metrics)
        return SelfTestReport(failures.isEmpty() && mismatches.isEmpty(), mismatches.isEmpty(), mismatches,
            metrics.getValue("cosine_min"), metrics.getValue("cosine_mean"), metrics.getValue("maxsim_rel_err_max"),
            metrics.getValue("maxsim_rel_err_p99"), metrics.getValue("top10_agreement"), failures)
    }

    private fun idsMatch(entry: GoldenEntry, kind: InputKind): Boolean {
        val t = tokenizer.tokenizeAlone(entry.text, kind)
        return t.inputIds == entry.inputIds && t.attentionMask == entry.attentionMask && t.keptPositions == entry.keptPositions
    }

    // The coroutine API: the same work on the dispatcher, cancellable between batches.

    suspend fun encodeQueriesAsync(texts: List<String>): List<Vectors> = withContext(dispatcher) { encodeQueries(texts) }

    suspend fun buildIndexAsync(texts: List<String>, metadata: List<JsonElement> = texts.map(::JsonPrimitive),
                                dtype: VectorDtype = VectorDtype.FLOAT32, progress: (Int) -> Unit = {}): MultiVectorIndex =
        withContext(dispatcher) {
            val context = currentCoroutineContext()
            val vectors = encode(texts, InputKind.DOCUMENT, progress) { context.ensureActive() }
            MultiVectorIndex.build(vectors, metadata, modelDigest, dtype)
        }

    suspend fun searchAsync(index: SearchIndex, query: String, k: Int = 10): List<Hit> =
        withContext(dispatcher) { search(index, query, k) }

    suspend fun selfTestAsync(): SelfTestReport = withContext(dispatcher) { selfTest() }

    override fun close() = encoder.close()

    companion object {
        /** The targets this library runs on the JVM and Android without the app's own engines. */
        val DEFAULT_ENGINES: Map<String, EncoderFactory> = mapOf("onnx" to OnnxEncoder)

        /** Opens a bundle and loads its artifact with the engine of its target. */
        fun open(files: BundleFiles, options: EngineOptions = EngineOptions(), engines: Map<String, EncoderFactory> = DEFAULT_ENGINES,
                 batchSize: Int = 16, dispatcher: CoroutineDispatcher = Dispatchers.Default, hashProgress: (Long) -> Unit = {}): ColbertModel {
            val bundle = ColbertBundle.open(files, engines.keys, hashProgress)
            val factory = engines.getValue(bundle.manifest.target)
            val encoder = factory.open(files, bundle.manifest, bundle.settings, options)
            return ColbertModel(bundle, encoder, batchSize, dispatcher)
        }

        fun open(directory: Path, options: EngineOptions = EngineOptions()): ColbertModel = open(DirectoryFiles(directory), options)
    }
}
