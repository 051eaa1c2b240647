import ColBERTKit
import Foundation

/// Where an index is saved: one file per bundle, corpus and compute setting, so the corpus is indexed once.
enum IndexCache {
    static func url(bundle: ColBERTBundle, corpus: [String], compute: ComputeChoice) throws -> URL {
        let bundleKey = bundle.manifest.files.sorted { $0.key < $1.key }.map(\.value).joined()
        let key = [bundleKey, compute.rawValue, corpus.joined(separator: "\u{1F}")].joined(separator: "\u{1E}")
        let folder = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                                 appropriateFor: nil, create: true)
            .appendingPathComponent("ColBERTSearch/indexes", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent(SHA256Digest.hex(Data(key.utf8)) + ".cbki")
    }
}
