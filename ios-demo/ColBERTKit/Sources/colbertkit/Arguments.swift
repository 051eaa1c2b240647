import ColBERTKit
import Foundation

/// What the CLI refuses, and its exit code (spec/bundle.md, "Command-line contract"): 1 for a bad bundle or
/// index or a failed self-test, 2 for bad usage or input. Always one stderr line, `error: <kind>: <message>`.
enum CLIError: Error {
    case usage(String)  // exit 2
    case input(kind: String, String)  // exit 2
    case bundle(BundleError)  // exit 1 (an input past the bound: 2)
    case index(IndexError)  // exit 1
    case engine(kind: String, String)  // exit 1: the encoder failed

    var line: String {
        switch self {
        case .usage(let message): "usage: \(message)"
        case .input(let kind, let message): "\(kind): \(message)"
        case .bundle(let error): error.description
        case .index(let error): error.description
        case .engine(let kind, let message): "\(kind): \(message)"
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage, .input: 2
        case .bundle(let error): error.kind == .inputPastBound ? 2 : 1
        case .index, .engine: 1
        }
    }
}

/// `colbertkit <command> [options] [TEXT...]`: options with a value, flags, and the texts.
struct Arguments {
    static let valued: Set<String> = ["--bundle", "--replay", "--corpus", "--index", "--k", "--compute"]
    static let flags: Set<String> = ["--query", "--document"]

    let command: String
    private(set) var options: [String: String] = [:]
    private(set) var present: Set<String> = []
    private(set) var texts: [String] = []

    init(_ arguments: [String]) throws(CLIError) {
        guard let command = arguments.first else { throw .usage(Self.usage) }
        self.command = command
        var i = 1
        while i < arguments.count {
            let argument = arguments[i]
            if Self.valued.contains(argument) {
                guard i + 1 < arguments.count else { throw .usage("\(argument) takes a value") }
                options[argument] = arguments[i + 1]
                i += 2
                continue
            }
            if Self.flags.contains(argument) {
                present.insert(argument)
            } else if argument.hasPrefix("--") {
                throw .usage("unknown option \(argument); \(Self.usage)")
            } else {
                texts.append(argument)
            }
            i += 1
        }
    }

    static let usage = "colbertkit verify|scores|preprocess|tokenize|selftest|search --bundle DIR [options] [TEXT...]"

    func required(_ name: String, _ why: String) throws(CLIError) -> String {
        guard let value = options[name] else { throw .usage(why) }
        return value
    }

    /// The texts given as arguments, else a JSON array of strings on stdin.
    func textsOrStdin() throws(CLIError) -> [String] {
        if !texts.isEmpty { return texts }
        let input = FileHandle.standardInput.readDataToEndOfFile()
        guard case .array(let items)? = try? JSONReader.parse([UInt8](input)) else {
            throw .input(kind: "input", "give texts as arguments or a JSON array of strings on stdin")
        }
        return try Self.strings(items, "stdin")
    }

    static func strings(_ items: [JSONValue], _ place: String) throws(CLIError) -> [String] {
        var out: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw .input(kind: "input", "\(place) must be a JSON array of strings") }
            out.append(text)
        }
        return out
    }
}

/// One line of JSON on stdout, keys sorted.
func printJSON(_ value: some Encodable) throws(CLIError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(value) else { throw .engine(kind: "output", "could not encode the output as JSON") }
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}
