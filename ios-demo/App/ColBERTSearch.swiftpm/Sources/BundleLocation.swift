import ColBERTKit
import Foundation

/// Where the exported Core ML bundle comes from: one imported from the Files app (kept in Application Support,
/// so it survives relaunches), else one shipped in the app's resources (Resources/bundle).
enum BundleLocation {
    static func current() -> URL? {
        [try? imported(), AppResources.folder?.appendingPathComponent("bundle", isDirectory: true)]
            .compactMap { $0 }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("manifest.json").path) }
    }

    static func imported() throws -> URL {
        try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("ColBERTSearch/bundle", isDirectory: true)
    }

    /// Copies a folder picked in the Files app into a staging folder and opens it there (every file against its
    /// manifest, colbert.json, tokenizer.json, golden.json); the previous bundle is replaced only by a bundle that
    /// opened, so a bad or half-copied pick never costs the working one.
    static func importFolder(_ picked: URL) throws -> URL {
        let scoped = picked.startAccessingSecurityScopedResource()
        defer { if scoped { picked.stopAccessingSecurityScopedResource() } }
        let target = try imported()
        let staging = target.deletingLastPathComponent().appendingPathComponent("incoming-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        do {
            try FileManager.default.copyItem(at: picked, to: staging)
            _ = try ColBERTBundle(at: staging)
            if FileManager.default.fileExists(atPath: target.path) {
                _ = try FileManager.default.replaceItemAt(target, withItemAt: staging)
            } else {
                try FileManager.default.moveItem(at: staging, to: target)
            }
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
        return target
    }
}
