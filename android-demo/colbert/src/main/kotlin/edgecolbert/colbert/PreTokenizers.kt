package edgecolbert.colbert

/** A tokenizer.json pre-tokenizer: a normalized piece of text in, the words the model sees out. */
internal fun interface PreTokenizer {
    fun split(text: String): List<String>
}

/**
 * The ByteLevel pre-tokenizer (no prefix space, with its regex): GPT-2's pattern
 * `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, matched as Oniguruma matches it
 * with tokenizers' classes, then each word's UTF-8 bytes mapped to GPT-2's byte characters.
 */
internal object ByteLevelPreTokenizer : PreTokenizer {
    private const val LETTER = 0
    private const val NUMBER = 1
    private const val SPACE = 2
    private const val OTHER = 3
    private val CONTRACTIONS = listOf("s", "t", "re", "ve", "m", "ll", "d")

    /** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for 256 and up, in order. */
    val byteChars: CharArray = CharArray(256).also { table ->
        var next = 256
        for (b in 0 until 256) {
            val printable = b in 33..126 || b in 161..172 || b in 174..255
            table[b] = if (printable) b.toChar() else (next++).toChar()
        }
    }

    private fun classOf(cp: Int): Int = when {
        cp in UnicodeTables.byteLevelLetter -> LETTER
        cp in UnicodeTables.byteLevelNumber -> NUMBER
        cp in UnicodeTables.byteLevelWhitespace -> SPACE
        else -> OTHER
    }

    override fun split(text: String): List<String> = regexSplit(text).map(::toByteChars)

    /** The regex's matches, as substrings of [text]. */
    fun regexSplit(text: String): List<String> {
        val points = text.codePoints().toArray()
        val classes = IntArray(points.size) { classOf(points[it]) }
        val words = ArrayList<String>()
        var i = 0
        while (i < points.size) {
            val end = matchAt(points, classes, i)
            words.add(String(points, i, end - i))
            i = end
        }
        return words
    }

    private fun runOf(classes: IntArray, from: Int, cls: Int): Int {
        var j = from
        while (j < classes.size && classes[j] == cls) j++
        return j
    }

    /** The end of the match that starts at [i]: the pattern's alternatives in order, the first that matches. */
    private fun matchAt(points: IntArray, classes: IntArray, i: Int): Int {
        if (points[i] == '\''.code) {
            for (c in CONTRACTIONS) {
                if (c.indices.all { k -> i + 1 + k < points.size && points[i + 1 + k] == c[k].code }) {
                    return i + 1 + c.length
                }
            }
        }
        val start = if (points[i] == ' '.code && i + 1 < points.size && classes[i + 1] != SPACE) i + 1 else i
        when (classes[start]) {
            LETTER -> return runOf(classes, start, LETTER)
            NUMBER -> return runOf(classes, start, NUMBER)
            OTHER -> return runOf(classes, start, OTHER)
        }
        // whitespace: \s+(?!\S) leaves the last one to a following word; else \s+
        val end = runOf(classes, i, SPACE)
        return if (end < points.size && end - i >= 2) end - 1 else end
    }

    private fun toByteChars(word: String): String {
        val bytes = word.toByteArray(Charsets.UTF_8)
        val out = CharArray(bytes.size) { byteChars[bytes[it].toInt() and 0xFF] }
        return String(out)
    }
}

/** BertPreTokenizer: split on whitespace (dropped) and around each punctuation character (kept). */
internal object BertPreTokenizer : PreTokenizer {
    override fun split(text: String): List<String> {
        val words = ArrayList<String>()
        val word = StringBuilder()
        fun flush() {
            if (word.isNotEmpty()) words.add(word.toString())
            word.setLength(0)
        }
        text.codePoints().forEach { cp ->
            when (cp) {
                in UnicodeTables.bertSplitWhitespace -> flush()
                in UnicodeTables.bertPunctuation -> { flush(); words.add(String(Character.toChars(cp))) }
                else -> word.appendCodePoint(cp)
            }
        }
        flush()
        return words
    }
}
