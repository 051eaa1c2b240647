import Foundation

/// A corpus in the spec's compressed index file (spec/bundle.md, "Compressed index file", index format 3): each
/// token vector stored as a centroid id and a 2-, 4- or 8-bit residual bucket per dimension, searched by centroid
/// scores first and by MaxSim over a few candidates' decompressed (and normalised) vectors last.
///
/// Every table is read once, at load, into a contiguous array; a search allocates only its own scratch.
public struct CompressedColBERTIndex: Sendable {
    static let version: UInt32 = 3
    static let headerSize = 128, checksumSize = 32, alignment = 64
    static let maxCentroids = 65536  // ids are u16

    public let dim: Int
    public let bits: Int  // per residual value: 2, 4 or 8
    public let modelDigest: String  // lowercase hex sha256 of the bundle that encoded it
    public let nprobe: Int  // the file's default: centroids probed per query vector
    public let candidates: Int  // the file's default: documents scored by MaxSim
    public let metadata: [JSONValue]  // one value per document (its corpus line)

    let centroids: [Float]  // K x dim, widened from the file's float16
    let cutoffs: [Float]  // 2^bits - 1, never decreasing
    let weights: [Float]  // 2^bits
    let offsets: [Int]  // document i owns vectors offsets[i] ..< offsets[i + 1]
    let codes: [UInt16]  // each vector's centroid
    let residuals: [UInt8]  // V rows of dim * bits / 8 bytes
    let listOffsets: [Int]  // centroid c's documents are lists[listOffsets[c] ..< listOffsets[c + 1]]
    let lists: [UInt32]
    let table: [Float]  // 256 x (8 / bits): the weights of the buckets packed in each byte value, low bits first

    public var count: Int { offsets.count - 1 }
    public var vectorCount: Int { codes.count }
    public var centroidCount: Int { listOffsets.count - 1 }

    // MARK: Reading

    /// Reads and checks a compressed index file; with `modelDigest`, refuses one another model encoded
    /// (`other_model`). `IndexFile.load` reads either kind.
    public static func load(from url: URL, modelDigest: String? = nil) throws(IndexError) -> CompressedColBERTIndex {
        let data = try IndexFile.read(url)
        let index = try CompressedColBERTIndex(serialized: data, where: url.path)
        try IndexFile.check(digest: index.modelDigest, against: modelDigest, place: url.path)
        return index
    }

    /// The spec's checks in its order: magic, version, b/flags/dim/K/nprobe/candidates/zero field, total size,
    /// checksum, then cutoffs, weights and centroids, offsets, codes, list offsets, lists, metadata.
    public init(serialized data: Data, where place: String = "index") throws(IndexError) {
        func corrupt(_ reason: String) -> IndexError { IndexError(.corrupt, "\(place) is not a usable index (\(reason)); rebuild it") }
        let version = try IndexFile.version(data, place: place)
        guard version == Self.version else {
            guard version == ColBERTIndex.version else { throw IndexFile.unknownVersion(version, place: place) }
            throw IndexError(.unknownVersion, "\(place) is index format \(version), not a compressed index (format "
                + "\(Self.version)): open it with IndexFile.load")
        }
        guard data.count >= Self.headerSize else { throw corrupt("truncated header") }
        let parsed = data.withUnsafeBytes { raw in
            Result { () throws(IndexError) in try Parsed(raw, size: data.count, corrupt: corrupt) }
        }
        let tables = try parsed.get()
        let payload = data.prefix(data.count - Self.checksumSize)
        guard SHA256Digest.bytes(payload) == Array(data.suffix(Self.checksumSize)) else { throw corrupt("checksum mismatch") }
        let contents = data.withUnsafeBytes { raw in
            Result { () throws(IndexError) in try Contents(raw, tables, corrupt: corrupt) }
        }
        let c = try contents.get()
        dim = tables.dim
        bits = tables.bits
        nprobe = tables.nprobe
        candidates = tables.candidates
        modelDigest = tables.digest
        (centroids, cutoffs, weights, offsets, codes, residuals, listOffsets, lists, metadata) =
            (c.centroids, c.cutoffs, c.weights, c.offsets, c.codes, c.residuals, c.listOffsets, c.lists, c.metadata)
        table = Self.unpackTable(weights: weights, bits: bits)
    }

