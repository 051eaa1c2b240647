package edgecolbert.search

import android.app.Application
import android.net.Uri
import androidx.documentfile.provider.DocumentFile
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import edgecolbert.colbert.BundleFiles
import edgecolbert.colbert.ColbertException
import edgecolbert.colbert.ColbertModel
import edgecolbert.colbert.DirectoryFiles
import edgecolbert.colbert.EncoderFactory
import edgecolbert.colbert.EngineOptions
import edgecolbert.colbert.MultiVectorIndex
import edgecolbert.colbert.OnnxEncoder
import edgecolbert.colbert.app.BundleImport
import edgecolbert.colbert.app.IndexCache
import edgecolbert.colbert.app.SearchSession
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonPrimitive
import java.io.File

/** Forwards [SearchSession]'s state to the views; picks the bundle (imported, else the assets') and the engine. */
class SearchViewModel(application: Application) : AndroidViewModel(application) {
    private val context = application.applicationContext
    private val imported = File(context.filesDir, "bundle")
    private val _settings = MutableStateFlow(AppSettings.load(context))
    val settings: StateFlow<AppSettings> = _settings.asStateFlow()
    private val _session = MutableStateFlow<SearchSession?>(null)
    val session: StateFlow<SearchSession?> = _session.asStateFlow()
    private val _importError = MutableStateFlow<String?>(null)
    val importError: StateFlow<String?> = _importError.asStateFlow()

    private val corpus: List<String> by lazy {
        val text = context.assets.open("sample-corpus.json").use { it.readBytes().toString(Charsets.UTF_8) }
        (Json.parseToJsonElement(text) as JsonArray).map { (it as JsonPrimitive).content }
    }

    private fun engines(): Map<String, EncoderFactory> = mapOf("onnx" to OnnxEncoder, "tflite" to LiteRtEncoder,
        "executorch" to ExecuTorchEncoder.factory(context.cacheDir))

    private fun bundleFiles(): BundleFiles =
        if (File(imported, "manifest.json").isFile) DirectoryFiles(imported.toPath()) else AssetBundleFiles(context.assets, "bundle")

    init { restart() }

    fun restart() {
        _session.value?.close()
        val s = _settings.value
        val session = SearchSession(
            scope = viewModelScope,
            open = {
                withContext(Dispatchers.IO) {
                    val files = bundleFiles()
                    ColbertModel.open(files, EngineOptions(s.threads, s.xnnpack), engines().filterKeys { it == s.target })
                }
            },
            corpus = corpus,
            cache = IndexCache(File(context.filesDir, "indexes").toPath()),
            prebuilt = { digest -> prebuiltIndex(digest) },
        )
        _session.value = session
        session.start()
    }

    /** assets/index.cbindex, when it was built with this bundle's model. */
    private fun prebuiltIndex(digest: String): MultiVectorIndex? = runCatching {
        val bytes = context.assets.open("index.cbindex").use { it.readBytes() }
        MultiVectorIndex.fromBytes(bytes, "assets/index.cbindex", digest)
    }.getOrNull()

    fun query(text: String) = _session.value?.query(text)

    fun updateSettings(settings: AppSettings) {
        settings.save(context)
        _settings.value = settings
        restart()
    }

    /** Copies a picked folder into app storage; it replaces the current bundle only once the copy verifies. */
    fun importBundle(tree: Uri) {
        viewModelScope.launch {
            _importError.value = null
            try {
                withContext(Dispatchers.IO) {
                    val folder = DocumentFile.fromTreeUri(context, tree) ?: error("the picked folder cannot be read")
                    BundleImport(imported.toPath(), engines().keys).import(DocumentTreeFiles(context.contentResolver, folder))
                }
                restart()
            } catch (e: ColbertException) {
                _importError.value = "${e.kind}: ${e.message}"
            } catch (e: java.io.IOException) {
                _importError.value = "the copy failed (${e.message}); the bundle in use is unchanged"
            }
        }
    }

    override fun onCleared() {
        _session.value?.close()
    }
}
