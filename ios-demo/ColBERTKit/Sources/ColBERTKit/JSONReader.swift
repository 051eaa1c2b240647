/// A strict RFC 8259 reader: UTF-8 only (a UTF-16 or Latin-1 file is refused, not guessed), one value with
/// nothing after it but whitespace, duplicate keys keep the last value (as Python's `json.loads`).
public enum JSONReader {
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        // Validating the whole text once lets every string below be decoded without checking again.
        // (the standard library's decoder: String(validating:as:) needs iOS 18 / macOS 15, below the package's floor)
        var decoder = Unicode.UTF8()
        var input = bytes.makeIterator()
        decoding: while true {
            switch decoder.decode(&input) {
            case .scalarValue: continue
            case .emptyInput: break decoding
            case .error: throw JSONSyntaxError(reason: "not UTF-8", offset: 0)
            }
        }
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.at == bytes.count else { throw parser.error("text after the JSON value") }
        return value
    }

    struct Parser {
        let bytes: [UInt8]
        var at = 0
        static let maxDepth = 512  // a deeper file is an attack or a mistake, not a bundle

        func error(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(reason: reason, offset: at) }

        mutating func skipWhitespace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
            guard depth < Self.maxDepth else { throw error("nested too deeply") }
            guard at < bytes.count else { throw error("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: return try number()
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
            let count = word.utf8CodeUnitCount
            guard at + count <= bytes.count else { throw error("unexpected end") }
            let matches = word.withUTF8Buffer { expected in (0 ..< count).allSatisfy { bytes[at + $0] == expected[$0] } }
            guard matches else { throw error("unexpected character") }
            at += count
        }

        mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
            at += 1
            var object = JSONObject()
            skipWhitespace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(object) }
            while true {
                skipWhitespace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try string()
                skipWhitespace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("expected ':'") }
                at += 1
                skipWhitespace()
                object[key] = try value(depth: depth + 1)
                skipWhitespace()
                guard at < bytes.count else { throw error("unexpected end") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(object) }
                throw error("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
            at += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard at < bytes.count else { throw error("unexpected end") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        }

        mutating func string() throws(JSONSyntaxError) -> String {
            at += 1
            let start = at
            // Fast path: most strings have no escapes and are one slice of the (already validated) bytes.
            while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\") {
                guard bytes[at] >= 0x20 else { throw error("control character in a string") }
                at += 1
            }
            guard at < bytes.count else { throw error("unterminated string") }
            if bytes[at] == UInt8(ascii: "\"") {
                at += 1
                return String(decoding: bytes[start ..< at - 1], as: UTF8.self)
            }
            var out = Array(bytes[start ..< at])
            while true {
                guard at < bytes.count else { throw error("unterminated string") }
                let byte = bytes[at]
                if byte == UInt8(ascii: "\"") { at += 1; break }
                guard byte >= 0x20 else { throw error("control character in a string") }
                if byte != UInt8(ascii: "\\") { out.append(byte); at += 1; continue }
                at += 1
                guard at < bytes.count else { throw error("unterminated string") }
                let escape = bytes[at]
                at += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800 ... 0xDBFF).contains(scalar) {
                        guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                            throw error("lone surrogate")
                        }
                        at += 2
                        let low = try hex4()
                        guard (0xDC00 ... 0xDFFF).contains(low) else { throw error("lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    // A lone low surrogate has no scalar: refused rather than silently replaced.
                    guard let unicode = Unicode.Scalar(scalar) else { throw error("lone surrogate") }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default: throw error("unknown escape")
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
            guard at + 4 <= bytes.count else { throw error("unexpected end") }
            var value: UInt32 = 0
            for byte in bytes[at ..< at + 4] {
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0") ... UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a") ... UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A") ... UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw error("bad \\u escape")
                }
                value = value << 4 | digit
            }
            at += 4
            return value
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; integers stay integers, as Python reads them.
        mutating func number() throws(JSONSyntaxError) -> JSONValue {
            let start = at
            func digits(_ parser: inout Parser) -> Int {
                let from = parser.at
                while parser.at < parser.bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(parser.bytes[parser.at]) {
                    parser.at += 1
                }
                return parser.at - from
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[at]) else {
                throw error("unexpected character")
            }
            if bytes[at] == UInt8(ascii: "0") { at += 1 } else { _ = digits(&self) }
            var integral = true
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                integral = false
                guard digits(&self) > 0 else { throw error("digits expected after '.'") }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                integral = false
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits(&self) > 0 else { throw error("digits expected in the exponent") }
            }
            let text = String(decoding: bytes[start ..< at], as: UTF8.self)
            if integral, let value = Int(text) { return .integer(value) }
            guard let value = Double(text) else { throw error("number out of range") }
            return .number(value)
        }
    }
}
