package edgecolbert.search

import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Card
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilterChip
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Slider
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import edgecolbert.colbert.app.SessionState

/** The one screen: the bundle's state and self-test, indexing progress, search as you type. Thin: state in, events out. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun SearchScreen(viewModel: SearchViewModel) {
    val session by viewModel.session.collectAsStateWithLifecycle()
    val settings by viewModel.settings.collectAsStateWithLifecycle()
    val importError by viewModel.importError.collectAsStateWithLifecycle()
    var showSettings by remember { mutableStateOf(false) }
    val picker = rememberLauncherForActivityResult(ActivityResultContracts.OpenDocumentTree()) { uri ->
        uri?.let(viewModel::importBundle)
    }
    Scaffold(topBar = {
        TopAppBar(title = { Text("ColBERT Search") }, actions = {
            TextButton(onClick = { picker.launch(null) }) { Text("Open bundle") }
            TextButton(onClick = { showSettings = true }) { Text("Settings") }
        })
    }) { padding ->
        val current = session ?: return@Scaffold
        val state by current.state.collectAsStateWithLifecycle()
        val results by current.results.collectAsStateWithLifecycle()
        var query by remember(current) { mutableStateOf("") }
        Column(Modifier.padding(padding).padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            importError?.let { Text("Import refused: $it", color = MaterialTheme.colorScheme.error) }
            StatusCard(state)
            OutlinedTextField(value = query, onValueChange = { query = it; viewModel.query(it) }, enabled = state is SessionState.Ready,
                label = { Text("Search the sample corpus") }, singleLine = true, modifier = Modifier.fillMaxWidth())
            results?.let { r ->
                Text("${r.hits.size} results in ${"%.1f".format(r.milliseconds)} ms", style = MaterialTheme.typography.labelMedium)
                LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                    items(r.hits, key = { it.index }) { hit ->
                        Card(Modifier.fillMaxWidth()) {
                            Row(Modifier.padding(12.dp), horizontalArrangement = Arrangement.spacedBy(12.dp)) {
                                Text("%.2f".format(hit.score), style = MaterialTheme.typography.titleMedium)
                                Text(hit.metadata.toString().trim('"'), style = MaterialTheme.typography.bodyMedium)
                            }
                        }
                    }
                }
            }
        }
    }
    if (showSettings) {
        SettingsDialog(settings, onDismiss = { showSettings = false }, onApply = { showSettings = false; viewModel.updateSettings(it) })
    }
}

@Composable
private fun StatusCard(state: SessionState) {
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            when (state) {
                SessionState.Opening -> { Text("Verifying the bundle…"); LinearProgressIndicator(Modifier.fillMaxWidth()) }
                SessionState.SelfTesting -> { Text("Running the self-test…"); LinearProgressIndicator(Modifier.fillMaxWidth()) }
                is SessionState.Indexing -> {
                    Text("Self-test passed · indexing ${state.done} of ${state.total} documents")
                    LinearProgressIndicator(progress = { state.done.toFloat() / state.total.coerceAtLeast(1) }, modifier = Modifier.fillMaxWidth())
                }
                is SessionState.Ready -> Text("Self-test passed (cosine min ${"%.5f".format(state.report.cosineMin)}, " +
                    "top-10 ${"%.3f".format(state.report.top10Agreement)}) · ${state.documents} documents" +
                    if (state.restored) " (index restored)" else "")
                is SessionState.SelfTestFailed -> Text("Self-test failed: ${state.report.failures.joinToString("; ")}",
                    color = MaterialTheme.colorScheme.error)
                is SessionState.Failed -> Text("${state.kind}: ${state.message}", color = MaterialTheme.colorScheme.error)
            }
        }
    }
}

@Composable
private fun SettingsDialog(settings: AppSettings, onDismiss: () -> Unit, onApply: (AppSettings) -> Unit) {
    var draft by remember { mutableStateOf(settings) }
    AlertDialog(onDismissRequest = onDismiss, confirmButton = { TextButton(onClick = { onApply(draft) }) { Text("Apply") } },
        dismissButton = { TextButton(onClick = onDismiss) { Text("Cancel") } }, title = { Text("Settings") }, text = {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                Text("Threads: ${draft.threads}")
                Slider(value = draft.threads.toFloat(), onValueChange = { draft = draft.copy(threads = it.toInt()) }, valueRange = 1f..8f, steps = 6)
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    Text("XNNPACK")
                    Switch(checked = draft.xnnpack, onCheckedChange = { draft = draft.copy(xnnpack = it) })
                }
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    AppSettings.TARGETS.forEach { t -> FilterChip(selected = draft.target == t, onClick = { draft = draft.copy(target = t) }, label = { Text(t) }) }
                }
            }
        })
}
