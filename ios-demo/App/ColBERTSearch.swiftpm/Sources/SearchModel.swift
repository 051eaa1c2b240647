import ColBERTKit
import Foundation
import Observation

/// What the screens show, and the work behind it: open the bundle, run its self-test, index the corpus, search.
@MainActor @Observable
final class SearchModel {
    enum Phase: Equatable {
        case needsBundle
        case working(String)
        case indexing(done: Int, of: Int)
        case ready
        case failed(String)
    }

    struct Hit: Identifiable, Equatable {
        let id: Int  // the document's position in the corpus
        let text: String
        let score: Float
    }

    static let computeKey = "computeUnits"

    let corpus: [String]
    private(set) var phase: Phase = .needsBundle
    private(set) var manifest: Manifest?
    private(set) var selfTest: SelfTestReport?
    private(set) var hits: [Hit] = []
    private(set) var latency: Duration?
    private(set) var compute: ComputeChoice

    private var bundleURL: URL?
    private var pipeline: ColBERTPipeline?
    private var index: MultiVectorIndex?
    private var searchTask: Task<Void, Never>?
    private var lastQuery = ""

    init(corpus: [String]) {
        self.corpus = corpus
        compute = UserDefaults.standard.string(forKey: Self.computeKey).flatMap(ComputeChoice.init(rawValue:)) ?? .all
    }

    func start() async {
        guard let url = BundleLocation.current() else {
            phase = .needsBundle
            return
        }
        await open(url)
    }

    func importBundle(from picked: URL) async {
        phase = .working("Copying the bundle")
        do {
            await open(try await Task.detached { try BundleLocation.importFolder(picked) }.value)
        } catch {
            phase = .failed("\(error)")
        }
    }

    /// A new compute setting reloads the model, and re-indexes once for that setting.
    func setCompute(_ choice: ComputeChoice) async {
        guard choice != compute else { return }
        compute = choice
        UserDefaults.standard.set(choice.rawValue, forKey: Self.computeKey)
        if let bundleURL { await open(bundleURL) }
    }

    func open(_ url: URL) async {
        searchTask?.cancel()
        (hits, latency, selfTest, pipeline, index, bundleURL) = ([], nil, nil, nil, nil, url)
        do {
            phase = .working("Checking the bundle's files")
            let bundle = try await Task.detached { try ColBERTBundle(at: url) }.value
            manifest = bundle.manifest
            let tokenizer = try await Task.detached { try ColBERTTokenizer(bundle: bundle) }.value
            phase = .working("Compiling the Core ML model")
            let encoder = try await CoreMLEncoder(bundle: bundle, computeUnits: compute.units)
            let pipeline = ColBERTPipeline(tokenizer: tokenizer, encoder: encoder)
            phase = .working("Running the self-test")
            selfTest = try await SelfTest.run(bundle: bundle, pipeline: pipeline)
            index = try await loadOrBuildIndex(bundle: bundle, pipeline: pipeline)
            self.pipeline = pipeline
            phase = .ready
            search(lastQuery)
        } catch {
            phase = .failed("\(error)")
        }
    }

    private func loadOrBuildIndex(bundle: ColBERTBundle, pipeline: ColBERTPipeline) async throws -> MultiVectorIndex {
        let file = try IndexCache.url(bundle: bundle, corpus: corpus, compute: compute)
        if let saved = try? MultiVectorIndex.load(from: file), saved.ids == corpus.indices.map(String.init) {
            return saved
        }
        var index = MultiVectorIndex(dim: bundle.settings.dim)
        for (n, text) in corpus.enumerated() {
            phase = .indexing(done: n, of: corpus.count)
            try index.add(id: String(n), vectors: try await pipeline.encode([text], isQuery: false)[0])
        }
        try index.save(to: file)
        return index
    }

    /// Search as you type: each keystroke cancels the search still running for the previous one.
    func search(_ text: String) {
        lastQuery = text
        searchTask?.cancel()
        let query = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !query.isEmpty else {
            (hits, latency) = ([], nil)
            return
        }
        guard phase == .ready, let pipeline, let index else { return }
        searchTask = Task {
            try? await Task.sleep(for: .milliseconds(80))  // let a burst of keystrokes settle
            guard !Task.isCancelled else { return }
            let clock = ContinuousClock()
            let start = clock.now
            do {
                let vectors = try await pipeline.encode([query], isQuery: true)[0]
                let top = index.search(vectors, k: 10)
                let elapsed = clock.now - start
                guard !Task.isCancelled else { return }
                latency = elapsed
                hits = top.compactMap { hit in
                    Int(hit.id).flatMap { corpus.indices.contains($0) ? Hit(id: $0, text: corpus[$0], score: hit.score) : nil }
                }
            } catch {
                phase = .failed("\(error)")
            }
        }
    }
}
