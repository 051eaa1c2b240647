package edgecolbert.colbert

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path

/** spec/conformance/index.jsonl and its two index files: read, searched exactly, written back byte for byte. */
class IndexConformanceTest {
    private val header = TestInputs.jsonl("index.jsonl").first
    private val cases = TestInputs.jsonl("index.jsonl").second
    private val digest = (header.getValue("model_digest") as JsonPrimitive).content

    private fun file(dtype: String): ByteArray {
        val entry = (header.getValue("files") as JsonObject).getValue(dtype) as JsonObject
        val bytes = Files.readAllBytes(TestInputs.conformance.resolve((entry.getValue("file") as JsonPrimitive).content))
        assertEquals((entry.getValue("sha256") as JsonPrimitive).content, sha256Hex(bytes))
        return bytes
    }

    @Test
    fun `both files give every query's hits exactly, and are written back byte for byte`() {
        for (dtype in listOf("float32", "float16")) {
            val bytes = file(dtype)
            val index = MultiVectorIndex.fromBytes(bytes, dtype, digest)
            assertEquals(header.getValue("metadata"), JsonArray(index.metadata))
            assertEquals((header.getValue("documents") as JsonPrimitive).content.toInt(), index.size)
            for (c in cases) {
                val query = ConformanceTest.vectors(c.getValue("query") as JsonArray, index.dim)
                val k = (c.getValue("k") as JsonPrimitive).content.toInt()
                val want = (c.getValue("hits") as JsonArray).map { it as JsonObject }
                val got = index.search(query, k)
                assertEquals(want.map { (it.getValue("index") as JsonPrimitive).content.toInt() }, got.map { it.index }, "$dtype ${c["name"]}")
                assertEquals(want.map { (it.getValue("score") as JsonPrimitive).content.toFloat() }, got.map { it.score }, "$dtype ${c["name"]}")
            }
            assertArrayEquals(bytes, index.toBytes(), "$dtype written back")
        }
        assertTrue(cases.size >= 10)
    }

    @Test
    fun `every mutation gets its error kind`() {
        val original = file("float32")
        for (m in (header.getValue("mutations") as JsonArray).map { it as JsonObject }) {
            fun int(key: String) = (m.getValue(key) as JsonPrimitive).content.toInt()
            var bytes = original.copyOf()
            var expect = digest
            when ((m.getValue("op") as JsonPrimitive).content) {
                "truncate" -> bytes = bytes.copyOf(int("bytes"))
                "flip_byte" -> int("offset").let { o -> val at = if (o < 0) bytes.size + o else o; bytes[at] = (bytes[at].toInt() xor 1).toByte() }
                "append" -> bytes = bytes + ByteArray(int("bytes"))
                "set_u32" -> ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(int("offset"), int("value"))
                "expect_digest" -> expect = (m.getValue("value") as JsonPrimitive).content
            }
            val e = assertThrows<IndexException> { MultiVectorIndex.fromBytes(bytes, "index", expect) }
            assertEquals((m.getValue("error") as JsonPrimitive).content, e.kind, "${m["name"]}: ${e.message}")
        }
    }

    @Test
    fun `save writes a file load reads, and an unreadable path is its own kind`(@TempDir tmp: Path) {
        val index = MultiVectorIndex.fromBytes(file("float16"), "f16")
        val path = tmp.resolve("copy.cbindex")
        index.save(path)
        assertArrayEquals(file("float16"), Files.readAllBytes(path))
        assertEquals(listOf("copy.cbindex"), Files.list(tmp).use { s -> s.map { it.fileName.toString() }.toList() })
        assertEquals("unreadable", assertThrows<IndexException> { MultiVectorIndex.load(tmp.resolve("absent")) }.kind)
    }
}
