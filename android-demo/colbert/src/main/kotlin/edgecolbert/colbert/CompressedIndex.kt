package edgecolbert.colbert

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest
import kotlin.math.sqrt

/**
 * The spec's compressed index file (spec/bundle.md, "Compressed index file", format 3): each vector stored as a
 * centroid id and a 2-, 4- or 8-bit residual bucket per dimension; a search scores centroids first and decompresses
 * only its candidates' vectors (centroid plus weight, divided by the vector's fp32 length). The small tables
 * (centroids widened to fp32, weights, offsets, codes, inverted lists) are held as primitive arrays; the packed
 * residuals stay where the file was read (memory-mapped by [SearchIndex.load]). Immutable; searches may run
 * concurrently.
 */
class CompressedIndex private constructor(
    override val dim: Int,
    /** Bits per residual value: 2, 4 or 8. */
    val bits: Int,
    override val modelDigest: String,
    /** The search's defaults, from the file. */
    val nprobe: Int,
    val candidates: Int,
    /** [K x dim], the file's float16 centroids widened to fp32. */
    private val centroids: FloatArray,
    /** 2^bits bucket weights. */
    private val weights: FloatArray,
    /** Document i owns vectors offsets[i] until offsets[i + 1]. */
    private val offsets: IntArray,
    /** Each vector's centroid id (a u16: read with `and 0xFFFF`). */
    private val codes: ShortArray,
    /** [V x dim·bits/8] packed buckets; only absolute reads, so that searches can share it. */
    private val residuals: ByteBuffer,
    /** Centroid c's list is lists[listOffsets[c]] until lists[listOffsets[c + 1]]. */
    private val listOffsets: IntArray,
    private val lists: IntArray,
    override val metadata: List<JsonElement>,
) : SearchIndex {
    override val size: Int get() = offsets.size - 1
    val vectorCount: Int get() = codes.size
    val centroidCount: Int get() = listOffsets.size - 1

    private val rowBytes = dim * bits / 8
    private val perByte = 8 / bits

    /** A byte of packed buckets -> the weights of its [perByte] values (4, 2 or 1), lowest bits first. */
    private val table = FloatArray(256 * perByte).also { t ->
        val mask = (1 shl bits) - 1
        for (byte in 0 until 256) for (m in 0 until perByte) t[byte * perByte + m] = weights[(byte ushr (m * bits)) and mask]
    }

    /** The file's defaults for nprobe and candidates. */
    override fun search(query: Vectors, k: Int): List<Hit> = search(query, k, nprobe, candidates)

    /**
     * The spec's five steps: centroid scores, each query vector's [nprobe] best centroids, each listed document's
     * centroid score, the [candidates] best of those, and their MaxSim over decompressed vectors, at most [k].
     */
    fun search(query: Vectors, k: Int, nprobe: Int, candidates: Int): List<Hit> {
        require(query.count == 0 || query.dim == dim) { "query vectors must be [n, $dim], not [${query.count}, ${query.dim}]" }
        require(nprobe >= 1 && candidates >= 1) { "nprobe and candidates must be at least 1, not $nprobe and $candidates" }
        val nq = query.count
        if (nq == 0 || k <= 0) return emptyList()
        val kc = centroidCount
        val q = query.data

        // 1. centroid scores S[i][c], fp32
        val s = FloatArray(nq * kc)
        for (i in 0 until nq) {
            val qb = i * dim
            for (c in 0 until kc) {
                val cb = c * dim
                var acc = 0f
                for (j in 0 until dim) acc += q[qb + j] * centroids[cb + j]
                s[i * kc + c] = acc
            }
        }

        // 2. each query vector's probes, best first (ties to the lower id)
        val probeCount = minOf(nprobe, kc)
        val keys = LongArray(kc)
        val probes = Array(nq) { i ->
            val row = i * kc
            for (c in 0 until kc) keys[c] = Ranking.key(s[row + c], c)
            IntArray(probeCount).also { out -> Ranking.smallest(keys, kc, probeCount).forEachIndexed { n, key -> out[n] = Ranking.index(key) } }
        }

        // 3. the documents in any probed list; then, per query vector in order, each one gains the score of the
        // first (so the highest) probe that lists it, or the query vector's lowest probed score if none does
        val listed = BooleanArray(size)
        var found = IntArray(minOf(size, 64))
        var foundCount = 0
        for (probe in probes) for (c in probe) for (e in listOffsets[c] until listOffsets[c + 1]) {
            val d = lists[e]
            if (listed[d]) continue
            listed[d] = true
            if (foundCount == found.size) found = found.copyOf(minOf(size, found.size * 2))
            found[foundCount++] = d
        }
        val approx = FloatArray(size)
        val best = FloatArray(size)
        val bestFor = IntArray(size).also { it.fill(-1) } // the query vector whose best probe score `best` holds
        for (i in 0 until nq) {
            val row = i * kc
            val probe = probes[i]
            for (c in probe) {
                val score = s[row + c]
                for (e in listOffsets[c] until listOffsets[c + 1]) {
                    val d = lists[e]
                    if (bestFor[d] != i) { bestFor[d] = i; best[d] = score }
                }
            }
            val lowest = s[row + probe[probeCount - 1]]
            for (n in 0 until foundCount) {
                val d = found[n]
                approx[d] += if (bestFor[d] == i) best[d] else lowest
            }
        }

        // 4. the candidates: highest centroid score, ties to the lower document index
        val docKeys = LongArray(foundCount) { Ranking.key(approx[found[it]], found[it]) }
        val chosen = Ranking.smallest(docKeys, foundCount, candidates)

        // 5. MaxSim over each candidate's decompressed vectors; ranked, at most k
        val kernel = MaxSimKernel(query)
        var packed = ByteArray(0)
        var vectors = FloatArray(0)
        val scoreKeys = LongArray(chosen.size)
        for (n in chosen.indices) {
            val d = Ranking.index(chosen[n])
            val start = offsets[d]
            val count = offsets[d + 1] - start
            if (packed.size < count * rowBytes) packed = ByteArray(count * rowBytes)
            if (vectors.size < count * dim) vectors = FloatArray(count * dim)
            residuals.get(start * rowBytes, packed, 0, count * rowBytes)
            decompress(start, count, packed, vectors)
            scoreKeys[n] = Ranking.key(kernel.maxSim(vectors, 0, count), d)
        }
        return Ranking.smallest(scoreKeys, scoreKeys.size, k).map { key ->
            val d = Ranking.index(key)
            Hit(d, Ranking.score(key), metadata[d])
        }
    }

    /**
     * Vectors [start] until [start] + [count], from their [packed] rows, into [out] row-major, as the spec
     * decompresses them in fp32: y = centroid + weight, the length n summed over y·y in dimension order while y is
     * filled, then each y divided by n unless n is 0.
     */
    private fun decompress(start: Int, count: Int, packed: ByteArray, out: FloatArray) {
        for (t in 0 until count) {
            val cb = (codes[start + t].toInt() and 0xFFFF) * dim
            val pb = t * rowBytes
            val ob = t * dim
            var o = ob
            var j = cb
            var squares = 0f
            for (r in 0 until rowBytes) {
                val tb = (packed[pb + r].toInt() and 0xFF) * perByte
                for (m in 0 until perByte) {
                    val y = centroids[j++] + table[tb + m]
                    out[o++] = y
                    squares += y * y
                }
            }
            val length = sqrt(squares)
            if (length > 0f) for (i in ob until ob + dim) out[i] /= length
        }
    }

    /** The decompressed vectors of document [document], [count x dim] row-major (fp32, as a search scores them). */
    fun vectorsOf(document: Int): Vectors {
        val start = offsets[document]
        val count = offsets[document + 1] - start
        val packed = ByteArray(count * rowBytes).also { residuals.get(start * rowBytes, it) }
        return Vectors(count, dim, FloatArray(count * dim).also { decompress(start, count, packed, it) })
    }

    companion object {
        const val VERSION = 3

        /** The compressed file before decompressed vectors were normalised: an unknown version now. */
        internal const val UNNORMALISED_VERSION = 2

        internal fun unnormalised(where: String) = IndexException.UnknownVersion("$where is compressed index format " +
            "$UNNORMALISED_VERSION, from before decompressed vectors were normalised (this library reads $VERSION): rebuild it")

        private const val HEADER = 128
        private const val ALIGN = 64
        private const val CHECKSUM = 32
        private const val MAX_CENTROIDS = 65536L

        private fun aligned(n: Long): Long = (n + ALIGN - 1) / ALIGN * ALIGN

        /** Reads and checks a compressed index file, every check in the spec's order. */
        fun fromBytes(data: ByteArray, where: String = "index", modelDigest: String? = null): CompressedIndex =
            fromBuffer(ByteBuffer.wrap(data), where, modelDigest)

        /** [buffer]'s bytes from 0 to its limit (kept: the residuals are read from it at search time). */
        fun fromBuffer(buffer: ByteBuffer, where: String = "index", modelDigest: String? = null): CompressedIndex {
            fun corrupt(reason: String) = IndexException.Corrupt("$where is not a usable index ($reason); rebuild it")
            val b = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN)
            val size = b.limit()
            if (size < SearchIndex.MAGIC.size || SearchIndex.MAGIC.indices.any { b.get(it) != SearchIndex.MAGIC[it] }) {
                throw corrupt("not an index file")
            }
            if (size < 12) throw corrupt("truncated header")
            val version = b.getInt(8).toUInt()
            if (version == UNNORMALISED_VERSION.toUInt()) throw unnormalised(where)
            if (version != VERSION.toUInt()) {
                throw IndexException.UnknownVersion("$where is index format $version, not a compressed index ($VERSION): " +
                    "read it with SearchIndex.load, or rebuild it")
            }
            if (size < HEADER + CHECKSUM) throw corrupt("truncated header")
            fun u32(at: Int): Long = b.getInt(at).toUInt().toLong()
            val dim = u32(12)
            val bits = u32(16)
            if (bits != 2L && bits != 4L && bits != 8L) throw corrupt("$bits bits per residual value; 2, 4 or 8 are known")
            if (u32(20) != 0L) throw corrupt("unknown flags")
            if (dim == 0L || dim * bits % 8 != 0L) throw corrupt("dim $dim at $bits bits does not fill whole bytes")
            val k = u32(80)
            if (k < 1 || k > MAX_CENTROIDS) throw corrupt("$k centroids; 1 to $MAX_CENTROIDS are allowed")
            val nprobe = u32(84)
            val candidates = u32(88)
            if (nprobe < 1 || candidates < 1) throw corrupt("nprobe and candidates must be at least 1")
            if (u32(92) != 0L) throw corrupt("a reserved field is not 0")

            // the total size; every count is at most the file's size (each takes at least a byte), so no product overflows
            val n = b.getLong(24)
            val v = b.getLong(32)
            val m = b.getLong(40)
            val p = b.getLong(96)
            val limit = size.toLong()
            val levels = 1 shl bits.toInt()
            val layout = if (listOf(n, v, m, p, dim).any { it < 0 || it > limit }) null else {
                val sizes = longArrayOf(k * dim * 2, (2L * levels - 1) * 4, (n + 1) * 8, v * 2, v * dim * bits / 8, (k + 1) * 8, p * 4)
                val starts = LongArray(sizes.size + 1)
                var at = HEADER.toLong()
                for (i in sizes.indices) { starts[i] = at; at = aligned(at + sizes[i]) }
                starts[sizes.size] = at // the metadata
                starts
            }
            val expected = layout?.let { it.last() + m + CHECKSUM }
            if (layout == null || expected != limit) {
                throw corrupt("$size bytes where the header says ${expected ?: "more"}: truncated or extended")
            }
            val at = IntArray(layout.size) { layout[it].toInt() }
            val (centroidsAt, bucketsAt, offsetsAt, codesAt, residualsAt) = at
            val listOffsetsAt = at[5]
            val listsAt = at[6]
            val metadataAt = at[7]
            val body = b.duplicate().position(0).limit(size - CHECKSUM)
            val checksum = MessageDigest.getInstance("SHA-256").apply { update(body) }.digest()
            val stored = ByteArray(CHECKSUM).also { b.get(size - CHECKSUM, it) }
            if (!checksum.contentEquals(stored)) throw corrupt("checksum mismatch")

            val kc = k.toInt()
            val d = dim.toInt()
            val cutoffs = FloatArray(levels - 1) { b.getFloat(bucketsAt + 4 * it) }
            if (cutoffs.any { !it.isFinite() } || (1 until cutoffs.size).any { cutoffs[it] < cutoffs[it - 1] }) {
                throw corrupt("bucket cutoffs not finite or out of order")
            }
            val weights = FloatArray(levels) { b.getFloat(bucketsAt + 4 * (levels - 1 + it)) }
            if (weights.any { !it.isFinite() }) throw corrupt("a bucket weight is not finite")
            val centroids = FloatArray(kc * d)
            for (i in centroids.indices) {
                val h = b.getShort(centroidsAt + 2 * i)
                if (h.toInt() and 0x7C00 == 0x7C00) throw corrupt("a centroid is not finite")
                centroids[i] = Half.toFloat(h)
            }
            val nn = n.toInt()
            val vv = v.toInt()
            val offsets = IntArray(nn + 1)
            for (i in offsets.indices) {
                val o = b.getLong(offsetsAt + 8 * i)
                if (o < 0 || o > v || (i > 0 && o < offsets[i - 1])) throw corrupt("document offsets out of order")
                offsets[i] = o.toInt()
            }
            if (offsets[0] != 0 || offsets[nn] != vv) throw corrupt("document offsets out of order")
            val codes = ShortArray(vv) { b.getShort(codesAt + 2 * it) }
            if (codes.any { (it.toInt() and 0xFFFF) >= kc }) throw corrupt("a centroid id past the centroids")
            val listOffsets = IntArray(kc + 1)
            for (c in listOffsets.indices) {
                val o = b.getLong(listOffsetsAt + 8 * c)
                if (o < 0 || o > p || (c > 0 && o < listOffsets[c - 1])) throw corrupt("inverted-list offsets out of order")
                listOffsets[c] = o.toInt()
            }
            if (listOffsets[0] != 0 || listOffsets[kc].toLong() != p) throw corrupt("inverted-list offsets out of order")
            val lists = IntArray(p.toInt()) { b.getInt(listsAt + 4 * it) }
            if (lists.any { it < 0 || it >= nn }) throw corrupt("an inverted list names a document past the corpus")
            for (c in 0 until kc) for (e in listOffsets[c] + 1 until listOffsets[c + 1]) {
                if (lists[e] <= lists[e - 1]) throw corrupt("an inverted list is not ascending")
            }
            val metadata = try {
                val bytes = b.duplicate().position(metadataAt).limit(metadataAt + m.toInt())
                Json.parseToJsonElement(Charsets.UTF_8.newDecoder().decode(bytes).toString())
            } catch (e: Exception) {
                throw corrupt("metadata is not UTF-8 JSON")
            }
            if (metadata !is JsonArray || metadata.size != nn) throw corrupt("metadata is not one entry per document")
            val digest = ByteArray(32).also { b.get(48, it) }.toHex()
            if (modelDigest != null && digest != modelDigest) {
                throw IndexException.OtherModel("$where was built with another model (digest ${digest.take(12)}, this bundle's " +
                    "is ${modelDigest.take(12)}); rebuild it with this bundle")
            }
            val residuals = b.slice(residualsAt, vv * (d * bits.toInt() / 8)).asReadOnlyBuffer()
            // u32 defaults past what an Int holds mean "all", as min(nprobe, K) and min(candidates, N) do anyway
            return CompressedIndex(d, bits.toInt(), digest, nprobe.coerceAtMost(Int.MAX_VALUE.toLong()).toInt(),
                candidates.coerceAtMost(Int.MAX_VALUE.toLong()).toInt(), centroids, weights, offsets,
                codes, residuals, listOffsets, lists, metadata.toList())
        }
    }
}

