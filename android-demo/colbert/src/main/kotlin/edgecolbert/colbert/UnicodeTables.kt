package edgecolbert.colbert

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject

/** Code points as sorted inclusive ranges. */
class CodePointSet(private val firsts: IntArray, private val lasts: IntArray) {
    operator fun contains(cp: Int): Boolean {
        var lo = 0
        var hi = firsts.size - 1
        while (lo <= hi) {
            val mid = (lo + hi) ushr 1
            when {
                cp < firsts[mid] -> hi = mid - 1
                cp > lasts[mid] -> lo = mid + 1
                else -> return true
            }
        }
        return false
    }

    /** The ranges, as [first, last] pairs. */
    val ranges: List<Pair<Int, Int>> get() = firsts.indices.map { firsts[it] to lasts[it] }
}

/**
 * The per-code-point facts Hugging Face tokenizers and Python decide with their own Unicode tables, which the
 * JVM's and Android's (another Unicode version, or ICU's) do not share. The resource unicode-tables.json is
 * generated from spec/conformance/charclasses.jsonl (UnicodeTablesTest writes and checks it).
 */
object UnicodeTables {
    const val RESOURCE = "unicode-tables.json"

    private val data: JsonObject by lazy {
        val stream = UnicodeTables::class.java.getResourceAsStream(RESOURCE)
            ?: error("the library's $RESOURCE resource is missing from the jar; rebuild it")
        Json.parseToJsonElement(stream.use { it.readBytes().toString(Charsets.UTF_8) }) as JsonObject
    }

    private fun set(name: String): CodePointSet {
        val ranges = (data.getValue("classes") as JsonObject).getValue(name) as JsonArray
        return CodePointSet(IntArray(ranges.size) { ranges[it].asIntList[0] }, IntArray(ranges.size) { ranges[it].asIntList[1] })
    }

    private fun mapping(name: String): Map<Int, String> =
        ((data.getValue("mappings") as JsonObject).getValue(name) as JsonArray).associate {
            val pair = it as JsonArray
            pair[0].asInt to pair[1].asString
        }

    val bertRemoved by lazy { set("bert_removed") }
    val bertWhitespace by lazy { set("bert_whitespace") }
    val bertChinese by lazy { set("bert_chinese") }
    val bertAccent by lazy { set("bert_accent") }
    val bertSplitWhitespace by lazy { set("bert_split_whitespace") }
    val bertPunctuation by lazy { set("bert_punctuation") }
    val byteLevelLetter by lazy { set("bytelevel_letter") }
    val byteLevelNumber by lazy { set("bytelevel_number") }
    val byteLevelWhitespace by lazy { set("bytelevel_whitespace") }
    val nfcCombining by lazy { set("nfc_combining") }
    val pythonCaseIgnorable by lazy { set("python_case_ignorable") }
    val pythonCased by lazy { set("python_cased") }
    val bertLowercase by lazy { mapping("bert_lowercase") }
    val pythonLower by lazy { mapping("python_lower") }

    /** Every class and mapping by its charclasses.jsonl name, for the tests. */
    val classNames: List<String> get() = (data.getValue("classes") as JsonObject).keys.toList()
    val mappingNames: List<String> get() = (data.getValue("mappings") as JsonObject).keys.toList()
    fun classByName(name: String): CodePointSet = set(name)
    fun mappingByName(name: String): Map<Int, String> = mapping(name)
}
