package edgecolbert.colbert

/** An entry of tokenizer.json's added_tokens. */
internal data class AddedToken(
    val id: Int,
    val content: String,
    val singleWord: Boolean,
    val lstrip: Boolean,
    val rstrip: Boolean,
    val normalized: Boolean,
    val special: Boolean,
)

/** A piece of the input: text the model still tokenizes, or an added token's id. */
internal data class Piece(val text: String, val id: Int?)

/**
 * Added tokens split out of the text as tokenizers' AddedVocabulary does: tokens with `normalized: false` from
 * the raw text first; each remaining piece is normalized, then tokens with `normalized: true` (matched by
 * their normalized content) split out of it. Matches are leftmost-longest; `single_word`, `lstrip` and
 * `rstrip` are honoured; empty pieces are dropped.
 */
internal class AddedVocabulary(tokens: List<AddedToken>, private val normalizer: TextNormalizer) {
    private val raw = Matcher(tokens.filter { !it.normalized }.map { it.content to it })
    private val normalizedTokens = Matcher(tokens.filter { it.normalized }.map { normalizer.normalize(it.content) to it })

    fun split(text: String): List<Piece> {
        val out = ArrayList<Piece>()
        for (piece in raw.split(text)) {
            if (piece.id != null) out.add(piece) else out.addAll(normalizedTokens.split(normalizer.normalize(piece.text)))
        }
        return out.filter { it.text.isNotEmpty() }
    }

    /** A trie over UTF-16 units of the patterns, for leftmost-longest matching. */
    private class Matcher(patterns: List<Pair<String, AddedToken>>) {
        private class Node {
            val children = HashMap<Char, Node>()
            var token: AddedToken? = null
        }

        private val root = Node()
        private val empty: Boolean

        init {
            var any = false
            for ((pattern, token) in patterns) {
                if (pattern.isEmpty()) continue
                var node = root
                for (c in pattern) node = node.children.getOrPut(c) { Node() }
                if (node.token == null) node.token = token // the first of equal patterns, as the automaton keeps it
                any = true
            }
            empty = !any
        }

        /** The longest match starting at [start]: (end, token), or null. */
        private fun longestAt(text: String, start: Int): Pair<Int, AddedToken>? {
            var node = root
            var best: Pair<Int, AddedToken>? = null
            var i = start
            while (i < text.length) {
                node = node.children[text[i]] ?: break
                i++
                node.token?.let { best = i to it }
            }
            return best
        }

        fun split(text: String): List<Piece> {
            if (empty || text.isEmpty()) return listOf(Piece(text, null))
            val pieces = ArrayList<Piece>()
            var offset = 0 // where the text not yet split off starts
            var i = 0
            while (i < text.length) {
                val match = longestAt(text, i)
                if (match == null) {
                    i++
                    continue
                }
                var (stop, token) = match
                var start = i
                if (token.singleWord && (endsWithWord(text, start) || startsWithWord(text, stop))) {
                    i = stop // not a whole word: no token here, and the search goes on after it, as tokenizers' does
                    continue
                }
                if (token.lstrip) {
                    var s = start
                    while (s > 0 && isSpace(text.codePointBefore(s))) s -= Character.charCount(text.codePointBefore(s))
                    start = maxOf(s, offset)
                }
                if (token.rstrip) {
                    while (stop < text.length && isSpace(text.codePointAt(stop))) stop += Character.charCount(text.codePointAt(stop))
                }
                if (offset < start) pieces.add(Piece(text.substring(offset, start), null))
                pieces.add(Piece(text.substring(start, stop), token.id))
                offset = stop
                i = stop
            }
            if (offset < text.length) pieces.add(Piece(text.substring(offset), null))
            return pieces
        }

        /** Rust regex's Unicode \s (White_Space). */
        private fun isSpace(cp: Int): Boolean = cp in UnicodeTables.byteLevelWhitespace

        /** Rust regex's Unicode \w: alphabetic, marks, decimal digits, connector punctuation, joiners. */
        private fun isWord(cp: Int): Boolean = Character.isAlphabetic(cp) || cp == 0x200C || cp == 0x200D ||
            when (Character.getType(cp).toByte()) {
                Character.NON_SPACING_MARK, Character.COMBINING_SPACING_MARK, Character.ENCLOSING_MARK,
                Character.DECIMAL_DIGIT_NUMBER, Character.CONNECTOR_PUNCTUATION -> true
                else -> false
            }

        private fun endsWithWord(text: String, at: Int) = at > 0 && isWord(text.codePointBefore(at))
        private fun startsWithWord(text: String, at: Int) = at < text.length && isWord(text.codePointAt(at))
    }
}
