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
        let scored = documents.enumerated().map { (index: $0.offset, score: maxSim(query, $0.element)) }
        let ordered = scored.sorted { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        return Array(ordered.prefix(max(k, 0)))
    }
}

/// Errors of the on-disk index, naming what is wrong.
public enum IndexError: Error, Equatable, Sendable, CustomStringConvertible {
    case dimensionMismatch(expected: Int, got: Int)
    case corrupt(String)

    public var description: String {
        switch self {
        case .dimensionMismatch(let expected, let got): "vectors of dim \(got) do not fit an index of dim \(expected)"
        case .corrupt(let reason): "the index file is corrupt (\(reason)); rebuild it"
        }
    }
}

/// An in-memory multi-vector index: documents indexed once, searched by MaxSim, saved as one file.
public struct MultiVectorIndex: Sendable {
    public let dim: Int
    public private(set) var ids: [String] = []
    public private(set) var documents: [TokenVectors] = []

    static let magic: [UInt8] = Array("CBKI".utf8)
    static let version: UInt32 = 1

    public init(dim: Int) { self.dim = dim }

    public mutating func add(id: String, vectors: TokenVectors) throws(IndexError) {
        guard vectors.dim == dim else { throw .dimensionMismatch(expected: dim, got: vectors.dim) }
        ids.append(id)
        documents.append(vectors)
    }

    public func search(_ query: TokenVectors, k: Int) -> [(id: String, score: Float)] {
        Scoring.rank(query, documents, k: k).map { (id: ids[$0.index], score: $0.score) }
    }

    /// magic, version, dim, count; per document: id length, id (UTF-8), rows, rows * dim little-endian fp32.
    public func serialized() -> Data {
        var data = Data(Self.magic)
        for value in [Self.version, UInt32(dim), UInt32(ids.count)] { data.appendLittleEndian(value) }
        for (id, vectors) in zip(ids, documents) {
            let utf8 = Array(id.utf8)
            data.appendLittleEndian(UInt32(utf8.count))
            data.append(contentsOf: utf8)
            data.appendLittleEndian(UInt32(vectors.count))
            for value in vectors.values { data.appendLittleEndian(value.bitPattern) }
        }
        return data
    }

    public init(serialized data: Data) throws(IndexError) {
        var reader = Reader(data: [UInt8](data))
        guard reader.bytes(4) == Self.magic else { throw .corrupt("not a ColBERTKit index") }
        guard let version = reader.uint32(), version == Self.version else { throw .corrupt("unknown version") }
        guard let dim = reader.uint32(), dim > 0, let count = reader.uint32() else { throw .corrupt("truncated header") }
        self.dim = Int(dim)
        for n in 0 ..< Int(count) {
            guard let idLength = reader.uint32(), let idBytes = reader.bytes(Int(idLength)),
                  let id = String(bytes: idBytes, encoding: .utf8), let rows = reader.uint32(),
                  let floats = reader.floats(Int(rows) * Int(dim))
            else { throw .corrupt("document \(n) is truncated") }
            try add(id: id, vectors: TokenVectors(values: floats, dim: Int(dim)))
        }
        guard reader.atEnd else { throw .corrupt("trailing bytes") }
    }

    public func save(to url: URL) throws { try serialized().write(to: url, options: .atomic) }

    public static func load(from url: URL) throws -> MultiVectorIndex { try MultiVectorIndex(serialized: Data(contentsOf: url)) }
}

private extension Data {
    mutating func appendLittleEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

private struct Reader {
    let data: [UInt8]
    var offset = 0

    var atEnd: Bool { offset == data.count }

    mutating func bytes(_ n: Int) -> [UInt8]? {
        guard n >= 0, offset + n <= data.count else { return nil }
        defer { offset += n }
        return Array(data[offset ..< offset + n])
    }

    mutating func uint32() -> UInt32? {
        bytes(4).map { b in (0 ..< 4).reduce(UInt32(0)) { $0 | UInt32(b[$1]) << (8 * UInt32($1)) } }
    }

    mutating func floats(_ n: Int) -> [Float]? {
        var out: [Float] = []
        out.reserveCapacity(n)
        for _ in 0 ..< n {
            guard let bits = uint32() else { return nil }
            out.append(Float(bitPattern: bits))
        }
        return out
    }
}
