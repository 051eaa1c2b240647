/// An index file that cannot be used (spec/bundle.md, "Index file"): the kind and one line saying what to do.
public struct IndexError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case corrupt
        case unknownVersion = "unknown_version"
        case otherModel = "other_model"
        case unreadable  // the file cannot be read at all (permissions, a directory)
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
