import Foundation

/// `golden.json`: texts, their model inputs, and the reference vectors and MaxSim scores (the self-test).
public struct Golden: Sendable {
    public struct Entry: Sendable {
        public var text: String
        public var inputIds: [Int]
        public var attentionMask: [Int]
        public var keptPositions: [Int]
        public var vectors: [[Float]]
    }

    public struct Bound: Sendable, Equatable {
        public var op: String  // ">=" or "<="
        public var value: Double
    }

    /// The metrics of the golden rule; a tolerance naming another is refused, so none passes unmeasured.
    public static let metrics = ["cosine_min", "cosine_mean", "maxsim_rel_err_max", "maxsim_rel_err_p99", "top10_agreement"]
    static let defaultTopK = 10  // golden files written before `top_k` was recorded

    public var tolerance: [String: Bound]
    public var queries: [Entry]
    public var documents: [Entry]
    public var scores: [[Double]]
    public var topK: Int

    public init(json object: JSONObject, place: String = "golden.json") throws(BundleError) {
        let f = Fields(object: object, place: place)
        // Every required field is looked up before any is type-checked, as the Python runtime orders it.
        for key in ["tolerance", "queries", "documents", "scores"] { _ = try f.value(key) }
        let table = try f.nested("tolerance")
        var tolerance: [String: Bound] = [:]
        for metric in table.object.keys {
            let bound = try table.nested(metric)
            let op = try bound.string("op")
            guard op == ">=" || op == "<=" else { throw bound.mistyped("op", "\">=\" or \"<=\"") }
            guard Self.metrics.contains(metric) else {
                throw BundleError(.malformed, "\(place): tolerance names \(metric), not a metric of the golden rule; re-export the bundle")
            }
            tolerance[metric] = Bound(op: op, value: try bound.number("value"))
        }
        func entries(_ key: String) throws(BundleError) -> [Entry] {
            var out: [Entry] = []
            for e in try f.objects(key) {
                out.append(Entry(text: try e.string("text"), inputIds: try e.integers("input_ids"),
                                 attentionMask: try e.integers("attention_mask"),
                                 keptPositions: try e.integers("kept_positions"),
                                 vectors: try e.numberRows("vectors").map { $0.map(Float.init) }))
            }
            return out
        }
        let scores = try f.numberRows("scores")
        let queries = try entries("queries"), documents = try entries("documents")
        (self.scores, self.queries, self.documents, self.tolerance) = (scores, queries, documents, tolerance)
        guard scores.count == queries.count, scores.allSatisfy({ $0.count == documents.count }) else {
            throw BundleError(.malformed, "\(place): scores are not one row per query and one column per document; re-export the bundle")
        }
        if object["top_k"] == nil {
            topK = Self.defaultTopK
        } else {
            guard case .integer(let k) = try f.value("top_k"), k >= 1 else { throw f.mistyped("top_k", "a positive integer") }
            topK = k
        }
    }
}
