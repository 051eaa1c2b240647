import Foundation
import XCTest

@testable import ColBERTKit

/// spec/conformance/preprocess.jsonl and tokenize-*.jsonl: every case, exactly.
final class TokenizeConformanceTests: XCTestCase {
    func testPreprocessing() throws {
        let file = try VectorFile(try Env.conformance("preprocess.jsonl"))
        let strip = file.header["strip_codepoints"].ints.map(UInt32.init)
        let lower = TextPreprocessor(stripCodepoints: strip, lowercase: true)
        let cased = TextPreprocessor(stripCodepoints: strip, lowercase: false)
        XCTAssertGreaterThan(file.cases.count, 1000)
        var mismatches: [String] = []
        for c in file.cases {
            let text = c["text"].string ?? ""
            if lower(text) != c["lowercase"].string || cased(text) != c["cased"].string { mismatches.append(text) }
        }
        XCTAssertEqual(mismatches, [], "\(mismatches.count) texts differ")
    }

    func testMxbai() throws { try run("tokenize-mxbai.jsonl", tokenizer: "MXBAI_TOKENIZER") }
    func testMxbaiVariant() throws { try run("tokenize-mxbai-variant.jsonl", tokenizer: "MXBAI_TOKENIZER") }
    func testMiniLM() throws { try run("tokenize-minilm.jsonl", tokenizer: "MINILM_TOKENIZER") }

    func run(_ name: String, tokenizer variable: String) throws {
        let file = try VectorFile(try Env.conformance(name))
        let json = try checkedTokenizer(variable, file.header)
        guard let settingsObject = file.header["settings"].object else { throw TestFailure("\(name) has no settings") }
        let settings = try ColBERTSettings(json: settingsObject, place: name)
        let tokenizer = try ColBERTTokenizer(tokenizerJSON: json, settings: settings)
        XCTAssertGreaterThan(file.cases.count, 1000)
        var mismatches: [String] = []
        for c in file.cases {
            let text = c["text"].string ?? ""
            for (kind, isQuery) in [("query", true), ("document", false)] {
                let expected = c[kind]
                let got = tokenizer.encode([text], isQuery: isQuery)
                let bucket = try settings.io.bucket(forLength: got.inputIds[0].count, isQuery: isQuery).name
                if got.inputIds[0] != expected["input_ids"].ints || got.attentionMask[0] != expected["attention_mask"].ints
                    || got.keptPositions(0) != expected["kept_positions"].ints || bucket != expected["bucket"].string {
                    mismatches.append("\(kind) \(text.debugDescription.prefix(80))")
                }
            }
        }
        XCTAssertEqual(mismatches.count, 0, "\(name): first mismatches \(mismatches.prefix(5))")
    }
}

/// spec/conformance/charclasses.jsonl: the generated tables (`python -m spec.port_tables`) are the file's.
final class CharClassConformanceTests: XCTestCase {
    func testEveryClassAndMappingIsTheFiles() throws {
        let file = try VectorFile(try Env.conformance("charclasses.jsonl"))
        var seen = 0
        for c in file.cases {
            if let name = c["class"].string {
                let table = try XCTUnwrap(UnicodeTables.classes[name], "no generated table for class \(name)")
                let expected = c["ranges"].array.map { $0.ints.map(UInt32.init) }
                XCTAssertEqual(table.pairs, expected, name)
                seen += 1
            } else if let name = c["mapping"].string {
                let table = try XCTUnwrap(UnicodeTables.mappings[name], "no generated table for mapping \(name)")
                var expected: [UInt32: [Unicode.Scalar]] = [:]
                for pair in c["pairs"].array {
                    guard let code = pair.array.first?.int, let text = pair.array.last?.string else { continue }
                    expected[UInt32(code)] = Array(text.unicodeScalars)
                }
                XCTAssertEqual(table.table, expected, name)
                seen += 1
            }
        }
        XCTAssertEqual(seen, UnicodeTables.classes.count + UnicodeTables.mappings.count)
        XCTAssertEqual(seen, 14)
    }

    func testAClassLooksUpItsRangesEnds() {
        let table = CharClass(ranges: [10, 20, 30, 30])
        XCTAssertEqual([9, 10, 15, 20, 21, 29, 30, 31].map { table.contains(UInt32($0)) },
                       [false, true, true, true, false, false, true, false])
    }
}
