package edgecolbert.colbert

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.security.MessageDigest

/** One search result: the document's position in the corpus, its MaxSim score and its metadata. */
data class Hit(val index: Int, val score: Float, val metadata: JsonElement)

enum class VectorDtype(val code: Int, val bytes: Int) { FLOAT32(0, 4), FLOAT16(1, 2) }

/**
 * A corpus encoded once, in the spec's portable index file (spec/bundle.md, "Index file"): Python builds and
 * reads the same files. Vectors are held as fp32 (float16 files are widened on load). Immutable; searches may
 * run concurrently.
 */
class MultiVectorIndex private constructor(
    override val dim: Int,
    val dtype: VectorDtype,
    /** Hex sha256 of the bundle's model files ([Manifest.modelDigest]). */
    override val modelDigest: String,
    /** Document i owns vectors offsets[i] until offsets[i + 1]. */
    private val offsets: IntArray,
    /** Every kept vector, row-major [V x dim]. */
    private val vectors: FloatArray,
    override val metadata: List<JsonElement>,
) : SearchIndex {
    override val size: Int get() = offsets.size - 1
    val vectorCount: Int get() = offsets.last()

    /** MaxSim of [query] with every document, fp32; 0 for an empty query or document. */
    fun scores(query: Vectors): FloatArray {
        require(query.count == 0 || query.dim == dim) { "query vectors must be [n, $dim], not [${query.count}, ${query.dim}]" }
        val out = FloatArray(size)
        if (query.count == 0) return out
        val kernel = MaxSimKernel(query)
        for (doc in 0 until size) out[doc] = kernel.maxSim(vectors, offsets[doc], offsets[doc + 1])
        return out
    }

    /** The [k] best documents, best first; equal scores in corpus order. */
    override fun search(query: Vectors, k: Int): List<Hit> =
        Scoring.rank(scores(query), k).map { Hit(it.index, it.score, metadata[it.index]) }

    fun toBytes(): ByteArray {
        val meta = JsonArray(metadata).toString().toByteArray(Charsets.UTF_8)
        val v = vectorCount
        val total = HEADER + 8 * (size + 1) + v.toLong() * dim * dtype.bytes + meta.size + CHECKSUM
        require(total <= Int.MAX_VALUE - 8) { "an index of $total bytes is past what one file here holds; split the corpus" }
        val buffer = ByteBuffer.allocate(total.toInt()).order(ByteOrder.LITTLE_ENDIAN)
        buffer.put(MAGIC).putInt(VERSION).putInt(dtype.code).putInt(dim).putInt(0)
            .putLong(size.toLong()).putLong(v.toLong()).putLong(meta.size.toLong()).put(hexBytes(modelDigest))
        offsets.forEach { buffer.putLong(it.toLong()) }
        when (dtype) {
            VectorDtype.FLOAT32 -> vectors.forEach(buffer::putFloat)
            VectorDtype.FLOAT16 -> vectors.forEach { buffer.putShort(Half.fromFloat(it)) }
        }
        buffer.put(meta)
        val body = buffer.array()
        val digest = MessageDigest.getInstance("SHA-256").apply { update(body, 0, buffer.position()) }.digest()
        buffer.put(digest)
        return body
    }

    /** Written beside [path] and moved into place: a crash never leaves half an index. */
    fun save(path: Path) {
        val parent = path.toAbsolutePath().parent
        val tmp = Files.createTempFile(parent, ".${path.fileName}.", ".tmp")
        try {
            Files.write(tmp, toBytes())
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE)
        } finally {
            Files.deleteIfExists(tmp)
        }
    }

    companion object {
        private val MAGIC = SearchIndex.MAGIC
        const val VERSION = 1
        private const val HEADER = 80
        private const val CHECKSUM = 32

        /** An index of [documents] (each a text's kept vectors) with one metadata value each. */
        fun build(documents: List<Vectors>, metadata: List<JsonElement>, modelDigest: String,
                  dtype: VectorDtype = VectorDtype.FLOAT32): MultiVectorIndex {
            require(documents.size == metadata.size) { "${documents.size} documents but ${metadata.size} metadata entries" }
            val dims = documents.filter { it.count > 0 }.map { it.dim }.toSet()
            require(dims.size <= 1) { "every document must have vectors of one dim, not ${dims.sorted()}" }
            val dim = dims.firstOrNull() ?: documents.firstOrNull()?.dim ?: 0
            val offsets = IntArray(documents.size + 1)
            documents.forEachIndexed { i, d -> offsets[i + 1] = Math.addExact(offsets[i], d.count) }
            val vectors = FloatArray(Math.multiplyExact(offsets.last(), dim))
            documents.forEachIndexed { i, d -> System.arraycopy(d.data, 0, vectors, offsets[i] * dim, d.data.size) }
            if (dtype == VectorDtype.FLOAT16) for (i in vectors.indices) vectors[i] = Half.toFloat(Half.fromFloat(vectors[i]))
            return MultiVectorIndex(dim, dtype, modelDigest, offsets, vectors, metadata)
        }

        /**
         * Reads and checks an exact index file (format 1); with [modelDigest], refuses one built with another model.
         * [SearchIndex.load] reads either kind.
         */
        fun load(path: Path, modelDigest: String? = null): MultiVectorIndex {
            val data = try {
                Files.readAllBytes(path)
            } catch (e: IOException) {
                throw IndexException.Unreadable("$path: cannot read it (${e.message}); rebuild the index")
            } catch (e: OutOfMemoryError) {
                throw IndexException.Unreadable("$path: too large to read here; rebuild the index from fewer documents")
            }
            return fromBytes(data, path.toString(), modelDigest)
        }

        fun fromBytes(data: ByteArray, where: String = "index", modelDigest: String? = null): MultiVectorIndex {
            fun corrupt(reason: String) = IndexException.Corrupt("$where is not a usable index ($reason); rebuild it")
            val magicOk = data.size >= 8 && data.copyOf(8).contentEquals(MAGIC)
            if (data.size < HEADER + 8 + CHECKSUM) throw corrupt(if (magicOk || data.size < 8) "truncated header" else "not an index file")
            if (!magicOk) throw corrupt("not an index file")
            val b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN)
            val version = b.getInt(8).toUInt()
            if (version == CompressedIndex.VERSION.toUInt()) {
                throw IndexException.UnknownVersion("$where is a compressed index (format $version), not an exact one: " +
                    "read it with SearchIndex.load, or rebuild it as an exact index")
            }
            if (version == CompressedIndex.UNNORMALISED_VERSION.toUInt()) throw CompressedIndex.unnormalised(where)
            if (version != VERSION.toUInt()) {
                throw IndexException.UnknownVersion("$where is index format $version; this library reads $VERSION and " +
                    "${CompressedIndex.VERSION}: rebuild the index or upgrade the library")
            }
            val dtypeCode = b.getInt(12).toUInt().toLong()
            val dim = b.getInt(16).toUInt().toLong()
            val flags = b.getInt(20)
            val dtype = VectorDtype.entries.firstOrNull { it.code.toLong() == dtypeCode }
            if (dtype == null || flags != 0 || dim == 0L) throw corrupt("unknown dtype, flags or dim")
            val n = b.getLong(24)
            val v = b.getLong(32)
            val m = b.getLong(40)
            val limit = data.size.toLong()
            val expected = if (n < 0 || v < 0 || m < 0 || n >= limit || v > limit || m > limit || dim > limit) -1L
            else HEADER + 8 * (n + 1) + v * dim * dtype.bytes + m + CHECKSUM
            if (expected != limit) throw corrupt("${data.size} bytes where the header says ${if (expected < 0) "more" else expected}: truncated or extended")
            val checksum = MessageDigest.getInstance("SHA-256").apply { update(data, 0, data.size - CHECKSUM) }.digest()
            if (!checksum.contentEquals(data.copyOfRange(data.size - CHECKSUM, data.size))) throw corrupt("checksum mismatch")
            val digest = data.copyOfRange(48, 80).toHex()
            var pos = HEADER
            val offsets = IntArray(n.toInt() + 1)
            for (i in offsets.indices) {
                val o = b.getLong(pos)
                pos += 8
                if (o < 0 || o > v || (i > 0 && o < offsets[i - 1])) throw corrupt("document offsets out of order")
                offsets[i] = o.toInt()
            }
            if (offsets[0] != 0 || offsets.last().toLong() != v) throw corrupt("document offsets out of order")
            val count = (v * dim).toInt()
            val vectors = FloatArray(count)
            when (dtype) {
                VectorDtype.FLOAT32 -> for (i in 0 until count) vectors[i] = b.getFloat(pos + 4 * i)
                VectorDtype.FLOAT16 -> for (i in 0 until count) vectors[i] = Half.toFloat(b.getShort(pos + 2 * i))
            }
            pos += count * dtype.bytes
            val metadata = try {
                val text = Charsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(data, pos, m.toInt())).toString()
                Json.parseToJsonElement(text)
            } catch (e: Exception) {
                throw corrupt("metadata is not UTF-8 JSON")
            }
            if (metadata !is JsonArray || metadata.size.toLong() != n) throw corrupt("metadata is not one entry per document")
            if (modelDigest != null && digest != modelDigest) {
                throw IndexException.OtherModel("$where was built with another model (digest ${digest.take(12)}, this bundle's " +
                    "is ${modelDigest.take(12)}); rebuild it with this bundle")
            }
            return MultiVectorIndex(dim.toInt(), dtype, digest, offsets, vectors, metadata.toList())
        }

        private fun hexBytes(hex: String): ByteArray {
            require(hex.length == 64) { "a model digest is 64 hex digits, not '$hex'" }
            return ByteArray(32) { hex.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
        }
    }
}

