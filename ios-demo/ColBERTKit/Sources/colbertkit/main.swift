import ColBERTKit
import Foundation
#if canImport(CoreML)
import CoreML
#endif

/// `colbertkit <command> --bundle DIR`: the package's code paths, driven from the shell (and the tests).
///   verify      check every file's sha256 against the manifest and read the settings
///   scores      MaxSim of the golden vectors, as JSON (the Python runtime's `golden.json` scores)
///   preprocess  a JSON array of texts on stdin -> the texts as the tokenizer sees them, as JSON
///   tokenize    --query|--document TEXT... (or a JSON array on stdin) -> per text, alone: input_ids,
///               attention_mask, kept_positions and the fixed shape an app runs it through, as JSON
///   selftest    golden.json through tokenizer, encoder and scoring -> a report as JSON; exit 1 if it fails.
///               Core ML on macOS 15 (`--compute cpu|gpu|all`); `--replay FILE` uses the replay encoder
///               (a test double of recorded vectors) instead, which is the only way off Apple's systems
///   search      macOS 15 only: --corpus FILE (a JSON array of texts) [--index FILE] [--k N] [--compute ...] QUERY
///               -> the top k as JSON; the index is built (and saved to --index) once
let usage = "usage: colbertkit verify|scores|preprocess|tokenize|selftest|search [options] --bundle DIR [TEXT...]"

struct Tokenized: Encodable {
    var input_ids: [Int]
    var attention_mask: [Int]
    var kept_positions: [Int]
    var shape: String?
}

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(code)
}

func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(value) else { fail("could not encode the output", code: 1) }
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

let arguments = Array(CommandLine.arguments.dropFirst())
let valued: Set<String> = ["--bundle", "--replay", "--corpus", "--index", "--k", "--compute"]

func option(_ name: String) -> String? {
    guard let at = arguments.firstIndex(of: name), at + 1 < arguments.count else { return nil }
    return arguments[at + 1]
}

/// Arguments that are neither the command, a flag, nor a flag's value.
let positional: [String] = arguments.enumerated().filter { index, value in
    index > 0 && !value.hasPrefix("--") && !valued.contains(arguments[index - 1])
}.map(\.element)

func readTexts(_ given: [String]) -> [String] {
    if !given.isEmpty { return given }
    let input = FileHandle.standardInput.readDataToEndOfFile()
    guard let texts = try? JSONDecoder().decode([String].self, from: input) else {
        fail("give texts as arguments or a JSON array of strings on stdin", code: 2)
    }
    return texts
}

guard let command = arguments.first, let bundlePath = option("--bundle") else { fail(usage, code: 2) }
let bundle: ColBERTBundle
do {
    bundle = try ColBERTBundle(at: URL(fileURLWithPath: bundlePath))
} catch {
    fail("\(bundlePath): \(error)", code: 1)
}

func computeChoice() -> ComputeChoice {
    guard let name = option("--compute") else { return .all }
    guard let choice = ComputeChoice(rawValue: name) else {
        fail("--compute takes \(ComputeChoice.allCases.map(\.rawValue).joined(separator: "|"))", code: 2)
    }
    return choice
}

/// Core ML where it exists (macOS 15 for multifunction packages); nil elsewhere.
func coreMLEncoder() async throws -> (any Encoder)? {
    #if canImport(CoreML)
    if #available(macOS 15.0, iOS 18.0, *) {
        return try await CoreMLEncoder(bundle: bundle, computeUnits: computeChoice().units)
    }
    #endif
    return nil
}

