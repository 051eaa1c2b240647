package edgecolbert.search

import android.content.ContentResolver
import android.net.Uri
import androidx.documentfile.provider.DocumentFile
import edgecolbert.colbert.BundleFiles
import java.io.FileNotFoundException
import java.io.InputStream

/** A bundle folder the user picked with the system file picker (ACTION_OPEN_DOCUMENT_TREE); only read, then copied. */
class DocumentTreeFiles(private val resolver: ContentResolver, private val tree: DocumentFile) : BundleFiles {
    override val label: String = tree.name ?: "the picked folder"

    private val files: Map<String, Uri> by lazy {
        buildMap {
            fun walk(dir: DocumentFile, prefix: String) {
                for (child in dir.listFiles()) {
                    val name = child.name ?: continue
                    if (child.isDirectory) walk(child, "$prefix$name/") else put("$prefix$name", child.uri)
                }
            }
            walk(tree, "")
        }
    }

    override fun list(): List<String> = files.keys.sorted()

    override fun exists(path: String): Boolean = path in files

    override fun open(path: String): InputStream {
        val uri = files[path] ?: throw FileNotFoundException(path)
        return resolver.openInputStream(uri) ?: throw FileNotFoundException(path)
    }
}
