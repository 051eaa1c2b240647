import Foundation
#if canImport(Accelerate)
import Accelerate
#endif

/// One vector per kept token: `count` rows of `dim` floats, row-major.
public struct TokenVectors: Codable, Sendable, Equatable {
    public let count: Int
    public let dim: Int
    public let values: [Float]

    public init(rows: [[Float]], dim: Int) {
        precondition(rows.allSatisfy { $0.count == dim }, "every row must have \(dim) values")
        self.count = rows.count
        self.dim = dim
        self.values = rows.flatMap { $0 }
    }

    public init(values: [Float], dim: Int) {
        precondition(dim > 0 && values.count % dim == 0, "\(values.count) values are not rows of \(dim)")
        self.count = values.count / dim
        self.dim = dim
        self.values = values
    }
}

public enum Scoring {
    /// Sum over query vectors of the best dot product with any document vector, in fp32; 0 when either is empty.
    /// Accelerate (one matrix product) where it exists, plain loops elsewhere.
    public static func maxSim(_ query: TokenVectors, _ document: TokenVectors) -> Float {
        precondition(query.dim == document.dim, "query dim \(query.dim) != document dim \(document.dim)")
        guard query.count > 0, document.count > 0 else { return 0 }
        #if canImport(Accelerate)
        return acceleratedMaxSim(query, document)
        #else
        return loopMaxSim(query, document)
        #endif
    }

    #if canImport(Accelerate)
    /// Q (m x dim) times D transposed (dim x n), then each row's maximum, summed in query order as the loops do.
    static func acceleratedMaxSim(_ query: TokenVectors, _ document: TokenVectors) -> Float {
        let m = query.count, n = document.count, dim = query.dim
        var transposed = [Float](repeating: 0, count: dim * n)
        vDSP_mtrans(document.values, 1, &transposed, 1, vDSP_Length(dim), vDSP_Length(n))
        var similarities = [Float](repeating: 0, count: m * n)
        vDSP_mmul(query.values, 1, transposed, 1, &similarities, 1, vDSP_Length(m), vDSP_Length(n), vDSP_Length(dim))
        var total: Float = 0
        similarities.withUnsafeBufferPointer { rows in
            guard let base = rows.baseAddress else { return }
            for i in 0 ..< m {
                var best: Float = 0
                vDSP_maxv(base + i * n, 1, &best, vDSP_Length(n))
                total += best
            }
        }
        return total
    }
    #endif

    /// The reference: plain loops, fp32 accumulation.
    static func loopMaxSim(_ query: TokenVectors, _ document: TokenVectors) -> Float {
        let dim = query.dim
        var total: Float = 0
        query.values.withUnsafeBufferPointer { q in
            document.values.withUnsafeBufferPointer { d in
                for i in 0 ..< query.count {
                    var best = -Float.infinity
                    for j in 0 ..< document.count {
                        var dot: Float = 0
                        for k in 0 ..< dim { dot += q[i * dim + k] * d[j * dim + k] }
                        best = max(best, dot)
                    }
                    total += best
                }
            }
        }
        return total
    }

    /// The k best documents for a query as (index, score), best first; ties keep the lower index first.
    public static func rank(_ query: TokenVectors, _ documents: [TokenVectors], k: Int) -> [(index: Int, score: Float)] {
        top(documents.map { maxSim(query, $0) }, k: k)
    }

    /// The spec's rank order: the k highest scores as (index, score), best first; equal scores keep the lower
    /// index first.
    public static func top<Score: Comparable>(_ scores: [Score], k: Int) -> [(index: Int, score: Score)] {
        scores.enumerated().sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }
            .prefix(max(k, 0)).map { (index: $0.offset, score: $0.element) }
    }
}
