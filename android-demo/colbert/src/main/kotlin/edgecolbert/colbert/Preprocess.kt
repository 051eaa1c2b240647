package edgecolbert.colbert

/**
 * Steps 1 and 2 of spec/bundle.md, "Encoding a text": strip `strip_codepoints` from both ends, then lowercase
 * as Python's str.lower does. Java's trim(), its whitespace and toLowerCase(Locale.ROOT) follow another
 * definition and another Unicode version, so the lowercase mapping comes from [UnicodeTables.pythonLower].
 */
class Preprocessor(stripCodepoints: Collection<Int>, private val lowercase: Boolean) {
    private val strip = stripCodepoints.toHashSet()

    fun apply(text: String): String {
        val points = text.codePoints().toArray()
        var start = 0
        var end = points.size
        while (start < end && points[start] in strip) start++
        while (end > start && points[end - 1] in strip) end--
        val stripped = points.copyOfRange(start, end)
        return if (lowercase) pythonLower(stripped) else String(stripped, 0, stripped.size)
    }

    companion object {
        private const val CAPITAL_SIGMA = 0x3A3

        /** Python's str.lower: the full mapping per code point, and the final-sigma rule. */
        fun pythonLower(points: IntArray): String {
            val table = UnicodeTables.pythonLower
            val out = StringBuilder(points.size + 8)
            for (i in points.indices) {
                val cp = points[i]
                when {
                    cp == CAPITAL_SIGMA -> out.append(if (isFinalSigma(points, i)) 'ς' else 'σ')
                    cp < 0x80 -> out.append(if (cp in 0x41..0x5A) (cp + 32).toChar() else cp.toChar())
                    else -> table[cp]?.let(out::append) ?: out.appendCodePoint(cp)
                }
            }
            return out.toString()
        }

        /** Python's rule: a cased letter before (case-ignorables skipped), and none after; both classes are Python's
         *  (the JVM's Character properties follow another Unicode version). */
        private fun isFinalSigma(points: IntArray, at: Int): Boolean {
            var i = at - 1
            while (i >= 0 && isCaseIgnorable(points[i])) i--
            if (i < 0 || !isCased(points[i])) return false
            var j = at + 1
            while (j < points.size && isCaseIgnorable(points[j])) j++
            return j == points.size || !isCased(points[j])
        }

        private fun isCased(cp: Int): Boolean = cp in UnicodeTables.pythonCased

        private fun isCaseIgnorable(cp: Int): Boolean = cp in UnicodeTables.pythonCaseIgnorable
    }
}
