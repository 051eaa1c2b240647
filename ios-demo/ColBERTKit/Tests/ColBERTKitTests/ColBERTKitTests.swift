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

    func testIndexSurvivesASaveLoadRoundTrip() throws {
        var index = MultiVectorIndex(dim: 3)
        try index.add(id: "a", vectors: TokenVectors(rows: [[1, 0, 0], [0, 1, 0]], dim: 3))
        try index.add(id: "東京 🙂", vectors: TokenVectors(rows: [[0, 0, 1]], dim: 3))
        try index.add(id: "empty", vectors: TokenVectors(values: [], dim: 3))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("index-\(UUID()).cbki")
        defer { try? FileManager.default.removeItem(at: url) }
        try index.save(to: url)
        let loaded = try MultiVectorIndex.load(from: url)
        XCTAssertEqual(loaded.ids, index.ids)
        XCTAssertEqual(loaded.documents, index.documents)
        let query = TokenVectors(rows: [[0, 0, 1]], dim: 3)
        XCTAssertEqual(loaded.search(query, k: 1).first?.id, "東京 🙂")
        XCTAssertThrowsError(try index.add(id: "x", vectors: TokenVectors(rows: [[1, 0]], dim: 2)))
    }

    func testACorruptIndexIsRefused() {
        var index = MultiVectorIndex(dim: 2)
        try? index.add(id: "a", vectors: TokenVectors(rows: [[1, 0]], dim: 2))
        let data = index.serialized()
        XCTAssertThrowsError(try MultiVectorIndex(serialized: data.dropLast(3))) { error in
            XCTAssertEqual(error as? IndexError, .corrupt("document 0 is truncated"))
        }
        XCTAssertThrowsError(try MultiVectorIndex(serialized: Data("nope".utf8) + data.dropFirst(4)))
    }
}

final class AcceleratedScoringTests: XCTestCase {
    /// Where Accelerate exists, its MaxSim equals the loops' on random unit vectors (skipped elsewhere: no Accelerate).
    func testAccelerateAgreesWithTheLoops() throws {
        #if canImport(Accelerate)
        var generator = SystemRandomNumberGenerator()
        for (m, n, dim) in [(1, 1, 48), (32, 300, 48), (7, 3, 128)] {
            let q = TokenVectors(values: (0 ..< m * dim).map { _ in Float.random(in: -1 ... 1, using: &generator) }, dim: dim)
            let d = TokenVectors(values: (0 ..< n * dim).map { _ in Float.random(in: -1 ... 1, using: &generator) }, dim: dim)
            XCTAssertEqual(Scoring.acceleratedMaxSim(q, d), Scoring.loopMaxSim(q, d), accuracy: 1e-4)
        }
        #else
        throw XCTSkip("no Accelerate on this system; MaxSim runs the loops")
        #endif
    }
}

final class FixedShapeTests: XCTestCase {
    let io = IOSpec(inputs: [], outputs: [], maxBatch: 1, maxSequence: 512, minSequence: 1, buckets: [
        "encode_query": .init(kind: "query", length: 48), "encode_document_512": .init(kind: "document", length: 512),
        "encode_document_128": .init(kind: "document", length: 128), "encode_document_256": .init(kind: "document", length: 256),
    ])

    func testTheSmallestShapeOfTheKindThatHoldsTheInputIsPicked() throws {
        XCTAssertEqual(try io.bucket(forLength: 48, isQuery: true).name, "encode_query")
        XCTAssertEqual(try io.bucket(forLength: 3, isQuery: false).name, "encode_document_128")
        XCTAssertEqual(try io.bucket(forLength: 128, isQuery: false).name, "encode_document_128")
        XCTAssertEqual(try io.bucket(forLength: 129, isQuery: false).name, "encode_document_256")
        XCTAssertEqual(try io.bucket(forLength: 512, isQuery: false).name, "encode_document_512")
        XCTAssertThrowsError(try io.bucket(forLength: 513, isQuery: false)) { error in
            XCTAssertEqual(error as? ShapeError, .tooLong(kind: "document", length: 513, largest: 512))
        }
    }

    func testPaddingUsesThePadTokenAndMaskZeroAndIsCutBack() throws {
        let shaped = try io.shaped(inputIds: [1, 5, 9], attentionMask: [1, 1, 1], isQuery: false, padTokenId: 7)
        XCTAssertEqual(shaped.function, "encode_document_128")
        XCTAssertEqual(shaped.inputIds.count, 128)
        XCTAssertEqual(Array(shaped.inputIds.prefix(4)), [1, 5, 9, 7])
        XCTAssertEqual(shaped.attentionMask.reduce(0, +), 3)
        let output = TokenVectors(values: (0 ..< 128 * 2).map(Float.init), dim: 2)
        XCTAssertEqual(output.prefix(rows: shaped.length), TokenVectors(rows: [[0, 1], [2, 3], [4, 5]], dim: 2))
    }

    func testComputeChoicesAreTheThreeTheAppOffers() {
        XCTAssertEqual(ComputeChoice.allCases.map(\.rawValue), ["cpu", "gpu", "all"])
    }
}

final class PreprocessTests: XCTestCase {
    func testPythonsFinalSigmaRule() {
        XCTAssertEqual(TextPreprocessor.pythonLowercase(Array("ΟΔΥΣΣΕΥΣ Σ ΑΣ.".unicodeScalars)), "οδυσσευς σ ας.")
        XCTAssertEqual(TextPreprocessor.pythonLowercase(Array("İ".unicodeScalars)), "i\u{0307}")
    }
}

final class TokenizerTests: XCTestCase {
    /// The expected split is what `tokenizers`' ByteLevel pre-tokenizer gives for the same string.
    func testGPT2SplitLeavesTheLastSpaceToTheNextWord() {
        let words = ByteLevel.split(Array("don't  stop\n\nnow 42!".unicodeScalars)).map { String(String.UnicodeScalarView($0)) }
        XCTAssertEqual(words, ["don", "'t", " ", " stop", "\n", "\n", "now", " 42", "!"])
    }

    func testBytesMapToPrintableCharacters() {
        XCTAssertEqual(ByteLevel.encode(" é"), ["Ġ", "Ã", "©"])
    }

    func testAComponentItDoesNotImplementIsRefusedByName() {
        let json = Data(#"{"normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}}"#.utf8)
        XCTAssertThrowsError(try HFTokenizer(json: json)) { error in
            XCTAssertEqual(error as? TokenizerError, .unsupported(component: "normalizer", type: "Lowercase"))
        }
    }
}
