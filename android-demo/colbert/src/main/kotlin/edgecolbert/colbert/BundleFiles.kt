package edgecolbert.colbert

import java.io.IOException
import java.io.InputStream
import java.nio.file.Files
import java.nio.file.Path
import kotlin.io.path.isDirectory
import kotlin.io.path.isRegularFile

/**
 * Where a bundle's files come from: a directory on disk, or a stream source such as Android's assets.
 * Paths are bundle-relative and '/'-separated.
 */
interface BundleFiles {
    /** What the source is, for messages (a directory's path, "assets/bundle"). */
    val label: String

    /** Every file under the bundle, manifest.json included, sorted. */
    fun list(): List<String>

    fun exists(path: String): Boolean

    /** A new stream of the file; the caller closes it. */
    @Throws(IOException::class)
    fun open(path: String): InputStream

    /** A directory on disk that holds the file, for engines that load from a path (null when there is none). */
    fun localPath(path: String): Path? = null
}

/** A bundle directory on disk. */
class DirectoryFiles(val root: Path) : BundleFiles {
    override val label: String = root.toString()

    override fun list(): List<String> {
        if (!root.isDirectory()) return emptyList()
        return Files.walk(root).use { paths ->
            paths.filter { it.isRegularFile() }.map { root.relativize(it).joinToString("/") }.sorted().toList()
        }
    }

    override fun exists(path: String): Boolean = root.resolve(path).isRegularFile()

    override fun open(path: String): InputStream = Files.newInputStream(root.resolve(path))

    override fun localPath(path: String): Path = root.resolve(path)
}

internal fun BundleFiles.readBytes(path: String): ByteArray = open(path).use { it.readBytes() }
