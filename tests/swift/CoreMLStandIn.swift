// STAND-IN, not Core ML: lets the app's model code type-check on Linux, where Core ML and security-scoped
// URLs do not exist. It never runs; tests/test_colbertkit.py only builds against it.
import ColBERTKit
import Foundation

struct MLComputeUnits {}

extension ComputeChoice {
    var units: MLComputeUnits { MLComputeUnits() }
}

actor CoreMLEncoder: Encoder {
    init(bundle: ColBERTBundle, computeUnits: MLComputeUnits) async throws {}

    func encode(inputIds: [Int], attentionMask: [Int], isQuery: Bool) async throws -> TokenVectors {
        fatalError("stand-in: never run")
    }
}

extension URL {
    func startAccessingSecurityScopedResource() -> Bool { false }
    func stopAccessingSecurityScopedResource() {}
}
