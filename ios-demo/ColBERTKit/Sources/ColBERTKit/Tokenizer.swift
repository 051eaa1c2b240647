import Foundation

/// A `tokenizer.json` component this port does not implement; the description names it.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    case unsupported(component: String, type: String)
    case unreadable(String)
    case unknownToken(String)

    public var description: String {
        switch self {
        case .unsupported(let component, let type):
            "tokenizer.json uses a \(component) of type \(type), which ColBERTKit does not implement " +
                "(supported: byte-level BPE with NFC, as mxbai-edge-colbert-v0 ships, and BERT's WordPiece)"
        case .unreadable(let reason): "tokenizer.json cannot be read (\(reason))"
        case .unknownToken(let token): "tokenizer.json's post-processor names \(token), which is not in its vocabulary"
        }
    }
}

/// Hugging Face `tokenizers` for the two kinds the exporter supports: byte-level BPE with NFC (mxbai /
/// ModernBERT) and WordPiece with BERT's normalizer and pre-tokenizer (MiniLM, ColBERTv2). The added tokens
/// are split out of the text first (non-normalized ones on the raw text, then normalized ones on the
/// normalized text), then the pre-tokenizer and the model run, then truncation and the single template.
public struct HFTokenizer: Sendable {
    enum Normalizer: Sendable {
        case nfc
        case bert(cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    }

    enum Model: Sendable {
        case bpe(ranks: [String: Int])  // "left right" -> merge rank
        case wordPiece(unk: Int, prefix: String, maxCharacters: Int)
    }

    struct AddedToken: Sendable {
        let content: [Unicode.Scalar]
        let id: Int
        let normalized: Bool
        let lstrip: Bool  // the match takes the whitespace before it
        let rstrip: Bool  // and after it
        let singleWord: Bool  // matches only between non-word characters
    }

    private let normalizer: Normalizer
    private let model: Model
    private let vocab: [String: Int]
    private let added: [AddedToken]
    private let prefix: [Int]  // the template's special ids before $A
    private let suffix: [Int]  // and after it

