package edgecolbert.colbert

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject

/** One of the artifact's tensors; a null in [shape] is a dynamic dimension (a name in colbert.json). */
data class TensorSpec(val name: String, val dtype: String, val shape: List<Int?>)

enum class InputKind(val json: String) { QUERY("query"), DOCUMENT("document") }

/** A fixed-shape entry point of the model for one kind of input and one length (a TFLite signature). */
data class Bucket(val name: String, val kind: InputKind, val length: Int)

/** colbert.json's `io`: the artifact's inputs and outputs. */
data class IoSpec(
    val inputs: List<TensorSpec>,
    val outputs: List<TensorSpec>,
    /** Rows per call; null: any batch. */
    val maxBatch: Int?,
    val maxSequence: Int,
    val minSequence: Int,
    /** Empty when the sequence is dynamic (ONNX, ExecuTorch). */
    val buckets: List<Bucket>,
) {
    /** The smallest bucket of the kind that holds [length] tokens (spec/bundle.md, "Encoding a text"). */
    fun bucketFor(length: Int, kind: InputKind): Bucket {
        val fitting = buckets.filter { it.kind == kind && it.length >= length }.minWithOrNull(compareBy({ it.length }, { it.name }))
        if (fitting == null) {
            val largest = buckets.filter { it.kind == kind }.maxOfOrNull { it.length } ?: 0
            throw InputPastBoundException("${kind.json} of $length tokens is past this bundle's largest ${kind.json} bucket " +
                "of $largest; truncate to the ${kind.json} length first")
        }
        return fitting
    }

    /** The element type of input_ids as the artifact takes it: "int64" or "int32". */
    val idsDtype: String get() = inputs.firstOrNull { it.name == "input_ids" }?.dtype ?: "int64"
}

