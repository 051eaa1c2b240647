package edgecolbert.colbert

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.CsvSource
import org.junit.jupiter.api.Test
import java.nio.file.Files

/** Every case of spec/conformance/: preprocessing, tokenization (three settings), scoring, the golden rule. */
class ConformanceTest {
    @Test
    fun `preprocessing equals Python's strip and lower on every case`() {
        val (header, cases) = TestInputs.jsonl("preprocess.jsonl")
        val strip = header.getValue("strip_codepoints").ints().map { it.toInt() }
        val lower = Preprocessor(strip, true)
        val cased = Preprocessor(strip, false)
        val wrong = cases.filter { c ->
            val text = (c.getValue("text") as JsonPrimitive).content
            lower.apply(text) != (c.getValue("lowercase") as JsonPrimitive).content ||
                cased.apply(text) != (c.getValue("cased") as JsonPrimitive).content
        }.map { (it.getValue("text") as JsonPrimitive).content }
        assertTrue(cases.size > 3000)
        assertEquals(emptyList<String>(), wrong.take(5), "${wrong.size} of ${cases.size} differ")
    }

    @ParameterizedTest
    @CsvSource("tokenize-mxbai.jsonl, MXBAI_TOKENIZER", "tokenize-mxbai-variant.jsonl, MXBAI_TOKENIZER",
        "tokenize-minilm.jsonl, MINILM_TOKENIZER")
    fun `tokenization gives the ids tokenizers gives, as query and as document`(file: String, variable: String) {
        val (header, cases) = TestInputs.jsonl(file)
        val path = TestInputs.tokenizerFile(variable)
        val bytes = Files.readAllBytes(path)
        assertEquals((header.getValue("tokenizer_sha256") as JsonPrimitive).content, sha256Hex(bytes), "$path is not the vectors' tokenizer")
        val tokenizer = ColbertTokenizer(HfTokenizer.parse(bytes), TestInputs.settingsOf(header))
        val wrong = ArrayList<String>()
        for (c in cases) {
            val text = (c.getValue("text") as JsonPrimitive).content
            for (kind in InputKind.entries) {
                val want = c.getValue(kind.json) as JsonObject
                val got = tokenizer.tokenizeAlone(text, kind)
                val same = got.inputIds == want.getValue("input_ids").ints() && got.attentionMask == want.getValue("attention_mask").ints() &&
                    got.keptPositions == want.getValue("kept_positions").ints().map { it.toInt() } &&
                    got.bucket == (want["bucket"] as? JsonPrimitive)?.content
                if (!same) wrong.add("${kind.json} ${text.take(60).codePoints().toArray().joinToString(" ") { "%04X".format(it) }}: " +
                    "want ${want.getValue("input_ids")} got ${got.inputIds}")
            }
        }
        assertTrue(cases.size >= 3000)
        assertEquals(emptyList<String>(), wrong.take(4), "${wrong.size} of ${2 * cases.size} encodings differ")
    }

    @Test
    fun `MaxSim and rank equal the vectors' exactly, ties in corpus order`() {
        val (_, cases) = TestInputs.jsonl("scoring.jsonl")
        for (c in cases) {
            val dim = (c.getValue("dim") as JsonPrimitive).content.toInt()
            val query = vectors(c.getValue("query") as JsonArray, dim)
            val documents = (c.getValue("documents") as JsonArray).map { vectors(it as JsonArray, dim) }
            val scores = documents.map { Scoring.maxSim(query, it) }.toFloatArray()
            val name = (c.getValue("name") as JsonPrimitive).content
            assertEquals((c.getValue("maxsim") as JsonArray).map { it.toString().toFloat() }, scores.toList(), name)
            val k = (c.getValue("k") as JsonPrimitive).content.toInt()
            assertEquals(c.getValue("rank").ints().map { it.toInt() }, Scoring.rank(scores, k).map { it.index }, name)
        }
        assertTrue(cases.size >= 20)
    }

    @Test
    fun `the golden rule's metrics and missed bounds equal the vectors', golden json parsed as a bundle's`() {
        val (_, cases) = TestInputs.jsonl("golden.jsonl")
        for (c in cases) {
            val name = (c.getValue("name") as JsonPrimitive).content
            val dim = (c.getValue("dim") as JsonPrimitive).content.toInt()
            val golden = Golden.parse(c.getValue("golden").toString().toByteArray())
            val encoded = c.getValue("encoded") as JsonObject
            val queries = (encoded.getValue("queries") as JsonArray).map { vectors(it as JsonArray, dim) }
            val documents = (encoded.getValue("documents") as JsonArray).map { vectors(it as JsonArray, dim) }
            if ("error" in c) {
                assertThrows(IllegalStateException::class.java, { GoldenRule.measure(golden, queries, documents) }, name)
                continue
            }
            val metrics = GoldenRule.measure(golden, queries, documents)
            for ((metric, want) in c.getValue("metrics") as JsonObject) {
                assertEquals(want.toString().toDouble(), metrics.getValue(metric), 1e-12, "$name: $metric")
            }
            val failures = GoldenRule.judge(golden, metrics).map { it.substringBefore("=") }.sorted()
            assertEquals((c.getValue("failures") as JsonArray).map { (it as JsonPrimitive).content }, failures, name)
        }
        assertTrue(cases.any { (it.getValue("name") as JsonPrimitive).content == "floor-below-one" })
    }

    companion object {
        fun vectors(rows: JsonArray, dim: Int): Vectors =
            Vectors.of(rows.map { r -> (r as JsonArray).map { it.toString().toFloat() }.toFloatArray() }, dim)
    }
}
