import Foundation
import XCTest

@testable import ColBERTKit

/// spec/conformance/scoring.jsonl, golden.jsonl and index.jsonl (with its two .cbindex files).
final class ScoringConformanceTests: XCTestCase {
    func testMaxSimAndRankAreExact() throws {
        let file = try VectorFile(try Env.conformance("scoring.jsonl"))
        XCTAssertGreaterThan(file.cases.count, 10)
        for c in file.cases {
            let name = c["name"].string ?? "?"
            let dim = try XCTUnwrap(c["dim"].int)
            let query = c["query"].vectors(dim: dim)
            let documents = c["documents"].array.map { $0.vectors(dim: dim) }
            XCTAssertEqual(documents.map { Scoring.maxSim(query, $0) }, c["maxsim"].floats, name)
            XCTAssertEqual(Scoring.rank(query, documents, k: try XCTUnwrap(c["k"].int)).map(\.index), c["rank"].ints, name)
        }
    }

    func testTheGoldenRule() throws {
        let file = try VectorFile(try Env.conformance("golden.jsonl"))
        XCTAssertGreaterThan(file.cases.count, 5)
        for c in file.cases {
            let name = c["name"].string ?? "?"
            let dim = try XCTUnwrap(c["dim"].int)
            let golden = try Golden(json: try XCTUnwrap(c["golden"].object), place: name)
            let queries = c["encoded"]["queries"].array.map { $0.vectors(dim: dim) }
            let documents = c["encoded"]["documents"].array.map { $0.vectors(dim: dim) }
            if c["error"].string == "vector_count" {
                XCTAssertThrowsError(try GoldenRule.measure(golden, queries: queries, documents: documents), name)
                continue
            }
            let metrics = try GoldenRule.measure(golden, queries: queries, documents: documents)
            for metric in Golden.metrics {
                let expected = try XCTUnwrap(c["metrics"][metric].double, "\(name) lacks \(metric)")
                XCTAssertEqual(try XCTUnwrap(metrics[metric]), expected, accuracy: 1e-12, "\(name) \(metric)")
            }
            let failed = GoldenRule.judge(golden, metrics).map { String($0.prefix { $0 != "=" }) }
            XCTAssertEqual(failed, c["failures"].array.compactMap(\.string), name)
        }
    }

    func testAMetricThatIsNotFiniteFails() throws {
        let golden = try Golden(json: try XCTUnwrap(try JSONReader.parse(Array(
            #"{"queries": [], "documents": [], "scores": [], "tolerance": {"cosine_min": {"op": ">=", "value": 0.5}}}"#.utf8)).object))
        var metrics = try GoldenRule.measure(golden, queries: [], documents: [])
        XCTAssertEqual(metrics.cosineMin, 1)
        metrics.cosineMin = .nan
        XCTAssertEqual(GoldenRule.judge(golden, metrics).count, 1)
    }

    func testAToleranceNamingAnUnknownMetricIsRefused() throws {
        let json = #"{"queries": [], "documents": [], "scores": [], "tolerance": {"recall": {"op": ">=", "value": 0.5}}}"#
        XCTAssertThrowsError(try Golden(json: try XCTUnwrap(try JSONReader.parse(Array(json.utf8)).object))) { error in
            XCTAssertEqual((error as? BundleError)?.kind, .malformed)
        }
    }
}

final class IndexConformanceTests: XCTestCase {
    func load(_ file: VectorFile, _ dtype: String) throws -> (Data, ColBERTIndex) {
        let name = try XCTUnwrap(file.header["files"][dtype]["file"].string)
        let data = try Data(contentsOf: try Env.conformance(name))
        XCTAssertEqual(SHA256Digest.hex(data), file.header["files"][dtype]["sha256"].string, name)
        return (data, try ColBERTIndex(serialized: data, where: name))
    }

    func testBothFilesReadSearchAndWriteBackByteForByte() throws {
        let file = try VectorFile(try Env.conformance("index.jsonl"))
        let dim = try XCTUnwrap(file.header["dim"].int)
        for dtype in ["float32", "float16"] {
            let (data, index) = try load(file, dtype)
            XCTAssertEqual(index.count, file.header["documents"].int)
            XCTAssertEqual(index.dim, dim)
            XCTAssertEqual(index.modelDigest, file.header["model_digest"].string)
            XCTAssertEqual(index.metadata, file.header["metadata"].array)
            XCTAssertEqual(index.serialized(), data, "\(dtype) written back differs")
            let documents = (0 ..< index.count).map(index.document)
            let rebuilt = try ColBERTIndex(documents: documents, metadata: index.metadata, modelDigest: index.modelDigest, dim: dim,
                                           dtype: index.dtype)
            XCTAssertEqual(rebuilt.serialized(), data, "\(dtype) rebuilt differs")
            for c in file.cases {
                let name = c["name"].string ?? "?"
                let hits = index.search(c["query"].vectors(dim: dim), k: try XCTUnwrap(c["k"].int))
                XCTAssertEqual(hits.map(\.index), c["hits"].array.compactMap { $0["index"].int }, "\(dtype) \(name)")
                XCTAssertEqual(hits.map(\.score), c["hits"].array.compactMap { $0["score"].double.map(Float.init) }, "\(dtype) \(name)")
            }
        }
    }

    func testEveryMutationGetsItsKind() throws {
        let file = try VectorFile(try Env.conformance("index.jsonl"))
        let (data, _) = try load(file, "float32")
        let mutations = file.header["mutations"].array
        XCTAssertGreaterThan(mutations.count, 5)
        for m in mutations {
            let name = m["name"].string ?? "?"
            var bytes = [UInt8](data)
            var digest: String?
            switch m["op"].string {
            case "truncate": bytes = Array(bytes.prefix(try XCTUnwrap(m["bytes"].int)))
            case "append": bytes += Array(repeating: 0, count: try XCTUnwrap(m["bytes"].int))
            case "flip_byte":
                let offset = try XCTUnwrap(m["offset"].int)
                bytes[offset < 0 ? bytes.count + offset : offset] ^= 1
            case "set_u32":
                let offset = try XCTUnwrap(m["offset"].int), value = UInt32(try XCTUnwrap(m["value"].int))
                for i in 0 ..< 4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
            case "expect_digest": digest = m["value"].string
            default: XCTFail("\(name): unknown op \(m["op"])"); continue
            }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("mutated-\(UUID()).cbindex")
            defer { try? FileManager.default.removeItem(at: url) }
            try Data(bytes).write(to: url)
            XCTAssertThrowsError(try ColBERTIndex.load(from: url, modelDigest: digest), name) { error in
                XCTAssertEqual((error as? IndexError)?.kind.rawValue, m["error"].string, "\(name): \(error)")
            }
        }
    }

    func testFloat16RoundsToNearestEven() {
        XCTAssertEqual(Half.bits(1), 0x3C00)
        XCTAssertEqual(Half.bits(-2), 0xC000)
        XCTAssertEqual(Half.bits(65504), 0x7BFF)
        XCTAssertEqual(Half.bits(1e6), 0x7C00)
        XCTAssertEqual(Half.bits(1 + 0x1p-11), 0x3C00)  // a tie: to the even mantissa
        XCTAssertEqual(Half.bits(1 + 3 * 0x1p-11), 0x3C02)
        XCTAssertEqual(Half.bits(0x1p-24), 0x0001)  // the smallest subnormal
        XCTAssertEqual(Half.float(0x0001), 0x1p-24)
        XCTAssertEqual(Half.float(0x3555), Float(0x3555 & 0x3FF | 0x400) * 0x1p-12)
    }
}
