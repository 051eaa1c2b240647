import ColBERTKit
import Foundation

/// `colbertkit <command> --bundle DIR`: the package's code paths, driven from the shell (and the tests).
///   verify      check every file's sha256 against the manifest and read the settings
///   scores      MaxSim of the golden vectors, as JSON (the Python runtime's `golden.json` scores)
///   preprocess  a JSON array of texts on stdin -> the texts as the tokenizer sees them, as JSON
///   tokenize    --query|--document TEXT... (or a JSON array on stdin) -> per text, alone: input_ids,
///               attention_mask and kept_positions, as JSON
///   selftest    golden.json through tokenizer, encoder and scoring -> a report as JSON; exit 1 if it fails.
///               `--replay FILE` uses the replay encoder (a test double of recorded vectors) instead of Core ML
let usage = "usage: colbertkit verify|scores|preprocess|tokenize|selftest [--query|--document] [--replay FILE] --bundle DIR [TEXT...]"

struct Tokenized: Encodable {
    var input_ids: [Int]
    var attention_mask: [Int]
    var kept_positions: [Int]
}

func readTexts(_ positional: [String]) -> [String] {
    if !positional.isEmpty { return positional }
    let input = FileHandle.standardInput.readDataToEndOfFile()
    guard let texts = try? JSONDecoder().decode([String].self, from: input) else {
        fail("give texts as arguments or a JSON array of strings on stdin", code: 2)
    }
    return texts
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
guard let command = arguments.first, let flag = arguments.firstIndex(of: "--bundle"), flag + 1 < arguments.count else {
    fail(usage, code: 2)
}
let bundle: ColBERTBundle
do {
    bundle = try ColBERTBundle(at: URL(fileURLWithPath: arguments[flag + 1]))
} catch {
    fail("\(arguments[flag + 1]): \(error)", code: 1)
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
    let positional = arguments.enumerated().filter { index, value in
        index > 0 && !value.hasPrefix("--") && index != flag + 1
    }.map(\.element)
    printJSON(readTexts(positional).map { text in
        let one = tokenizer.encode([text], isQuery: isQuery)
        return Tokenized(input_ids: one.inputIds[0], attention_mask: one.attentionMask[0],
                         kept_positions: one.keep[0].enumerated().filter(\.element).map(\.offset))
    })
case "selftest":
    guard let at = arguments.firstIndex(of: "--replay"), at + 1 < arguments.count,
          let data = FileManager.default.contents(atPath: arguments[at + 1]) else {
        fail("selftest needs --replay FILE here: Core ML runs only on Apple's systems", code: 2)
    }
    do {
        let encoder = try ReplayEncoder(json: data, dim: bundle.settings.dim)
        let pipeline = ColBERTPipeline(tokenizer: try ColBERTTokenizer(bundle: bundle), encoder: encoder)
        let report = try await SelfTest.run(bundle: bundle, pipeline: pipeline)
        printJSON(report)
        exit(report.passed ? 0 : 1)
    } catch {
        fail("\(error)", code: 1)
    }
default:
    fail("unknown command \(command); \(usage)", code: 2)
}