/**
 * Ranks (score, index) pairs as the spec does, without boxing: highest score first, equal scores (0 and -0
 * alike) to the lower index, as one Long whose ascending order is that rank.
 */
internal object Ranking {
    fun key(score: Float, index: Int): Long {
        val bits = (score + 0f).toRawBits() // -0 + 0 is +0
        val ascending = if (bits < 0) bits xor 0x7FFFFFFF else bits // signed order = float order
        return (ascending.inv().toLong() shl 32) or index.toLong()
    }

    fun index(key: Long): Int = key.toInt()

    fun score(key: Long): Float {
        val ascending = (key shr 32).toInt().inv()
        return Float.fromBits(if (ascending < 0) ascending xor 0x7FFFFFFF else ascending)
    }

    /** The [count] smallest of keys[0 until n], ascending: a sort when they are most of them, else a heap. */
    fun smallest(keys: LongArray, n: Int, count: Int): LongArray {
        val m = minOf(count, n)
        if (m <= 0) return LongArray(0)
        if (m.toLong() * 8 >= n) return keys.copyOf(n).also { it.sort() }.copyOf(m)
        val heap = keys.copyOf(m) // a max-heap of the m smallest so far
        for (i in m / 2 - 1 downTo 0) siftDown(heap, i, m)
        for (i in m until n) {
            if (keys[i] < heap[0]) {
                heap[0] = keys[i]
                siftDown(heap, 0, m)
            }
        }
        heap.sort()
        return heap
    }

    private fun siftDown(heap: LongArray, from: Int, n: Int) {
        var i = from
        while (true) {
            val l = 2 * i + 1
            if (l >= n) return
            val r = l + 1
            val c = if (r < n && heap[r] > heap[l]) r else l
            if (heap[c] <= heap[i]) return
            val t = heap[i]; heap[i] = heap[c]; heap[c] = t
            i = c
        }
    }
}
