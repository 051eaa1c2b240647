#if canImport(CoreML)
import CoreML
import Foundation

extension ComputeChoice {
    public var units: MLComputeUnits {
        switch self {
        case .cpuOnly: .cpuOnly
        case .cpuAndGPU: .cpuAndGPU
        case .all: .all
        }
    }
}

/// The bundle's .mlpackage run by Core ML. The package is compiled at run time once (`MLModel.compileModel(at:)`)
/// and cached by its hashes; each bucket's function (iOS 18 multifunction) is loaded on first use. A sequence
/// goes through the smallest bucket that holds it, padded; int32 inputs; fp16 or fp32 output read as Float.
/// NOT YET COMPILED OR RUN: this machine has no Apple frameworks (see ios-demo/README.md).
@available(iOS 18.0, macOS 15.0, *)
public actor CoreMLEncoder: Encoder {
    private let compiled: URL
    private let computeUnits: MLComputeUnits
    private let io: IOSpec
    private let padTokenId: Int
    private var functions: [String: MLModel]

    /// Compiles the package and loads the query bucket's function; a package Core ML cannot compile or load is
    /// the bundle's `unreadable_model`, naming the artifact.
    public init(bundle: ColBERTBundle, computeUnits: MLComputeUnits) async throws {
        let io = bundle.settings.io
        let query = try io.bucket(forLength: 1, isQuery: true).name
        let compiled: URL
        let first: MLModel
        do {
            compiled = try await Self.compiled(bundle)
            first = try Self.load(compiled, function: query, computeUnits: computeUnits)  // fails early
        } catch {
            throw BundleError(.unreadableModel, "\(bundle.artifactURL.path): Core ML cannot load it "
                + "(\(String(describing: error).split(separator: "\n").first ?? "")); re-export the bundle")
        }
        self.compiled = compiled
        self.computeUnits = computeUnits
        self.io = io
        self.padTokenId = bundle.settings.padTokenId
        self.functions = [query: first]
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

    static func load(_ compiled: URL, function: String, computeUnits: MLComputeUnits) throws -> MLModel {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits
        configuration.functionName = function
        return try MLModel(contentsOf: compiled, configuration: configuration)
    }

    private func model(for function: String) throws -> MLModel {
        if let model = functions[function] { return model }
        let model = try Self.load(compiled, function: function, computeUnits: computeUnits)
        functions[function] = model
        return model
    }

    public func encode(inputIds: [Int], attentionMask: [Int], isQuery: Bool) async throws -> TokenVectors {
        let bucketed = try io.bucketed(inputIds: inputIds, attentionMask: attentionMask, isQuery: isQuery, padTokenId: padTokenId)
        let input = try MLDictionaryFeatureProvider(dictionary: [
            io.inputs[0].name: MLFeatureValue(multiArray: try Self.int32Array(bucketed.inputIds)),
            io.inputs[1].name: MLFeatureValue(multiArray: try Self.int32Array(bucketed.attentionMask)),
        ])
        let output = try model(for: bucketed.bucket).prediction(from: input)
        let name = io.outputs[0].name
        guard let vectors = output.featureValue(for: name)?.multiArrayValue, vectors.shape.count == 3 else {
            throw EncoderError.noOutput(name)
        }
        return Self.rows(vectors, count: bucketed.length)
    }

    static func int32Array(_ values: [Int]) throws -> MLMultiArray {
        let array = try MLMultiArray(shape: [1, NSNumber(value: values.count)], dataType: .int32)
        array.withUnsafeMutableBufferPointer(ofType: Int32.self) { pointer, strides in
            for (i, value) in values.enumerated() { pointer[i * strides[1]] = Int32(value) }
        }
        return array
    }

    /// The first `count` rows of a [1, n, dim] output, by its strides (Neural Engine outputs can be padded).
    static func rows(_ array: MLMultiArray, count: Int) -> TokenVectors {
        let dim = array.shape[2].intValue
        let rowStride = array.strides[1].intValue, columnStride = array.strides[2].intValue
        var values = [Float](repeating: 0, count: count * dim)
        if array.dataType == .float32 {
            array.withUnsafeBufferPointer(ofType: Float.self) { pointer in
                for row in 0 ..< count {
                    for k in 0 ..< dim { values[row * dim + k] = pointer[row * rowStride + k * columnStride] }
                }
            }
        } else {  // fp16 (no Float16 on Intel Macs): through NSNumber
            for row in 0 ..< count {
                for k in 0 ..< dim { values[row * dim + k] = array[[0, NSNumber(value: row), NSNumber(value: k)]].floatValue }
            }
        }
        return TokenVectors(values: values, dim: dim)
    }
}
#endif
