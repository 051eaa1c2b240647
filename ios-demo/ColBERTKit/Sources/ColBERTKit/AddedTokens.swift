/// tokenizer.json's added tokens, split out of a text before the model runs, as `tokenizers` does:
/// non-overlapping leftmost-longest matches, then each token's rules (single_word drops a match inside a word,
/// lstrip and rstrip widen it over neighbouring whitespace not already taken).
struct AddedTokens: Sendable {
    struct Token: Sendable {
        let content: [Unicode.Scalar]
        let id: Int
        let lstrip: Bool
        let rstrip: Bool
        let singleWord: Bool
    }

    enum Piece { case token(Int), text([Unicode.Scalar]) }

    /// Per pass (raw text, normalized text), the tokens by their first scalar, longest first: a position
    /// looks only at the tokens that can start there.
    private let byFirst: [Bool: [UInt32: [Token]]]

    init(_ json: JSONValue?, normalize: (String) -> String) {
        var byFirst: [Bool: [UInt32: [Token]]] = [false: [:], true: [:]]
        if case .array(let entries) = json {
            for case .object(let entry) in entries {
                guard case .string(var content) = entry["content"], case .integer(let id) = entry["id"] else { continue }
                let normalized = entry.bool("normalized", default: true)
                if normalized { content = normalize(content) }  // matched on normalized text
                let scalars = Array(content.unicodeScalars)
                guard let first = scalars.first else { continue }
                let token = Token(content: scalars, id: id, lstrip: entry.bool("lstrip", default: false),
                                  rstrip: entry.bool("rstrip", default: false), singleWord: entry.bool("single_word", default: false))
                byFirst[normalized, default: [:]][first.value, default: []].append(token)
            }
        }
        self.byFirst = byFirst.mapValues { table in table.mapValues { $0.sorted { $0.content.count > $1.content.count } } }
    }

    func split(_ text: [Unicode.Scalar], normalizedPass: Bool) -> [Piece] {
        guard let table = byFirst[normalizedPass], !table.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        var matches: [(token: Token, start: Int, end: Int)] = [], i = 0
        while i < text.count {
            let best = table[text[i].value]?.first { token in
                i + token.content.count <= text.count && text[i ..< i + token.content.count].elementsEqual(token.content)
            }
            if let best {
                matches.append((best, i, i + best.content.count))
                i += best.content.count
            } else {
                i += 1
            }
        }
        var pieces: [Piece] = [], offset = 0
        for (token, matchStart, matchEnd) in matches {
            var start = matchStart, end = matchEnd
            if token.singleWord,
               (start > 0 && Self.isWordCharacter(text[start - 1])) || (end < text.count && Self.isWordCharacter(text[end])) {
                continue
            }
            if token.lstrip {
                while start > offset, WhiteSpace.contains(text[start - 1]) { start -= 1 }
            }
            if token.rstrip {
                while end < text.count, WhiteSpace.contains(text[end]) { end += 1 }
            }
            if offset < start { pieces.append(.text(Array(text[offset ..< start]))) }
            pieces.append(.token(token.id))
            offset = end
        }
        if offset < text.count { pieces.append(.text(Array(text[offset...]))) }
        return pieces
    }

    /// Word characters for single_word: letters, numbers and `_` (from the conformance tables). Rust's `\w`
    /// also takes marks and connector punctuation; no bundle's tokenizer has a single_word token today.
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        s == "_" || UnicodeTables.bytelevelLetter.contains(s) || UnicodeTables.bytelevelNumber.contains(s)
    }
}
