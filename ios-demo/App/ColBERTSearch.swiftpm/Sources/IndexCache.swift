import ColBERTKit
import Foundation

/// Where an index is saved (the spec's index file): one per bundle, corpus and compute setting, so the corpus is
/// indexed once. The file itself carries the model digest, checked again when it is read.
enum IndexCache {
    static func url(bundle: ColBERTBundle, corpus: [String], compute: ComputeChoice) throws -> URL {
        let bundleKey = bundle.modelDigest
        let key = [bundleKey, compute.rawValue, corpus.joined(separator: "\u{1F}")].joined(separator: "\u{1E}")
        let folder = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                                 appropriateFor: nil, create: true)
            .appendingPathComponent("ColBERTSearch/indexes", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent(SHA256Digest.hex(Data(key.utf8)) + ".cbindex")
    }
}