    /// Where each section starts (each at the next multiple of 64 from the file's start), and the total size;
    /// nil when the counts describe a file larger than can exist.
    struct Layout {
        var centroids = 0, buckets = 0, offsets = 0, codes = 0, residuals = 0, listOffsets = 0, lists = 0, metadata = 0
        var total = 0

        init?(dim: UInt64, bits: UInt64, n: UInt64, v: UInt64, k: UInt64, p: UInt64, m: UInt64) {
            func times(_ a: UInt64, _ b: UInt64) -> UInt64? {
                let (product, overflow) = a.multipliedReportingOverflow(by: b)
                return overflow ? nil : product
            }
            guard let centroidBytes = times(k, dim).flatMap({ times($0, 2) }),
                  let offsetBytes = n < .max ? times(n + 1, 8) : nil,
                  let codeBytes = times(v, 2),
                  let residualBytes = times(v, dim).flatMap({ times($0, bits) }).map({ $0 / 8 }),
                  let listBytes = times(p, 4)
            else { return nil }
            let sizes: [UInt64] = [centroidBytes, ((1 << bits) * 2 - 1) * 4, offsetBytes, codeBytes, residualBytes, (k + 1) * 8, listBytes]
            var at = UInt64(CompressedColBERTIndex.headerSize)
            var starts: [Int] = []
            let limit = UInt64(Int.max) / 2  // so that every Int computed from these is safe
            for size in sizes {
                starts.append(Int(at))
                guard size < limit, at < limit else { return nil }
                at = (at + size + 63) / 64 * 64
                guard at < limit else { return nil }
            }
            guard m < limit, at + m + UInt64(CompressedColBERTIndex.checksumSize) < limit else { return nil }
            (centroids, buckets, offsets, codes, residuals, listOffsets, lists) =
                (starts[0], starts[1], starts[2], starts[3], starts[4], starts[5], starts[6])
            metadata = Int(at)
            total = Int(at + m) + CompressedColBERTIndex.checksumSize
        }
    }

    /// The header's fields, checked, and the layout they give: everything before the checksum is tested.
    private struct Parsed {
        let dim: Int, bits: Int, n: Int, v: Int, m: Int, k: Int, p: Int, nprobe: Int, candidates: Int
        let digest: String
        let layout: Layout

        init(_ raw: UnsafeRawBufferPointer, size: Int, corrupt: (String) -> IndexError) throws(IndexError) {
            let (dim, bits, flags) = (raw.le(UInt32.self, 12), raw.le(UInt32.self, 16), raw.le(UInt32.self, 20))
            let (k, nprobe, candidates, zero) = (raw.le(UInt32.self, 80), raw.le(UInt32.self, 84), raw.le(UInt32.self, 88), raw.le(UInt32.self, 92))
            guard bits == 2 || bits == 4 || bits == 8 else { throw corrupt("\(bits) bits per residual value; the format has 2, 4 or 8") }
            guard flags == 0 else { throw corrupt("unknown flags \(flags)") }
            guard dim > 0, UInt64(dim) * UInt64(bits) % 8 == 0 else { throw corrupt("dim \(dim) at \(bits) bits does not fill whole bytes") }
            guard k >= 1, Int(k) <= CompressedColBERTIndex.maxCentroids else { throw corrupt("\(k) centroids; the format has 1 to 65536") }
            guard nprobe >= 1, candidates >= 1 else { throw corrupt("nprobe and candidates must be at least 1") }
            guard zero == 0 else { throw corrupt("the header's reserved field is not zero") }
            let (n, v, m, p) = (raw.le(UInt64.self, 24), raw.le(UInt64.self, 32), raw.le(UInt64.self, 40), raw.le(UInt64.self, 96))
            let layout = Layout(dim: UInt64(dim), bits: UInt64(bits), n: n, v: v, k: UInt64(k), p: p, m: m)
            guard let layout, layout.total == size else {
                throw corrupt("\(size) bytes where the header says \(layout.map { String($0.total) } ?? "more than can exist"): truncated or extended")
            }
            // Every count is now bounded by the file's size, so it fits an Int.
            (self.dim, self.bits, self.n, self.v, self.m, self.k, self.p) = (Int(dim), Int(bits), Int(n), Int(v), Int(m), Int(k), Int(p))
            (self.nprobe, self.candidates, self.layout) = (Int(nprobe), Int(candidates), layout)
            digest = SHA256Digest.hex(bytes: raw[48 ..< 80])
        }
    }

