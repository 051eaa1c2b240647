package edgecolbert.colbert

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import org.junit.jupiter.api.Assumptions.assumeTrue
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import kotlin.io.path.isRegularFile

/**
 * What the tests read, passed in explicitly (tests/test_android_demo.py sets them): the spec's conformance
 * vectors, the two tokenizer files the vectors name, and real bundles the test session exported. A test whose
 * input is not given is skipped with the reason; the pytest driver fails on any skip.
 */
object TestInputs {
    val spec: Path = Paths.get(System.getProperty("colbert.spec") ?: System.getenv("COLBERT_SPEC") ?: "../../spec")
    val conformance: Path get() = spec.resolve("conformance")

    fun tokenizerFile(variable: String): Path {
        val value = System.getenv(variable)
        assumeTrue(value != null && Paths.get(value).isRegularFile(), "$variable names no tokenizer.json (tests/test_android_demo.py sets it)")
        return Paths.get(value!!)
    }

    /** COLBERT_BUNDLES: ':'-separated bundle directories; the first takes the bad-bundle mutations. */
    val bundles: List<Path>
        get() {
            val value = System.getenv("COLBERT_BUNDLES")
            assumeTrue(!value.isNullOrBlank(), "COLBERT_BUNDLES names no bundles (tests/test_android_demo.py sets it)")
            return value!!.split(':').filter { it.isNotBlank() }.map(Paths::get)
        }

    /** A .jsonl conformance file: its header and its cases. */
    fun jsonl(name: String): Pair<JsonObject, List<JsonObject>> {
        val lines = Files.readAllLines(conformance.resolve(name)).filter { it.isNotBlank() }.map { Json.parseToJsonElement(it) as JsonObject }
        return (lines.first().getValue("header") as JsonObject) to lines.drop(1)
    }

    fun settingsOf(header: JsonObject): ColbertSettings =
        ColbertSettings.parse(header.getValue("settings").toString().toByteArray(), "header settings")
}

fun JsonElement.ints(): List<Long> = (this as kotlinx.serialization.json.JsonArray).map { it.toString().toLong() }