switch command {
case "verify":
    print("OK \(bundle.manifest.target)-\(bundle.manifest.precision) \(bundle.manifest.model.name)")
case "scores":
    let dim = bundle.settings.dim
    let queries = bundle.golden.queries.map { TokenVectors(rows: $0.vectors, dim: dim) }
    let documents = bundle.golden.documents.map { TokenVectors(rows: $0.vectors, dim: dim) }
    printJSON(queries.map { q in documents.map { Scoring.maxSim(q, $0) } })
case "preprocess":
    let preprocess = TextPreprocessor(settings: bundle.settings)
    printJSON(readTexts([]).map { preprocess($0) })
case "tokenize":
    let isQuery = arguments.contains("--query")
    guard isQuery != arguments.contains("--document") else { fail("tokenize takes --query or --document", code: 2) }
    let tokenizer: ColBERTTokenizer
    do { tokenizer = try ColBERTTokenizer(bundle: bundle) } catch { fail("\(error)", code: 1) }
    let io = bundle.settings.io
    printJSON(readTexts(positional).map { text in
        let one = tokenizer.encode([text], isQuery: isQuery)
        let shape = io.buckets.isEmpty ? nil : try? io.bucket(forLength: one.inputIds[0].count, isQuery: isQuery).name
        return Tokenized(input_ids: one.inputIds[0], attention_mask: one.attentionMask[0],
                         kept_positions: one.keep[0].enumerated().filter(\.element).map(\.offset), shape: shape)
    })
case "selftest":
    do {
        let encoder: any Encoder
        if let replay = option("--replay") {
            guard let data = FileManager.default.contents(atPath: replay) else { fail("cannot read \(replay)", code: 2) }
            encoder = try ReplayEncoder(json: data, dim: bundle.settings.dim)
        } else if let coreML = try await coreMLEncoder() {
            encoder = coreML
        } else {
            fail("selftest needs --replay FILE here: Core ML runs only on Apple's systems (macOS 15 or later)", code: 2)
        }
        let pipeline = ColBERTPipeline(tokenizer: try ColBERTTokenizer(bundle: bundle), encoder: encoder)
        let report = try await SelfTest.run(bundle: bundle, pipeline: pipeline)
        printJSON(report)
        exit(report.passed ? 0 : 1)
    } catch {
        fail("\(error)", code: 1)
    }
case "search":
    guard let corpusPath = option("--corpus"), let query = positional.first else {
        fail("search takes --corpus FILE (a JSON array of texts) and a QUERY", code: 2)
    }
    guard let corpusData = FileManager.default.contents(atPath: corpusPath),
          let corpus = try? JSONDecoder().decode([String].self, from: corpusData) else {
        fail("\(corpusPath) is not a JSON array of texts", code: 2)
    }
    do {
        guard let encoder = try await coreMLEncoder() else {
            fail("search runs Core ML, which only Apple's systems have (macOS 15 or later)", code: 2)
        }
        let pipeline = ColBERTPipeline(tokenizer: try ColBERTTokenizer(bundle: bundle), encoder: encoder)
        let indexURL = option("--index").map { URL(fileURLWithPath: $0) }
        var index: MultiVectorIndex
        if let indexURL, FileManager.default.fileExists(atPath: indexURL.path) {
            index = try MultiVectorIndex.load(from: indexURL)
            guard index.ids == corpus.indices.map(String.init) else {
                fail("\(indexURL.path) was built for another corpus; delete it to rebuild", code: 1)
            }
        } else {
            index = MultiVectorIndex(dim: bundle.settings.dim)
            for (n, vectors) in try await pipeline.encode(corpus, isQuery: false).enumerated() {
                try index.add(id: String(n), vectors: vectors)
            }
            if let indexURL { try index.save(to: indexURL) }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let q = try await pipeline.encode([query], isQuery: true)[0]
        let hits = index.search(q, k: Int(option("--k") ?? "10") ?? 10)
        let elapsed = clock.now - start
        struct Hit: Encodable { var index: Int; var score: Float; var text: String }
        struct Result: Encodable { var hits: [Hit]; var milliseconds: Double }
        printJSON(Result(hits: hits.compactMap { hit in Int(hit.id).map { Hit(index: $0, score: hit.score, text: corpus[$0]) } },
                         milliseconds: Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3))
    } catch {
        fail("\(error)", code: 1)
    }
default:
    fail("unknown command \(command); \(usage)", code: 2)
}
