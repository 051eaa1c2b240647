import Foundation

/// BERT's normalizer and pre-tokenizer as `tokenizers` implements them (checked against it, not its docs):
/// control, format, private-use and surrogate code points are dropped (unassigned ones are kept), whitespace
/// becomes a space, CJK ideographs are padded with spaces, accents are stripped (NFD, then nonspacing marks
/// dropped) before lowercasing, and lowercasing maps each code point alone (no final sigma).
///
/// Its category tables (controls, nonspacing marks, punctuation) are Unicode 8.0's: a code point assigned
/// later counts as unassigned there, so it is neither dropped, stripped nor split off, and the seven code
/// points below still have their 8.0 category. Both found by comparing every code point with `tokenizers`.
enum Bert {
    static let tableVersion = (major: 8, minor: 0)
    static let unicode8Categories: [UInt32: Unicode.GeneralCategory] = [
        0x166D: .otherPunctuation, 0x1734: .nonspacingMark, 0x1885: .otherLetter, 0x1886: .otherLetter,
        0xA9BD: .spacingMark, 0x111C9: .otherPunctuation, 0x1171E: .nonspacingMark,
    ]

    static func category(_ s: Unicode.Scalar) -> Unicode.GeneralCategory {
        guard let age = s.properties.age, (age.major, age.minor) <= tableVersion else { return .unassigned }
        return unicode8Categories[s.value] ?? s.properties.generalCategory
    }

    static func normalize(_ text: String, cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool) -> String {
        var scalars = Array(text.unicodeScalars)
        if cleanText {
            scalars = scalars.compactMap { s in
                if s.value == 0 || s.value == 0xFFFD || isControl(s) { return nil }
                return isWhitespace(s) ? " " : s
            }
        }
        if chineseChars {
            scalars = scalars.flatMap { isChinese($0) ? [" ", $0, " "] : [$0] }
        }
        var out = String(String.UnicodeScalarView(scalars))
        if stripAccents {
            out = String(String.UnicodeScalarView(out.decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                category($0) != .nonspacingMark
            }))
        }
        if lowercase {
            out = String(String.UnicodeScalarView(out.unicodeScalars.flatMap { $0.properties.lowercaseMapping.unicodeScalars }))
        }
        return out
    }

    /// Words split on whitespace (dropped) and around each punctuation character (kept alone).
    static func split(_ text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = [], word: [Unicode.Scalar] = []
        for s in text {
            if s.properties.isWhitespace || isPunctuation(s) {
                if !word.isEmpty { words.append(word) }
                word = []
                if isPunctuation(s) { words.append([s]) }
            } else {
                word.append(s)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch category(s) {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII, (33 ... 47).contains(s.value) || (58 ... 64).contains(s.value) || (91 ... 96).contains(s.value)
            || (123 ... 126).contains(s.value) { return true }
        switch category(s) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isChinese(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00 ... 0x9FFF, 0x3400 ... 0x4DBF, 0x20000 ... 0x2A6DF, 0x2A700 ... 0x2B73F, 0x2B740 ... 0x2B81F,
             0x2B920 ... 0x2CEAF, 0xF900 ... 0xFAFF, 0x2F800 ... 0x2FA1F: return true
        default: return false
        }
    }
}
