import Foundation

/// A compiled encoder: one sequence of ids and mask in, one vector per position out. `isQuery` lets a bucketed
/// encoder (Core ML functions per kind) pick its bucket.
public protocol Encoder: Sendable {
    func encode(inputIds: [Int], attentionMask: [Int], isQuery: Bool) async throws -> TokenVectors
}

public enum EncoderError: Error, Equatable, Sendable, CustomStringConvertible {
    case noVectors(inputIds: [Int])
    case unreadable(String)
    case noOutput(String)

    public var description: String {
        switch self {
        case .noOutput(let name): "the model gave no \(name) multi-array; re-export the bundle"
        case .noVectors(let ids): "the replay encoder has no vectors for ids \(ids.prefix(8))…; it only replays what it was given"
        case .unreadable(let reason): "replay file cannot be read (\(reason))"
        }
    }
}

/// TEST DOUBLE, not a model: replays vectors the Python runtime computed for exact inputs, so the whole
/// path (tokenise, encode, filter, score, rank) runs where Core ML cannot. Refuses any other input.
public struct ReplayEncoder: Encoder {
    struct Recording: Decodable {
        let input_ids: [Int]
        let attention_mask: [Int]
        let vectors: [[Float]]
    }

    private let table: [[Int]: TokenVectors]

    public init(json data: Data, dim: Int) throws(EncoderError) {
        let recordings: [Recording]
        do { recordings = try JSONDecoder().decode([Recording].self, from: data) } catch {
            throw .unreadable("\(error)")
        }
        var table: [[Int]: TokenVectors] = [:]
        for (n, recording) in recordings.enumerated() {
            guard recording.vectors.allSatisfy({ $0.count == dim }) else {
                throw .unreadable("recording \(n) has vectors that are not of dim \(dim)")
            }
            let key = recording.input_ids + recording.attention_mask
            if table[key] == nil { table[key] = TokenVectors(rows: recording.vectors, dim: dim) }
        }
        self.table = table
    }

    public func encode(inputIds: [Int], attentionMask: [Int], isQuery: Bool) async throws -> TokenVectors {
        guard let vectors = table[inputIds + attentionMask] else { throw EncoderError.noVectors(inputIds: inputIds) }
        return vectors
    }
}

/// Tokenise, encode one text at a time, and keep the vectors PyLate keeps.
public struct ColBERTPipeline: Sendable {
    public let tokenizer: ColBERTTokenizer
    public let encoder: any Encoder

    public init(tokenizer: ColBERTTokenizer, encoder: any Encoder) {
        self.tokenizer = tokenizer
        self.encoder = encoder
    }

    public func encode(_ texts: [String], isQuery: Bool) async throws -> [TokenVectors] {
        var out: [TokenVectors] = []
        for text in texts {
            let batch = tokenizer.encode([text], isQuery: isQuery)
            try tokenizer.settings.io.checkBound(batch.inputIds[0].count)  // every engine refuses past the export bound
            let all = try await encoder.encode(inputIds: batch.inputIds[0], attentionMask: batch.attentionMask[0], isQuery: isQuery)
            let dim = all.dim
            let kept = batch.keep[0].enumerated().filter(\.element).flatMap { row, _ in all.values[row * dim ..< (row + 1) * dim] }
            out.append(TokenVectors(values: kept, dim: dim))
        }
        return out
    }

    public func rank(_ query: String, _ documents: [String], k: Int) async throws -> [(index: Int, score: Float)] {
        let q = try await encode([query], isQuery: true)[0]
        return Scoring.rank(q, try await encode(documents, isQuery: false), k: k)
    }
}
