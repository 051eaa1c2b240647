import Foundation

/// A corpus encoded once and searched by MaxSim, in the spec's file format (spec/bundle.md, "Index file"), so an
/// index built by `python -m export index` or any port is read here, and one written here by any of them.
public struct ColBERTIndex: Sendable {
    public enum DType: UInt32, Sendable {
        case float32 = 0, float16 = 1

        var size: Int { self == .float32 ? 4 : 2 }
    }

    static let magic: [UInt8] = Array("CBINDEX".utf8) + [0]
    static let version: UInt32 = 1
    static let headerSize = 80, checksumSize = 32

    public let dim: Int
    public let dtype: DType
    public let modelDigest: String  // lowercase hex sha256 of the bundle that encoded it
    public let offsets: [Int]  // document i owns vectors offsets[i] ..< offsets[i + 1]
    public let vectors: [Float]  // V x dim, row-major; float16 files widened to fp32
    public let metadata: [JSONValue]  // one value per document (its corpus line)

    public var count: Int { offsets.count - 1 }

    public func document(_ i: Int) -> TokenVectors {
        TokenVectors(values: Array(vectors[offsets[i] * dim ..< offsets[i + 1] * dim]), dim: dim)
    }

    /// Builds an index of encoded documents; with float16 the vectors are rounded as the file stores them.
    public init(documents: [TokenVectors], metadata: [JSONValue], modelDigest: String, dim: Int, dtype: DType = .float32) throws(IndexError) {
        guard documents.count == metadata.count else {
            throw IndexError(.corrupt, "\(documents.count) documents but \(metadata.count) metadata entries")
        }
        guard dim > 0, documents.allSatisfy({ $0.dim == dim }) else {
            throw IndexError(.corrupt, "every document's vectors must have dim \(dim)")
        }
        guard modelDigest.count == 64, Self.bytes(hex: modelDigest) != nil else {
            throw IndexError(.corrupt, "the model digest must be 64 hex digits")
        }
        var offsets = [0]
        var vectors: [Float] = []
        for document in documents {
            vectors += dtype == .float16 ? document.values.map { Half.float(Half.bits($0)) } : document.values
            offsets.append(offsets[offsets.count - 1] + document.count)
        }
        (self.dim, self.dtype, self.modelDigest, self.offsets, self.vectors, self.metadata) =
            (dim, dtype, modelDigest.lowercased(), offsets, vectors, metadata)
    }

    /// The file's bytes: header, offsets, vectors, metadata (Python's compact JSON), then their sha256.
    public func serialized() -> Data {
        var out: [UInt8] = Self.magic
        let meta = Array(JSONWriter.compact(.array(metadata)).utf8)
        for value in [Self.version, dtype.rawValue, UInt32(dim), 0] { out.appendLittleEndian(value) }
        for value in [UInt64(count), UInt64(vectors.count / dim), UInt64(meta.count)] { out.appendLittleEndian(value) }
        out += Self.bytes(hex: modelDigest) ?? Array(repeating: 0, count: 32)
        for offset in offsets { out.appendLittleEndian(UInt64(offset)) }
        out.reserveCapacity(out.count + vectors.count * dtype.size + meta.count + Self.checksumSize)
        for value in vectors {
            if dtype == .float32 { out.appendLittleEndian(value.bitPattern) } else { out.appendLittleEndian(Half.bits(value)) }
        }
        out += meta
        out += SHA256Digest.bytes(Data(out))
        return Data(out)
    }

    /// Written beside `url` and moved into place: a crash never leaves half an index.
    public func save(to url: URL) throws {
        try serialized().write(to: url, options: .atomic)
    }

    /// Reads and checks an exact index file (`IndexFile.load` reads either kind); with `modelDigest`, refuses one another model encoded (`other_model`).
    public static func load(from url: URL, modelDigest: String? = nil) throws(IndexError) -> ColBERTIndex {
        let index = try ColBERTIndex(serialized: try IndexFile.read(url), where: url.path)
        try IndexFile.check(digest: index.modelDigest, against: modelDigest, place: url.path)
        return index
    }

