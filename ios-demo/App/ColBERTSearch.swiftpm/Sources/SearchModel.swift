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
    private(set) var buckets: [String: IOSpec.Bucket] = [:]
    private(set) var selfTest: SelfTestReport?
    private(set) var hits: [Hit] = []
    private(set) var latency: Duration?
    private(set) var compute: ComputeChoice

    private var bundleURL: URL?
    private var pipeline: ColBERTPipeline?
    private var index: ColBERTIndex?
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

    /// Seeded random weights (the export's --synthetic): the screens say the results mean nothing.
    var isSynthetic: Bool { manifest?.model.synthetic ?? false }

    /// A picked bundle is copied and verified in a staging folder; only a bundle that opens replaces the old one.
    func importBundle(from picked: URL) async {
        phase = .working("Copying and checking the bundle")
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
            buckets = bundle.settings.io.buckets
            let tokenizer = ColBERTTokenizer(bundle: bundle)
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

    /// The index file of this bundle, corpus and compute setting (the spec's format): read when it was built by
    /// this bundle's model for this corpus, else built once and saved.
    private func loadOrBuildIndex(bundle: ColBERTBundle, pipeline: ColBERTPipeline) async throws -> ColBERTIndex {
        let file = try IndexCache.url(bundle: bundle, corpus: corpus, compute: compute)
        let metadata = corpus.map(JSONValue.string)
        if let saved = try? ColBERTIndex.load(from: file, modelDigest: bundle.modelDigest), saved.metadata == metadata {
            return saved
        }
        var documents: [TokenVectors] = []
        for (n, text) in corpus.enumerated() {
            phase = .indexing(done: n, of: corpus.count)
            documents += try await pipeline.encode([text], isQuery: false)
        }
        let index = try ColBERTIndex(documents: documents, metadata: metadata, modelDigest: bundle.modelDigest,
                                     dim: bundle.settings.dim)
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
                    corpus.indices.contains(hit.index) ? Hit(id: hit.index, text: corpus[hit.index], score: hit.score) : nil
                }
            } catch {
                phase = .failed("\(error)")
            }
        }
    }
}
