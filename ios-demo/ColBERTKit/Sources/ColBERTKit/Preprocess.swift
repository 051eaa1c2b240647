/// What PyLate (through sentence-transformers) does to a text before the tokenizer: strip the bundle's
/// `strip_codepoints` from both ends, then, with `do_lower_case`, lowercase as Python's `str.lower()` does.
public struct TextPreprocessor: Sendable {
    private let strip: Set<UInt32>
    private let lowercase: Bool

    public init(settings: ColBERTSettings) {
        strip = Set(settings.stripCodepoints)
        lowercase = settings.doLowerCase
    }

    public func callAsFunction(_ text: String) -> String {
        let all = Array(text.unicodeScalars)
        guard let start = all.firstIndex(where: { !strip.contains($0.value) }),
              let end = all.lastIndex(where: { !strip.contains($0.value) }) else { return "" }
        let scalars = Array(all[start ... end])
        return lowercase ? Self.pythonLowercase(scalars) : String(String.UnicodeScalarView(scalars))
    }

    /// Unicode's full lowercase mapping per code point (U+0130 becomes i + U+0307), and Python's one context
    /// rule: a capital sigma preceded by a cased letter and not followed by one (case-ignorable code points
    /// skipped both ways) becomes final sigma.
    static func pythonLowercase(_ scalars: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView()
        for (i, scalar) in scalars.enumerated() {
            if scalar.value == 0x03A3 {
                out.append(isFinalSigma(scalars, i) ? "\u{03C2}" : "\u{03C3}")
            } else {
                out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }

    static func isFinalSigma(_ scalars: [Unicode.Scalar], _ i: Int) -> Bool {
        func casedNeighbour(_ indices: some Sequence<Int>) -> Bool {
            for j in indices {
                let p = scalars[j].properties
                if p.isCaseIgnorable { continue }
                return p.isCased
            }
            return false
        }
        return casedNeighbour(stride(from: i - 1, through: 0, by: -1)) && !casedNeighbour(i + 1 ..< scalars.count)
    }
}
