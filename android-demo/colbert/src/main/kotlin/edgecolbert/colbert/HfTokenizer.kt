package edgecolbert.colbert

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive

/** The two kinds of tokenizer.json a bundle may carry (spec/bundle.md, "Tokenizer"). */
enum class TokenizerKind { BYTE_LEVEL_BPE, WORDPIECE }

/**
 * A Hugging Face tokenizer.json of one of the two kinds, giving the ids `tokenizers` 0.23.3 gives. Immutable
 * after construction and safe to share between threads and coroutines.
 */
class HfTokenizer internal constructor(
    val kind: TokenizerKind,
    private val normalizer: TextNormalizer,
    private val added: AddedVocabulary,
    private val preTokenizer: PreTokenizer,
    private val model: TokenModel,
    /** The single-sequence template: special ids before and after the text. */
    private val before: IntArray,
    private val after: IntArray,
) {
    /** Special tokens the template adds to one sequence. */
    val specialCount: Int get() = before.size + after.size

    /** The ids of [text] without special tokens (`encode(text, add_special_tokens=False)`). */
    fun encodeWithoutSpecials(text: String): IntArray {
        val ids = ArrayList<Int>()
        for (piece in added.split(text)) {
            val id = piece.id
            if (id != null) ids.add(id) else for (word in preTokenizer.split(piece.text)) model.tokenize(word).forEach(ids::add)
        }
        return ids.toIntArray()
    }

    /** [ids] inside the template's special tokens (`post_process`). */
    fun withSpecials(ids: IntArray): IntArray = before + ids + after

    /** The normalizer alone, for tests. */
    internal fun normalize(text: String): String = normalizer.normalize(text)

    companion object {
        const val FILE = "tokenizer.json"

        /** Parses tokenizer.json: Malformed when it is not such a file, UnknownTokenizerComponent naming the first
         *  component outside both kinds. */
        fun parse(bytes: ByteArray, file: String = FILE): HfTokenizer = fromJson(parseJson(bytes, file), file)

        internal fun fromJson(data: JsonElement, file: String): HfTokenizer {
            if (data !is JsonObject || data["model"] !is JsonObject || (data["model"] as JsonObject)["vocab"] !is JsonObject) {
                throw BundleException.Malformed(file, "$file has no model vocabulary; re-export the bundle")
            }
            val kind = kindOf(data, file)
            return try {
                build(kind, data, file)
            } catch (e: BundleException) {
                throw e
            } catch (e: RuntimeException) { // a field of the wrong shape deep inside: cast, number or lookup
                throw BundleException.Malformed(file, "$file cannot be parsed (${e.javaClass.simpleName}: " +
                    "${e.message?.lineSequence()?.firstOrNull()?.take(100)}); re-export the bundle")
            }
        }

        private fun typeOf(component: JsonElement?): String =
            ((component as? JsonObject)?.get("type") as? JsonPrimitive)?.content ?: "none"

        private fun refuse(file: String, component: String, found: String) = BundleException.UnknownTokenizerComponent(file,
            "$file: its $component is $found, which bundles do not support (byte-level BPE or WordPiece only); " +
                "re-export from a checkpoint with a supported tokenizer")

        private fun truthy(e: JsonElement?): Boolean = when {
            e == null || e is JsonNull -> false
            e is JsonPrimitive && e.isString -> e.content.isNotEmpty()
            e is JsonPrimitive -> e.content != "false" && e.content != "0" && e.content != "0.0"
            e is JsonArray -> e.isNotEmpty()
            e is JsonObject -> e.isNotEmpty()
            else -> true
        }

        private fun kindOf(data: JsonObject, file: String): TokenizerKind {
            val bpe = typeOf(data["normalizer"]) == "NFC"
            val expected = if (bpe) listOf("normalizer" to "NFC", "pre_tokenizer" to "ByteLevel", "model" to "BPE")
            else listOf("normalizer" to "BertNormalizer", "pre_tokenizer" to "BertPreTokenizer", "model" to "WordPiece")
            for ((component, type) in expected) {
                if (typeOf(data[component]) != type) throw refuse(file, component, typeOf(data[component]))
            }
            val model = data.getValue("model") as JsonObject
            val pre = data.getValue("pre_tokenizer") as JsonObject
            if (bpe) {
                val useRegex = pre["use_regex"]
                if (truthy(pre["add_prefix_space"]) || (useRegex is JsonPrimitive && useRegex.content == "false")) {
                    throw refuse(file, "pre_tokenizer", "ByteLevel with add_prefix_space or without its regex")
                }
                if (listOf("byte_fallback", "ignore_merges", "dropout", "continuing_subword_prefix", "end_of_word_suffix").any { truthy(model[it]) }) {
                    throw refuse(file, "model", "BPE with byte_fallback, ignore_merges, dropout or affixes")
                }
            }
            val post = typeOf(data["post_processor"])
            if (post != "TemplateProcessing" && post != "BertProcessing") throw refuse(file, "post_processor", post)
            return if (bpe) TokenizerKind.BYTE_LEVEL_BPE else TokenizerKind.WORDPIECE
        }

        private fun bool(o: JsonObject, key: String, default: Boolean, file: String): Boolean {
            val v = o[key] ?: return default
            if (v is JsonNull) return default
            if (!JsonTypes.isBoolean(v)) throw BundleException.Malformed(file, "$file: '$key' must be true or false; re-export the bundle")
            return v.asBoolean
        }

        private fun build(kind: TokenizerKind, data: JsonObject, file: String): HfTokenizer {
            val modelData = data.getValue("model") as JsonObject
            val vocab = HashMap<String, Int>()
            for ((token, id) in modelData.getValue("vocab") as JsonObject) {
                if (!JsonTypes.isInteger(id) || id.asInt < 0) throw BundleException.Malformed(file, "$file: the id of vocabulary entry '${token.take(40)}' is not a token id; re-export the bundle")
                vocab[token] = id.asInt
            }
            val normalizer: TextNormalizer = when (kind) {
                TokenizerKind.BYTE_LEVEL_BPE -> TokenizersNfc
                TokenizerKind.WORDPIECE -> {
                    val n = data.getValue("normalizer") as JsonObject
                    val strip = n["strip_accents"]
                    BertNormalizer(bool(n, "clean_text", true, file), bool(n, "handle_chinese_chars", true, file),
                        if (strip == null || strip is JsonNull) null else bool(n, "strip_accents", false, file), bool(n, "lowercase", true, file))
                }
            }
            val addedTokens = (data["added_tokens"] as? JsonArray ?: JsonArray(emptyList())).map { parseAdded(it as JsonObject, file) }
            val model: TokenModel = when (kind) {
                TokenizerKind.BYTE_LEVEL_BPE -> Bpe(vocab, parseMerges(modelData, vocab, file))
                TokenizerKind.WORDPIECE -> {
                    val unk = (modelData["unk_token"] as? JsonPrimitive)?.takeIf { it.isString }?.content ?: "[UNK]"
                    val unkId = vocab[unk] ?: throw BundleException.Malformed(file, "$file: WordPiece's unk token '$unk' is not in its vocabulary; re-export the bundle")
                    val prefix = (modelData["continuing_subword_prefix"] as? JsonPrimitive)?.takeIf { it.isString }?.content ?: "##"
                    val maxChars = modelData["max_input_chars_per_word"]?.takeIf(JsonTypes::isInteger)?.asInt ?: 100
                    WordPiece(vocab, unkId, prefix, maxChars)
                }
            }
            val preTokenizer = if (kind == TokenizerKind.BYTE_LEVEL_BPE) ByteLevelPreTokenizer else BertPreTokenizer
            val (before, after) = template(data.getValue("post_processor") as JsonObject, file)
            return HfTokenizer(kind, normalizer, AddedVocabulary(addedTokens, normalizer), preTokenizer, model, before, after)
        }

        private fun parseAdded(o: JsonObject, file: String): AddedToken {
            val id = o["id"]
            val content = o["content"]
            if (!JsonTypes.isInteger(id) || id!!.asInt < 0 || !JsonTypes.isString(content)) {
                throw BundleException.Malformed(file, "$file: an added token without an id and content; re-export the bundle")
            }
            return AddedToken(id.asInt, content!!.asString, bool(o, "single_word", false, file), bool(o, "lstrip", false, file),
                bool(o, "rstrip", false, file), bool(o, "normalized", true, file), bool(o, "special", false, file))
        }

        /** merges as "a b" strings or [a, b] pairs; rank is the position, a later duplicate wins. */
        private fun parseMerges(model: JsonObject, vocab: Map<String, Int>, file: String): Map<Long, Long> {
            val list = model["merges"] as? JsonArray ?: throw BundleException.Malformed(file, "$file: BPE has no merges list; re-export the bundle")
            val merges = HashMap<Long, Long>(list.size * 2)
            list.forEachIndexed { rank, entry ->
                val (a, b) = when {
                    JsonTypes.isString(entry) -> entry.asString.split(' ', limit = 2).takeIf { it.size == 2 }
                    entry is JsonArray && entry.size == 2 && entry.all(JsonTypes::isString) -> entry.map { it.asString }
                    else -> null
                } ?: throw BundleException.Malformed(file, "$file: merge $rank is not a pair of tokens; re-export the bundle")
                val left = vocab[a]
                val right = vocab[b]
                val merged = vocab[a + b]
                if (left == null || right == null || merged == null) {
                    throw BundleException.Malformed(file, "$file: merge $rank ('$a', '$b') names a token outside the vocabulary; re-export the bundle")
                }
                merges[Bpe.pack(left, right)] = Bpe.pack(rank, merged)
            }
            return merges
        }

        /** The special ids before and after the single sequence, from TemplateProcessing or BertProcessing. */
        private fun template(post: JsonObject, file: String): Pair<IntArray, IntArray> {
            fun bad(what: String): Nothing = throw BundleException.Malformed(file, "$file: post_processor $what; re-export the bundle")
            if (typeOf(post) == "BertProcessing") {
                fun id(key: String): Int = (post[key] as? JsonArray)?.getOrNull(1)?.takeIf(JsonTypes::isInteger)?.asInt ?: bad("has no $key id")
                return intArrayOf(id("cls")) to intArrayOf(id("sep"))
            }
            val single = post["single"] as? JsonArray ?: bad("has no single template")
            val specials = post["special_tokens"] as? JsonObject ?: JsonObject(emptyMap())
            val before = ArrayList<Int>()
            val after = ArrayList<Int>()
            var seenSequence = false
            for (piece in single) {
                val p = piece as? JsonObject ?: bad("has a template piece that is not an object")
                val special = p["SpecialToken"] as? JsonObject
                when {
                    special != null -> {
                        val name = special["id"]?.takeIf(JsonTypes::isString)?.asString ?: bad("has a special token without an id")
                        val ids = (specials[name] as? JsonObject)?.get("ids") as? JsonArray ?: bad("names $name, which it does not define")
                        val values = ids.map { if (JsonTypes.isInteger(it) && it.asInt >= 0) it.asInt else bad("gives $name an id that is not one") }
                        (if (seenSequence) after else before).addAll(values)
                    }
                    p["Sequence"] is JsonObject -> if (seenSequence) bad("has two sequences in its single template") else seenSequence = true
                    else -> bad("has a template piece it does not know")
                }
            }
            if (!seenSequence) bad("has no sequence in its single template")
            return before.toIntArray() to after.toIntArray()
        }
    }
}