/** IEEE 754 half precision, round to nearest even (as numpy's astype(float16)). */
internal object Half {
    fun toFloat(h: Short): Float {
        val bits = h.toInt() and 0xFFFF
        val sign = (bits and 0x8000) shl 16
        val exp = (bits ushr 10) and 0x1F
        val mant = bits and 0x3FF
        return when (exp) {
            0 -> (if (sign != 0) -1f else 1f) * mant * (1f / (1 shl 24))
            31 -> Float.fromBits(sign or 0x7F800000 or (mant shl 13))
            else -> Float.fromBits(sign or ((exp + 112) shl 23) or (mant shl 13))
        }
    }

    fun fromFloat(f: Float): Short {
        val bits = f.toRawBits()
        val sign = (bits ushr 16) and 0x8000
        val abs = bits and 0x7FFFFFFF
        if (abs >= 0x7F800000) return (sign or 0x7C00 or (if (abs > 0x7F800000) 0x200 else 0)).toShort() // inf, nan
        if (abs >= 0x477FF000) return (sign or 0x7C00).toShort() // rounds past the largest half: inf
        if (abs < 0x38800000) { // a subnormal half (or zero): scale to an integer count of 2^-24, round to even
            val value = Float.fromBits(abs) * (1 shl 24).toFloat()
            return (sign or Math.rint(value.toDouble()).toInt()).toShort()
        }
        val exp = (abs ushr 23) - 112
        val mant = abs and 0x7FFFFF
        var half = (exp shl 10) or (mant ushr 13)
        val rest = mant and 0x1FFF
        if (rest > 0x1000 || (rest == 0x1000 && (half and 1) == 1)) half++
        return (sign or half).toShort()
    }
}
