import Foundation

/// The golden rule's result for a bundle on this device: ids exact, and every tolerance metric within bounds.
/// Keys as the CLI contract names them; a metric is null when it could not be measured (vector counts differ).
public struct SelfTestReport: Sendable, Encodable {
    public var passed: Bool
    public var idsExact: Bool
    public var idMismatches: [String]  // texts whose ids, mask or kept positions differ from golden.json
    public var cosineMin: Double?
    public var cosineMean: Double?
    public var maxsimRelativeErrorMax: Double?
    public var maxsimRelativeErrorP99: Double?
    public var top10Agreement: Double?
    public var failures: [String]  // bounds missed, or why nothing could be measured

    public init(passed: Bool, idsExact: Bool, idMismatches: [String], cosineMin: Double? = nil, cosineMean: Double? = nil,
                maxsimRelativeErrorMax: Double? = nil, maxsimRelativeErrorP99: Double? = nil, top10Agreement: Double? = nil,
                failures: [String]) {
        (self.passed, self.idsExact, self.idMismatches, self.failures) = (passed, idsExact, idMismatches, failures)
        (self.cosineMin, self.cosineMean, self.top10Agreement) = (cosineMin, cosineMean, top10Agreement)
        (self.maxsimRelativeErrorMax, self.maxsimRelativeErrorP99) = (maxsimRelativeErrorMax, maxsimRelativeErrorP99)
    }

    enum CodingKeys: String, CodingKey {
        case passed, idsExact, idMismatches, cosineMin, cosineMean, maxsimRelativeErrorMax, maxsimRelativeErrorP99
        case top10Agreement, failures
    }

    public func encode(to encoder: any Swift.Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(passed, forKey: .passed)
        try c.encode(idsExact, forKey: .idsExact)
        try c.encode(idMismatches, forKey: .idMismatches)
        for (key, value) in [(CodingKeys.cosineMin, cosineMin), (.cosineMean, cosineMean), (.maxsimRelativeErrorMax, maxsimRelativeErrorMax),
                             (.maxsimRelativeErrorP99, maxsimRelativeErrorP99), (.top10Agreement, top10Agreement)] {
            if let value, value.isFinite { try c.encode(value, forKey: key) } else { try c.encodeNil(forKey: key) }
        }
        try c.encode(failures, forKey: .failures)
    }
}

public enum SelfTest {
    /// Step 1 (each golden text's ids, mask and kept positions) through the tokenizer, then steps 2 to 5 on
    /// what the pipeline's encoder gives.
    public static func run(bundle: ColBERTBundle, pipeline: ColBERTPipeline) async throws -> SelfTestReport {
        let golden = bundle.golden
        let mismatches = idMismatches(golden, pipeline.tokenizer)
        let queries = try await pipeline.encode(golden.queries.map(\.text), isQuery: true)
        let documents = try await pipeline.encode(golden.documents.map(\.text), isQuery: false)
        let metrics: GoldenRule.Metrics
        do { metrics = try GoldenRule.measure(golden, queries: queries, documents: documents) } catch {
            return SelfTestReport(passed: false, idsExact: mismatches.isEmpty, idMismatches: mismatches, failures: ["vector_count: \(error.description)"])
        }
        let failures = GoldenRule.judge(golden, metrics)
        return SelfTestReport(passed: mismatches.isEmpty && failures.isEmpty, idsExact: mismatches.isEmpty, idMismatches: mismatches,
                              cosineMin: metrics.cosineMin, cosineMean: metrics.cosineMean,
                              maxsimRelativeErrorMax: metrics.maxsimRelErrMax, maxsimRelativeErrorP99: metrics.maxsimRelErrP99,
                              top10Agreement: metrics.top10Agreement, failures: failures)
    }

    /// Golden texts whose ids, mask or kept positions differ from golden.json (step 1).
    public static func idMismatches(_ golden: Golden, _ tokenizer: ColBERTTokenizer) -> [String] {
        var mismatches: [String] = []
        for (entries, isQuery) in [(golden.queries, true), (golden.documents, false)] {
            for entry in entries {
                let batch = tokenizer.encode([entry.text], isQuery: isQuery)
                if batch.inputIds[0] != entry.inputIds || batch.attentionMask[0] != entry.attentionMask
                    || batch.keptPositions(0) != entry.keptPositions {
                    mismatches.append(entry.text)
                }
            }
        }
        return mismatches
    }
}
