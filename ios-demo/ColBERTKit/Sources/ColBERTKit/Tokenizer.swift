import Foundation

/// Hugging Face `tokenizers` for the two kinds a bundle may carry (spec/bundle.md, "Tokenizer"): byte-level BPE
/// with NFC (mxbai / ModernBERT) and WordPiece with BERT's normalizer and pre-tokenizer (MiniLM). Added tokens
/// are split out of the text first (non-normalized ones on the raw text, then normalized ones on the normalized
/// text), then the pre-tokenizer and the model run, then truncation and the single-sequence template.
public struct HFTokenizer: Sendable {
    enum Normalizer: Sendable {
        case nfc
        case bert(cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    }

    enum Model: Sendable {
        case bpe(BPEModel)
        case wordPiece(unk: Int, prefix: String, maxCharacters: Int)
    }

    let normalizer: Normalizer
    let model: Model
    let vocab: [String: Int]
    let added: AddedTokens
    let prefix: [Int]  // the template's special ids before $A
    let suffix: [Int]  // and after it

    /// tokenizer.json at `url`: `malformed` when it does not parse, `unknown_tokenizer_component` outside the two kinds.
    public init(fileAt url: URL) throws(BundleError) {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw BundleError(.missingFile, "\(url.path) cannot be read; re-export the bundle")
        }
        try self.init(json: data, name: url.path)
    }

    public init(json data: Data, name: String = "tokenizer.json") throws(BundleError) {
        let root = try Fields.parse([UInt8](data), name: name)
        guard case .object(let model) = root.object["model"], case .object(let vocabTable) = model["vocab"] else {
            throw BundleError(.malformed, "\(name) has no model vocabulary; re-export the bundle")
        }
        let kind = try TokenizerKind.check(root.object, name: name)
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(vocabTable.keys.count)
        for (token, id) in vocabTable.pairs {
            guard case .integer(let number) = id else {
                throw BundleError(.mistypedField, "\(name): the vocabulary maps \(token) to a non-integer; re-export the bundle")
            }
            vocab[token] = number
        }
        self.vocab = vocab
        switch kind {
        case .bytePairEncoding:
            normalizer = .nfc
            self.model = .bpe(BPEModel(vocab: vocab, merges: model["merges"]))
        case .wordPiece:
            var settings = JSONObject()
            if case .object(let table) = root.object["normalizer"] { settings = table }
            let lowercase = settings.bool("lowercase", default: true)
            normalizer = .bert(cleanText: settings.bool("clean_text", default: true),
                               chineseChars: settings.bool("handle_chinese_chars", default: true),
                               stripAccents: settings.bool("strip_accents", default: lowercase), lowercase: lowercase)
            guard case .string(let unkToken) = model["unk_token"], let unk = vocab[unkToken] else {
                throw BundleError(.malformed, "\(name): the WordPiece model has no unk_token in its vocabulary; re-export the bundle")
            }
            var subwordPrefix = "##", maxCharacters = 100
            if case .string(let text) = model["continuing_subword_prefix"] { subwordPrefix = text }
            if case .integer(let number) = model["max_input_chars_per_word"] { maxCharacters = number }
            self.model = .wordPiece(unk: unk, prefix: subwordPrefix, maxCharacters: maxCharacters)
        }
        let normalize = { [normalizer] (text: String) in Self.normalize(text, normalizer) }
        added = AddedTokens(root.object["added_tokens"], normalize: normalize)
        (prefix, suffix) = try Template.ids(root.object["post_processor"], name: name)
    }

    /// Ids as `tokenizers` gives them for one text: truncated to `maxLength` tokens, specials included.
    public func encode(_ text: String, maxLength: Int) -> [Int] {
        var ids: [Int] = []
        for piece in added.split(Array(text.unicodeScalars), normalizedPass: false) {
            switch piece {
            case .token(let id): ids.append(id)
            case .text(let raw):
                let normalized = Array(Self.normalize(String(String.UnicodeScalarView(raw)), normalizer).unicodeScalars)
                for inner in added.split(normalized, normalizedPass: true) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let scalars): modelIds(scalars, into: &ids)
                    }
                }
            }
        }
        let room = max(maxLength - prefix.count - suffix.count, 0)
        return prefix + ids.prefix(room) + suffix
    }

    func modelIds(_ text: [Unicode.Scalar], into ids: inout [Int]) {
        switch model {
        case .bpe(let bpe):
            for word in ByteLevel.split(text) { bpe.encode(word, into: &ids) }
        case .wordPiece(let unk, let prefix, let maxCharacters):
            for word in Bert.split(text) { ids += Self.wordPiece(word, vocab, unk, prefix, maxCharacters) }
        }
    }

    static func normalize(_ text: String, _ normalizer: Normalizer) -> String {
        switch normalizer {
        case .nfc: NFC.normalize(text)
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
}

/// NFC as `tokenizers` applies it. Its tables predate some combining marks: a code point the toolchain gives a
/// combining class but `charclasses.jsonl`'s `nfc_combining` does not is a starter there, never reordered, so
/// the text is normalized in pieces around it.
enum NFC {
    static func normalize(_ text: String) -> String {
        var out = "", segment = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value >= 0x300, scalar.properties.canonicalCombiningClass.rawValue != 0,
               !UnicodeTables.nfcCombining.contains(scalar) {
                out += String(segment).precomposedStringWithCanonicalMapping
                segment = String.UnicodeScalarView()
                out.unicodeScalars.append(scalar)
            } else {
                segment.append(scalar)
            }
        }
        return out + String(segment).precomposedStringWithCanonicalMapping
    }
}
