import Foundation

/// The short documents the app indexes (Resources/SampleCorpus.json, 217 texts on many topics): a copy of the
/// repository's samples/sample-corpus.json that `python -m spec.sample_corpus` writes; edit that file, not this one.
enum SampleCorpus {
    static func load() -> [String] {
        guard let url = AppResources.folder?.appendingPathComponent("SampleCorpus.json"),
              let data = try? Data(contentsOf: url),
              let texts = try? JSONDecoder().decode([String].self, from: data) else { return [] }
        return texts
    }
}

/// The package's `Resources` folder, copied into the app as is.
enum AppResources {
    static var folder: URL? { Bundle.module.url(forResource: "Resources", withExtension: nil) }
}