    /// The tables, each checked as the spec orders it (after the checksum).
    private struct Contents {
        var centroids: [Float], cutoffs: [Float], weights: [Float], offsets: [Int], codes: [UInt16], residuals: [UInt8]
        var listOffsets: [Int], lists: [UInt32], metadata: [JSONValue]

        init(_ raw: UnsafeRawBufferPointer, _ h: Parsed, corrupt: (String) -> IndexError) throws(IndexError) {
            let at = h.layout, levels = 1 << h.bits
            cutoffs = (0 ..< levels - 1).map { Float(bitPattern: raw.le(UInt32.self, at.buckets + 4 * $0)) }
            weights = (0 ..< levels).map { Float(bitPattern: raw.le(UInt32.self, at.buckets + 4 * (levels - 1 + $0))) }
            guard cutoffs.allSatisfy(\.isFinite), zip(cutoffs, cutoffs.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw corrupt("bucket cutoffs not finite or out of order")
            }
            guard weights.allSatisfy(\.isFinite) else { throw corrupt("a bucket weight is not finite") }
            centroids = raw.array(UInt16.self, at: at.centroids, count: h.k * h.dim).map(Half.float)
            guard centroids.allSatisfy(\.isFinite) else { throw corrupt("a centroid is not finite") }
            offsets = try Self.offsets(raw.array(UInt64.self, at: at.offsets, count: h.n + 1), end: h.v) {
                corrupt("document offsets out of order")
            }
            codes = raw.array(UInt16.self, at: at.codes, count: h.v)
            guard codes.allSatisfy({ Int($0) < h.k }) else { throw corrupt("a centroid id past the centroids") }
            residuals = Array(UnsafeRawBufferPointer(rebasing: raw[at.residuals ..< at.residuals + h.v * h.dim * h.bits / 8]))
            listOffsets = try Self.offsets(raw.array(UInt64.self, at: at.listOffsets, count: h.k + 1), end: h.p) {
                corrupt("inverted-list offsets out of order")
            }
            lists = raw.array(UInt32.self, at: at.lists, count: h.p)
            guard lists.allSatisfy({ Int($0) < h.n }) else { throw corrupt("an inverted list names a document past the corpus") }
            for c in 0 ..< h.k where listOffsets[c] < listOffsets[c + 1] {
                for e in listOffsets[c] + 1 ..< listOffsets[c + 1] where lists[e - 1] >= lists[e] {
                    throw corrupt("an inverted list is not ascending")
                }
            }
            let bytes = Array(UnsafeRawBufferPointer(rebasing: raw[at.metadata ..< at.metadata + h.m]))
            guard case .array(let metadata)? = try? JSONReader.parse(bytes) else { throw corrupt("metadata is not UTF-8 JSON") }
            guard metadata.count == h.n else { throw corrupt("metadata is not one entry per document") }
            self.metadata = metadata
        }

        /// Offsets from 0 to `end`, never decreasing.
        static func offsets(_ values: [UInt64], end: Int, _ error: () -> IndexError) throws(IndexError) -> [Int] {
            guard values.first == 0, values.last == UInt64(end), zip(values, values.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw error()
            }
            return values.map { Int($0) }
        }
    }

    /// [256 x (8 / bits)]: for each byte value, the weights of the buckets packed in it, lowest bits first (at 8
    /// bits, the weights themselves).
    static func unpackTable(weights: [Float], bits: Int) -> [Float] {
        let per = 8 / bits, mask = (1 << bits) - 1
        var table: [Float] = []
        table.reserveCapacity(256 * per)
        for byte in 0 ..< 256 {
            for e in 0 ..< per { table.append(weights[(byte >> (e * bits)) & mask]) }
        }
        return table
    }

    // MARK: Decompressing

    /// Document `i`'s vectors as a search scores them: the widened centroid plus its bucket's weight, divided by
    /// the vector's length unless that is 0.
    public func document(_ i: Int) -> TokenVectors {
        var values = [Float](repeating: 0, count: (offsets[i + 1] - offsets[i]) * dim)
        values.withUnsafeMutableBufferPointer { out in
            withDecompressor { decompress in
                for (row, t) in (offsets[i] ..< offsets[i + 1]).enumerated() {
                    decompress(t, UnsafeMutableBufferPointer(rebasing: out[row * dim ..< (row + 1) * dim]))
                }
            }
        }
        return TokenVectors(values: values, dim: dim)
    }

