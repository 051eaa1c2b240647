package edgecolbert.search

import android.content.res.AssetManager
import edgecolbert.colbert.BundleFiles
import java.io.InputStream

/** A bundle inside the APK's assets (stored uncompressed, see build.gradle.kts), read as streams. */
class AssetBundleFiles(private val assets: AssetManager, private val root: String) : BundleFiles {
    override val label: String = "assets/$root"

    override fun list(): List<String> {
        fun walk(dir: String, prefix: String): List<String> {
            val children = assets.list(dir).orEmpty()
            if (children.isEmpty()) return if (prefix.isEmpty()) emptyList() else listOf(prefix.removeSuffix("/"))
            return children.flatMap { walk("$dir/$it", "$prefix$it/") }
        }
        return walk(root, "").sorted()
    }

    override fun exists(path: String): Boolean = runCatching { assets.open("$root/$path").close() }.isSuccess

    override fun open(path: String): InputStream = assets.open("$root/$path")
}
