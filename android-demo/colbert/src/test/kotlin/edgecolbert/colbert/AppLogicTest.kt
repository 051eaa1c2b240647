package edgecolbert.colbert

import edgecolbert.colbert.app.BundleImport
import edgecolbert.colbert.app.IndexCache
import edgecolbert.colbert.app.SearchSession
import edgecolbert.colbert.app.SessionState
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path

/** The app's logic on the JVM: the session's states, the index cache and the bundle import. */
class AppLogicTest {
    private val corpus = List(30) { "document $it: bees dance, owls hunt at night, number $it" } + listOf("", "东京 🙂")

    private fun session(scope: CoroutineScope, bundle: Path, cache: IndexCache) =
        SearchSession(scope, { ColbertModel.open(bundle) }, corpus, cache)

    @Test
    fun `a session self-tests, indexes, searches as typed, and a relaunch restores the index`(@TempDir tmp: Path) = runBlocking {
        val bundle = TestInputs.bundles.first()
        val cache = IndexCache(tmp.resolve("indexes"))
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val first = session(scope, bundle, cache)
        first.start()
        val seen = withTimeout(120_000) { first.state.first { it is SessionState.Ready || it is SessionState.Failed } }
        assertTrue(seen is SessionState.Ready && !seen.restored && seen.documents == corpus.size, seen.toString())
        first.query("owls")
        first.query("bees at night") // the first query's search is cancelled or replaced
        val results = withTimeout(60_000) { first.results.first { it?.query == "bees at night" } }!!
        ColbertModel.open(bundle).use { model ->
            assertEquals(model.search(model.buildIndex(corpus), "bees at night", 10), results.hits)
        }
        assertTrue(results.milliseconds > 0)
        first.close()

        val second = session(scope, bundle, cache)
        second.start()
        val again = withTimeout(120_000) { second.state.first { it is SessionState.Ready || it is SessionState.Failed } }
        assertTrue(again is SessionState.Ready && again.restored, again.toString())
        second.close()
        scope.cancel()
    }

    @Test
    fun `a tampered bundle stops the session with its kind`(@TempDir tmp: Path) = runBlocking {
        val copy = tmp.resolve("bundle")
        BadBundlesTest.copyTree(TestInputs.bundles.first(), copy)
        val golden = copy.resolve("golden.json")
        Files.writeString(golden, Files.readString(golden).replaceFirst("\"text\"", " \"text\""))
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val s = session(scope, copy, IndexCache(tmp.resolve("i")))
        s.start().join()
        val state = s.state.value
        assertTrue(state is SessionState.Failed && state.kind == "tampered" && "golden.json" in state.message, state.toString())
        scope.cancel()
    }

    @Test
    fun `a cached index that no longer reads is dropped and rebuilt`(@TempDir tmp: Path) {
        val cache = IndexCache(tmp)
        ColbertModel.open(TestInputs.bundles.first()).use { model ->
            val index = model.buildIndex(corpus)
            cache.save(index, corpus)
            assertEquals(index.toBytes().toList(), cache.load(model.modelDigest, corpus)!!.toBytes().toList())
            assertEquals(null, cache.load(model.modelDigest, corpus.drop(1)))
            val path = cache.pathFor(model.modelDigest, corpus)
            Files.write(path, Files.readAllBytes(path).copyOf(100))
            assertEquals(null, cache.load(model.modelDigest, corpus))
            assertTrue(!Files.exists(path))
        }
    }

    @Test
    fun `an import replaces the bundle only once the copy verifies`(@TempDir tmp: Path) {
        val (good, other) = TestInputs.bundles.let { it[0] to it[1] }
        val current = tmp.resolve("app/bundle")
        val import = BundleImport(current, setOf("onnx"))
        val first = import.import(DirectoryFiles(good))
        val bad = tmp.resolve("bad")
        BadBundlesTest.copyTree(other, bad)
        val model = bad.resolve("model.onnx")
        Files.write(model, Files.readAllBytes(model).also { it[it.size / 2] = (it[it.size / 2].toInt() xor 1).toByte() })
        val e = assertThrows<BundleException> { import.import(DirectoryFiles(bad)) }
        assertEquals("tampered", e.kind)
        assertEquals(first.modelDigest, ColbertBundle.open(DirectoryFiles(current), setOf("onnx")).modelDigest)
        assertEquals(listOf("bundle"), Files.list(current.parent).use { s -> s.map { it.fileName.toString() }.toList() })
        val replaced = import.import(DirectoryFiles(other))
        assertEquals(ColbertBundle.open(DirectoryFiles(other), setOf("onnx")).modelDigest, replaced.modelDigest)
    }
}
