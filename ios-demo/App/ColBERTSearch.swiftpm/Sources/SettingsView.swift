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
                    Text("All lets Core ML use the Neural Engine; each bucket of the bundle can run there.")
                }
                if let manifest = model.manifest {
                    Section("Bundle") {
                        LabeledContent("Model", value: manifest.model.name)
                        LabeledContent("Precision", value: manifest.precision)
                        LabeledContent("Needs", value: manifest.details.minimumDeploymentTarget ?? "iOS 18")
                        LabeledContent("Buckets", value: model.buckets.sorted { ($0.value.kind, $0.value.length) < ($1.value.kind, $1.value.length) }
                            .map { "\($0.value.kind) \($0.value.length)" }.joined(separator: ", "))
                        if model.isSynthetic {
                            LabeledContent("Weights", value: "synthetic (random): useless for retrieval")
                        }
                    }
                }
            }
            .navigationTitle("Settings")
            .toolbar { Button("Done") { dismiss() } }
        }
    }
}
