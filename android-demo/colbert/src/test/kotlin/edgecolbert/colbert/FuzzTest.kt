package edgecolbert.colbert

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertTimeoutPreemptively
import java.nio.file.Files
import java.time.Duration
import kotlin.random.Random

/**
 * 10,000 seeded mutations of tokenizer.json, colbert.json and index bytes (a seeded loop, not coverage-guided).
 * Each case either loads (and then encodes a few texts) or fails with a [ColbertException]: never another
 * exception, a hang or an out-of-memory error.
 */
class FuzzTest {
    private val random = Random(20261202)
    private val outcomes = HashMap<String, Int>()

    private fun texts(): List<String> = listOf("", "what do bees do?", String(IntArray(12) { random.nextInt(0x20, 0x3000) }, 0, 12),
        "[MASK] [CLS] [unused0]  x", "é".repeat(random.nextInt(0, 300)))

    private fun outcome(what: String, block: () -> Unit) {
        val key = try {
            block()
            "loaded"
        } catch (e: ColbertException) {
            assertEquals(1, e.message!!.lines().size, "$what: ${e.message}")
            e.kind
        } catch (e: OutOfMemoryError) {
            throw AssertionError("$what: out of memory")
        } catch (e: Exception) {
            throw AssertionError("$what: ${e.javaClass.name}: ${e.message}", e)
        }
        outcomes.merge("$what $key", 1, Int::plus)
    }

    /** A JSON value of a random type, including ones no bundle writes. */
    private fun value(): JsonElement = when (random.nextInt(10)) {
        0 -> JsonNull
        1 -> JsonPrimitive(random.nextBoolean())
        2 -> JsonPrimitive(random.nextInt(-5, 5))
        3 -> JsonPrimitive(listOf(Long.MAX_VALUE, Int.MAX_VALUE.toLong(), -1L, 1_000_000_000L)[random.nextInt(4)])
        4 -> JsonPrimitive(random.nextDouble() * 10)
        5 -> JsonPrimitive(listOf("", "x", "NFC", "BPE", "[CLS]", "Ġ", "\u0000", "1")[random.nextInt(8)])
        6 -> JsonArray(List(random.nextInt(3)) { JsonPrimitive(random.nextInt(100)) })
        7 -> JsonArray(List(random.nextInt(3)) { JsonPrimitive("a b") })
        8 -> JsonObject(mapOf("type" to JsonPrimitive(listOf("NFC", "ByteLevel", "BPE", "WordPiece", "TemplateProcessing", "x")[random.nextInt(6)])))
        else -> JsonObject(emptyMap())
    }

    /** [root] with one field somewhere inside set to a random value, or removed. */
    private fun mutate(root: JsonElement, depth: Int = 0): JsonElement = when {
        root is JsonObject && root.isNotEmpty() && (depth < 4 && random.nextInt(3) > 0) -> {
            val key = root.keys.elementAt(random.nextInt(root.size))
            JsonObject(root + (key to mutate(root.getValue(key), depth + 1)))
        }
        root is JsonObject && root.isNotEmpty() && random.nextBoolean() -> JsonObject(root - root.keys.elementAt(random.nextInt(root.size)))
        root is JsonArray && root.isNotEmpty() && depth < 4 -> {
            val i = random.nextInt(root.size)
            JsonArray(root.toMutableList().also { if (random.nextInt(4) == 0) it.removeAt(i) else it[i] = mutate(it[i], depth + 1) })
        }
        else -> value()
    }

    private fun bytes(original: ByteArray): ByteArray {
        val b = original.copyOf()
        return when (random.nextInt(4)) {
            0 -> b.also { repeat(random.nextInt(1, 8)) { _ -> val i = random.nextInt(b.size); b[i] = random.nextInt(256).toByte() } }
            1 -> b.copyOf(random.nextInt(b.size))
            2 -> b + ByteArray(random.nextInt(1, 64)) { random.nextInt(256).toByte() }
            else -> { val i = random.nextInt(b.size); b.copyOf(i) + byteArrayOf(0xC3.toByte(), 0x28) + b.copyOfRange(i, b.size) }
        }
    }

