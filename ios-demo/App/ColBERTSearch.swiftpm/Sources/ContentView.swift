import ColBERTKit
import SwiftUI
import UniformTypeIdentifiers

/// The one screen: the bundle's state and self-test, indexing progress, and search as you type.
struct ContentView: View {
    let model: SearchModel
    @State private var query = ""
    @State private var picking = false
    @State private var showingSettings = false

    var body: some View {
        NavigationStack {
            List {
                StatusSection(model: model, pickBundle: { picking = true })
                if let report = model.selfTest {
                    SelfTestSection(report: report)
                }
                if model.phase == .ready {
                    resultsSection
                }
            }
            .navigationTitle("ColBERT Search")
            .searchable(text: $query, prompt: "Search \(model.corpus.count) documents")
            .onChange(of: query) { _, text in model.search(text) }
            .toolbar {
                ToolbarItem(placement: .topBarLeading) {
                    Button("Open bundle", systemImage: "folder") { picking = true }
                }
                ToolbarItem(placement: .topBarTrailing) {
                    Button("Settings", systemImage: "gearshape") { showingSettings = true }
                }
            }
            .fileImporter(isPresented: $picking, allowedContentTypes: [.folder]) { result in
                if case .success(let url) = result {
                    Task { await model.importBundle(from: url) }
                }
            }
            .sheet(isPresented: $showingSettings) {
                SettingsView(model: model)
            }
        }
    }

    private var resultsSection: some View {
        Section {
            ForEach(model.hits) { hit in
                HStack(alignment: .firstTextBaseline) {
                    Text(hit.text)
                    Spacer()
                    Text(hit.score, format: .number.precision(.fractionLength(2)))
                        .monospacedDigit()
                        .foregroundStyle(.secondary)
                }
            }
        } header: {
            if let latency = model.latency {
                Text("Top \(model.hits.count) in \(latency.formatted(.units(allowed: [.milliseconds], width: .abbreviated)))")
            } else {
                Text(query.isEmpty ? "Type to search" : "Searching…")
            }
        }
    }
}

/// Where the app is: no bundle yet, loading, indexing with progress, ready, or an error that says what to do.
struct StatusSection: View {
    let model: SearchModel
    let pickBundle: () -> Void

    var body: some View {
        Section("Bundle") {
            switch model.phase {
            case .needsBundle:
                Text("No bundle yet. Export one with `python -m export coreml --size 17m`, then open its folder.")
                Button("Open a bundle from Files", action: pickBundle)
            case .working(let step):
                ProgressView { Text(step) }
            case .indexing(let done, let total):
                ProgressView(value: Double(done), total: Double(max(total, 1))) {
                    Text("Indexing \(done) of \(total) documents")
                }
            case .ready:
                if let manifest = model.manifest {
                    LabeledContent(manifest.model.name, value: "\(manifest.target) \(manifest.precision)")
                }
                if model.isSynthetic {
                    Label("Synthetic weights: random, useless for retrieval. Export the trained model to search.",
                          systemImage: "exclamationmark.triangle").foregroundStyle(.orange)
                }
            case .failed(let message):
                Label(message, systemImage: "exclamationmark.triangle").foregroundStyle(.red)
                Button("Open another bundle", action: pickBundle)
            }
        }
    }
}

/// golden.json through this device's whole path: ids exact, vectors and MaxSim within the bundle's tolerance.
struct SelfTestSection: View {
    let report: SelfTestReport

    var body: some View {
        Section("Self-test") {
            Label(report.passed ? "Passed" : "Failed", systemImage: report.passed ? "checkmark.seal" : "xmark.seal")
                .foregroundStyle(report.passed ? .green : .red)
            LabeledContent("Token ids", value: report.idsExact ? "exact" : "\(report.idMismatches.count) differ")
            LabeledContent("Cosine min", value: report.cosineMin?.formatted(.number.precision(.fractionLength(5))) ?? "not measured")
            LabeledContent("MaxSim error max",
                           value: report.maxsimRelativeErrorMax?.formatted(.number.precision(.significantDigits(3))) ?? "not measured")
            LabeledContent("Top-10 agreement", value: report.top10Agreement?.formatted(.percent) ?? "not measured")
            ForEach(report.failures, id: \.self) { Text($0).foregroundStyle(.red) }
        }
    }
}
