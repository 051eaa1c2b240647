package edgecolbert.colbert

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path
import java.security.MessageDigest

/** spec/conformance/compressed-index.jsonl and its three files: read (either entry point), searched exactly, refused. */
class CompressedIndexConformanceTest {
    private val header = TestInputs.jsonl("compressed-index.jsonl").first
    private val cases = TestInputs.jsonl("compressed-index.jsonl").second
    private val digest = (header.getValue("model_digest") as JsonPrimitive).content
    private val files = (header.getValue("files") as JsonObject).mapValues { it.value as JsonObject }

    private fun JsonObject.string(key: String) = (getValue(key) as JsonPrimitive).content
    private fun JsonObject.int(key: String) = string(key).toInt()

    private fun path(name: String): Path = TestInputs.conformance.resolve(files.getValue(name).string("file"))

    private fun bytes(name: String): ByteArray = Files.readAllBytes(path(name)).also {
        assertEquals(files.getValue(name).string("sha256"), sha256Hex(it), "$name sha256")
    }

    @Test
    fun `every file loads, mapped or from bytes, with the header's values`() {
        assertEquals(setOf("2bit", "4bit", "8bit"), files.keys)
        for ((name, entry) in files) {
            val mapped = SearchIndex.load(path(name), digest)
            assertTrue(mapped is CompressedIndex, "$name reads as a compressed index")
            for (index in listOf(mapped as CompressedIndex, CompressedIndex.fromBytes(bytes(name), name, digest))) {
                assertEquals(entry.int("bits"), index.bits, name)
                assertEquals(entry.int("nprobe"), index.nprobe, name)
                assertEquals(entry.int("candidates"), index.candidates, name)
                assertEquals(header.int("dim"), index.dim, name)
                assertEquals(header.int("documents"), index.size, name)
                assertEquals(digest, index.modelDigest, name)
                assertEquals(header.getValue("metadata"), JsonArray(index.metadata), name)
            }
        }
    }

    @Test
    fun `every case's hits are exact, indices and scores`() {
        val indexes = files.keys.associateWith { SearchIndex.load(path(it), digest) as CompressedIndex }
        for (c in cases) {
            val index = indexes.getValue(c.string("file"))
            val query = ConformanceTest.vectors(c.getValue("query") as JsonArray, index.dim)
            val k = c.int("k")
            val got = if ("nprobe" in c || "candidates" in c) {
                index.search(query, k, c["nprobe"]?.let { (it as JsonPrimitive).content.toInt() } ?: index.nprobe,
                    c["candidates"]?.let { (it as JsonPrimitive).content.toInt() } ?: index.candidates)
            } else {
                index.search(query, k)
            }
            val want = (c.getValue("hits") as JsonArray).map { it as JsonObject }
            val name = c.string("name")
            assertEquals(want.map { it.int("index") }, got.map { it.index }, name)
            assertEquals(want.map { it.string("score").toFloat() }, got.map { it.score }, name)
            assertEquals(got.map { index.metadata[it.index] }, got.map { it.metadata }, name)
        }
        assertEquals(files.keys.associateWith { 14 }, cases.groupingBy { it.string("file") }.eachCount())
    }

