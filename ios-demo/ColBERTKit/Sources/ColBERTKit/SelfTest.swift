import Foundation

/// What `golden.json` says of an app's whole path on this device: ids exact, vectors and MaxSim within tolerance.
public struct SelfTestReport: Sendable, Encodable {
    public var idsExact: Bool
    public var idMismatches: [String]  // texts whose ids, mask or kept positions differ from golden.json
    public var cosineMin: Double
    public var cosineMean: Double
    public var maxsimRelativeErrorMax: Double
    public var maxsimRelativeErrorP99: Double
    public var failures: [String]  // tolerance bounds missed
    public var passed: Bool
}

public enum SelfTest {
    /// Linear interpolation between closest ranks, as numpy's default percentile.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }

    public static func run(bundle: ColBERTBundle, pipeline: ColBERTPipeline) async throws -> SelfTestReport {
        let golden = bundle.golden
        var mismatches: [String] = []
        for (entries, isQuery) in [(golden.queries, true), (golden.documents, false)] {
            for entry in entries {
                let batch = pipeline.tokenizer.encode([entry.text], isQuery: isQuery)
                let kept = batch.keep[0].enumerated().filter(\.element).map(\.offset)
                if batch.inputIds[0] != entry.inputIds || batch.attentionMask[0] != entry.attentionMask || kept != entry.keptPositions {
                    mismatches.append(entry.text)
                }
            }
        }
        let dim = bundle.settings.dim
        let queries = try await pipeline.encode(golden.queries.map(\.text), isQuery: true)
        let documents = try await pipeline.encode(golden.documents.map(\.text), isQuery: false)
        var cosines: [Double] = []
        for (got, entry) in zip(queries + documents, golden.queries + golden.documents) where got.count == entry.vectors.count {
            for (row, expected) in entry.vectors.enumerated() {
                let actual = got.values[row * dim ..< (row + 1) * dim]
                let dot = zip(actual, expected).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let norms = sqrt(actual.reduce(0.0) { $0 + Double($1) * Double($1) }) * sqrt(expected.reduce(0.0) { $0 + Double($1) * Double($1) })
                cosines.append(dot / max(norms, 1e-12))
            }
        }
        if zip(queries + documents, golden.queries + golden.documents).contains(where: { $0.count != $1.vectors.count }) {
            mismatches.append("(vector counts differ from golden.json)")
        }
        var relative: [Double] = []
        for (i, q) in queries.enumerated() {
            for (j, d) in documents.enumerated() {
                let expected = golden.scores[i][j]
                relative.append(abs(Double(Scoring.maxSim(q, d)) - expected) / max(abs(expected), 1e-6))
            }
        }
        relative.sort()
        let metrics: [String: Double] = [
            "cosine_min": cosines.min() ?? 0, "cosine_mean": cosines.isEmpty ? 0 : cosines.reduce(0, +) / Double(cosines.count),
            "maxsim_rel_err_max": relative.last ?? 0,
            "maxsim_rel_err_p99": percentile(relative, 0.99),
        ]
        let failures = golden.tolerance.compactMap { key, bound -> String? in
            guard let value = metrics[key] else { return nil }  // top-10 agreement needs more documents than golden holds
            let ok = bound.op == ">=" ? value >= bound.value : value <= bound.value
            return ok ? nil : "\(key)=\(value) (needs \(bound.op) \(bound.value))"
        }.sorted()
        return SelfTestReport(idsExact: mismatches.isEmpty, idMismatches: mismatches, cosineMin: metrics["cosine_min"]!,
                              cosineMean: metrics["cosine_mean"]!, maxsimRelativeErrorMax: metrics["maxsim_rel_err_max"]!,
                              maxsimRelativeErrorP99: metrics["maxsim_rel_err_p99"]!, failures: failures,
                              passed: mismatches.isEmpty && failures.isEmpty)
    }
}
