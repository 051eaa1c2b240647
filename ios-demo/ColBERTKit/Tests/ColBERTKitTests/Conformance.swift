import Foundation
import XCTest

@testable import ColBERTKit

/// Where the conformance vectors, tokenizers and bundles are: environment variables, set by
/// tests/test_colbertkit.py (or by hand, see ios-demo/README.md). A missing one FAILS the test that needs it,
/// naming the variable: a test that cannot find its input must not pass or skip.
enum Env {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static func path(_ name: String, _ what: String) throws -> URL {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw Missing(description: "environment variable \(name) is not set: set it to \(what)")
        }
        return URL(fileURLWithPath: value)
    }

    /// spec/conformance/ (COLBERTKIT_SPEC is the repository's spec/ directory).
    static func conformance(_ file: String) throws -> URL {
        try path("COLBERTKIT_SPEC", "the repository's spec/ directory").appendingPathComponent("conformance/\(file)")
    }

    /// Real Core ML bundles, `:`-separated; the first takes the bad-bundle mutations.
    static func bundles() throws -> [URL] {
        let joined = try path("COLBERTKIT_BUNDLES", "real Core ML bundle directories, ':'-separated").path
        return joined.split(separator: ":").map { URL(fileURLWithPath: String($0)) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `.jsonl` conformance file: its header, then its cases.
struct VectorFile {
    let header: JSONValue
    let cases: [JSONValue]

    init(_ url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            Result { try JSONReader.parse(Array(line.utf8)) }
        }
        guard !lines.isEmpty else { throw TestFailure("\(url.path) is empty") }
        header = try lines.removeFirst().get()["header"]
        cases = try lines.map { try $0.get() }
    }
}

/// Test-side accessors: a conformance file that lacks a field fails the test through `value`.
extension JSONValue {
    subscript(key: String) -> JSONValue {
        if case .object(let object) = self, let value = object[key] { return value }
        return .null
    }

    var string: String? { if case .string(let text) = self { text } else { nil } }
    var int: Int? { if case .integer(let number) = self { number } else { nil } }
    var array: [JSONValue] { if case .array(let items) = self { items } else { [] } }
    var object: JSONObject? { if case .object(let object) = self { object } else { nil } }
    var ints: [Int] { array.compactMap(\.int) }
    var floats: [Float] { array.compactMap { $0.double.map(Float.init) } }

    /// `[[x, ...], ...]` as vectors of `dim`.
    func vectors(dim: Int) -> TokenVectors { TokenVectors(values: array.flatMap(\.floats), dim: dim) }
}

/// The sha256 of a tokenizer file, held to a vector file's header before its cases run.
func checkedTokenizer(_ variable: String, _ header: JSONValue) throws -> Data {
    let url = try Env.path(variable, "the tokenizer.json the vector file's header names")
    let data = try Data(contentsOf: url)
    let expected = header["tokenizer_sha256"].string ?? "(none)"
    guard SHA256Digest.hex(data) == expected else {
        throw TestFailure("\(url.path) (\(variable)) has sha256 \(SHA256Digest.hex(data)), the vector file wants \(expected)")
    }
    return data
}
