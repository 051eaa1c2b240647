/// Writes JSON as Python's `json.dumps(value, ensure_ascii=False, separators=(",", ":"))` does, so that index
/// metadata written here is byte for byte what the Python runtime writes: keys in order, non-ASCII text as is,
/// control characters as `\uXXXX` (lowercase hex), `/` not escaped.
public enum JSONWriter {
    public static func compact(_ value: JSONValue) -> String {
        var out = ""
        write(value, to: &out)
        return out
    }

    static func write(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .integer(let number): out += String(number)
        case .number(let number): out += pythonRepr(number)
        case .string(let text): writeString(text, to: &out)
        case .array(let items):
            out += "["
            for (n, item) in items.enumerated() {
                if n > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (n, pair) in object.pairs.enumerated() {
                if n > 0 { out += "," }
                writeString(pair.key, to: &out)
                out += ":"
                write(pair.value, to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// Python's float repr: the shortest digits that read back, as Swift's `description` also gives them; the
    /// two differ only in how they name infinities and NaN (and past 2^53, where Swift switches to an exponent
    /// earlier: metadata numbers that large are not written by the exporter).
    static func pythonRepr(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        return number.description
    }
}
