import Foundation

/// An exported bundle, opened in the spec's order ("Opening a bundle"): the manifest, the files against it, the
/// target, colbert.json, tokenizer.json's kind, golden.json. The artifact is loaded by the encoder
/// (`unreadable_model`).
public struct ColBERTBundle: Sendable {
    public static let manifestName = "manifest.json"
    /// The one target ColBERTKit runs: Core ML (on Apple systems).
    public static let supportedTargets: Set<String> = ["coreml"]

    public let url: URL
    public let manifest: Manifest
    public let settings: ColBERTSettings
    public let tokenizer: HFTokenizer
    public let golden: Golden

    public var tokenizerURL: URL { url.appendingPathComponent("tokenizer.json") }
    public var artifactURL: URL { url.appendingPathComponent(manifest.artifact) }
    public var modelDigest: String { manifest.modelDigest }

    public init(at url: URL) throws(BundleError) {
        self.url = url
        let manifestURL = url.appendingPathComponent(Self.manifestName)
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw BundleError(.notABundle, "\(url.path) is not a bundle: no manifest.json (re-run the export)")
        }
        manifest = try Manifest(Fields.read(manifestURL, name: manifestURL.path))
        try Self.checkFiles(url, manifest)
        guard Self.supportedTargets.contains(manifest.target) else {
            throw BundleError(.unknownTarget, "\(manifestURL.path): target \(manifest.target) is not one ColBERTKit runs "
                + "(coreml); export a Core ML bundle (python -m export coreml)")
        }
        let colbert = url.appendingPathComponent("colbert.json")
        settings = try ColBERTSettings(Fields.read(colbert, name: colbert.path))
        tokenizer = try HFTokenizer(fileAt: url.appendingPathComponent("tokenizer.json"))
        let goldenURL = url.appendingPathComponent("golden.json")
        let goldenFields = try Fields.read(goldenURL, name: goldenURL.path)
        golden = try Golden(json: goldenFields.object, place: goldenURL.path)
        let dim = settings.dim
        guard (golden.queries + golden.documents).allSatisfy({ $0.vectors.allSatisfy { $0.count == dim } }) else {
            throw BundleError(.malformed, "\(goldenURL.path): a reference vector is not of colbert.json's dim \(dim); re-export the bundle")
        }
    }

    /// Every regular file under `root` but the manifest, by `/`-separated path relative to it.
    static func listFiles(_ root: URL) -> [String] {
        let prefix = root.standardizedFileURL.path + "/"
        let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        var files: [String] = []
        while let next = walker?.nextObject() as? URL {
            guard (try? next.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let path = String(next.standardizedFileURL.path.dropFirst(prefix.count))
            if path != manifestName { files.append(path) }
        }
        return files.sorted()
    }

    /// Missing files first, then changed ones, then files the manifest does not list (the spec's order).
    static func checkFiles(_ root: URL, _ manifest: Manifest) throws(BundleError) {
        let actual = Set(listFiles(root))
        let expected = Set(manifest.files.keys)
        let missing = expected.subtracting(actual).sorted()
        if !missing.isEmpty {
            throw BundleError(.missingFile, "\(root.path): missing \(missing.joined(separator: ", ")); the bundle is incomplete, re-export it")
        }
        var changed: [String] = []
        for file in expected.sorted() {
            let digest: String
            do { digest = try SHA256Digest.hex(fileAt: root.appendingPathComponent(file)) } catch {
                throw BundleError(.missingFile, "\(root.path): \(file) cannot be read (\(error.localizedDescription)); re-export the bundle")
            }
            if digest != manifest.files[file] { changed.append(file) }
        }
        if !changed.isEmpty {
            throw BundleError(.tampered, "\(root.path): sha256 mismatch for \(changed.joined(separator: ", ")); the bundle was modified, re-export it")
        }
        let extra = actual.subtracting(expected).sorted()
        if !extra.isEmpty {
            throw BundleError(.unlistedFile, "\(root.path): unlisted files \(extra.joined(separator: ", ")); remove them or re-export")
        }
    }
}
