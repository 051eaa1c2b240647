/// A bundle that cannot be trusted or run, or an input it refuses: one of the spec's error kinds
/// (spec/bundle.md, "Errors") and one line that names the file and says what to do.
public struct BundleError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case notABundle = "not_a_bundle"
        case unknownFormat = "unknown_format"
        case malformed
        case mistypedField = "mistyped_field"
        case missingFile = "missing_file"
        case tampered
        case unlistedFile = "unlisted_file"
        case unknownTarget = "unknown_target"
        case unknownTokenizerComponent = "unknown_tokenizer_component"
        case unreadableModel = "unreadable_model"
        case inputPastBound = "input_past_bound"
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `<kind>: <message>`, as the CLI prints it after `error: `.
    public var description: String { "\(kind.rawValue): \(message)" }
}
