package edgecolbert.colbert

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import kotlin.io.path.isDirectory
import kotlin.io.path.isRegularFile

/** spec/conformance/bad-bundles.jsonl: each mutation of a bundle that verifies, opened, gives its error kind. */
class BadBundlesTest {
    @Test
    fun `every bad-bundle mutation gets its kind in one line naming the file`(@TempDir tmp: Path) {
        val source = TestInputs.bundles.first()
        ColbertModel.open(source).use { assertTrue(it.selfTest().passed) }
        val (_, cases) = TestInputs.jsonl("bad-bundles.jsonl")
        val wrong = ArrayList<String>()
        for ((n, case) in cases.withIndex()) {
            val bundle = tmp.resolve("case-$n")
            copyTree(source, bundle)
            BundleMutations.apply(bundle, case.getValue("mutation") as JsonObject)
            if ((case["rehash"] as? JsonPrimitive)?.content == "true") BundleMutations.rehash(bundle)
            val expected = (case.getValue("error") as JsonPrimitive).content
            val name = (case.getValue("name") as JsonPrimitive).content
            try {
                ColbertModel.open(bundle).close()
                wrong.add("$name: opened")
            } catch (e: BundleException) {
                if (e.kind != expected) wrong.add("$name: ${e.kind}, not $expected (${e.message})")
                if (e.message!!.lines().size != 1) wrong.add("$name: a message of ${e.message!!.lines().size} lines")
            }
        }
        assertTrue(cases.size >= 25)
        assertEquals(emptyList<String>(), wrong)
    }

    companion object {
        fun copyTree(from: Path, to: Path) {
            Files.walk(from).use { paths ->
                paths.forEach { p -> Files.copy(p, to.resolve(from.relativize(p).toString())) }
            }
        }
    }
}

/** The spec's mutation ops ("Bad-bundle mutations"). A test helper, not part of the library. */
object BundleMutations {
    private fun target(bundle: Path, file: String): Path {
        val manifest = Json.parseToJsonElement(Files.readString(bundle.resolve("manifest.json"))) as JsonObject
        val artifact = bundle.resolve((manifest.getValue("artifact") as JsonPrimitive).content)
        return when (file) {
            "\$artifact" -> artifact
            "\$artifact_file" -> if (artifact.isDirectory()) Files.walk(artifact).use { s ->
                s.filter { it.isRegularFile() }.max(compareBy { Files.size(it) }).get()
            } else artifact
            else -> bundle.resolve(file)
        }
    }

    fun apply(bundle: Path, mutation: JsonObject) {
        val path = target(bundle, (mutation.getValue("file") as JsonPrimitive).content)
        fun int(key: String) = (mutation.getValue(key) as JsonPrimitive).content.toInt()
        when ((mutation.getValue("op") as JsonPrimitive).content) {
            "flip_byte" -> {
                val bytes = Files.readAllBytes(path)
                val offset = int("offset").let { if (it < 0) bytes.size + it else it }
                bytes[offset] = (bytes[offset].toInt() xor 1).toByte()
                Files.write(path, bytes)
            }
            "delete" -> if (path.isDirectory()) path.toFile().deleteRecursively() else Files.delete(path)
            "write" -> Files.writeString(path, (mutation.getValue("text") as JsonPrimitive).content)
            "truncate" -> Files.write(path, Files.readAllBytes(path).copyOf(int("bytes")))
            "set_json", "delete_json" -> {
                val keys = (mutation.getValue("path") as JsonArray).map { (it as JsonPrimitive).content }
                val root = Json.parseToJsonElement(Files.readString(path))
                Files.writeString(path, edit(root, keys, mutation["value"]).toString())
            }
            else -> error("unknown mutation op in $mutation")
        }
    }

    /** [root] with the field at [keys] set to [value], or removed when [value] is null. */
    private fun edit(root: JsonElement, keys: List<String>, value: JsonElement?): JsonElement {
        val obj = root as JsonObject
        val map = LinkedHashMap(obj)
        if (keys.size == 1) {
            if (value == null) map.remove(keys[0]) else map[keys[0]] = value
        } else {
            map[keys[0]] = edit(obj.getValue(keys[0]), keys.drop(1), value)
        }
        return JsonObject(map)
    }

    /** Every sha256 in the manifest recomputed, so that only the reader's own checks catch a mutation. */
    fun rehash(bundle: Path) {
        val manifestPath = bundle.resolve("manifest.json")
        val manifest = Json.parseToJsonElement(Files.readString(manifestPath)) as JsonObject
        val files = (manifest.getValue("files") as JsonObject).mapValues { (file, digest) ->
            val p = bundle.resolve(file)
            if (p.isRegularFile()) JsonPrimitive(sha256Hex(Files.readAllBytes(p))) else digest
        }
        Files.writeString(manifestPath, JsonObject(manifest + ("files" to JsonObject(files))).toString())
    }
}
