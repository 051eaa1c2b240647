import Foundation
import XCTest

@testable import ColBERTKit

/// The strict reader tells apart what Foundation's JSONSerialization on Linux does not.
final class JSONTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try JSONReader.parse(Array(text.utf8)) }

    func testIntegersBooleansAndFloatsStayApart() throws {
        XCTAssertEqual(try parse("[1, true, 1.0, 1e2, -0, null]"),
                       .array([.integer(1), .bool(true), .number(1), .number(100), .integer(0), .null]))
    }

    func testKeyOrderIsKeptAndWrittenBackAsPythonDoes() throws {
        let text = #"{"b":1,"a":[true,null,"x\u00e9\n\u001f/"],"c":{"z":0.5,"y":-2}}"#
        let value = try parse(text)
        XCTAssertEqual(value.object?.keys, ["b", "a", "c"])
        XCTAssertEqual(JSONWriter.compact(value), "{\"b\":1,\"a\":[true,null,\"xé\\n\\u001f/\"],\"c\":{\"z\":0.5,\"y\":-2}}")
    }

    func testWhatIsNotStrictJSONIsRefused() {
        for bad in ["{\"a\": 1,}", "[1, 2", "01", "1.", "\"\\x\"", "'a'", "{\"a\" 1}", "[1] x", "\"\u{01}\"", "\"\\ud800\"", "NaN"] {
            XCTAssertThrowsError(try parse(bad), bad)
        }
        XCTAssertThrowsError(try JSONReader.parse([0xFF, 0xFE, 0x5B, 0x00, 0x5D, 0x00]))  // UTF-16 with a BOM
        XCTAssertThrowsError(try JSONReader.parse([0x22, 0xC3, 0x22]))  // a broken UTF-8 sequence
    }

    func testSurrogatePairsAndDuplicateKeys() throws {
        XCTAssertEqual(try parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try parse(#"{"a": 1, "a": 2}"#).object?["a"], .integer(2))  // the last wins, as in Python
    }
}
