package edgecolbert.colbert

import java.util.PriorityQueue
import java.util.concurrent.ConcurrentHashMap

/** A tokenizer.json model: one pre-tokenized word in, its token ids out. Safe from any thread. */
internal fun interface TokenModel {
    fun tokenize(word: String): IntArray
}

/**
 * Byte-level BPE as tokenizers runs it: the word's byte characters, then merges applied lowest rank first
 * (the leftmost of equal ranks), a character missing from the vocabulary dropped (no unk token, no fallback).
 */
internal class Bpe(
    private val vocab: Map<String, Int>,
    /** (left id, right id) packed in a Long -> (rank, merged id), packed the same way. */
    private val merges: Map<Long, Long>,
) : TokenModel {
    private val cache = ConcurrentHashMap<String, IntArray>()

    override fun tokenize(word: String): IntArray {
        cache[word]?.let { return it }
        val ids = merge(word)
        if (word.length <= MAX_CACHED_LENGTH) {
            if (cache.size >= CACHE_ENTRIES) cache.clear()
            cache[word] = ids
        }
        return ids
    }

    private class Candidate(val rank: Int, val pos: Int, val newId: Int)

    private fun merge(word: String): IntArray {
        val symbols = word.codePoints().toArray().map { vocab[String(Character.toChars(it))] ?: -1 }.filter { it >= 0 }.toIntArray()
        val n = symbols.size
        if (n < 2) return symbols
        val next = IntArray(n) { if (it + 1 < n) it + 1 else -1 }
        val prev = IntArray(n) { it - 1 }
        val alive = BooleanArray(n) { true }
        val queue = PriorityQueue<Candidate>(compareBy({ it.rank }, { it.pos }))
        fun offer(pos: Int) {
            val right = next[pos]
            if (right < 0) return
            merges[pack(symbols[pos], symbols[right])]?.let { queue.add(Candidate((it ushr 32).toInt(), pos, it.toInt())) }
        }
        for (pos in 0 until n - 1) offer(pos)
        while (queue.isNotEmpty()) {
            val top = queue.poll()
            if (!alive[top.pos] || next[top.pos] < 0) continue
            val right = next[top.pos]
            val current = merges[pack(symbols[top.pos], symbols[right])]
            if (current == null || current.toInt() != top.newId) continue // a stale candidate
            symbols[top.pos] = top.newId
            alive[right] = false
            next[top.pos] = next[right]
            if (next[right] >= 0) prev[next[right]] = top.pos
            if (prev[top.pos] >= 0) offer(prev[top.pos])
            offer(top.pos)
        }
        val out = ArrayList<Int>(n)
        var pos = 0
        while (pos >= 0) {
            out.add(symbols[pos])
            pos = next[pos]
        }
        return out.toIntArray()
    }

    companion object {
        private const val CACHE_ENTRIES = 100_000
        private const val MAX_CACHED_LENGTH = 256

        fun pack(a: Int, b: Int): Long = (a.toLong() shl 32) or (b.toLong() and 0xFFFFFFFFL)
    }
}

/** WordPiece: greedy longest match first, continuations prefixed; a word it cannot cover is the unk token. */
internal class WordPiece(
    private val vocab: Map<String, Int>,
    private val unkId: Int,
    private val prefix: String,
    private val maxInputCharsPerWord: Int,
) : TokenModel {
    override fun tokenize(word: String): IntArray {
        if (word.codePointCount(0, word.length) > maxInputCharsPerWord) return intArrayOf(unkId)
        val ids = ArrayList<Int>()
        var start = 0
        while (start < word.length) {
            var end = word.length
            var found = -1
            while (start < end) {
                val piece = if (start > 0) prefix + word.substring(start, end) else word.substring(start, end)
                val id = vocab[piece]
                if (id != null) {
                    found = id
                    break
                }
                end = word.offsetByCodePoints(end, -1)
            }
            if (found < 0) return intArrayOf(unkId)
            ids.add(found)
            start = end
        }
        return ids.toIntArray()
    }
}
