import Foundation

/// `manifest.json`: the bundle format, what the bundle holds and the sha256 of every file.
public struct Manifest: Sendable {
    /// The bundle formats this reader knows (spec/bundle.md, "Format version").
    public static let formats = [1]

    public struct Model: Sendable {
        public var name: String
        public var source: String?
        public var synthetic: Bool  // seeded random weights, useless for retrieval: apps must say so
    }

    /// Target-specific facts (informational); a Core ML bundle names its minimum deployment target.
    public struct Details: Sendable {
        public var minimumDeploymentTarget: String?
    }

    public var format: Int
    public var target: String
    public var precision: String
    public var artifact: String
    public var files: [String: String]
    public var model: Model
    public var details: Details
    public var warning: String?

    /// The checks of "Opening a bundle" that concern the manifest alone, in the spec's order.
    init(_ f: Fields) throws(BundleError) {
        guard case .integer(let format) = f.object["format"], Self.formats.contains(format) else {
            let found = f.object["format"].map { JSONWriter.compact($0) } ?? "missing"
            throw BundleError(.unknownFormat, "\(f.place): bundle format \(found) is not one ColBERTKit reads "
                + "(\(Self.formats.map(String.init).joined(separator: ", "))); re-export the bundle, or upgrade ColBERTKit")
        }
        self.format = format
        guard case .object(let table) = f.object["files"] else {
            throw f.mistyped("files", "an object mapping each file to its sha256")
        }
        var files: [String: String] = [:]
        for (path, digest) in table.pairs {
            guard case .string(let hex) = digest else { throw f.mistyped("files", "an object mapping each file to its sha256") }
            // A listed path must stay inside the bundle: "../x" or "/x" would read (and trust) any file.
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.isEmpty, !path.hasPrefix("/"), !parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
                throw f.mistyped("files", "relative paths inside the bundle (\(path) is not)")
            }
            files[path] = hex  // compared as written: the spec says lowercase hex, as Python compares it
        }
        self.files = files
        // Missing or not a string, these are `mistyped_field` (as the Python runtime reads them).
        func string(_ key: String) throws(BundleError) -> String {
            guard case .string(let text) = f.object[key] else { throw f.mistyped(key, "a string") }
            return text
        }
        target = try string("target")
        precision = try string("precision")
        artifact = try string("artifact")
        if case .object = f.object["model"] {
            let m = try f.nested("model")
            let name: String? = if case .string(let text) = m.object["name"] { text } else { nil }
            let source: String? = if case .string(let text) = m.object["source"] { text } else { nil }
            var synthetic = false
            if let flag = m.object["synthetic"] {
                guard case .bool(let value) = flag else { throw m.mistyped("synthetic", "true or false") }
                synthetic = value
            }
            model = Model(name: name ?? "(unnamed model)", source: source, synthetic: synthetic)
        } else {
            model = Model(name: "(unnamed model)", source: nil, synthetic: false)
        }
        var minimum: String?
        if case .object(let details) = f.object["details"], case .string(let text) = details["minimum_deployment_target"] {
            minimum = text
        }
        details = Details(minimumDeploymentTarget: minimum)
        if case .string(let text) = f.object["warning"] { warning = text }
    }

    /// The files an encoding depends on: tokenizer.json, colbert.json and the artifact (or every file in it).
    public var modelFiles: [(path: String, sha256: String)] {
        files.filter { $0.key == "tokenizer.json" || $0.key == "colbert.json" || $0.key == artifact || $0.key.hasPrefix(artifact + "/") }
            .sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { (path: $0.key, sha256: $0.value) }
    }

    /// What an index is tied to (spec, "model digest"): the sha256 of `<path>\t<sha256>\n` over `modelFiles`.
    public var modelDigest: String {
        SHA256Digest.hex(Data(modelFiles.map { "\($0.path)\t\($0.sha256)\n" }.joined().utf8))
    }
}
