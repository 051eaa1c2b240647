package edgecolbert.colbert

import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import java.io.IOException
import java.security.MessageDigest

/** manifest.json (spec/bundle.md, "manifest.json"): what a bundle holds and the sha256 of every file. */
data class Manifest(
    val format: Int,
    val target: String,
    val precision: String,
    /** The encoder's path: a file, or a directory whose files are all listed. */
    val artifact: String,
    /** Every file but manifest.json -> lowercase hex sha256. */
    val files: Map<String, String>,
    val modelName: String,
    /** Seeded random weights: apps say so, since such a bundle is useless for retrieval. */
    val synthetic: Boolean,
) {
    /** The files an encoding depends on: tokenizer.json, colbert.json and the artifact's, sorted. */
    val modelFiles: Map<String, String>
        get() = files.filterKeys { it == "tokenizer.json" || it == "colbert.json" || it == artifact || it.startsWith("$artifact/") }
            .toSortedMap()

    /** sha256 of the lines "<path>\t<sha256>\n" of [modelFiles]: what an index built with this bundle records. */
    val modelDigest: String
        get() = sha256Hex(modelFiles.entries.joinToString("") { "${it.key}\t${it.value}\n" }.toByteArray(Charsets.UTF_8))

    val name: String get() = "$target-$precision"

    companion object {
        const val FILE = "manifest.json"
        val FORMATS = setOf(1)

        /** Reads and checks the manifest: not_a_bundle, malformed, unknown_format, mistyped_field. */
        fun read(source: BundleFiles): Manifest {
            if (!source.exists(FILE)) {
                throw BundleException.NotABundle(FILE, "${source.label} is not a bundle: no $FILE (re-run the export)")
            }
            val data = parseJson(readOrMissing(source, FILE), FILE)
            if (data !is JsonObject) throw BundleException.Malformed(FILE, "$FILE is not a JSON object; re-export the bundle")
            val format = data["format"]
            if (!JsonTypes.isInteger(format) || format!!.asInt !in FORMATS) {
                throw BundleException.UnknownFormat(FILE, "$FILE: bundle format ${format ?: "(none)"} is not one this " +
                    "library reads (${FORMATS.joinToString()}); re-export the bundle, or upgrade the library")
            }
            val files = data["files"]
            if (files !is JsonObject || !files.values.all(JsonTypes::isString)) {
                throw BundleException.MistypedField(FILE, "$FILE: 'files' must map each file to its sha256; re-export the bundle")
            }
            for (key in listOf("target", "precision", "artifact")) {
                if (!JsonTypes.isString(data[key])) {
                    throw BundleException.MistypedField(FILE, "$FILE: '$key' must be a string; re-export the bundle")
                }
            }
            val model = data["model"] as? JsonObject
            return Manifest(
                format = format.asInt,
                target = data.getValue("target").asString,
                precision = data.getValue("precision").asString,
                artifact = data.getValue("artifact").asString,
                files = files.mapValues { it.value.asString }.toSortedMap(),
                modelName = (model?.get("name") as? JsonPrimitive)?.takeIf { it.isString }?.content ?: "",
                synthetic = (model?.get("synthetic") as? JsonPrimitive)?.content == "true",
            )
        }

        private fun readOrMissing(source: BundleFiles, path: String): ByteArray = try {
            source.readBytes(path)
        } catch (e: IOException) {
            throw BundleException.MissingFile(path, "${source.label}: cannot read $path (${e.message}); re-export the bundle")
        }
    }
}

/**
 * Refuses a bundle that does not hold exactly the manifest's files, unchanged: missing_file first, then
 * tampered, then unlisted_file. Every file is hashed as a stream; [progress] gets the bytes hashed so far.
 */
fun verifyFiles(source: BundleFiles, manifest: Manifest, progress: (Long) -> Unit = {}) {
    val present = source.list().filter { it != Manifest.FILE }.toSet()
    val missing = manifest.files.keys.filter { it !in present }
    if (missing.isNotEmpty()) {
        throw BundleException.MissingFile(missing.first(), "${source.label}: missing ${missing.joinToString(", ")}; " +
            "the bundle is incomplete, re-export it")
    }
    var hashed = 0L
    val changed = manifest.files.filter { (path, expected) ->
        val digest = MessageDigest.getInstance("SHA-256")
        try {
            source.open(path).use { input ->
                val buffer = ByteArray(1 shl 16)
                while (true) {
                    val n = input.read(buffer)
                    if (n < 0) break
                    digest.update(buffer, 0, n)
                    hashed += n
                    progress(hashed)
                }
            }
        } catch (e: IOException) {
            throw BundleException.MissingFile(path, "${source.label}: cannot read $path (${e.message}); re-export the bundle")
        }
        digest.digest().toHex() != expected.lowercase()
    }.keys
    if (changed.isNotEmpty()) {
        throw BundleException.Tampered(changed.first(), "${source.label}: sha256 mismatch for ${changed.joinToString(", ")}; " +
            "the bundle was modified, re-export it")
    }
    val extra = present.filter { it !in manifest.files }.sorted()
    if (extra.isNotEmpty()) {
        throw BundleException.UnlistedFile(extra.first(), "${source.label}: unlisted files ${extra.joinToString(", ")}; " +
            "remove them or re-export")
    }
}

internal fun ByteArray.toHex(): String = joinToString("") { "%02x".format(it) }

internal fun sha256Hex(bytes: ByteArray): String = MessageDigest.getInstance("SHA-256").digest(bytes).toHex()

/** sha256 (hex) of a text's UTF-8 bytes. */
fun sha256Text(text: String): String = sha256Hex(text.toByteArray(Charsets.UTF_8))
