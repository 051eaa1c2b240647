import Foundation

/// A bundle that cannot be trusted or read; the description names the file and says what to do.
public enum BundleError: Error, Equatable, Sendable, CustomStringConvertible {
    case notABundle(String)
    case missingFiles([String])
    case hashMismatch([String])
    case unlistedFiles([String])
    case unreadable(file: String, reason: String)

    public var description: String {
        switch self {
        case .notABundle(let path): "\(path) is not a bundle: no manifest.json (re-run the export)"
        case .missingFiles(let files): "missing \(files.joined(separator: ", ")); the bundle is incomplete, re-export it"
        case .hashMismatch(let files): "sha256 mismatch for \(files.joined(separator: ", ")); the bundle was modified, re-export it"
        case .unlistedFiles(let files): "unlisted files \(files.joined(separator: ", ")); remove them or re-export"
        case .unreadable(let file, let reason): "\(file) cannot be read (\(reason)); re-export the bundle"
        }
    }
}

/// `manifest.json`: what a bundle holds and the sha256 of every file.
public struct Manifest: Decodable, Sendable {
    public struct Model: Decodable, Sendable {
        public var name: String
        public var source: String
        public var synthetic: Bool
    }

    /// Target-specific facts; a Core ML bundle names its minimum deployment target and its functions.
    public struct Details: Decodable, Sendable {
        public var minimumDeploymentTarget: String?
        public var functions: [String: [Int]]?

        enum CodingKeys: String, CodingKey {
            case minimumDeploymentTarget = "minimum_deployment_target", functions
        }
    }

    public var target: String
    public var precision: String
    public var artifact: String
    public var files: [String: String]
    public var model: Model
    public var details: Details?
}

/// An exported bundle, opened only once every file matches its manifest.
public struct ColBERTBundle: Sendable {
    public static let manifestName = "manifest.json"

    public let url: URL
    public let manifest: Manifest
    public let settings: ColBERTSettings
    public let golden: Golden

    public var tokenizerURL: URL { url.appendingPathComponent("tokenizer.json") }
    public var artifactURL: URL { url.appendingPathComponent(manifest.artifact) }

    /// Opens the bundle at `url`: checks every file's sha256 against the manifest, then reads the settings.
    public init(at url: URL) throws(BundleError) {
        self.url = url
        manifest = try Self.decode(Manifest.self, url.appendingPathComponent(Self.manifestName), missing: .notABundle(url.path))
        try Self.verify(url, manifest)
        settings = try Self.decode(ColBERTSettings.self, url.appendingPathComponent("colbert.json"))
        golden = try Self.decode(Golden.self, url.appendingPathComponent("golden.json"))
    }

    /// Every file under `root` but the manifest, by path relative to it.
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

    /// Refuses a bundle unless it holds exactly the files its manifest lists, unchanged.
    static func verify(_ root: URL, _ manifest: Manifest) throws(BundleError) {
        let actual = Set(listFiles(root))
        let expected = Set(manifest.files.keys)
        let missing = expected.subtracting(actual).sorted()
        if !missing.isEmpty { throw .missingFiles(missing) }
        var changed: [String] = []
        for file in expected.sorted() {
            let digest: String
            do { digest = try SHA256Digest.hex(fileAt: root.appendingPathComponent(file)) } catch {
                throw .unreadable(file: file, reason: error.localizedDescription)
            }
            if digest != manifest.files[file] { changed.append(file) }
        }
        if !changed.isEmpty { throw .hashMismatch(changed) }
        let extra = actual.subtracting(expected).sorted()
        if !extra.isEmpty { throw .unlistedFiles(extra) }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ file: URL, missing: BundleError? = nil) throws(BundleError) -> T {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw missing ?? .missingFiles([file.lastPathComponent])
        }
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw .unreadable(file: file.lastPathComponent, reason: "not the JSON this version reads: \(error)")
        }
    }
}
