package edgecolbert.colbert

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.nio.file.Files
import java.nio.file.Paths

/** pom.xml (Maven, CI) and gradle/libs.versions.toml (Gradle, Android Studio) name the same versions. */
class VersionsTest {
    private val toml = Files.readAllLines(Paths.get("../gradle/libs.versions.toml"))
    private val pom = Files.readString(Paths.get("pom.xml"))

    private fun catalog(): Map<String, String> {
        val section = toml.dropWhile { it.trim() != "[versions]" }.drop(1).takeWhile { !it.trim().startsWith("[") }
        return section.mapNotNull { Regex("""^\s*([\w-]+)\s*=\s*"([^"]+)"""").find(it) }.associate { it.groupValues[1] to it.groupValues[2] }
    }

    @Test
    fun `every version the pom names is the catalog's`() {
        val versions = catalog()
        val properties = Regex("""<([\w.]+)\.version>([^<]+)</""").findAll(pom).associate { it.groupValues[1] to it.groupValues[2] }
        val shared = mapOf("kotlin" to "kotlin", "coroutines" to "coroutines", "serialization" to "serialization",
            "onnxruntime" to "onnxruntime", "junit" to "junit", "javacpp.tflite" to "javacpp-tflite", "javacpp" to "javacpp")
        for ((property, key) in shared) {
            assertTrue(property in properties && key in versions, "$property in pom.xml and $key in libs.versions.toml")
            assertEquals(versions[key], properties[property], "$property: pom.xml says ${properties[property]}, libs.versions.toml ${versions[key]}")
        }
    }

    @Test
    fun `onnxruntime is the Python side's version`() {
        val pyproject = Files.readString(Paths.get("../../pyproject.toml"))
        val python = Regex("""onnxruntime==([\d.]+)""").find(pyproject)?.groupValues?.get(1)
        assertEquals(python, catalog()["onnxruntime"])
    }
}
