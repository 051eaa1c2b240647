package edgecolbert.colbert.app

import edgecolbert.colbert.IndexException
import edgecolbert.colbert.MultiVectorIndex
import edgecolbert.colbert.sha256Text
import java.nio.file.Files
import java.nio.file.Path

/**
 * Indexes saved in app storage, keyed by the bundle's model digest and the corpus, so that a relaunch with the
 * same bundle and corpus does not re-index. A cached file that no longer reads (truncated, another version)
 * is dropped and rebuilt, never trusted.
 */
class IndexCache(private val directory: Path) {
    fun key(modelDigest: String, corpus: List<String>): String =
        sha256Text(modelDigest + "\n" + corpus.joinToString("\u0000")).take(32)

    fun pathFor(modelDigest: String, corpus: List<String>): Path = directory.resolve("${key(modelDigest, corpus)}.cbindex")

    /** The cached index, or null when there is none that reads and matches this model. */
    fun load(modelDigest: String, corpus: List<String>): MultiVectorIndex? {
        val path = pathFor(modelDigest, corpus)
        if (!Files.isRegularFile(path)) return null
        return try {
            MultiVectorIndex.load(path, modelDigest)
        } catch (e: IndexException) {
            Files.deleteIfExists(path)
            null
        }
    }

    fun save(index: MultiVectorIndex, corpus: List<String>) {
        Files.createDirectories(directory)
        index.save(pathFor(index.modelDigest, corpus))
    }
}