    /// The spec's checks in its order: magic, version, dtype/flags/dim, total size, checksum, offsets, metadata.
    public init(serialized data: Data, where place: String = "index") throws(IndexError) {
        let bytes = [UInt8](data)
        func corrupt(_ reason: String) -> IndexError { IndexError(.corrupt, "\(place) is not a usable index (\(reason)); rebuild it") }
        guard bytes.count >= Self.headerSize + 8 + Self.checksumSize else {
            throw corrupt(bytes.starts(with: Self.magic) || bytes.count < 8 ? "truncated header" : "not an index file")
        }
        guard bytes.starts(with: Self.magic) else { throw corrupt("not an index file") }
        let version = bytes.u32(8)
        guard version == Self.version else {
            throw version == CompressedColBERTIndex.version
                ? IndexError(.unknownVersion, "\(place) is a compressed index (format \(version)), not an exact one (format "
                    + "\(Self.version)): open it with IndexFile.load")
                : IndexFile.unknownVersion(version, place: place)
        }
        guard let dtype = DType(rawValue: bytes.u32(12)), bytes.u32(20) == 0, bytes.u32(16) > 0 else {
            throw corrupt("unknown dtype, flags or dim")
        }
        let dim = Int(bytes.u32(16))
        let (n, v, m) = (bytes.u64(24), bytes.u64(32), bytes.u64(40))
        // The expected size in checked arithmetic: a header with absurd counts is corrupt, never a crash.
        var expected: UInt64? = UInt64(Self.headerSize + Self.checksumSize)
        for (a, b) in [(n &+ 1, 8 as UInt64), (v, UInt64(dim * dtype.size)), (m, 1)] {
            guard n < UInt64.max, let sum = expected else { break }
            let (product, o1) = a.multipliedReportingOverflow(by: b)
            let (total, o2) = sum.addingReportingOverflow(product)
            expected = o1 || o2 ? nil : total
        }
        guard let expected, expected == UInt64(bytes.count) else {
            throw corrupt("\(bytes.count) bytes where the header says \(expected.map(String.init) ?? "more than can exist"): truncated or extended")
        }
        guard SHA256Digest.bytes(Data(bytes[..<(bytes.count - Self.checksumSize)])) == Array(bytes[(bytes.count - Self.checksumSize)...]) else {
            throw corrupt("checksum mismatch")
        }
        let count = Int(n), vectorCount = Int(v)
        var offsets: [Int] = []
        offsets.reserveCapacity(count + 1)
        for i in 0 ... count {
            let offset = bytes.u64(Self.headerSize + 8 * i)
            guard offset <= v, offsets.last.map({ UInt64($0) <= offset }) ?? (offset == 0) else { throw corrupt("document offsets out of order") }
            offsets.append(Int(offset))
        }
        guard offsets.last == vectorCount else { throw corrupt("document offsets out of order") }
        var at = Self.headerSize + 8 * (count + 1)
        var vectors: [Float] = []
        vectors.reserveCapacity(vectorCount * dim)
        for _ in 0 ..< vectorCount * dim {
            vectors.append(dtype == .float32 ? Float(bitPattern: bytes.u32(at)) : Half.float(bytes.u16(at)))
            at += dtype.size
        }
        guard case .array(let metadata)? = try? JSONReader.parse(Array(bytes[at ..< at + Int(m)])) else {
            throw corrupt("metadata is not UTF-8 JSON")
        }
        guard metadata.count == count else { throw corrupt("metadata is not one entry per document") }
        let digest = SHA256Digest.hex(bytes: bytes[48 ..< 80])
        (self.dim, self.dtype, self.modelDigest, self.offsets, self.vectors, self.metadata) = (dim, dtype, digest, offsets, vectors, metadata)
    }

    /// MaxSim of `query` with every document, fp32; 0 for an empty query or document.
    public func scores(_ query: TokenVectors) -> [Float] {
        guard query.dim == dim else { return Array(repeating: 0, count: count) }
        return (0 ..< count).map { doc in
            Scoring.maxSim(query, TokenVectors(values: Array(vectors[offsets[doc] * dim ..< offsets[doc + 1] * dim]), dim: dim))
        }
    }

    /// The k best documents, best first; equal scores keep corpus order.
    public func search(_ query: TokenVectors, k: Int) -> [(index: Int, score: Float)] {
        Scoring.top(scores(query), k: k)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i ..< i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { (0 ..< 4).reduce(UInt32(0)) { $0 | UInt32(self[at + $1]) << (8 * UInt32($1)) } }
    func u64(_ at: Int) -> UInt64 { (0 ..< 8).reduce(UInt64(0)) { $0 | UInt64(self[at + $1]) << (8 * UInt64($1)) } }
}
