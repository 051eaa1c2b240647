package edgecolbert.colbert

/**
 * Everything this library refuses, as one sealed family: a bad bundle, a bad index file, or an input past a
 * bundle's bound. [kind] is the spec's name for it (spec/bundle.md, "Errors"); the message is one line that
 * names the file and says what to do.
 */
sealed class ColbertException(message: String) : Exception(message) {
    abstract val kind: String
}

/** A bundle that cannot be trusted or run. [file] is the bundle-relative file at fault (or the bundle). */
sealed class BundleException(val file: String, message: String) : ColbertException(message) {
    class NotABundle(file: String, message: String) : BundleException(file, message) { override val kind = "not_a_bundle" }
    class UnknownFormat(file: String, message: String) : BundleException(file, message) { override val kind = "unknown_format" }
    class Malformed(file: String, message: String) : BundleException(file, message) { override val kind = "malformed" }
    class MistypedField(file: String, message: String) : BundleException(file, message) { override val kind = "mistyped_field" }
    class MissingFile(file: String, message: String) : BundleException(file, message) { override val kind = "missing_file" }
    class Tampered(file: String, message: String) : BundleException(file, message) { override val kind = "tampered" }
    class UnlistedFile(file: String, message: String) : BundleException(file, message) { override val kind = "unlisted_file" }
    class UnknownTarget(file: String, message: String) : BundleException(file, message) { override val kind = "unknown_target" }
    class UnknownTokenizerComponent(file: String, message: String) : BundleException(file, message) {
        override val kind = "unknown_tokenizer_component"
    }
    class UnreadableModel(file: String, message: String) : BundleException(file, message) { override val kind = "unreadable_model" }
}

/** An index file that cannot be used (spec/bundle.md, "Index file"). */
sealed class IndexException(message: String) : ColbertException(message) {
    class Corrupt(message: String) : IndexException(message) { override val kind = "corrupt" }
    class UnknownVersion(message: String) : IndexException(message) { override val kind = "unknown_version" }
    class OtherModel(message: String) : IndexException(message) { override val kind = "other_model" }
    class Unreadable(message: String) : IndexException(message) { override val kind = "unreadable" }
}

/** An input the bundle's model cannot take: a sequence past `io.max_sequence`, or past every bucket. */
class InputPastBoundException(message: String) : ColbertException(message) {
    override val kind = "input_past_bound"
}