    /// Runs `body` with a function that decompresses vector t into dim floats, the spec's three steps in fp32:
    /// y[j] = the centroid's value plus the bucket's weight (one addition; the buckets of a byte looked up at
    /// once); n = the square root of the sum of y[j] * y[j] in order from +0, summed as y fills; then, if n > 0,
    /// each y[j] divided by n (a division, not a multiplication by 1 / n, which can round differently).
    func withDecompressor<R>(_ body: ((Int, UnsafeMutableBufferPointer<Float>) -> Void) -> R) -> R {
        let per = 8 / bits, rowBytes = self.dim * bits / 8, dim = self.dim
        return centroids.withUnsafeBufferPointer { centroids in
            codes.withUnsafeBufferPointer { codes in
                residuals.withUnsafeBufferPointer { residuals in
                    table.withUnsafeBufferPointer { table in
                        body { t, out in
                            let centroid = Int(codes[t]) * dim, row = t * rowBytes
                            var squares: Float = 0
                            for b in 0 ..< rowBytes {
                                let weights = Int(residuals[row + b]) * per, j = b * per
                                for e in 0 ..< per {
                                    let y = centroids[centroid + j + e] + table[weights + e]
                                    out[j + e] = y
                                    squares += y * y
                                }
                            }
                            let n = squares.squareRoot()
                            guard n > 0 else { return }
                            for j in 0 ..< dim { out[j] /= n }
                        }
                    }
                }
            }
        }
    }

    // MARK: Searching

    /// The spec's five steps: the k best documents by MaxSim over decompressed vectors, among the `candidates`
    /// best by centroid score; best first, equal scores in corpus order. `nprobe` and `candidates` default to the
    /// file's (and are taken as at least 1). An empty query, a query of another dim, or k < 1 has no hits.
    public func search(_ query: TokenVectors, k: Int, nprobe: Int? = nil, candidates: Int? = nil) -> [(index: Int, score: Float)] {
        guard query.count > 0, query.dim == dim, k > 0 else { return [] }
        let q = Self.transposed(query)
        let found = candidatesByCentroidScore(q, rows: query.count, nprobe: max(1, nprobe ?? self.nprobe),
                                              candidates: max(1, candidates ?? self.candidates))
        let scores = maxSims(q, rows: query.count, documents: found)  // step 5
        return zip(found, scores).sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            .prefix(k).map { (index: $0.0, score: $0.1) }
    }

    /// Steps 1 to 4: the documents to score, best centroid score first, ties to the lower index.
    func candidatesByCentroidScore(_ q: [Float], rows: Int, nprobe: Int, candidates: Int) -> [Int] {
        let k = centroidCount, probes = min(nprobe, k)
        // Step 1: S[c][i] = Q[i] . centroid c, fp32, dimensions summed in order.
        var s = [Float](repeating: 0, count: k * rows)
        q.withUnsafeBufferPointer { q in
            centroids.withUnsafeBufferPointer { centroids in
                s.withUnsafeMutableBufferPointer { s in
                    for c in 0 ..< k {
                        Self.dots(q, rows: rows, UnsafeBufferPointer(rebasing: centroids[c * dim ..< (c + 1) * dim]),
                                  into: UnsafeMutableBufferPointer(rebasing: s[c * rows ..< (c + 1) * rows]))
                    }
                }
            }
        }
        var score = [Float](repeating: 0, count: count)
        var touched: [Int] = []  // every document in a probed list, in the order first met
        s.withUnsafeBufferPointer { s in
            listOffsets.withUnsafeBufferPointer { listOffsets in
                lists.withUnsafeBufferPointer { lists in
                    // Step 2: per query vector, the `probes` highest S[.][i], best first, ties to the lower id
                    // (c ascends, so an equal score never displaces an earlier centroid).
                    var chosen: [[(score: Float, centroid: Int)]] = []
                    chosen.reserveCapacity(rows)
                    var listed = [Bool](repeating: false, count: count)
                    for i in 0 ..< rows {
                        var best: [(score: Float, centroid: Int)] = []
                        best.reserveCapacity(probes + 1)
                        for c in 0 ..< k {
                            let value = s[c * rows + i]
                            if best.count == probes {
                                guard let last = best.last, value > last.score else { continue }
                                best.removeLast()
                            }
                            let at = best.firstIndex { $0.score < value } ?? best.count
                            best.insert((value, c), at: at)
                        }
                        for probe in best {
                            for e in listOffsets[probe.centroid] ..< listOffsets[probe.centroid + 1] {
                                let d = Int(lists[e])
                                if !listed[d] { listed[d] = true; touched.append(d) }
                            }
                        }
                        chosen.append(best)
                    }
                    // Step 3: per query vector in order, each listed document adds the first (so the highest)
                    // probed score whose list holds it, or the query vector's lowest probed score if none does.
                    var best = [Float](repeating: 0, count: count)
                    var bestFor = [Int](repeating: -1, count: count)  // the query vector `best` holds a score of
                    for (i, probes) in chosen.enumerated() {
                        guard let lowest = probes.last?.score else { continue }
                        for probe in probes {
                            for e in listOffsets[probe.centroid] ..< listOffsets[probe.centroid + 1] {
                                let d = Int(lists[e])
                                if bestFor[d] != i { bestFor[d] = i; best[d] = probe.score }
                            }
                        }
                        for d in touched { score[d] += bestFor[d] == i ? best[d] : lowest }
                    }
                }
            }
        }
        // Step 4.
        touched.sort { score[$0] != score[$1] ? score[$0] > score[$1] : $0 < $1 }
        return Array(touched.prefix(candidates))
    }