    @Test
    fun `every mutation gets its error kind, from either entry point`(@TempDir tmp: Path) {
        val original = bytes("4bit")
        val mutations = (header.getValue("mutations") as JsonArray).map { it as JsonObject }
        assertEquals(17, mutations.size)
        for (m in mutations) {
            var bytes = original.copyOf()
            var expect = digest
            val le = { b: ByteArray -> ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN) }
            when (val op = m.string("op")) {
                "truncate" -> bytes = bytes.copyOf(m.int("bytes"))
                "append" -> bytes = bytes + ByteArray(m.int("bytes"))
                "flip_byte" -> m.int("offset").let { o -> val at = if (o < 0) bytes.size + o else o; bytes[at] = (bytes[at].toInt() xor 1).toByte() }
                "set_u16" -> le(bytes).putShort(m.int("offset"), m.string("value").toInt().toShort())
                "set_u32" -> le(bytes).putInt(m.int("offset"), m.string("value").toLong().toInt())
                "expect_digest" -> expect = m.string("value")
                else -> error("unknown op $op")
            }
            if ((m["rehash"] as JsonPrimitive?)?.content == "true") {
                val sum = MessageDigest.getInstance("SHA-256").apply { update(bytes, 0, bytes.size - 32) }.digest()
                sum.copyInto(bytes, bytes.size - 32)
            }
            val file = tmp.resolve("${m.string("name")}.cbindex").also { Files.write(it, bytes) }
            val name = m.string("name")
            val fromBytes = assertThrows<IndexException>(name) { SearchIndex.fromBytes(bytes, name, expect) }
            assertEquals(m.string("error"), fromBytes.kind, "$name: ${fromBytes.message}")
            val mapped = assertThrows<IndexException>(name) { SearchIndex.load(file, expect) }
            assertEquals(m.string("error"), mapped.kind, "$name (mapped): ${mapped.message}")
            assertTrue(mapped.message.orEmpty().contains(file.toString()), "$name: the message names the file")
        }
    }

    @Test
    fun `the one entry point reads exact files as before, and an absent file is unreadable`(@TempDir tmp: Path) {
        val exact = TestInputs.jsonl("index.jsonl").first
        val exactDigest = (exact.getValue("model_digest") as JsonPrimitive).content
        for (entry in (exact.getValue("files") as JsonObject).values.map { it as JsonObject }) {
            val path = TestInputs.conformance.resolve(entry.string("file"))
            val index = SearchIndex.load(path, exactDigest)
            assertTrue(index is MultiVectorIndex, "${entry.string("file")} reads as an exact index")
            assertEquals(Files.readAllBytes(path).toList(), (index as MultiVectorIndex).toBytes().toList())
        }
        assertEquals("unknown_version", assertThrows<IndexException> { MultiVectorIndex.fromBytes(bytes("2bit")) }.kind)
        // format 2, the compressed file before decompressed vectors were normalised, is refused by every reader
        val before = bytes("8bit").also { ByteBuffer.wrap(it).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 2) }
        for (read in listOf<(ByteArray) -> SearchIndex>({ SearchIndex.fromBytes(it) }, { CompressedIndex.fromBytes(it) },
                { MultiVectorIndex.fromBytes(it) })) {
            val e = assertThrows<IndexException> { read(before) }
            assertEquals("unknown_version", e.kind)
            assertTrue(e.message.orEmpty().contains("normalised"), e.message)
        }
        assertEquals("unreadable", assertThrows<IndexException> { SearchIndex.load(tmp.resolve("absent")) }.kind)
    }

    @Test
    fun `every decompressed vector has unit length, or is zero`() {
        for (name in files.keys) {
            val index = CompressedIndex.fromBytes(bytes(name), name)
            var zeros = 0
            for (d in 0 until index.size) {
                val vectors = index.vectorsOf(d)
                for (t in 0 until vectors.count) {
                    val row = vectors.data.copyOfRange(t * vectors.dim, (t + 1) * vectors.dim)
                    val squares = row.fold(0f) { acc, y -> acc + y * y }
                    if (row.all { it == 0f }) zeros++ else assertEquals(1f, squares, 1e-5f, "$name document $d vector $t")
                }
            }
            assertTrue(zeros >= 1, "$name: the vector that decompresses to zeros stays zero")
        }
    }

    @Test
    fun `a document searched by its decompressed vectors scores its own MaxSim, and k 0 or an empty query has no hits`() {
        val index = CompressedIndex.fromBytes(bytes("2bit"))
        val vectors = index.vectorsOf(0)
        assertEquals(index.dim, vectors.dim)
        assertTrue(vectors.data.all { it.isFinite() })
        assertEquals(emptyList<Hit>(), index.search(vectors, 0))
        assertEquals(emptyList<Hit>(), index.search(Vectors(0, index.dim, FloatArray(0)), 5))
        // a document searched by its own decompressed vectors scores its own MaxSim, exactly as the exact path does
        val hits = index.search(vectors, index.size, Int.MAX_VALUE, Int.MAX_VALUE)
        assertEquals(Scoring.maxSim(vectors, vectors), hits.first { it.index == 0 }.score)
    }
}
