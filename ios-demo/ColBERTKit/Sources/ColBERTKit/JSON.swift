import Foundation

/// A JSON value as the bundle's files carry it. Foundation's `JSONSerialization` is not used for bundle files:
/// on Linux it reads `1` as `true`, accepts UTF-16 and loses key order, and the spec tells `1` and `true` apart
/// (`mistyped_field`) and writes index metadata back byte for byte.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int)  // a number written without fraction or exponent that fits in Int (Python's int)
    case number(Double)  // any other number (Python's float)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The value as a number, whether written as an integer or not.
    public var double: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
}

/// A JSON object with its keys in the file's order (Python's `dict` keeps it; `json.dumps` writes it back so).
public struct JSONObject: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var values: [String: JSONValue] = [:]

    public init() {}

    public subscript(key: String) -> JSONValue? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var pairs: [(key: String, value: JSONValue)] { keys.compactMap { key in values[key].map { (key, $0) } } }
}

extension JSONObject {
    /// A boolean field, or `fallback` when it is absent or not a boolean (tokenizer.json's optional flags).
    func bool(_ key: String, default fallback: Bool) -> Bool {
        if case .bool(let value) = self[key] { return value }
        return fallback
    }
}

/// Why a text is not JSON; `offset` is the byte where reading stopped.
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: String
    public let offset: Int
    public var description: String { "\(reason) at byte \(offset)" }
}
