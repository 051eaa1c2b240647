package edgecolbert.colbert

import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.JsonPrimitive
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/** The whole path on bundles the test session exported (COLBERT_BUNDLES), on ONNX Runtime's Java API. */
class RealBundlesTest {
    private val texts = listOf("what do bees do?", "", "   ", "Ünïcödé naïve café 東京 🙂", "late\u0000interaction\u0007",
        "e\u0301 NFD accent", "word ".repeat(400), "Sehr lange Dokumente werden auf document_length gekürzt. ".repeat(60))

    @Test
    fun `every bundle passes its self-test through tokenizer, encoder and scoring`() {
        for (bundle in TestInputs.bundles) {
            ColbertModel.open(bundle, EngineOptions(threads = 1)).use { model ->
                val report = model.selfTest()
                assertTrue(report.passed && report.idsExact, "$bundle: $report")
            }
        }
    }

    @Test
    fun `a text's vectors do not depend on its batch, and long texts stop at document_length`() {
        ColbertModel.open(TestInputs.bundles.first()).use { model ->
            val together = model.encodeDocuments(texts)
            val alone = texts.map { model.encodeDocuments(listOf(it)).single() }
            together.zip(alone).forEach { (a, b) ->
                assertEquals(a.count, b.count)
                for (i in a.data.indices) assertEquals(a.data[i], b.data[i], 2e-5f)
            }
            val longest = model.tokenizer.row(texts.last(), InputKind.DOCUMENT)
            assertEquals(model.settings.documentLength, longest.size)
            val q = model.encodeQueries(listOf("bees"))
            assertEquals(if (model.settings.doQueryExpansion) model.settings.queryLength else q.single().count, q.single().count)
            for (v in together) for (i in 0 until v.count) {
                val norm = Math.sqrt(v.row(i).sumOf { (it * it).toDouble() })
                assertEquals(1.0, norm, 1e-3)
            }
        }
    }

    @Test
    fun `eight coroutines encoding and searching at once give the sequential results`() {
        ColbertModel.open(TestInputs.bundles.first()).use { model ->
            val corpus = texts + List(40) { "document $it about bees, owls and the number $it" }
            val queries = List(8) { listOf("bees", "owls at night", "number 7", "café", "東京", "", "interaction", "long")[it] }
            val index = model.buildIndex(corpus)
            val sequential = queries.map { q -> model.search(index, q, 10) to model.encodeQueries(listOf(q)).single() }
            val concurrent = runBlocking {
                queries.map { q -> async { model.searchAsync(index, q, 10) to model.encodeQueriesAsync(listOf(q)).single() } }.awaitAll()
            }
            for ((s, c) in sequential.zip(concurrent)) {
                assertEquals(s.first, c.first)
                assertArrayEquals(s.second.data, c.second.data)
            }
            val rebuilt = runBlocking { model.buildIndexAsync(corpus) }
            assertArrayEquals(index.toBytes(), rebuilt.toBytes())
        }
    }

    @Test
    fun `an index from another bundle is refused, and a saved index reads back`(@TempDir tmp: Path) {
        val bundles = TestInputs.bundles
        ColbertModel.open(bundles[0]).use { first ->
            ColbertModel.open(bundles[2]).use { other ->
                val index = other.buildIndex(listOf("one", "two"))
                assertEquals("other_model", assertThrows<IndexException> { first.search(index, "one") }.kind)
                val path = tmp.resolve("i.cbindex")
                index.save(path)
                val loaded = MultiVectorIndex.load(path, other.modelDigest)
                assertEquals(listOf(JsonPrimitive("one"), JsonPrimitive("two")), loaded.metadata)
                assertEquals(other.search(index, "two"), other.search(loaded, "two"))
            }
        }
    }
}
