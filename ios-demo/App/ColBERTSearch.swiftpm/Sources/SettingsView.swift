import ColBERTKit
import SwiftUI

/// Compute units (changing them reloads the model and re-indexes once), and what the bundle is.
struct SettingsView: View {
    let model: SearchModel
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Picker("Compute units", selection: Binding(get: { model.compute },
                                                               set: { choice in Task { await model.setCompute(choice) } })) {
                        ForEach(ComputeChoice.allCases, id: \.self) { Text($0.label).tag($0) }
                    }
                    .pickerStyle(.inline)
                } footer: {
                    Text("All lets Core ML use the Neural Engine; each fixed shape of the bundle can run there.")
                }
                if let manifest = model.manifest {
                    Section("Bundle") {
                        LabeledContent("Model", value: manifest.model.name)
                        LabeledContent("Precision", value: manifest.precision)
                        LabeledContent("Needs", value: manifest.details?.minimumDeploymentTarget ?? "iOS 18")
                        LabeledContent("Shapes", value: (manifest.details?.functions ?? [:])
                            .map { "\($0.value.last ?? 0)" }.sorted { Int($0) ?? 0 < Int($1) ?? 0 }.joined(separator: ", "))
                    }
                }
            }
            .navigationTitle("Settings")
            .toolbar { Button("Done") { dismiss() } }
        }
    }
}
