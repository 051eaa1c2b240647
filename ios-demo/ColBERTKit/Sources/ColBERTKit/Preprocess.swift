/// What PyLate (through sentence-transformers) does to a text before the tokenizer: strip the bundle's
/// `strip_codepoints` from both ends, then, with `do_lower_case`, lowercase as Python's `str.lower()` does.
/// Python's tables come from `charclasses.jsonl` (Python 3.11's Unicode 14), not the toolchain's.
public struct TextPreprocessor: Sendable {
    private let strip: Set<UInt32>
    private let lowercase: Bool

    public init(settings: ColBERTSettings) {
        self.init(stripCodepoints: settings.stripCodepoints, lowercase: settings.doLowerCase)
    }

    public init(stripCodepoints: [UInt32], lowercase: Bool) {
        strip = Set(stripCodepoints)
        self.lowercase = lowercase
    }

    public func callAsFunction(_ text: String) -> String {
        let all = Array(text.unicodeScalars)
        guard let start = all.firstIndex(where: { !strip.contains($0.value) }),
              let end = all.lastIndex(where: { !strip.contains($0.value) }) else { return "" }
        let scalars = Array(all[start ... end])
        return lowercase ? Self.pythonLowercase(scalars) : String(String.UnicodeScalarView(scalars))
    }

    /// Python's full lowercase mapping per code point (U+0130 becomes i + U+0307), and its one context rule: a
    /// capital sigma preceded by a cased letter and not followed by one (case-ignorable code points skipped both
    /// ways) becomes final sigma.
    static func pythonLowercase(_ scalars: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView()
        for (i, scalar) in scalars.enumerated() {
            if scalar.value == 0x03A3 {
                out.append(isFinalSigma(scalars, i) ? "\u{03C2}" : "\u{03C3}")
            } else {
                UnicodeTables.pythonLower.map(scalar, into: &out)
            }
        }
        return String(out)
    }

    static func isFinalSigma(_ scalars: [Unicode.Scalar], _ i: Int) -> Bool {
        func casedNeighbour(_ indices: some Sequence<Int>) -> Bool {
            for j in indices {
                if UnicodeTables.pythonCaseIgnorable.contains(scalars[j]) { continue }
                return UnicodeTables.pythonCased.contains(scalars[j])
            }
            return false
        }
        return casedNeighbour(stride(from: i - 1, through: 0, by: -1)) && !casedNeighbour(i + 1 ..< scalars.count)
    }
}
