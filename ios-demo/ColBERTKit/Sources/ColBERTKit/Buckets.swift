/// A sequence padded to one of the model's buckets (a Core ML function), and how to cut its output back.
public struct BucketedInput: Sendable, Equatable {
    public let bucket: String  // the bucket's name: the entry point that takes this length
    public let inputIds: [Int]  // padded with the pad token
    public let attentionMask: [Int]  // padded with 0, so padding is never attended
    public let length: Int  // the real tokens: the output keeps this many rows
}

extension IOSpec {
    /// The smallest bucket of the input's kind that holds `length` tokens (ties: by name), as the Python runtime
    /// picks; a row longer than every bucket of its kind is refused.
    public func bucket(forLength length: Int, isQuery: Bool) throws(BundleError) -> (name: String, length: Int) {
        let kind = isQuery ? "query" : "document"
        let fitting = buckets.filter { $0.value.kind == kind && $0.value.length >= length }
            .map { (name: $0.key, length: $0.value.length) }
            .sorted { $0.length != $1.length ? $0.length < $1.length : $0.name < $1.name }
        guard let best = fitting.first else {
            let largest = buckets.values.filter { $0.kind == kind }.map(\.length).max() ?? 0
            throw BundleError(.inputPastBound, "a \(kind) of \(length) tokens is past this bundle's largest \(kind) "
                + "bucket of \(largest); truncate to the \(kind) length first")
        }
        return best
    }

    /// Every engine refuses a sequence longer than the export bound (`io.max_sequence`).
    public func checkBound(_ length: Int) throws(BundleError) {
        if length > maxSequence {
            throw BundleError(.inputPastBound, "a sequence of \(length) tokens is past this bundle's bound of "
                + "\(maxSequence) (io.max_sequence); truncate it first")
        }
    }

    /// One sequence padded to the smallest bucket that holds it.
    public func bucketed(inputIds: [Int], attentionMask: [Int], isQuery: Bool, padTokenId: Int) throws(BundleError) -> BucketedInput {
        try checkBound(inputIds.count)
        let bucket = try bucket(forLength: inputIds.count, isQuery: isQuery)
        let padding = bucket.length - inputIds.count
        return BucketedInput(bucket: bucket.name, inputIds: inputIds + Array(repeating: padTokenId, count: padding),
                             attentionMask: attentionMask + Array(repeating: 0, count: padding), length: inputIds.count)
    }
}

extension TokenVectors {
    /// The first `rows` vectors: a padded output cut back to the real tokens.
    public func prefix(rows: Int) -> TokenVectors {
        TokenVectors(values: Array(values.prefix(min(rows, count) * dim)), dim: dim)
    }
}
