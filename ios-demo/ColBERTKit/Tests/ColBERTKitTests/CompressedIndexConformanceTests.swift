import Foundation
import XCTest

@testable import ColBERTKit

/// spec/conformance/compressed-index.jsonl with its three .cbindex files (spec/bundle.md, "Compressed index file",
/// format 3).
final class CompressedIndexConformanceTests: XCTestCase {
    static let files = ["4bit", "2bit", "8bit"]

    /// The file the header names under `key` ("4bit", "2bit", "8bit"): its bytes, held to the header's sha256, and
    /// read.
    func load(_ file: VectorFile, _ key: String) throws -> (Data, CompressedColBERTIndex) {
        let name = try XCTUnwrap(file.header["files"][key]["file"].string, "the header names no \(key) file")
        let data = try Data(contentsOf: try Env.conformance(name))
        XCTAssertEqual(SHA256Digest.hex(data), file.header["files"][key]["sha256"].string, name)
        guard case .compressed(let index) = try IndexFile(serialized: data, where: name) else {
            throw TestFailure("\(name) was not read as a compressed index")
        }
        return (data, index)
    }

    func testEveryFileInTheHeaderLoadsWithItsFields() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        let keys = try XCTUnwrap(file.header["files"].object).keys
        XCTAssertEqual(Set(keys), Set(Self.files))
        for key in keys {
            let (_, index) = try load(file, key)
            let expected = file.header["files"][key]
            XCTAssertEqual(index.bits, expected["bits"].int, key)
            XCTAssertEqual(index.nprobe, expected["nprobe"].int, key)
            XCTAssertEqual(index.candidates, expected["candidates"].int, key)
            XCTAssertEqual(index.dim, file.header["dim"].int, key)
            XCTAssertEqual(index.count, file.header["documents"].int, key)
            XCTAssertEqual(index.modelDigest, file.header["model_digest"].string, key)
            XCTAssertEqual(index.metadata, file.header["metadata"].array, key)
        }
    }

    func testEveryCaseGivesItsHitsExactly() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        let dim = try XCTUnwrap(file.header["dim"].int)
        var indexes: [String: CompressedColBERTIndex] = [:]
        for key in try XCTUnwrap(file.header["files"].object).keys { indexes[key] = try load(file, key).1 }
        for key in Self.files { XCTAssertEqual(file.cases.filter { $0["file"].string == key }.count, 14, key) }
        XCTAssertEqual(file.cases.count, 14 * Self.files.count)
        for c in file.cases {
            let name = c["name"].string ?? "?"
            let index = try XCTUnwrap(indexes[c["file"].string ?? "?"], "\(name): unknown file \(c["file"])")
            let hits = index.search(c["query"].vectors(dim: dim), k: try XCTUnwrap(c["k"].int), nprobe: c["nprobe"].int,
                                    candidates: c["candidates"].int)
            XCTAssertEqual(hits.map(\.index), c["hits"].array.compactMap { $0["index"].int }, name)
            XCTAssertEqual(hits.map(\.score), c["hits"].array.compactMap { $0["score"].double.map(Float.init) }, name)
        }
    }

    func testEveryMutationGetsItsKind() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        let (data, _) = try load(file, "4bit")
        let mutations = file.header["mutations"].array
        XCTAssertEqual(mutations.count, 17)
        XCTAssertTrue(mutations.contains { $0["name"].string == "before-normalising" }, "format 2 is not among the mutations")
        for m in mutations {
            let name = m["name"].string ?? "?"
            var bytes = [UInt8](data)
            var digest: String?
            func set(_ width: Int) throws {
                let offset = try XCTUnwrap(m["offset"].int, name), value = UInt64(try XCTUnwrap(m["value"].int, name))
                for i in 0 ..< width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
            }
            switch m["op"].string {
            case "truncate": bytes = Array(bytes.prefix(try XCTUnwrap(m["bytes"].int, name)))
            case "append": bytes += Array(repeating: 0, count: try XCTUnwrap(m["bytes"].int, name))
            case "flip_byte":
                let offset = try XCTUnwrap(m["offset"].int, name)
                bytes[offset < 0 ? bytes.count + offset : offset] ^= 1
            case "set_u16": try set(2)
            case "set_u32": try set(4)
            case "expect_digest": digest = try XCTUnwrap(m["value"].string, name)
            default: XCTFail("\(name): unknown op \(m["op"])"); continue
            }
            if case .bool(true) = m["rehash"] {
                let body = bytes.count - 32
                bytes.replaceSubrange(body..., with: SHA256Digest.bytes(Data(bytes[..<body])))
            }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("mutated-\(UUID()).cbindex")
            defer { try? FileManager.default.removeItem(at: url) }
            try Data(bytes).write(to: url)
            XCTAssertThrowsError(try IndexFile.load(from: url, modelDigest: digest), name) { error in
                XCTAssertEqual((error as? IndexError)?.kind.rawValue, m["error"].string, "\(name): \(error)")
            }
        }
    }

    func testTheUnmutatedFileLoadsWithItsOwnDigest() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        let name = try XCTUnwrap(file.header["files"]["4bit"]["file"].string)
        let loaded = try IndexFile.load(from: try Env.conformance(name), modelDigest: file.header["model_digest"].string)
        XCTAssertEqual(loaded.count, file.header["documents"].int)
    }

    func testOneEntryPointReadsBothKindsAndEachReaderNamesTheOther() throws {
        let exact = try Env.conformance("small-float32.cbindex")
        guard case .exact(let index) = try IndexFile.load(from: exact) else { return XCTFail("format 1 not read as the exact file") }
        XCTAssertEqual(index.count, 40)
        let compressed = try Env.conformance("small-compressed-2bit.cbindex")
        XCTAssertThrowsError(try ColBERTIndex.load(from: compressed)) { error in
            XCTAssertEqual((error as? IndexError)?.kind, .unknownVersion)
            XCTAssertTrue("\(error)".contains("IndexFile.load"), "\(error)")
        }
        XCTAssertThrowsError(try CompressedColBERTIndex.load(from: exact)) { error in
            XCTAssertEqual((error as? IndexError)?.kind, .unknownVersion)
        }
        XCTAssertThrowsError(try IndexFile(serialized: Data("CBIN".utf8))) { error in
            XCTAssertEqual((error as? IndexError)?.kind, .corrupt)
        }
        // Format 2, the compressed file before its decompressed vectors were normalised: refused by every reader,
        // saying to rebuild it.
        var old = [UInt8](try Data(contentsOf: compressed))
        old[8] = 2
        for read in [{ _ = try IndexFile(serialized: Data(old)) }, { _ = try CompressedColBERTIndex(serialized: Data(old)) },
                     { _ = try ColBERTIndex(serialized: Data(old)) }] as [() throws -> Void] {
            XCTAssertThrowsError(try read()) { error in
                XCTAssertEqual((error as? IndexError)?.kind, .unknownVersion)
                XCTAssertTrue("\(error)".contains("format 2") && "\(error)".contains("rebuild it"), "\(error)")
            }
        }
    }

    /// The spec's decompression written out plainly: dimension j's bucket in bits (j·b mod 8) and up of byte
    /// ⌊j·b/8⌋; y[j] = the widened centroid's value plus the bucket's weight; n = the square root of the squares
    /// summed in order, all in fp32; each y[j] divided by n if n > 0.
    static func decompressed(_ index: CompressedColBERTIndex, _ t: Int, divide: Bool = true) -> [Float] {
        let dim = index.dim, b = index.bits, rowBytes = dim * b / 8
        let y: [Float] = (0 ..< dim).map { j in
            let byte = index.residuals[t * rowBytes + j * b / 8]
            let bucket = Int(byte >> UInt8(j * b % 8)) & ((1 << b) - 1)
            return index.centroids[Int(index.codes[t]) * dim + j] + index.weights[bucket]
        }
        var squares: Float = 0
        for value in y { squares += value * value }
        let n = squares.squareRoot()
        guard n > 0 else { return y }
        let reciprocal = 1 / n
        return y.map { divide ? $0 / n : $0 * reciprocal }
    }

    /// Every vector of `index`, as `document` gives it, against the plain decompression; the number of vectors
    /// whose values multiplying by 1 / n would have changed.
    func checkDecompressing(_ index: CompressedColBERTIndex, _ name: String) -> Int {
        var reciprocalDiffers = 0
        for d in 0 ..< index.count {
            let vectors = index.document(d), dim = index.dim
            XCTAssertEqual(vectors.count, index.offsets[d + 1] - index.offsets[d])
            for (row, t) in (index.offsets[d] ..< index.offsets[d + 1]).enumerated() {
                let expected = Self.decompressed(index, t)
                XCTAssertEqual(Array(vectors.values[row * dim ..< (row + 1) * dim]).map(\.bitPattern), expected.map(\.bitPattern),
                               "\(name) vector \(t)")
                if Self.decompressed(index, t, divide: false) != expected { reciprocalDiffers += 1 }
            }
        }
        return reciprocalDiffers
    }

    /// The lookup table and the normalising against the spec's steps, one dimension at a time; the files hold
    /// a vector that decompresses to zeros (left as it is) and lengths 1/2 to 4.
    func testDecompressingIsTheCentroidPlusTheBucketsWeightOverTheLength() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        for key in Self.files {
            let (_, index) = try load(file, key)
            _ = checkDecompressing(index, key)
            let zeros = (0 ..< index.vectorCount).filter { (t: Int) -> Bool in Self.decompressed(index, t).allSatisfy { $0 == 0 } }
            XCTAssertFalse(zeros.isEmpty, "\(key): no vector decompresses to zeros")
        }
    }

    /// The conformance files' lengths are all 0 or powers of two, where dividing and multiplying by the reciprocal
    /// agree; here the 4-bit file's weights are rewritten (checksum recomputed) so that lengths are not, and the
    /// decompression still divides.
    func testDecompressingDividesByTheLength() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        var bytes = [UInt8](try load(file, "4bit").0)
        let (dim, bits) = (UInt64(bytes.u32(12)), UInt64(bytes.u32(16)))
        let layout = try XCTUnwrap(CompressedColBERTIndex.Layout(dim: dim, bits: bits, n: bytes.u64(24), v: bytes.u64(32),
                                                                 k: UInt64(bytes.u32(80)), p: bytes.u64(96), m: bytes.u64(40)))
        let levels = 1 << Int(bits)
        for w in 0 ..< levels {
            let value = (Float(w) - 7.3) * 0.0917, at = layout.buckets + 4 * (levels - 1 + w)
            for i in 0 ..< 4 { bytes[at + i] = UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt32(i))) }
        }
        let body = bytes.count - 32
        bytes.replaceSubrange(body..., with: SHA256Digest.bytes(Data(bytes[..<body])))
        guard case .compressed(let index) = try IndexFile(serialized: Data(bytes), where: "reweighted") else {
            throw TestFailure("the reweighted file was not read as a compressed index")
        }
        XCTAssertGreaterThan(checkDecompressing(index, "reweighted"), 0, "no length here tells dividing from multiplying")
    }

    /// With every centroid probed and every document a candidate, the search is exact MaxSim over the
    /// decompressed vectors (documents without vectors are never hits).
    func testProbingEverythingIsMaxSimOverTheDecompressedVectors() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        for key in Self.files {
            let (_, index) = try load(file, key)
            let documents = (0 ..< index.count).map(index.document)
            for c in file.cases where c["file"].string == key {
                let query = c["query"].vectors(dim: index.dim)
                let hits = index.search(query, k: index.count, nprobe: index.centroidCount, candidates: index.count)
                let expected = Scoring.rank(query, documents, k: index.count).filter { documents[$0.index].count > 0 }
                XCTAssertEqual(hits.map(\.index), query.count == 0 ? [] : expected.map(\.index), c["name"].string ?? "?")
                XCTAssertEqual(hits.map(\.score), query.count == 0 ? [] : expected.map(\.score), c["name"].string ?? "?")
            }
        }
    }
}