    /// Step 5: MaxSim of the query with each document's decompressed vectors, fp32; 0 for a document without.
    func maxSims(_ q: [Float], rows: Int, documents: [Int]) -> [Float] {
        var vector = [Float](repeating: 0, count: dim)
        var dots = [Float](repeating: 0, count: rows)
        var best = [Float](repeating: 0, count: rows)
        return q.withUnsafeBufferPointer { q in
            vector.withUnsafeMutableBufferPointer { vector in
                dots.withUnsafeMutableBufferPointer { dots in
                    best.withUnsafeMutableBufferPointer { best in
                        withDecompressor { decompress in
                            documents.map { (d: Int) -> Float in
                                guard offsets[d] < offsets[d + 1] else { return 0 }
                                for i in 0 ..< rows { best[i] = -.infinity }
                                for t in offsets[d] ..< offsets[d + 1] {
                                    decompress(t, vector)
                                    Self.dots(q, rows: rows, UnsafeBufferPointer(vector), into: dots)
                                    for i in 0 ..< rows where dots[i] > best[i] { best[i] = dots[i] }
                                }
                                var total: Float = 0  // summed in query order, from +0
                                for i in 0 ..< rows { total += best[i] }
                                return total
                            }
                        }
                    }
                }
            }
        }
    }

    /// The query dimension-major (dim x rows), so that one vector's dot products with every query vector run
    /// side by side: each is still summed over dimensions in order, from +0, in fp32.
    static func transposed(_ query: TokenVectors) -> [Float] {
        var out = [Float](repeating: 0, count: query.values.count)
        let (rows, dim) = (query.count, query.dim)
        for i in 0 ..< rows {
            for j in 0 ..< dim { out[j * rows + i] = query.values[i * dim + j] }
        }
        return out
    }

    /// out[i] = sum over j (in order) of q[j][i] * vector[j], for every query vector i.
    @inline(__always)
    static func dots(_ q: UnsafeBufferPointer<Float>, rows: Int, _ vector: UnsafeBufferPointer<Float>,
                     into out: UnsafeMutableBufferPointer<Float>) {
        for i in 0 ..< rows { out[i] = 0 }
        for j in 0 ..< vector.count {
            let x = vector[j], column = j * rows
            for i in 0 ..< rows { out[i] += q[column + i] * x }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// A little-endian integer at a byte offset (any alignment).
    func le<T: FixedWidthInteger & BitwiseCopyable>(_: T.Type, _ offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// `count` little-endian integers from a byte offset.
    func array<T: FixedWidthInteger & BitwiseCopyable>(_: T.Type, at offset: Int, count: Int) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0 ..< count { buffer[i] = le(T.self, offset + i * MemoryLayout<T>.size) }
            initialized = count
        }
    }
}
