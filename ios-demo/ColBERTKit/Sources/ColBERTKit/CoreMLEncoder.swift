#if canImport(CoreML)
import CoreML
import Foundation

/// The bundle's .mlpackage run by Core ML: compiled at run time once and cached by the package's hashes,
/// int32 inputs, fp16 or fp32 output read as Float, one sequence per call, compute units from the caller.
/// NOT YET COMPILED OR RUN: this machine has no Apple frameworks (see ios-demo/README.md).
public actor CoreMLEncoder: Encoder {
    private let model: MLModel

    public init(bundle: ColBERTBundle, computeUnits: MLComputeUnits) async throws {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits
        model = try MLModel(contentsOf: try await Self.compiled(bundle), configuration: configuration)
    }

    /// `MLModel.compileModel(at:)` once per distinct package: apps open the same bundle at every launch.
    static func compiled(_ bundle: ColBERTBundle) async throws -> URL {
        let artifact = bundle.manifest.artifact
        let key = bundle.manifest.files.filter { $0.key.hasPrefix(artifact + "/") }.sorted { $0.key < $1.key }
            .map(\.value).joined()
        let caches = try FileManager.default.url(for: .cachesDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let target = caches.appendingPathComponent("ColBERTKit", isDirectory: true)
            .appendingPathComponent(SHA256Digest.hex(Data(key.utf8)) + ".mlmodelc")
        if FileManager.default.fileExists(atPath: target.path) { return target }
        let fresh = try await MLModel.compileModel(at: bundle.artifactURL)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.moveItem(at: fresh, to: target)
        return target
    }

    public func encode(inputIds: [Int], attentionMask: [Int]) async throws -> TokenVectors {
        let shape = [1, NSNumber(value: inputIds.count)]
        let ids = try MLMultiArray(shape: shape, dataType: .int32)
        let mask = try MLMultiArray(shape: shape, dataType: .int32)
        for (i, (id, attended)) in zip(inputIds, attentionMask).enumerated() {
            ids[i] = NSNumber(value: Int32(id))
            mask[i] = NSNumber(value: Int32(attended))
        }
        let input = try MLDictionaryFeatureProvider(dictionary: ["input_ids": ids, "attention_mask": mask])
        let output = try await model.prediction(from: input)
        guard let vectors = output.featureValue(for: "embeddings")?.multiArrayValue,
              let dim = vectors.shape.last?.intValue, dim > 0 else { throw EncoderError.noOutput("embeddings") }
        let values = (0 ..< vectors.count).map { vectors[$0].floatValue }  // fp16 and fp32 alike
        return TokenVectors(values: values, dim: dim)
    }
}
#endif
