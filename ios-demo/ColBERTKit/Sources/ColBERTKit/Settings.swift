import Foundation

/// `colbert.json`: every step between a text and the encoder's inputs, and which outputs to keep.
public struct ColBERTSettings: Codable, Sendable, Equatable {
    public var queryPrefix: String
    public var documentPrefix: String
    public var queryPrefixId: Int?  // nil when the prefix is empty: PyLate then inserts nothing
    public var documentPrefixId: Int?
    public var queryLength: Int
    public var documentLength: Int
    public var doQueryExpansion: Bool
    public var attendToExpansionTokens: Bool
    public var doLowerCase: Bool
    public var stripCodepoints: [UInt32]
    public var skiplistWords: [String]
    public var skiplistIds: [Int]
    public var maskTokenId: Int
    public var padTokenId: Int
    public var dim: Int
    public var io: IOSpec

    enum CodingKeys: String, CodingKey {
        case queryPrefix = "query_prefix", documentPrefix = "document_prefix"
        case queryPrefixId = "query_prefix_id", documentPrefixId = "document_prefix_id"
        case queryLength = "query_length", documentLength = "document_length"
        case doQueryExpansion = "do_query_expansion", attendToExpansionTokens = "attend_to_expansion_tokens"
        case doLowerCase = "do_lower_case", stripCodepoints = "strip_codepoints"
        case skiplistWords = "skiplist_words", skiplistIds = "skiplist_ids"
        case maskTokenId = "mask_token_id", padTokenId = "pad_token_id", dim, io
    }
}

/// The encoder artifact's inputs and outputs (`colbert.json`'s `io`).
public struct IOSpec: Codable, Sendable, Equatable {
    public struct Tensor: Codable, Sendable, Equatable {
        public var name: String
        public var dtype: String
    }

    public struct Bucket: Codable, Sendable, Equatable {
        public var kind: String  // "query" or "document"
        public var length: Int
    }

    public var inputs: [Tensor]
    public var outputs: [Tensor]
    public var maxBatch: Int?
    public var maxSequence: Int
    public var minSequence: Int
    public var buckets: [String: Bucket]

    enum CodingKeys: String, CodingKey {
        case inputs, outputs, buckets
        case maxBatch = "max_batch", maxSequence = "max_sequence", minSequence = "min_sequence"
    }
}

/// `golden.json`: texts, their model inputs, and the reference vectors and MaxSim scores.
public struct Golden: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var text: String
        public var inputIds: [Int]
        public var attentionMask: [Int]
        public var keptPositions: [Int]
        public var vectors: [[Float]]

        enum CodingKeys: String, CodingKey {
            case text, vectors
            case inputIds = "input_ids", attentionMask = "attention_mask", keptPositions = "kept_positions"
        }
    }

    public struct Bound: Codable, Sendable {
        public var op: String  // ">=" or "<="
        public var value: Double
    }

    public var tolerance: [String: Bound]
    public var queries: [Entry]
    public var documents: [Entry]
    public var scores: [[Double]]
}
