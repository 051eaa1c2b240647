package edgecolbert.colbert.app

import edgecolbert.colbert.BundleFiles
import edgecolbert.colbert.ColbertBundle
import edgecolbert.colbert.DirectoryFiles
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import kotlin.io.path.exists

/**
 * A picked bundle copied into app storage. The copy goes to a staging directory and is verified there (every
 * sha256, the target, colbert.json, tokenizer.json, golden.json); only then does it replace [current]. A copy
 * that fails leaves the old bundle as it was and nothing half-written.
 */
class BundleImport(private val current: Path, private val targets: Set<String>) {
    /** Copies [source] in, verifies it, swaps it in; returns the verified bundle, or throws what was wrong. */
    fun import(source: BundleFiles, progress: (copied: Int, total: Int) -> Unit = { _, _ -> }): ColbertBundle {
        val parent = current.toAbsolutePath().parent
        Files.createDirectories(parent)
        val staging = Files.createTempDirectory(parent, ".import-")
        try {
            val files = source.list()
            files.forEachIndexed { n, path ->
                val target = staging.resolve(path).normalize()
                require(target.startsWith(staging)) { "bundle path $path leaves the bundle" }
                Files.createDirectories(target.parent)
                source.open(path).use { input -> Files.copy(input, target) }
                progress(n + 1, files.size)
            }
            val verified = ColbertBundle.open(DirectoryFiles(staging), targets)
            swapIn(staging)
            return ColbertBundle.open(DirectoryFiles(current), targets).also { check(it.modelDigest == verified.modelDigest) }
        } finally {
            if (staging.exists()) staging.toFile().deleteRecursively()
        }
    }

    private fun swapIn(staging: Path) {
        val old = current.resolveSibling(".${current.fileName}.old")
        if (old.exists()) old.toFile().deleteRecursively()
        if (current.exists()) Files.move(current, old, StandardCopyOption.ATOMIC_MOVE)
        try {
            Files.move(staging, current, StandardCopyOption.ATOMIC_MOVE)
        } catch (e: Exception) {
            if (old.exists()) Files.move(old, current, StandardCopyOption.ATOMIC_MOVE) // put the old bundle back
            throw e
        }
        if (old.exists()) old.toFile().deleteRecursively()
    }
}
