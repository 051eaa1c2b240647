import Foundation

/// `colbert.json`: every step between a text and the encoder's inputs, and which outputs to keep.
public struct ColBERTSettings: Sendable, Equatable {
    public var queryPrefix: String
    public var documentPrefix: String
    public var queryPrefixId: Int?  // nil: PyLate inserts nothing
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

    /// colbert.json's object (or a conformance header's `settings`), every field type-checked.
    public init(json object: JSONObject, place: String = "colbert.json") throws(BundleError) {
        try self.init(Fields(object: object, place: place))
    }

    init(_ f: Fields) throws(BundleError) {
        queryPrefix = try f.string("query_prefix")
        documentPrefix = try f.string("document_prefix")
        queryPrefixId = try f.optionalInteger("query_prefix_id")
        documentPrefixId = try f.optionalInteger("document_prefix_id")
        queryLength = try f.integer("query_length")
        documentLength = try f.integer("document_length")
        doQueryExpansion = try f.bool("do_query_expansion")
        attendToExpansionTokens = try f.bool("attend_to_expansion_tokens")
        doLowerCase = try f.bool("do_lower_case")
        let strip = try f.integers("strip_codepoints")
        guard strip.allSatisfy({ Unicode.Scalar(UInt32(clamping: $0)) != nil && $0 >= 0 }) else {
            throw f.mistyped("strip_codepoints", "an array of code points")
        }
        stripCodepoints = strip.map { UInt32($0) }
        skiplistWords = try f.strings("skiplist_words")
        skiplistIds = try f.integers("skiplist_ids")
        maskTokenId = try f.integer("mask_token_id")
        padTokenId = try f.integer("pad_token_id")
        dim = try f.integer("dim")
        guard dim > 0 else { throw f.mistyped("dim", "a positive integer") }
        if case .null = try f.value("io") {
            throw BundleError(.malformed, "\(f.place) has no io section; re-export the bundle")
        }
        io = try IOSpec(try f.nested("io"))
    }
}

/// The encoder artifact's inputs and outputs (`colbert.json`'s `io`).
public struct IOSpec: Sendable, Equatable {
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var dtype: String
    }

    /// A fixed-shape entry point of the model for one kind of input and one length (a Core ML function).
    public struct Bucket: Sendable, Equatable {
        public var kind: String  // "query" or "document"
        public var length: Int

        public init(kind: String, length: Int) {
            self.kind = kind
            self.length = length
        }
    }

    public var inputs: [Tensor]
    public var outputs: [Tensor]
    public var maxBatch: Int?
    public var maxSequence: Int
    public var minSequence: Int
    public var buckets: [String: Bucket]

    public init(inputs: [Tensor], outputs: [Tensor], maxBatch: Int?, maxSequence: Int, minSequence: Int,
                buckets: [String: Bucket]) {
        (self.inputs, self.outputs, self.maxBatch) = (inputs, outputs, maxBatch)
        (self.maxSequence, self.minSequence, self.buckets) = (maxSequence, minSequence, buckets)
    }

    init(_ f: Fields) throws(BundleError) {
        func tensors(_ key: String) throws(BundleError) -> [Tensor] {
            var out: [Tensor] = []
            for t in try f.objects(key) { out.append(Tensor(name: try t.string("name"), dtype: try t.string("dtype"))) }
            return out
        }
        inputs = try tensors("inputs")
        outputs = try tensors("outputs")
        maxBatch = try f.optionalInteger("max_batch")
        maxSequence = try f.integer("max_sequence")
        minSequence = try f.integer("min_sequence")
        let table = try f.nested("buckets")
        var buckets: [String: Bucket] = [:]
        for name in table.object.keys {
            let b = try table.nested(name)
            let kind = try b.string("kind")
            guard kind == "query" || kind == "document" else { throw b.mistyped("kind", "query or document") }
            buckets[name] = Bucket(kind: kind, length: try b.integer("length"))
        }
        self.buckets = buckets
        guard inputs.count >= 2, !outputs.isEmpty else {
            throw BundleError(.malformed, "\(f.place) must name two inputs and an output; re-export the bundle")
        }
    }
}
