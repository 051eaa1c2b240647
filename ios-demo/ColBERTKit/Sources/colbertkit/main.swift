import ColBERTKit
import Foundation

/// `colbertkit <command> --bundle DIR ...`: spec/bundle.md's "Command-line contract", so one harness drives
/// this port, the Kotlin one and the JavaScript one alike.
///   verify      opens the bundle as the spec orders it -> `OK <target>-<precision> <model name>`
///   scores      MaxSim of golden.json's vectors, queries by documents
///   preprocess  [TEXT...] -> each text after steps 1 and 2
///   tokenize    --query|--document [TEXT...] -> per text, alone: input_ids, attention_mask, kept_positions, bucket
///   selftest    the golden rule through the whole path; exit 1 when it fails. Core ML on Apple systems
///               (`--compute cpu|gpu|all`); `--replay FILE` (recorded encodings, a TEST DOUBLE) anywhere
///   search      --corpus FILE.json [--index FILE] [--k N] QUERY -> the top k; the index built once, saved, then read
///               (an existing --index may be exact or compressed)
/// Texts come as arguments or, when none are given, as a JSON array of strings on stdin.
func run() async throws(CLIError) -> Int32 {
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    let commands = ["verify", "scores", "preprocess", "tokenize", "selftest", "search"]
    guard commands.contains(arguments.command) else { throw .usage("unknown command \(arguments.command); \(Arguments.usage)") }
    let path = try arguments.required("--bundle", "\(arguments.command) takes --bundle DIR")
    let bundle: ColBERTBundle
    do { bundle = try ColBERTBundle(at: URL(fileURLWithPath: path)) } catch { throw .bundle(error) }
    switch arguments.command {
    case "verify": Commands.verify(bundle)
    case "scores": try Commands.scores(bundle)
    case "preprocess": try Commands.preprocess(arguments, bundle)
    case "tokenize": try Commands.tokenize(arguments, bundle)
    case "selftest": return try await Commands.selftest(arguments, bundle)
    default: try await Commands.search(arguments, bundle)
    }
    return 0
}

do {
    exit(try await run())
} catch {
    FileHandle.standardError.write(Data("error: \(error.line)\n".utf8))
    exit(error.exitCode)
}