/** colbert.json (spec/bundle.md): everything that turns text into the encoder's inputs and its outputs into vectors. */
data class ColbertSettings(
    val queryPrefix: String,
    val documentPrefix: String,
    val queryPrefixId: Int?,
    val documentPrefixId: Int?,
    val queryLength: Int,
    val documentLength: Int,
    val doQueryExpansion: Boolean,
    val attendToExpansionTokens: Boolean,
    val doLowerCase: Boolean,
    val stripCodepoints: List<Int>,
    val skiplistWords: List<String>,
    val skiplistIds: List<Int>,
    val maskTokenId: Int,
    val padTokenId: Int,
    val dim: Int,
    val io: IoSpec,
) {
    fun prefixId(kind: InputKind): Int? = if (kind == InputKind.QUERY) queryPrefixId else documentPrefixId
    fun length(kind: InputKind): Int = if (kind == InputKind.QUERY) queryLength else documentLength

    companion object {
        const val FILE = "colbert.json"

        private val FIELDS = mapOf(
            "query_prefix" to FieldType.STRING, "document_prefix" to FieldType.STRING,
            "query_prefix_id" to FieldType.optional(FieldType.INTEGER), "document_prefix_id" to FieldType.optional(FieldType.INTEGER),
            "query_length" to FieldType.INTEGER, "document_length" to FieldType.INTEGER,
            "do_query_expansion" to FieldType.BOOLEAN, "attend_to_expansion_tokens" to FieldType.BOOLEAN,
            "do_lower_case" to FieldType.BOOLEAN, "strip_codepoints" to FieldType.listOf(FieldType.INTEGER),
            "skiplist_words" to FieldType.listOf(FieldType.STRING), "skiplist_ids" to FieldType.listOf(FieldType.INTEGER),
            "mask_token_id" to FieldType.INTEGER, "pad_token_id" to FieldType.INTEGER, "dim" to FieldType.INTEGER,
        )
        private val IO_FIELDS = mapOf(
            "inputs" to FieldType.listOf(FieldType.OBJECT), "outputs" to FieldType.listOf(FieldType.OBJECT),
            "max_batch" to FieldType.optional(FieldType.INTEGER), "max_sequence" to FieldType.INTEGER,
            "min_sequence" to FieldType.INTEGER, "buckets" to FieldType.OBJECT,
        )
        private val TENSOR_FIELDS = mapOf(
            "name" to FieldType.STRING, "dtype" to FieldType.STRING,
            "shape" to FieldType.listOf(FieldType { JsonTypes.isInteger(it) || JsonTypes.isString(it) }),
        )
        private val BUCKET_FIELDS = mapOf(
            "kind" to FieldType { JsonTypes.isString(it) && it.asString in setOf("query", "document") },
            "length" to FieldType.INTEGER,
        )

        fun parse(bytes: ByteArray, file: String = FILE): ColbertSettings {
            val d = requireFields(parseJson(bytes, file), FIELDS, file, file)
            val ioData = d["io"]
            if (ioData == null || JsonTypes.isNull(ioData)) throw BundleException.Malformed(file, "$file has no io section; re-export the bundle")
            val io = parseIo(ioData, file)
            val settings = ColbertSettings(
                queryPrefix = d.getValue("query_prefix").asString, documentPrefix = d.getValue("document_prefix").asString,
                queryPrefixId = d.getValue("query_prefix_id").asIntOrNull, documentPrefixId = d.getValue("document_prefix_id").asIntOrNull,
                queryLength = d.getValue("query_length").asInt, documentLength = d.getValue("document_length").asInt,
                doQueryExpansion = d.getValue("do_query_expansion").asBoolean,
                attendToExpansionTokens = d.getValue("attend_to_expansion_tokens").asBoolean,
                doLowerCase = d.getValue("do_lower_case").asBoolean, stripCodepoints = d.getValue("strip_codepoints").asIntList,
                skiplistWords = (d.getValue("skiplist_words") as JsonArray).map { it.asString },
                skiplistIds = d.getValue("skiplist_ids").asIntList, maskTokenId = d.getValue("mask_token_id").asInt,
                padTokenId = d.getValue("pad_token_id").asInt, dim = d.getValue("dim").asInt, io = io,
            )
            checkRanges(settings, file)
            return settings
        }

        private fun parseIo(data: JsonElement, file: String): IoSpec {
            val io = requireFields(data, IO_FIELDS, file, "$file['io']")
            fun tensors(key: String) = (io.getValue(key) as JsonArray).map {
                val t = requireFields(it, TENSOR_FIELDS, file, "$file['io']['$key']")
                TensorSpec(t.getValue("name").asString, t.getValue("dtype").asString,
                    (t.getValue("shape") as JsonArray).map { d -> if (JsonTypes.isInteger(d)) d.asInt else null })
            }
            val buckets = (io.getValue("buckets") as JsonObject).map { (name, b) ->
                val bucket = requireFields(b, BUCKET_FIELDS, file, "$file['io']['buckets']['$name']")
                Bucket(name, if (bucket.getValue("kind").asString == "query") InputKind.QUERY else InputKind.DOCUMENT,
                    bucket.getValue("length").asInt)
            }
            return IoSpec(tensors("inputs"), tensors("outputs"), io.getValue("max_batch").asIntOrNull,
                io.getValue("max_sequence").asInt, io.getValue("min_sequence").asInt, buckets)
        }

        /** Values of the right type that no export writes, refused before they become an allocation or an index. */
        private fun checkRanges(s: ColbertSettings, file: String) {
            val problems = buildList {
                if (s.queryLength < 3 || s.queryLength > 1_000_000) add("query_length")
                if (s.documentLength < 3 || s.documentLength > 1_000_000) add("document_length")
                if (s.dim < 1 || s.dim > 65_536) add("dim")
                if (s.io.maxSequence < 1) add("io.max_sequence")
                if (s.io.maxBatch != null && s.io.maxBatch < 1) add("io.max_batch")
                if (s.stripCodepoints.any { it < 0 || it > 0x10FFFF }) add("strip_codepoints")
                if (s.io.buckets.any { it.length < 1 || it.length > 1_000_000 }) add("io.buckets")
            }
            if (problems.isNotEmpty()) {
                throw BundleException.Malformed(file, "$file: ${problems.joinToString(", ")} out of range; re-export the bundle")
            }
        }
    }
}
