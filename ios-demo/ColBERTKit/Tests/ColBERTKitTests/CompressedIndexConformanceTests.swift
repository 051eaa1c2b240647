import Foundation
import XCTest

@testable import ColBERTKit

/// spec/conformance/compressed-index.jsonl with its two .cbindex files (spec/bundle.md, "Compressed index file").
final class CompressedIndexConformanceTests: XCTestCase {
    /// The file the header names under `key` ("4bit", "2bit"): its bytes, held to the header's sha256, and read.
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
        XCTAssertEqual(Set(keys), ["4bit", "2bit"])
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
        XCTAssertGreaterThan(file.cases.count, 20)
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
        XCTAssertGreaterThan(mutations.count, 10)
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
    }

    /// The lookup table against the spec's bit layout read one dimension at a time.
    func testDecompressingIsTheCentroidPlusTheBucketsWeight() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        for key in ["4bit", "2bit"] {
            let (_, index) = try load(file, key)
            let dim = index.dim, b = index.bits, rowBytes = dim * b / 8
            for d in 0 ..< index.count {
                let vectors = index.document(d)
                XCTAssertEqual(vectors.count, index.offsets[d + 1] - index.offsets[d])
                for (row, t) in (index.offsets[d] ..< index.offsets[d + 1]).enumerated() {
                    let expected: [Float] = (0 ..< dim).map { j in
                        let byte = index.residuals[t * rowBytes + j * b / 8]
                        let bucket = Int(byte >> UInt8(j * b % 8)) & ((1 << b) - 1)
                        return index.centroids[Int(index.codes[t]) * dim + j] + index.weights[bucket]
                    }
                    XCTAssertEqual(Array(vectors.values[row * dim ..< (row + 1) * dim]), expected, "\(key) vector \(t)")
                }
            }
        }
    }

    /// With every centroid probed and every document a candidate, the search is exact MaxSim over the
    /// decompressed vectors (documents without vectors are never hits).
    func testProbingEverythingIsMaxSimOverTheDecompressedVectors() throws {
        let file = try VectorFile(try Env.conformance("compressed-index.jsonl"))
        let (_, index) = try load(file, "4bit")
        let documents = (0 ..< index.count).map(index.document)
        for c in file.cases where c["file"].string == "4bit" {
            let query = c["query"].vectors(dim: index.dim)
            let hits = index.search(query, k: index.count, nprobe: index.centroidCount, candidates: index.count)
            let expected = Scoring.rank(query, documents, k: index.count).filter { documents[$0.index].count > 0 }
            XCTAssertEqual(hits.map(\.index), query.count == 0 ? [] : expected.map(\.index), c["name"].string ?? "?")
            XCTAssertEqual(hits.map(\.score), query.count == 0 ? [] : expected.map(\.score), c["name"].string ?? "?")
        }
    }
}
