import ColBERTKit
import Foundation

/// The commands of spec/bundle.md's "Command-line contract"; each returns the exit code.
enum Commands {
    struct Tokenized: Encodable {
        var input_ids: [Int]
        var attention_mask: [Int]
        var kept_positions: [Int]
        var bucket: String?  // only when the bundle has buckets
    }

    static func verify(_ bundle: ColBERTBundle) {
        print("OK \(bundle.manifest.target)-\(bundle.manifest.precision) \(bundle.manifest.model.name)")
    }

    /// MaxSim of golden.json's reference vectors, queries by documents.
    static func scores(_ bundle: ColBERTBundle) throws(CLIError) {
        let dim = bundle.settings.dim
        let queries = bundle.golden.queries.map { TokenVectors(rows: $0.vectors, dim: dim) }
        let documents = bundle.golden.documents.map { TokenVectors(rows: $0.vectors, dim: dim) }
        try printJSON(queries.map { q in documents.map { Scoring.maxSim(q, $0) } })
    }

    static func preprocess(_ arguments: Arguments, _ bundle: ColBERTBundle) throws(CLIError) {
        let preprocess = TextPreprocessor(settings: bundle.settings)
        try printJSON(try arguments.textsOrStdin().map { preprocess($0) })
    }

    static func tokenize(_ arguments: Arguments, _ bundle: ColBERTBundle) throws(CLIError) {
        let isQuery = arguments.present.contains("--query")
        guard isQuery != arguments.present.contains("--document") else { throw .usage("tokenize takes --query or --document") }
        let tokenizer = ColBERTTokenizer(bundle: bundle)
        let io = bundle.settings.io
        var out: [Tokenized] = []
        for text in try arguments.textsOrStdin() {
            let one = tokenizer.encode([text], isQuery: isQuery)
            var bucket: String?
            if !io.buckets.isEmpty {
                do { bucket = try io.bucket(forLength: one.inputIds[0].count, isQuery: isQuery).name } catch { throw .bundle(error) }
            }
            out.append(Tokenized(input_ids: one.inputIds[0], attention_mask: one.attentionMask[0],
                                 kept_positions: one.keptPositions(0), bucket: bucket))
        }
        try printJSON(out)
    }

    /// The golden rule through the whole path; exit 1 when it fails.
    static func selftest(_ arguments: Arguments, _ bundle: ColBERTBundle) async throws(CLIError) -> Int32 {
        let pipeline = ColBERTPipeline(tokenizer: ColBERTTokenizer(bundle: bundle), encoder: try await engine(arguments, bundle))
        let report: SelfTestReport
        do { report = try await SelfTest.run(bundle: bundle, pipeline: pipeline) } catch { throw CLIError(error) }
        try printJSON(report)
        return report.passed ? 0 : 1
    }

    struct Hit: Encodable { var index: Int; var score: Float; var text: String }
    struct Found: Encodable { var hits: [Hit]; var milliseconds: Double }

    /// The corpus indexed once (the exact file, saved to `--index`), then read from the index, exact or compressed;
    /// the query encoded and searched.
    static func search(_ arguments: Arguments, _ bundle: ColBERTBundle) async throws(CLIError) {
        let corpusPath = try arguments.required("--corpus", "search takes --corpus FILE (a JSON array of texts) and a QUERY")
        guard arguments.texts.count == 1, let query = arguments.texts.first else {
            throw .usage("search takes one QUERY (quote it), with --corpus FILE")
        }
        var k = 10
        if let given = arguments.options["--k"] {
            guard let number = Int(given), number >= 1 else { throw .usage("--k takes a positive integer, not \(given)") }
            k = number
        }
        guard let data = FileManager.default.contents(atPath: corpusPath), case .array(let items)? = try? JSONReader.parse([UInt8](data)) else {
            throw .input(kind: "input", "\(corpusPath) is not a JSON array of texts")
        }
        let corpus = try Arguments.strings(items, corpusPath)
        let pipeline = ColBERTPipeline(tokenizer: ColBERTTokenizer(bundle: bundle), encoder: try await engine(arguments, bundle))
        let indexURL = arguments.options["--index"].map { URL(fileURLWithPath: $0) }
        let index: IndexFile
        if let indexURL, FileManager.default.fileExists(atPath: indexURL.path) {  // exact or compressed, by its version
            do { index = try IndexFile.load(from: indexURL, modelDigest: bundle.modelDigest) } catch { throw .index(error) }
            guard index.metadata == corpus.map(JSONValue.string) else {
                throw .input(kind: "input", "\(indexURL.path) indexes another corpus than \(corpusPath); delete it to rebuild")
            }
        } else {
            let documents = try await encode(pipeline, corpus, isQuery: false)
            let exact: ColBERTIndex
            do {
                exact = try ColBERTIndex(documents: documents, metadata: corpus.map(JSONValue.string), modelDigest: bundle.modelDigest,
                                         dim: bundle.settings.dim)
            } catch { throw .index(error) }
            index = .exact(exact)
            if let indexURL {
                do { try exact.save(to: indexURL) } catch { throw .input(kind: "input", "cannot write \(indexURL.path): \(error.localizedDescription)") }
            }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let vectors = try await encode(pipeline, [query], isQuery: true)[0]
        let hits = index.search(vectors, k: k)
        let elapsed = clock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
        try printJSON(Found(hits: hits.map { Hit(index: $0.index, score: $0.score, text: corpus[$0.index]) }, milliseconds: milliseconds))
    }
}
