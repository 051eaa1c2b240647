package edgecolbert.colbert.app

import edgecolbert.colbert.ColbertException
import edgecolbert.colbert.ColbertModel
import edgecolbert.colbert.Hit
import edgecolbert.colbert.MultiVectorIndex
import edgecolbert.colbert.SelfTestReport
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.launch
import kotlinx.serialization.json.JsonPrimitive

/** Where the app is: opening the bundle, self-testing, indexing, ready to search, or stopped by an error. */
sealed interface SessionState {
    data object Opening : SessionState
    data object SelfTesting : SessionState
    data class Indexing(val report: SelfTestReport, val done: Int, val total: Int) : SessionState
    data class Ready(val report: SelfTestReport, val documents: Int, val restored: Boolean) : SessionState
    /** The self-test failed: the bundle runs, but not within its tier; search stays off. */
    data class SelfTestFailed(val report: SelfTestReport) : SessionState
    data class Failed(val kind: String, val message: String) : SessionState
}

/** The results of one query, with the time its encode and search took. */
data class SearchResults(val query: String, val hits: List<Hit>, val milliseconds: Double)

/**
 * The app's logic without its views: open a bundle, run its self-test, index the corpus (or restore it from
 * the [cache], or take a prebuilt index), then search as the user types. A new query cancels the search before
 * it. Plain Kotlin, tested on the JVM; the ViewModel only forwards [state] and [results].
 */
class SearchSession(
    private val scope: CoroutineScope,
    private val open: suspend () -> ColbertModel,
    private val corpus: List<String>,
    private val cache: IndexCache?,
    private val prebuilt: (suspend (String) -> MultiVectorIndex?)? = null,
    private val k: Int = 10,
) {
    private val _state = MutableStateFlow<SessionState>(SessionState.Opening)
    val state: StateFlow<SessionState> = _state.asStateFlow()
    private val _results = MutableStateFlow<SearchResults?>(null)
    val results: StateFlow<SearchResults?> = _results.asStateFlow()
    private val queries = MutableStateFlow("")
    private var model: ColbertModel? = null
    private var index: MultiVectorIndex? = null

    /** Starts loading; the returned job ends when the session is ready (or failed). */
    fun start(): Job = scope.launch {
        try {
            _state.value = SessionState.Opening
            val m = open()
            model = m
            _state.value = SessionState.SelfTesting
            val report = m.selfTestAsync()
            if (!report.passed) {
                _state.value = SessionState.SelfTestFailed(report)
                return@launch
            }
            val (built, restored) = indexFor(m, report)
            index = built
            _state.value = SessionState.Ready(report, built.size, restored)
            searchAsTyped(m, built)
        } catch (e: CancellationException) {
            throw e
        } catch (e: ColbertException) {
            _state.value = SessionState.Failed(e.kind, e.message ?: e.kind)
        } catch (e: java.io.IOException) { // storage that fails under the app (a removed card, a revoked folder)
            _state.value = SessionState.Failed("unreadable", "cannot read the bundle or the index (${e.message}); pick the bundle again")
        }
    }

    private suspend fun indexFor(m: ColbertModel, report: SelfTestReport): Pair<MultiVectorIndex, Boolean> {
        prebuilt?.invoke(m.modelDigest)?.let { candidate ->
            if (candidate.metadata == corpus.map(::JsonPrimitive)) return candidate to true
        }
        cache?.load(m.modelDigest, corpus)?.let { return it to true }
        _state.value = SessionState.Indexing(report, 0, corpus.size)
        val built = m.buildIndexAsync(corpus) { done -> _state.value = SessionState.Indexing(report, done, corpus.size) }
        cache?.save(built, corpus)
        return built to false
    }

    private suspend fun searchAsTyped(m: ColbertModel, built: MultiVectorIndex) {
        queries.collectLatest { query ->
            if (query.isBlank()) {
                _results.value = null
                return@collectLatest
            }
            val started = System.nanoTime()
            val hits = m.searchAsync(built, query, k) // cancelled when the next keystroke arrives
            _results.value = SearchResults(query, hits, (System.nanoTime() - started) / 1e6)
        }
    }

    /** The text field changed. */
    fun query(text: String) {
        queries.value = text
    }

    fun close() {
        model?.close()
    }
}
