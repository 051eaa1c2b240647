package edgecolbert.colbert

import kotlinx.serialization.json.JsonElement
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import java.nio.file.Path
import java.nio.file.StandardOpenOption

/**
 * A searchable index of either kind the spec defines: the exact file ([MultiVectorIndex], format 1) or the
 * compressed file ([CompressedIndex], format 3). Immutable; searches may run concurrently.
 */
sealed interface SearchIndex {
    val dim: Int

    /** Hex sha256 of the bundle's model files ([Manifest.modelDigest]). */
    val modelDigest: String
    val metadata: List<JsonElement>

    /** Documents. */
    val size: Int

    /** The [k] best documents for [query], best first; equal scores in corpus order. */
    fun search(query: Vectors, k: Int = 10): List<Hit>

    companion object {
        internal val MAGIC = byteArrayOf('C'.code.toByte(), 'B'.code.toByte(), 'I'.code.toByte(), 'N'.code.toByte(),
            'D'.code.toByte(), 'E'.code.toByte(), 'X'.code.toByte(), 0)

        /**
         * Reads and checks an index file of either kind, chosen by its version field; with [modelDigest], refuses
         * one built with another model. The file is memory-mapped: a compressed index keeps its residuals there.
         */
        fun load(path: Path, modelDigest: String? = null): SearchIndex {
            val buffer = try {
                FileChannel.open(path, StandardOpenOption.READ).use { channel ->
                    val size = channel.size()
                    if (size > Int.MAX_VALUE) {
                        throw IndexException.Unreadable("$path: $size bytes is too large to map here; rebuild the index from fewer documents")
                    }
                    channel.map(FileChannel.MapMode.READ_ONLY, 0, size)
                }
            } catch (e: IOException) {
                throw IndexException.Unreadable("$path: cannot read it (${e.message}); rebuild the index")
            }
            return fromBuffer(buffer, path.toString(), modelDigest)
        }

        fun fromBytes(data: ByteArray, where: String = "index", modelDigest: String? = null): SearchIndex =
            fromBuffer(ByteBuffer.wrap(data), where, modelDigest)

        /** [buffer]'s bytes from 0 to its limit; read with absolute gets, so its position does not matter. */
        fun fromBuffer(buffer: ByteBuffer, where: String = "index", modelDigest: String? = null): SearchIndex {
            val data = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN)
            val size = data.limit()
            val magicOk = size >= MAGIC.size && MAGIC.indices.all { data.get(it) == MAGIC[it] }
            val version = if (magicOk && size >= 12) data.getInt(8) else null
            if (version == CompressedIndex.VERSION || version == CompressedIndex.UNNORMALISED_VERSION) {
                return CompressedIndex.fromBuffer(data, where, modelDigest)
            }
            // the exact file (or no index at all: its reader says which error) is read into fp32 arrays anyway
            val bytes = ByteArray(size).also { data.get(0, it) }
            return MultiVectorIndex.fromBytes(bytes, where, modelDigest)
        }
    }
}
