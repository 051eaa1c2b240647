import Foundation

/// BERT's normalizer and pre-tokenizer as `tokenizers` runs them. Every class comes from `charclasses.jsonl`
/// (`tokenizers` uses Unicode 8.0 categories here, so a code point assigned later is neither dropped, stripped
/// nor split off): controls dropped, whitespace made a space, CJK ideographs padded with spaces, accents
/// stripped (NFD, then its nonspacing marks dropped) before lowercasing, each code point lowercased alone.
enum Bert {
    static func normalize(_ text: String, cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool) -> String {
        var scalars = Array(text.unicodeScalars)
        if cleanText {
            scalars = scalars.compactMap { s in
                if UnicodeTables.bertRemoved.contains(s) { return nil }
                return UnicodeTables.bertWhitespace.contains(s) ? " " : s
            }
        }
        if chineseChars {
            scalars = scalars.flatMap { UnicodeTables.bertChinese.contains($0) ? [" ", $0, " "] : [$0] }
        }
        var out = String(String.UnicodeScalarView(scalars))
        if stripAccents {
            out = String(String.UnicodeScalarView(out.decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                !UnicodeTables.bertAccent.contains($0)
            }))
        }
        if lowercase {
            var lowered = String.UnicodeScalarView()
            for s in out.unicodeScalars { UnicodeTables.bertLowercase.map(s, into: &lowered) }
            out = String(lowered)
        }
        return out
    }

    /// Words split on whitespace (dropped) and around each punctuation character (kept alone).
    static func split(_ text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = [], word: [Unicode.Scalar] = []
        for s in text {
            let punctuation = UnicodeTables.bertPunctuation.contains(s)
            if punctuation || UnicodeTables.bertSplitWhitespace.contains(s) {
                if !word.isEmpty { words.append(word) }
                word = []
                if punctuation { words.append([s]) }
            } else {
                word.append(s)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }
}