    /** A small tokenizer of the same kind: the first 600 ids, the merges among them and the added tokens. */
    private fun miniature(tokenizer: JsonObject): JsonObject {
        val model = tokenizer.getValue("model") as JsonObject
        val vocab = (model.getValue("vocab") as JsonObject).filter { (_, id) -> (id as JsonPrimitive).content.toInt() < 600 ||
            (tokenizer.getValue("added_tokens") as JsonArray).any { (it as JsonObject)["id"] == id } }
        val merges = (model["merges"] as? JsonArray)?.filter { m ->
            val (a, b) = if (m is JsonArray) m.map { (it as JsonPrimitive).content } else (m as JsonPrimitive).content.split(' ', limit = 2)
            a in vocab && b in vocab && (a + b) in vocab
        }
        val small = model + ("vocab" to JsonObject(vocab)) + (if (merges != null) mapOf("merges" to JsonArray(merges)) else emptyMap())
        return JsonObject(tokenizer + ("model" to JsonObject(small)))
    }

    @Test
    fun `ten thousand mutations each load or fail with a typed error`() {
        val bundle = TestInputs.bundles.first()
        val settingsBytes = Files.readAllBytes(bundle.resolve("colbert.json"))
        val settings = ColbertSettings.parse(settingsBytes)
        val sources = TestInputs.bundles.map { Json.parseToJsonElement(Files.readString(it.resolve("tokenizer.json"))) as JsonObject }
            .distinctBy { it["normalizer"] }
        val small = sources.map { miniature(it) }
        val smallBytes = small.map { it.toString().toByteArray() }
        val settingsTree = Json.parseToJsonElement(String(settingsBytes))
        val index = Files.readAllBytes(TestInputs.conformance.resolve("small-float32.cbindex"))
        var cases = 0
        assertTimeoutPreemptively(Duration.ofMinutes(8)) {
            repeat(2000) { outcome("tokenizer.json tree") {
                val tree = mutate(sources[random.nextInt(sources.size)])
                val t = HfTokenizer.fromJson(tree, "tokenizer.json")
                val c = ColbertTokenizer(t, settings)
                texts().forEach { c.tokenizeAlone(it, InputKind.DOCUMENT) }
            }; cases++ }
            repeat(1500) { outcome("small tokenizer.json tree") {
                val c = ColbertTokenizer(HfTokenizer.fromJson(mutate(small[random.nextInt(small.size)]), "tokenizer.json"), settings)
                texts().forEach { c.tokenizeAlone(it, InputKind.QUERY) }
            }; cases++ }
            repeat(1500) { outcome("tokenizer.json bytes") {
                val c = ColbertTokenizer(HfTokenizer.parse(bytes(smallBytes[random.nextInt(smallBytes.size)])), settings)
                texts().forEach { c.tokenizeAlone(it, InputKind.DOCUMENT) }
            }; cases++ }
            repeat(1500) { outcome("colbert.json tree") {
                val s = ColbertSettings.parse(mutate(settingsTree).toString().toByteArray())
                val c = ColbertTokenizer(HfTokenizer.fromJson(small[0], "tokenizer.json"), s)
                texts().forEach { c.tokenizeAlone(it, InputKind.QUERY); c.tokenizeAlone(it, InputKind.DOCUMENT) }
            }; cases++ }
            repeat(1500) { outcome("colbert.json bytes") { ColbertSettings.parse(bytes(settingsBytes)) }; cases++ }
            repeat(2000) { outcome("index bytes") {
                val b = if (random.nextBoolean()) bytes(index) else index.copyOf().also { b ->
                    val at = listOf(8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 80, 88)[random.nextInt(12)]
                    val v = listOf(0, 1, 2, -1, Int.MAX_VALUE, 40, 41, 1 shl 30)[random.nextInt(8)]
                    java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(at, v)
                }
                MultiVectorIndex.fromBytes(b, "index").search(Vectors(1, 16, FloatArray(16) { 0.25f }), 5)
            }; cases++ }
        }
        println("fuzz outcomes: ${outcomes.toSortedMap()}")
        assertEquals(10_000, cases)
        assertTrue(outcomes.keys.any { it.endsWith("loaded") } && outcomes.keys.count { !it.endsWith("loaded") } >= 6, outcomes.toString())
    }
}
