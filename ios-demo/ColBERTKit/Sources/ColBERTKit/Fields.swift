import Foundation

/// Field-by-field type checks of a bundle's JSON: a required field that is missing is `malformed`, a known field
/// of the wrong type `mistyped_field` (JSON `true` is not an integer, `1` is not a boolean). Unknown fields are
/// ignored: later formats may add some.
struct Fields {
    let object: JSONObject
    let place: String  // the file (and path inside it) errors name

    /// Reads a bundle's JSON file: `malformed` unless it is UTF-8 JSON holding an object.
    static func read(_ url: URL, name: String) throws(BundleError) -> Fields {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw BundleError(.missingFile, "\(name) cannot be read; re-export the bundle")
        }
        return try parse([UInt8](data), name: name)
    }

    static func parse(_ bytes: [UInt8], name: String) throws(BundleError) -> Fields {
        let value: JSONValue
        do { value = try JSONReader.parse(bytes) } catch {
            throw BundleError(.malformed, "\(name) is not valid JSON (\(error)); re-export the bundle")
        }
        guard case .object(let object) = value else {
            throw BundleError(.malformed, "\(name) must be a JSON object; re-export the bundle")
        }
        return Fields(object: object, place: name)
    }

    func value(_ key: String) throws(BundleError) -> JSONValue {
        guard let value = object[key] else {
            throw BundleError(.malformed, "\(place) lacks \(key); re-export the bundle")
        }
        return value
    }

    func mistyped(_ key: String, _ expected: String) -> BundleError {
        BundleError(.mistypedField, "\(place): \(key) must be \(expected); re-export the bundle")
    }

    func integer(_ key: String) throws(BundleError) -> Int {
        guard case .integer(let number) = try value(key) else { throw mistyped(key, "an integer") }
        return number
    }

    func optionalInteger(_ key: String) throws(BundleError) -> Int? {
        switch try value(key) {
        case .null: return nil
        case .integer(let number): return number
        default: throw mistyped(key, "an integer or null")
        }
    }

    func bool(_ key: String) throws(BundleError) -> Bool {
        guard case .bool(let flag) = try value(key) else { throw mistyped(key, "true or false") }
        return flag
    }

    func string(_ key: String) throws(BundleError) -> String {
        guard case .string(let text) = try value(key) else { throw mistyped(key, "a string") }
        return text
    }

    func number(_ key: String) throws(BundleError) -> Double {
        guard let number = try value(key).double else { throw mistyped(key, "a number") }
        return number
    }

    func integers(_ key: String) throws(BundleError) -> [Int] {
        guard case .array(let items) = try value(key) else { throw mistyped(key, "an array of integers") }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .integer(let number) = item else { throw mistyped(key, "an array of integers") }
            out.append(number)
        }
        return out
    }

    func strings(_ key: String) throws(BundleError) -> [String] {
        guard case .array(let items) = try value(key) else { throw mistyped(key, "an array of strings") }
        var out: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw mistyped(key, "an array of strings") }
            out.append(text)
        }
        return out
    }

    func nested(_ key: String) throws(BundleError) -> Fields {
        guard case .object(let inner) = try value(key) else { throw mistyped(key, "an object") }
        return Fields(object: inner, place: "\(place)[\(key)]")
    }

    func objects(_ key: String) throws(BundleError) -> [Fields] {
        guard case .array(let items) = try value(key) else { throw mistyped(key, "an array of objects") }
        var out: [Fields] = []
        for (n, item) in items.enumerated() {
            guard case .object(let inner) = item else { throw mistyped(key, "an array of objects") }
            out.append(Fields(object: inner, place: "\(place)[\(key)][\(n)]"))
        }
        return out
    }

    /// An array of arrays of numbers (vectors, score rows).
    func numberRows(_ key: String) throws(BundleError) -> [[Double]] {
        guard case .array(let rows) = try value(key) else { throw mistyped(key, "an array of number arrays") }
        var out: [[Double]] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            guard case .array(let items) = row else { throw mistyped(key, "an array of number arrays") }
            var numbers: [Double] = []
            numbers.reserveCapacity(items.count)
            for item in items {
                guard let number = item.double else { throw mistyped(key, "an array of number arrays") }
                numbers.append(number)
            }
            out.append(numbers)
        }
        return out
    }
}
