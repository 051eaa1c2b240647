import Foundation

/// A sequence padded to one of the model's fixed shapes (a Core ML function), and how to cut its output back.
public struct ShapedInput: Sendable, Equatable {
    public let function: String  // the entry point that takes this shape
    public let inputIds: [Int]  // padded with the pad token
    public let attentionMask: [Int]  // padded with 0, so padding is never attended
    public let length: Int  // the real tokens: the output keeps this many rows
}

public enum ShapeError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLong(kind: String, length: Int, largest: Int)

    public var description: String {
        switch self {
        case .tooLong(let kind, let length, let largest):
            "\(kind) of \(length) tokens is past this bundle's largest \(kind) shape of \(largest); truncate to the \(kind) length first"
        }
    }
}

extension IOSpec {
    /// The smallest fixed shape of the input's kind that holds `length` tokens (ties: by name), as the Python runtime picks.
    public func bucket(forLength length: Int, isQuery: Bool) throws(ShapeError) -> (name: String, length: Int) {
        let kind = isQuery ? "query" : "document"
        let fitting = buckets.filter { $0.value.kind == kind && $0.value.length >= length }
            .map { (name: $0.key, length: $0.value.length) }
            .sorted { $0.length != $1.length ? $0.length < $1.length : $0.name < $1.name }
        guard let best = fitting.first else {
            let largest = buckets.values.filter { $0.kind == kind }.map(\.length).max() ?? 0
            throw .tooLong(kind: kind, length: length, largest: largest)
        }
        return best
    }

    /// One sequence padded to the smallest shape that holds it.
    public func shaped(inputIds: [Int], attentionMask: [Int], isQuery: Bool, padTokenId: Int) throws(ShapeError) -> ShapedInput {
        let bucket = try bucket(forLength: inputIds.count, isQuery: isQuery)
        let padding = bucket.length - inputIds.count
        return ShapedInput(function: bucket.name, inputIds: inputIds + Array(repeating: padTokenId, count: padding),
                           attentionMask: attentionMask + Array(repeating: 0, count: padding), length: inputIds.count)
    }
}

extension TokenVectors {
    /// The first `rows` vectors: a padded output cut back to the real tokens.
    public func prefix(rows: Int) -> TokenVectors {
        TokenVectors(values: Array(values.prefix(min(rows, count) * dim)), dim: dim)
    }
}
