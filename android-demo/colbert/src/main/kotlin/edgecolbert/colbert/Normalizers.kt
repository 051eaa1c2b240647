package edgecolbert.colbert

import java.text.Normalizer
import java.util.concurrent.ConcurrentHashMap

/** A tokenizer.json normalizer: text in, normalized text out. Stateless, safe from any thread. */
internal fun interface TextNormalizer {
    fun normalize(text: String): String
}

/**
 * tokenizers' NFC. The platform's NFC gives a combining class to marks that tokenizers' older tables do not
 * know (U+0EBA, U+0898.. on Unicode 13 and later): tokenizers leaves such a mark where it is, a starter that
 * nothing is reordered or composed across. So NFC runs on the segments between those marks.
 */
internal object TokenizersNfc : TextNormalizer {
    private val platformCombining = ConcurrentHashMap<Int, Boolean>()

    /** Whether this platform's NFC reorders the mark before U+0345 (combining class 240): a class of 1 to 239. */
    private fun combiningHere(cp: Int): Boolean = platformCombining.getOrPut(cp) {
        val mark = String(Character.toChars(cp))
        Normalizer.normalize("\u0345$mark", Normalizer.Form.NFC) == "$mark\u0345"
    }

    private fun isMark(cp: Int): Boolean = when (Character.getType(cp).toByte()) {
        Character.NON_SPACING_MARK, Character.COMBINING_SPACING_MARK, Character.ENCLOSING_MARK -> true
        else -> false
    }

    override fun normalize(text: String): String {
        if (text.all { it.code < 0x300 }) return text // nothing below U+0300 changes under NFC
        val out = StringBuilder(text.length)
        var segmentStart = 0
        var i = 0
        while (i < text.length) {
            val cp = text.codePointAt(i)
            val width = Character.charCount(cp)
            if (isMark(cp) && cp !in UnicodeTables.nfcCombining && combiningHere(cp)) {
                out.append(Normalizer.normalize(text.substring(segmentStart, i), Normalizer.Form.NFC)).appendCodePoint(cp)
                segmentStart = i + width
            }
            i += width
        }
        return out.append(Normalizer.normalize(text.substring(segmentStart), Normalizer.Form.NFC)).toString()
    }
}

/**
 * tokenizers' BertNormalizer with tokenizers' own tables: clean_text, handle_chinese_chars, strip_accents
 * (NFD, then drop nonspacing marks; by default as `lowercase`), lowercase, in that order.
 */
internal class BertNormalizer(
    private val cleanText: Boolean,
    private val handleChineseChars: Boolean,
    stripAccents: Boolean?,
    private val lowercase: Boolean,
) : TextNormalizer {
    private val stripAccents = stripAccents ?: lowercase

    override fun normalize(text: String): String {
        var s = text
        if (cleanText || handleChineseChars) {
            val out = StringBuilder(s.length + 8)
            s.codePoints().forEach { cp ->
                when {
                    cleanText && cp in UnicodeTables.bertRemoved -> Unit
                    cleanText && cp in UnicodeTables.bertWhitespace -> out.append(' ')
                    handleChineseChars && cp in UnicodeTables.bertChinese -> out.append(' ').appendCodePoint(cp).append(' ')
                    else -> out.appendCodePoint(cp)
                }
            }
            s = out.toString()
        }
        if (stripAccents) {
            val out = StringBuilder(s.length)
            Normalizer.normalize(s, Normalizer.Form.NFD).codePoints().forEach { cp ->
                if (cp !in UnicodeTables.bertAccent) out.appendCodePoint(cp)
            }
            s = out.toString()
        }
        if (lowercase) {
            val table = UnicodeTables.bertLowercase
            val out = StringBuilder(s.length)
            s.codePoints().forEach { cp -> table[cp]?.let(out::append) ?: out.appendCodePoint(cp) }
            s = out.toString()
        }
        return s
    }
}
