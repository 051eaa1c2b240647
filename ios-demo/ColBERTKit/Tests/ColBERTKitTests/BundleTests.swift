import Foundation
import XCTest

@testable import ColBERTKit

/// Real Core ML bundles (COLBERTKIT_BUNDLES): every bad-bundle mutation gets its kind, and each bundle opens and
/// passes what of the golden rule runs without Core ML.
final class BundleTests: XCTestCase {
    func testEveryBadBundleMutationGetsItsKind() throws {
        let file = try VectorFile(try Env.conformance("bad-bundles.jsonl"))
        let original = try XCTUnwrap(try Env.bundles().first)
        XCTAssertNoThrow(try ColBERTBundle(at: original), "the unmutated bundle must open")
        XCTAssertGreaterThan(file.cases.count, 20)
        for c in file.cases {
            let name = c["name"].string ?? "?"
            let expected = c["error"].string ?? "?"
            let bundle = try BundleMutations.copy(original)
            defer { try? FileManager.default.removeItem(at: bundle) }
            try BundleMutations.apply(bundle, c["mutation"], rehash: c["rehash"] == .bool(true))
            if expected == BundleError.Kind.unreadableModel.rawValue {
                // Only the runtime loading the artifact can tell: everything before it must pass here
                // (CoreMLBundleTests checks the kind where Core ML exists).
                XCTAssertNoThrow(try ColBERTBundle(at: bundle), name)
                continue
            }
            XCTAssertThrowsError(try ColBERTBundle(at: bundle), name) { error in
                XCTAssertEqual((error as? BundleError)?.kind.rawValue, expected, "\(name): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(name): one line")
            }
        }
    }

    func testEachBundleOpensItsGoldenTextsTokenizeExactlyAndItsScoresAreItsVectors() throws {
        let bundles = try Env.bundles()
        XCTAssertFalse(bundles.isEmpty)
        for url in bundles {
            let bundle = try ColBERTBundle(at: url)
            XCTAssertEqual(bundle.manifest.target, "coreml")
            XCTAssertEqual(SelfTest.idMismatches(bundle.golden, ColBERTTokenizer(bundle: bundle)), [], url.path)
            let dim = bundle.settings.dim
            let vectors = { (entries: [Golden.Entry]) in entries.map { TokenVectors(rows: $0.vectors, dim: dim) } }
            let metrics = try GoldenRule.measure(bundle.golden, queries: vectors(bundle.golden.queries),
                                                 documents: vectors(bundle.golden.documents))
            XCTAssertLessThan(metrics.maxsimRelErrMax, 1e-5, url.path)
            XCTAssertGreaterThanOrEqual(metrics.top10Agreement, 0.9, url.path)  // rounding to 7 decimals may swap a near-tie
        }
    }

    func testAnInputPastTheBoundIsRefused() async throws {
        let bundle = try ColBERTBundle(at: try XCTUnwrap(try Env.bundles().first))
        var settings = bundle.settings
        settings.documentLength = settings.io.maxSequence + 8  // a colbert.json whose length passes the export bound
        let pipeline = ColBERTPipeline(tokenizer: ColBERTTokenizer(tokenizer: bundle.tokenizer, settings: settings),
                                       encoder: RefusingEncoder())
        let long = String(repeating: "word ", count: settings.io.maxSequence * 2)
        do {
            _ = try await pipeline.encode([long], isQuery: false)
            XCTFail("a sequence past io.max_sequence reached the encoder")
        } catch let error as BundleError {
            XCTAssertEqual(error.kind, .inputPastBound)
        }
    }
}

/// Fails any call: the pipeline must refuse before it reaches an encoder.
struct RefusingEncoder: Encoder {
    func encode(inputIds: [Int], attentionMask: [Int], isQuery: Bool) async throws -> TokenVectors {
        throw TestFailure("the encoder was called with \(inputIds.count) ids")
    }
}

/// What only Core ML can run: skipped elsewhere, each with its reason (the only skips in this suite).
final class CoreMLBundleTests: XCTestCase {
    func testSelfTestPassesOnCoreML() async throws {
        #if canImport(CoreML)
        guard #available(macOS 15.0, iOS 18.0, *) else { throw XCTSkip("needs Core ML on macOS 15 / iOS 18 (multifunction models)") }
        for url in try Env.bundles() {
            let bundle = try ColBERTBundle(at: url)
            let encoder = try await CoreMLEncoder(bundle: bundle, computeUnits: .cpuOnly)
            let report = try await SelfTest.run(bundle: bundle, pipeline: ColBERTPipeline(tokenizer: ColBERTTokenizer(bundle: bundle), encoder: encoder))
            XCTAssertTrue(report.passed, "\(url.path): \(report.failures) \(report.idMismatches)")
        }
        #else
        throw XCTSkip("needs Core ML: running the .mlpackage is Apple's runtime (Linux has none)")
        #endif
    }

    func testAnArtifactCoreMLCannotLoadIsUnreadableModel() async throws {
        #if canImport(CoreML)
        guard #available(macOS 15.0, iOS 18.0, *) else { throw XCTSkip("needs Core ML on macOS 15 / iOS 18 (multifunction models)") }
        let file = try VectorFile(try Env.conformance("bad-bundles.jsonl"))
        let original = try XCTUnwrap(try Env.bundles().first)
        for c in file.cases where c["error"].string == "unreadable_model" {
            let bundle = try BundleMutations.copy(original)
            defer { try? FileManager.default.removeItem(at: bundle) }
            try BundleMutations.apply(bundle, c["mutation"], rehash: c["rehash"] == .bool(true))
            do {
                _ = try await CoreMLEncoder(bundle: try ColBERTBundle(at: bundle), computeUnits: .cpuOnly)
                XCTFail("\(c["name"]): Core ML loaded a broken artifact")
            } catch let error as BundleError {
                XCTAssertEqual(error.kind, .unreadableModel)
            }
        }
        #else
        throw XCTSkip("needs Core ML: only loading the artifact tells an unreadable model (Linux has no Core ML)")
        #endif
    }
}
