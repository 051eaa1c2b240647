import Foundation

/// golden.json's one rule (spec/bundle.md, "The golden rule", steps 2 to 5), the same rule `verify` and every
/// port's self-test apply.
public enum GoldenRule {
    /// The rule's five metrics, every one computed: a tolerance can name any of them and none passes unmeasured.
    public struct Metrics: Sendable, Equatable {
        public var cosineMin: Double
        public var cosineMean: Double
        public var maxsimRelErrMax: Double
        public var maxsimRelErrP99: Double
        public var top10Agreement: Double

        public subscript(name: String) -> Double? {
            switch name {
            case "cosine_min": cosineMin
            case "cosine_mean": cosineMean
            case "maxsim_rel_err_max": maxsimRelErrMax
            case "maxsim_rel_err_p99": maxsimRelErrP99
            case "top10_agreement": top10Agreement
            default: nil
            }
        }
    }

    /// A text encoded to another number of vectors than golden.json holds: no metric can be taken.
    public struct VectorCountError: Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Below a score of 1 (one query vector's perfect match) the error is taken against 1: a pair scoring near
    /// zero would make any difference look huge.
    static let scoreFloor = 1.0

    /// Steps 2 to 4 on the vectors a port encoded for golden.json's queries and documents.
    public static func measure(_ golden: Golden, queries: [TokenVectors], documents: [TokenVectors]) throws(VectorCountError) -> Metrics {
        let entries = golden.queries + golden.documents
        let encoded = queries + documents
        guard queries.count == golden.queries.count, documents.count == golden.documents.count else {
            throw VectorCountError(description: "\(encoded.count) texts encoded, golden.json has \(entries.count)")
        }
        var cosines: [Double] = []
        for (n, (entry, got)) in zip(entries, encoded).enumerated() {
            guard got.count == entry.vectors.count, entry.vectors.allSatisfy({ $0.count == got.dim }) else {
                throw VectorCountError(description: "text \(n) (\(entry.text.prefix(30))): \(got.count) vectors, golden.json has \(entry.vectors.count)")
            }
            for (row, expected) in entry.vectors.enumerated() {
                let actual = got.values[row * got.dim ..< (row + 1) * got.dim]
                var dot = 0.0, a2 = 0.0, b2 = 0.0
                for (a, b) in zip(actual, expected) {
                    dot += Double(a) * Double(b)
                    a2 += Double(a) * Double(a)
                    b2 += Double(b) * Double(b)
                }
                cosines.append(dot / max(a2.squareRoot() * b2.squareRoot(), 1e-12))
            }
        }
        let scores = queries.map { q in documents.map { Double(Scoring.maxSim(q, $0)) } }
        var relative: [Double] = []
        for (got, expected) in zip(scores, golden.scores) {
            for (g, e) in zip(got, expected) { relative.append(abs(g - e) / max(abs(e), scoreFloor)) }
        }
        relative.sort()
        return Metrics(cosineMin: cosines.min() ?? 1, cosineMean: cosines.isEmpty ? 1 : cosines.reduce(0, +) / Double(cosines.count),
                       maxsimRelErrMax: relative.last ?? 0, maxsimRelErrP99: percentile(relative, 0.99),
                       top10Agreement: agreement(expected: golden.scores, actual: scores, k: golden.topK))
    }

    /// Linear interpolation between closest ranks (numpy's default); 0 for no values.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }

    /// Step 4: per query, the share of the expected top k (k = min(top_k, documents)) also in the encoded top k,
    /// both ranked highest first with ties to the lower index; the mean, 1 with no queries or documents.
    static func agreement(expected: [[Double]], actual: [[Double]], k: Int) -> Double {
        guard let documents = expected.first?.count, documents > 0 else { return 1 }
        let k = min(k, documents)
        func top(_ row: [Double]) -> Set<Int> { Set(Scoring.top(row, k: k).map(\.index)) }
        let shares = zip(expected, actual).map { Double(top($0).intersection(top($1)).count) / Double(k) }
        return shares.reduce(0, +) / Double(shares.count)
    }

    /// Step 5: each bound missed, as `metric=value (needs op bound)`, sorted; a value that is not finite fails.
    public static func judge(_ golden: Golden, _ metrics: Metrics) -> [String] {
        golden.tolerance.keys.sorted().compactMap { name in
            guard let bound = golden.tolerance[name] else { return nil }
            // Golden's reader refuses a metric the rule does not define, so every name here is measured.
            let value = metrics[name] ?? .nan
            let ok = value.isFinite && (bound.op == ">=" ? value >= bound.value : value <= bound.value)
            return ok ? nil : "\(name)=\(value) (needs \(bound.op) \(bound.value))"
        }
    }
}
