package edgecolbert.colbert

/**
 * Rows of token ids, padded into one batch: [ids] and [mask] are row-major [rows] x [width].
 * Plain data: the encoders take it as it is.
 */
class Batch(val rows: Int, val width: Int, val ids: LongArray, val mask: LongArray) {
    fun idsOf(row: Int): LongArray = ids.copyOfRange(row * width, (row + 1) * width)
    fun maskOf(row: Int): LongArray = mask.copyOfRange(row * width, (row + 1) * width)
}

/** What the tokenize command prints for one text: spec/bundle.md, steps 1 to 6, for the text alone. */
data class Tokenized(val inputIds: List<Long>, val attentionMask: List<Long>, val keptPositions: List<Int>, val bucket: String?)

/**
 * Tokenises exactly as PyLate's ColBERT.tokenize does (spec/bundle.md, "Encoding a text"), and says which
 * positions to keep. Immutable; safe from any thread.
 */
class ColbertTokenizer(val tokenizer: HfTokenizer, val settings: ColbertSettings) {
    private val preprocessor = Preprocessor(settings.stripCodepoints, settings.doLowerCase)
    private val skip = settings.skiplistIds.toHashSet()

    /** Steps 1 and 2: strip, then lowercase. */
    fun preprocess(text: String): String = preprocessor.apply(text)

    /** Steps 1 to 4: the text's ids, truncated to its kind's budget, specials and prefix inserted. */
    fun row(text: String, kind: InputKind): IntArray {
        val prefix = settings.prefixId(kind)
        val budget = settings.length(kind) - (if (prefix != null) 1 else 0)
        val content = maxOf(budget - tokenizer.specialCount, 0)
        val ids = tokenizer.encodeWithoutSpecials(preprocess(text))
        val row = tokenizer.withSpecials(if (ids.size > content) ids.copyOf(content) else ids)
        if (prefix == null || row.isEmpty()) return row
        return intArrayOf(row[0], prefix) + row.copyOfRange(1, row.size)
    }

    /** Step 5: rows padded into one batch, as PyLate pads them. */
    fun pad(rows: List<IntArray>, kind: InputKind): Batch {
        val expand = kind == InputKind.QUERY && settings.doQueryExpansion
        val width = if (expand) settings.queryLength else rows.maxOfOrNull { it.size } ?: 0
        val padId = (if (expand) settings.maskTokenId else settings.padTokenId).toLong()
        val ids = LongArray(rows.size * width) { padId }
        val mask = LongArray(rows.size * width)
        rows.forEachIndexed { r, row ->
            for (i in row.indices) {
                ids[r * width + i] = row[i].toLong()
                mask[r * width + i] = 1
            }
        }
        if (expand && settings.attendToExpansionTokens) mask.fill(1)
        return Batch(rows.size, width, ids, mask)
    }

    fun encode(texts: List<String>, kind: InputKind): Batch = pad(texts.map { row(it, kind) }, kind)

    /** Step 6: which positions of a row PyLate keeps. */
    fun kept(batch: Batch, row: Int, kind: InputKind): List<Int> {
        val base = row * batch.width
        return (0 until batch.width).filter { i ->
            when {
                kind == InputKind.QUERY && settings.doQueryExpansion -> true
                kind == InputKind.QUERY -> batch.mask[base + i] == 1L
                else -> batch.mask[base + i] == 1L && batch.ids[base + i].toInt() !in skip
            }
        }
    }

    /** A text alone, as the CLI's tokenize command and the self-test's first step see it. */
    fun tokenizeAlone(text: String, kind: InputKind): Tokenized {
        val batch = encode(listOf(text), kind)
        val bucket = if (settings.io.buckets.isEmpty()) null else settings.io.bucketFor(batch.width, kind).name
        return Tokenized(batch.ids.toList(), batch.mask.toList(), kept(batch, 0, kind), bucket)
    }
}