    public init(json data: Data) throws(TokenizerError) {
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError.unreadable("not a JSON object")
            }
            root = object
        } catch let error as TokenizerError { throw error } catch { throw .unreadable("\(error)") }
        let normalizerType = try Self.require(root["normalizer"], "normalizer", ["NFC", "BertNormalizer"])
        let bpe = normalizerType == "NFC"  // the two supported kinds, whole
        try Self.require(root["pre_tokenizer"], "pre_tokenizer", [bpe ? "ByteLevel" : "BertPreTokenizer"])
        try Self.require(root["model"], "model", [bpe ? "BPE" : "WordPiece"])
        try Self.require(root["post_processor"], "post_processor", ["TemplateProcessing", "BertProcessing"])
        guard let model = root["model"] as? [String: Any], let vocab = model["vocab"] as? [String: Int] else {
            throw .unreadable("the model has no vocab")
        }
        self.vocab = vocab
        if bpe {
            let pre = root["pre_tokenizer"] as? [String: Any] ?? [:]
            if (pre["add_prefix_space"] as? Bool) == true || (pre["use_regex"] as? Bool) == false {
                throw .unsupported(component: "pre_tokenizer", type: "ByteLevel with add_prefix_space or without its regex")
            }
            if (model["byte_fallback"] as? Bool) == true || (model["ignore_merges"] as? Bool) == true
                || model["continuing_subword_prefix"] is String || model["end_of_word_suffix"] is String {
                throw .unsupported(component: "model", type: "BPE with byte_fallback, ignore_merges or affixes")
            }
            var ranks: [String: Int] = [:]
            for (rank, merge) in (model["merges"] as? [Any] ?? []).enumerated() {
                if let pair = merge as? [String], pair.count == 2 { ranks[pair[0] + " " + pair[1]] = rank }
                else if let line = merge as? String { ranks[line] = rank }
            }
            normalizer = .nfc
            self.model = .bpe(ranks: ranks)
        } else {
            let n = root["normalizer"] as? [String: Any] ?? [:]
            let lowercase = (n["lowercase"] as? Bool) ?? true
            normalizer = .bert(cleanText: (n["clean_text"] as? Bool) ?? true,
                               chineseChars: (n["handle_chinese_chars"] as? Bool) ?? true,
                               stripAccents: (n["strip_accents"] as? Bool) ?? lowercase, lowercase: lowercase)
            guard let unkToken = model["unk_token"] as? String, let unk = vocab[unkToken] else {
                throw .unreadable("the WordPiece model has no unk_token in its vocab")
            }
            self.model = .wordPiece(unk: unk, prefix: (model["continuing_subword_prefix"] as? String) ?? "##",
                                    maxCharacters: (model["max_input_chars_per_word"] as? Int) ?? 100)
        }
        var added: [AddedToken] = []
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard var content = entry["content"] as? String, let id = entry["id"] as? Int else { continue }
            let normalized = (entry["normalized"] as? Bool) ?? true
            if normalized { content = Self.normalize(content, normalizer) }  // matched on normalized text
            added.append(AddedToken(content: Array(content.unicodeScalars), id: id,
                                    normalized: normalized,
                                    lstrip: (entry["lstrip"] as? Bool) ?? false, rstrip: (entry["rstrip"] as? Bool) ?? false,
                                    singleWord: (entry["single_word"] as? Bool) ?? false))
        }
        self.added = added
        (prefix, suffix) = try Self.template(root["post_processor"] as? [String: Any] ?? [:], added)
    }

    @discardableResult
    static func require(_ component: Any?, _ name: String, _ supported: Set<String>) throws(TokenizerError) -> String {
        let type = (component as? [String: Any])?["type"] as? String ?? "none"
        if !supported.contains(type) { throw .unsupported(component: name, type: type) }
        return type
    }

    /// The special ids the single-sequence template puts before and after the text.
    static func template(_ processor: [String: Any], _ added: [AddedToken]) throws(TokenizerError) -> ([Int], [Int]) {
        if processor["type"] as? String == "BertProcessing" {  // "cls": ["[CLS]", 101], "sep": ["[SEP]", 102]
            guard let cls = (processor["cls"] as? [Any])?.last as? Int, let sep = (processor["sep"] as? [Any])?.last as? Int else {
                throw .unknownToken("BertProcessing's cls or sep")
            }
            return ([cls], [sep])
        }
        var before: [Int] = [], after: [Int] = [], seen = false
        let specials = processor["special_tokens"] as? [String: [String: Any]] ?? [:]
        for piece in processor["single"] as? [[String: Any]] ?? [] {
            if piece["Sequence"] != nil { seen = true; continue }
            guard let token = (piece["SpecialToken"] as? [String: Any])?["id"] as? String else { continue }
            guard let ids = specials[token]?["ids"] as? [Int] else { throw .unknownToken(token) }
            if seen { after += ids } else { before += ids }
        }
        return (before, after)
    }

    /// Ids as `tokenizers` gives them for one text: truncated to `maxLength` tokens, specials included.
    public func encode(_ text: String, maxLength: Int) -> [Int] {
        var ids: [Int] = []
        for piece in splitAddedTokens(Array(text.unicodeScalars), normalizedPass: false) {
            switch piece {
            case .token(let id): ids.append(id)
            case .text(let raw):
                let normalized = Array(Self.normalize(String(String.UnicodeScalarView(raw)), normalizer).unicodeScalars)
                for inner in splitAddedTokens(normalized, normalizedPass: true) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let scalars): ids += modelIds(scalars)
                    }
                }
            }
        }
        let room = max(maxLength - prefix.count - suffix.count, 0)
        return prefix + ids.prefix(room) + suffix
    }

    enum Piece { case token(Int), text([Unicode.Scalar]) }

    /// Splits out the added tokens of one kind: non-overlapping leftmost-longest matches (the aho-corasick
    /// matcher of `tokenizers`), then its rules per token: single_word drops a match inside a word, lstrip and
    /// rstrip widen it over neighbouring whitespace not already taken.
    func splitAddedTokens(_ text: [Unicode.Scalar], normalizedPass: Bool) -> [Piece] {
        let candidates = added.filter { $0.normalized == normalizedPass && !$0.content.isEmpty }
        var matches: [(token: AddedToken, start: Int, end: Int)] = [], i = 0
        while i < text.count {
            let best = candidates.filter { token in
                i + token.content.count <= text.count && text[i ..< i + token.content.count].elementsEqual(token.content)
            }.max { $0.content.count < $1.content.count }
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
                while start > offset, text[start - 1].properties.isWhitespace { start -= 1 }
            }
            if token.rstrip {
                while end < text.count, text[end].properties.isWhitespace { end += 1 }
            }
            if offset < start { pieces.append(.text(Array(text[offset ..< start]))) }
            pieces.append(.token(token.id))
            offset = end
        }
        if offset < text.count { pieces.append(.text(Array(text[offset...]))) }
        return pieces
    }

    /// `tokenizers`' word characters for single_word: alphanumeric or underscore.
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        s == "_" || ByteLevel.isLetter(s) || ByteLevel.isNumber(s)
    }

    func modelIds(_ text: [Unicode.Scalar]) -> [Int] {
        switch model {
        case .bpe(let ranks):
            return ByteLevel.split(text).flatMap { word in
                Self.bpe(ByteLevel.encode(String(String.UnicodeScalarView(word))), ranks).compactMap { vocab[$0] }
            }
        case .wordPiece(let unk, let prefix, let maxCharacters):
            return Bert.split(text).flatMap { Self.wordPiece($0, vocab, unk, prefix, maxCharacters) }
        }
    }

    static func normalize(_ text: String, _ normalizer: Normalizer) -> String {
        switch normalizer {
        case .nfc: text.precomposedStringWithCanonicalMapping
        case .bert(let clean, let chinese, let strip, let lowercase):
            Bert.normalize(text, cleanText: clean, chineseChars: chinese, stripAccents: strip, lowercase: lowercase)
        }
    }

    /// Greedy longest-prefix WordPiece; a word with a piece outside the vocabulary, or longer than
    /// `maxCharacters`, is one unknown token.
    static func wordPiece(_ word: [Unicode.Scalar], _ vocab: [String: Int], _ unk: Int, _ prefix: String,
                          _ maxCharacters: Int) -> [Int] {
        if word.count > maxCharacters { return [unk] }
        var ids: [Int] = [], start = 0
        while start < word.count {
            var end = word.count, found: Int?
            while start < end {
                let piece = (start > 0 ? prefix : "") + String(String.UnicodeScalarView(word[start ..< end]))
                if let id = vocab[piece] { found = id; break }
                end -= 1
            }
            guard let found else { return [unk] }
            ids.append(found)
            start = end
        }
        return ids
    }

    /// Merges the adjacent pair of lowest rank, leftmost first, until none is left.
    static func bpe(_ symbols: [String], _ ranks: [String: Int]) -> [String] {
        var word = symbols
        while word.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0 ..< word.count - 1 {
                if let rank = ranks[word[i] + " " + word[i + 1]], rank < (best?.rank ?? Int.max) { best = (rank, i) }
            }
            guard let (_, i) = best else { break }
            word[i ... i + 1] = [word[i] + word[i + 1]]
        }
        return word
    }
}

