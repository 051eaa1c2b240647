import Foundation
import XCTest

@testable import ColBERTKit

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 / NIST test vectors, including one that crosses a block and one of a million bytes.
    func testKnownVectors() {
        let vectors: [(Data, String)] = [
            (Data(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (Data("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            (Data(repeating: UInt8(ascii: "a"), count: 1_000_000),
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ]
        for (data, expected) in vectors {
            var hasher = PortableSHA256()
            hasher.update(data)
            XCTAssertEqual(hasher.finalize().map { String(format: "%02x", $0) }.joined(), expected)
            XCTAssertEqual(SHA256Digest.hex(data), expected)
        }
    }

    func testChunkedUpdatesEqualOneUpdate() {
        let data = Data((0 ..< 1000).map { UInt8($0 % 251) })
        var whole = PortableSHA256()
        whole.update(data)
        var chunked = PortableSHA256()
        for start in stride(from: 0, to: data.count, by: 37) { chunked.update(data[start ..< min(start + 37, data.count)]) }
        XCTAssertEqual(whole.finalize(), chunked.finalize())
    }
}

final class ScoringTests: XCTestCase {
    func testMaxSimSumsEachQueryVectorsBestMatch() {
        let q = TokenVectors(rows: [[1, 0], [0, 1]], dim: 2)
        let d1 = TokenVectors(rows: [[1, 0], [0.6, 0.8]], dim: 2)
        let d2 = TokenVectors(rows: [[0, 1]], dim: 2)
        XCTAssertEqual(Scoring.maxSim(q, d1), 1.8, accuracy: 1e-6)
        XCTAssertEqual(Scoring.maxSim(q, d2), 1.0, accuracy: 1e-6)
        XCTAssertEqual(Scoring.maxSim(q, TokenVectors(values: [], dim: 2)), 0)
        let ranked = Scoring.rank(q, [d2, d1, d2], k: 2)
        XCTAssertEqual(ranked.map(\.index), [1, 0])  // ties keep the lower index first
    }
}

#if canImport(Accelerate)
/// Accelerate's MaxSim equals the loops' on random vectors. Compiled only where Accelerate exists: elsewhere
/// MaxSim is the loops themselves, and there is nothing to compare.
final class AcceleratedScoringTests: XCTestCase {
    func testAccelerateAgreesWithTheLoops() throws {
        var generator = SystemRandomNumberGenerator()
        for (m, n, dim) in [(1, 1, 48), (32, 300, 48), (7, 3, 128)] {
            let q = TokenVectors(values: (0 ..< m * dim).map { _ in Float.random(in: -1 ... 1, using: &generator) }, dim: dim)
            let d = TokenVectors(values: (0 ..< n * dim).map { _ in Float.random(in: -1 ... 1, using: &generator) }, dim: dim)
            XCTAssertEqual(Scoring.acceleratedMaxSim(q, d), Scoring.loopMaxSim(q, d), accuracy: 1e-4)
        }
    }
}
#endif

final class BucketTests: XCTestCase {
    let io = IOSpec(inputs: [], outputs: [], maxBatch: 1, maxSequence: 512, minSequence: 1, buckets: [
        "encode_query": .init(kind: "query", length: 48), "encode_document_512": .init(kind: "document", length: 512),
        "encode_document_128": .init(kind: "document", length: 128), "encode_document_256": .init(kind: "document", length: 256),
    ])

    func testTheSmallestBucketOfTheKindThatHoldsTheInputIsPicked() throws {
        XCTAssertEqual(try io.bucket(forLength: 48, isQuery: true).name, "encode_query")
        XCTAssertEqual(try io.bucket(forLength: 3, isQuery: false).name, "encode_document_128")
        XCTAssertEqual(try io.bucket(forLength: 128, isQuery: false).name, "encode_document_128")
        XCTAssertEqual(try io.bucket(forLength: 129, isQuery: false).name, "encode_document_256")
        XCTAssertEqual(try io.bucket(forLength: 512, isQuery: false).name, "encode_document_512")
        XCTAssertThrowsError(try io.bucket(forLength: 513, isQuery: false)) { error in
            XCTAssertEqual((error as? BundleError)?.kind, .inputPastBound)
        }
        XCTAssertThrowsError(try io.bucketed(inputIds: Array(repeating: 1, count: 513), attentionMask: Array(repeating: 1, count: 513),
                                             isQuery: false, padTokenId: 0)) { error in
            XCTAssertEqual((error as? BundleError)?.kind, .inputPastBound)
        }
    }

    func testPaddingUsesThePadTokenAndMaskZeroAndIsCutBack() throws {
        let shaped = try io.bucketed(inputIds: [1, 5, 9], attentionMask: [1, 1, 1], isQuery: false, padTokenId: 7)
        XCTAssertEqual(shaped.bucket, "encode_document_128")
        XCTAssertEqual(shaped.inputIds.count, 128)
        XCTAssertEqual(Array(shaped.inputIds.prefix(4)), [1, 5, 9, 7])
        XCTAssertEqual(shaped.attentionMask.reduce(0, +), 3)
        let output = TokenVectors(values: (0 ..< 128 * 2).map(Float.init), dim: 2)
        XCTAssertEqual(output.prefix(rows: shaped.length), TokenVectors(rows: [[0, 1], [2, 3], [4, 5]], dim: 2))
    }
}

final class TokenizerTests: XCTestCase {
    func testAComponentItDoesNotImplementIsRefusedByName() {
        let json = Data(#"{"normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}, "model": {"vocab": {}}}"#.utf8)
        XCTAssertThrowsError(try HFTokenizer(json: json)) { error in
            XCTAssertEqual((error as? BundleError)?.kind, .unknownTokenizerComponent)
            XCTAssertTrue("\(error)".contains("normalizer is Lowercase"), "\(error)")
        }
    }

    func testBPEDropoutIsRefused() {
        let json = Data(#"""
            {"normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
             "model": {"type": "BPE", "vocab": {}, "merges": [], "dropout": 0.1}, "post_processor": {"type": "TemplateProcessing"}}
            """#.utf8)
        XCTAssertThrowsError(try HFTokenizer(json: json)) { error in
            XCTAssertEqual((error as? BundleError)?.kind, .unknownTokenizerComponent)
            XCTAssertTrue("\(error)".contains("dropout"), "\(error)")
        }
    }

    func testATokenizerThatDoesNotParseIsMalformed() {
        XCTAssertThrowsError(try HFTokenizer(json: Data(#"{"model": "#.utf8))) { error in
            XCTAssertEqual((error as? BundleError)?.kind, .malformed)
        }
    }
}
