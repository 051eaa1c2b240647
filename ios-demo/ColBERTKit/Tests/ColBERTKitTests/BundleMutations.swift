import Foundation

@testable import ColBERTKit

/// The ops of spec/conformance/bad-bundles.jsonl, applied to a copy of a real bundle (spec, "Bad-bundle mutations").
enum BundleMutations {
    static let files = FileManager.default

    static func copy(_ bundle: URL) throws -> URL {
        let copy = files.temporaryDirectory.appendingPathComponent("bundle-\(UUID().uuidString)")
        try files.copyItem(at: bundle, to: copy)
        return copy
    }

    static func manifest(_ bundle: URL) throws -> JSONObject {
        guard case .object(let object) = try JSONReader.parse([UInt8](try Data(contentsOf: bundle.appendingPathComponent("manifest.json")))) else {
            throw TestFailure("\(bundle.path): manifest.json is not an object")
        }
        return object
    }

    /// `$artifact`: the artifact; `$artifact_file`: it, or the largest file inside it.
    static func resolve(_ bundle: URL, _ name: String) throws -> URL {
        guard name.hasPrefix("$") else { return bundle.appendingPathComponent(name) }
        guard case .string(let artifact)? = try manifest(bundle)["artifact"] else { throw TestFailure("no artifact in the manifest") }
        let url = bundle.appendingPathComponent(artifact)
        var isDirectory: ObjCBool = false
        guard name == "$artifact_file", files.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else { return url }
        let inside = ColBERTBundle.listFiles(url).map { url.appendingPathComponent($0) }
        func size(_ file: URL) -> Int { (try? file.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? -1 }
        guard let largest = inside.max(by: { size($0) < size($1) }) else { throw TestFailure("\(artifact) is empty") }
        return largest
    }

    static func apply(_ bundle: URL, _ mutation: JSONValue, rehash: Bool) throws {
        let path = try resolve(bundle, mutation["file"].string ?? "")
        switch mutation["op"].string {
        case "flip_byte":
            var bytes = [UInt8](try Data(contentsOf: path))
            let offset = mutation["offset"].int ?? 0
            bytes[offset < 0 ? bytes.count + offset : offset] ^= 1
            try Data(bytes).write(to: path)
        case "delete": try files.removeItem(at: path)
        case "write": try Data((mutation["text"].string ?? "").utf8).write(to: path)
        case "truncate": try Data(try Data(contentsOf: path).prefix(mutation["bytes"].int ?? 0)).write(to: path)
        case "set_json", "delete_json":
            let keys = mutation["path"].array.compactMap(\.string)
            let value = try JSONReader.parse([UInt8](try Data(contentsOf: path)))
            let changed = edit(value, keys[...], mutation["op"].string == "set_json" ? mutation["value"] : nil)
            try Data(JSONWriter.compact(changed).utf8).write(to: path)
        default: throw TestFailure("unknown mutation op \(mutation["op"])")
        }
        if rehash, files.fileExists(atPath: bundle.appendingPathComponent("manifest.json").path) {
            var manifest = try manifest(bundle)
            var hashes = JSONObject()
            for file in ColBERTBundle.listFiles(bundle) {
                hashes[file] = .string(try SHA256Digest.hex(fileAt: bundle.appendingPathComponent(file)))
            }
            manifest["files"] = .object(hashes)
            try Data(JSONWriter.compact(.object(manifest)).utf8).write(to: bundle.appendingPathComponent("manifest.json"))
        }
    }

    /// The value with the field at `keys` set to `new`, or removed when `new` is nil.
    static func edit(_ value: JSONValue, _ keys: ArraySlice<String>, _ new: JSONValue?) -> JSONValue {
        guard let key = keys.first, case .object(var object) = value else { return value }
        if keys.count == 1 {
            object[key] = new
        } else if let inner = object[key] {
            object[key] = edit(inner, keys.dropFirst(), new)
        }
        return .object(object)
    }
}