/// GPT-2's byte-level pre-tokenization: its regex split, and each byte as one printable character.
enum ByteLevel {
    static let byteToCharacter: [String] = {
        var printable = Array(33 ... 126) + Array(161 ... 172) + Array(174 ... 255)
        var mapped = printable
        var extra = 0
        for byte in 0 ... 255 where !printable.contains(byte) {
            printable.append(byte)
            mapped.append(256 + extra)
            extra += 1
        }
        var table = [String](repeating: "", count: 256)
        for (byte, scalar) in zip(printable, mapped) { table[byte] = String(Character(Unicode.Scalar(UInt32(scalar))!)) }
        return table
    }()

    static func encode(_ word: String) -> [String] { word.utf8.map { byteToCharacter[Int($0)] } }

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    static func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, in that order of preference.
    static func split(_ text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = [], i = 0
        while i < text.count {
            let end = match(text, at: i)
            words.append(Array(text[i ..< end]))
            i = end
        }
        return words
    }

    static func match(_ t: [Unicode.Scalar], at i: Int) -> Int {
        if t[i] == "'" {
            for suffix in ["s", "t", "re", "ve", "m", "ll", "d"] {
                let s = Array(suffix.unicodeScalars)
                if i + 1 + s.count <= t.count, t[i + 1 ..< i + 1 + s.count].elementsEqual(s) { return i + 1 + s.count }
            }
        }
        let other = { (s: Unicode.Scalar) in !isSpace(s) && !isLetter(s) && !isNumber(s) }
        for klass in [isLetter, isNumber, other] {
            var j = i
            if t[j] == " ", j + 1 < t.count { j += 1 }
            if klass(t[j]) {
                while j < t.count, klass(t[j]) { j += 1 }
                return j
            }
        }
        var j = i
        while j < t.count, isSpace(t[j]) { j += 1 }
        if j == i { return i + 1 }  // unreachable: every scalar is a letter, number, other or space
        if j == t.count || j - i == 1 { return j }  // \s+ at the end, or a lone space before a word
        return j - 1  // \s+(?!\S): leave the last space to prefix the next word
    }
}
