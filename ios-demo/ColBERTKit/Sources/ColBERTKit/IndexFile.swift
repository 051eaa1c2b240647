import Foundation

/// An index file of either kind (spec/bundle.md, "Index file" and "Compressed index file"), chosen by its
/// format version: 1 the exact file, 3 the compressed one (2, the compressed format before decompressed vectors
/// were normalised, is `unknown_version` like any other).
public enum IndexFile: Sendable {
    case exact(ColBERTIndex)
    case compressed(CompressedColBERTIndex)

    /// Reads (memory-mapped) and checks an index file of either kind; with `modelDigest`, refuses one another
    /// model encoded (`other_model`).
    public static func load(from url: URL, modelDigest: String? = nil) throws(IndexError) -> IndexFile {
        let index = try IndexFile(serialized: try read(url), where: url.path)
        try check(digest: index.modelDigest, against: modelDigest, place: url.path)
        return index
    }

    /// The magic, then the version picks the reader, which checks the rest in the spec's order.
    public init(serialized data: Data, where place: String = "index") throws(IndexError) {
        switch try Self.version(data, place: place) {
        case ColBERTIndex.version: self = .exact(try ColBERTIndex(serialized: data, where: place))
        case CompressedColBERTIndex.version: self = .compressed(try CompressedColBERTIndex(serialized: data, where: place))
        case let version: throw Self.unknownVersion(version, place: place)
        }
    }

    public var dim: Int {
        switch self {
        case .exact(let index): index.dim
        case .compressed(let index): index.dim
        }
    }

    public var count: Int {
        switch self {
        case .exact(let index): index.count
        case .compressed(let index): index.count
        }
    }

    public var modelDigest: String {
        switch self {
        case .exact(let index): index.modelDigest
        case .compressed(let index): index.modelDigest
        }
    }

    public var metadata: [JSONValue] {
        switch self {
        case .exact(let index): index.metadata
        case .compressed(let index): index.metadata
        }
    }

    /// The k best documents, best first, equal scores in corpus order: every document by MaxSim (exact), or the
    /// compressed search with the file's nprobe and candidates.
    public func search(_ query: TokenVectors, k: Int) -> [(index: Int, score: Float)] {
        switch self {
        case .exact(let index): index.search(query, k: k)
        case .compressed(let index): index.search(query, k: k)
        }
    }

    // MARK: Shared by both readers

    /// The file's bytes, mapped rather than copied where the system can.
    static func read(_ url: URL) throws(IndexError) -> Data {
        do { return try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw IndexError(.unreadable, "\(url.path): cannot read it (\(error.localizedDescription))")
        }
    }

    /// The magic (else `corrupt`) and the version, the two fields both kinds share.
    static func version(_ data: Data, place: String) throws(IndexError) -> UInt32 {
        let head = [UInt8](data.prefix(12))
        guard head.starts(with: ColBERTIndex.magic.prefix(head.count)) else {
            throw IndexError(.corrupt, "\(place) is not a usable index (not an index file); rebuild it")
        }
        guard head.count == 12 else { throw IndexError(.corrupt, "\(place) is not a usable index (truncated header); rebuild it") }
        return head.u32(8)
    }

    /// `unknown_version` for a format neither reader knows; format 2 (the compressed file before its decompressed
    /// vectors were normalised) would search differently, so it is rebuilt, not read.
    static func unknownVersion(_ version: UInt32, place: String) -> IndexError {
        let known = "ColBERTKit reads \(ColBERTIndex.version) (exact) and \(CompressedColBERTIndex.version) (compressed)"
        return version == 2
            ? IndexError(.unknownVersion, "\(place) is a compressed index of format 2, from before decompressed vectors were "
                + "normalised; \(known): rebuild it")
            : IndexError(.unknownVersion, "\(place) is index format \(version); \(known): rebuild the index or upgrade ColBERTKit")
    }

    /// `other_model` unless the index was built with the bundle whose digest is `expected` (when given).
    static func check(digest: String, against expected: String?, place: String) throws(IndexError) {
        guard let expected, digest != expected.lowercased() else { return }
        throw IndexError(.otherModel, "\(place) was built with another model (digest \(digest.prefix(12)), "
            + "this bundle's is \(expected.prefix(12))); rebuild it with this bundle")
    }
}
