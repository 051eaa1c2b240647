package edgecolbert.colbert

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

/** The library's tables are spec/conformance/charclasses.jsonl's (`python -m spec.port_tables` writes them). */
class UnicodeTablesTest {
    @Test
    fun `every class and mapping equals the conformance file's`() {
        val (_, lines) = TestInputs.jsonl("charclasses.jsonl")
        val classes = lines.filter { "class" in it }
        val mappings = lines.filter { "mapping" in it }
        assertEquals(classes.map { (it.getValue("class") as JsonPrimitive).content }.sorted(), UnicodeTables.classNames.sorted())
        for (c in classes) {
            val name = (c.getValue("class") as JsonPrimitive).content
            val want = (c.getValue("ranges") as JsonArray).map { r -> r.ints().let { it[0].toInt() to it[1].toInt() } }
            assertEquals(want, UnicodeTables.classByName(name).ranges, "$name: run python -m spec.port_tables")
        }
        for (m in mappings) {
            val name = (m.getValue("mapping") as JsonPrimitive).content
            val want = (m.getValue("pairs") as JsonArray).associate { p ->
                val pair = p as JsonArray
                (pair[0] as JsonPrimitive).content.toInt() to (pair[1] as JsonPrimitive).content
            }
            assertEquals(want, UnicodeTables.mappingByName(name), "$name: run python -m spec.port_tables")
        }
    }

    @Test
    fun `membership is exact at every range's edges`() {
        val set = UnicodeTables.bertChinese
        for ((first, last) in set.ranges) {
            assertEquals(true, first in set)
            assertEquals(true, last in set)
            assertEquals(false, (first - 1) in set && set.ranges.none { it.second == first - 1 })
        }
    }
}
