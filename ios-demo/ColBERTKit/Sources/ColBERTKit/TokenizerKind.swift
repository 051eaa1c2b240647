/// The two kinds of tokenizer.json a bundle may carry, whole; anything else is refused when the bundle is
/// opened, naming the component (spec/bundle.md, "Tokenizer"), so a bundle ColBERTKit accepts is one every
/// reader accepts.
enum TokenizerKind {
    case bytePairEncoding, wordPiece

    static func type(_ component: JSONValue?) -> String {
        if case .object(let table) = component, case .string(let type) = table["type"] { return type }
        return "none"
    }

    static func refuse(_ name: String, _ component: String, _ found: String) -> BundleError {
        BundleError(.unknownTokenizerComponent, "\(name): its \(component) is \(found), which ColBERTKit does not "
            + "implement (byte-level BPE or WordPiece only); re-export from a checkpoint with a supported tokenizer")
    }

    /// Python's truthiness of an optional field: null, false, 0 and "" are all "not set".
    static func isSet(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?, .bool(false)?: false
        case .integer(let n)?: n != 0
        case .number(let x)?: x != 0
        case .string(let s)?: !s.isEmpty
        case .array(let a)?: !a.isEmpty
        case .object(let o)?: !o.keys.isEmpty
        default: true
        }
    }

    static func check(_ root: JSONObject, name: String) throws(BundleError) -> TokenizerKind {
        let kind: TokenizerKind = type(root["normalizer"]) == "NFC" ? .bytePairEncoding : .wordPiece
        let expected = kind == .bytePairEncoding
            ? [("normalizer", "NFC"), ("pre_tokenizer", "ByteLevel"), ("model", "BPE")]
            : [("normalizer", "BertNormalizer"), ("pre_tokenizer", "BertPreTokenizer"), ("model", "WordPiece")]
        for (component, type) in expected where Self.type(root[component]) != type {
            throw refuse(name, component, Self.type(root[component]))
        }
        if kind == .bytePairEncoding, case .object(let pre) = root["pre_tokenizer"], case .object(let model) = root["model"] {
            if isSet(pre["add_prefix_space"]) || pre["use_regex"] == .bool(false) {
                throw refuse(name, "pre_tokenizer", "ByteLevel with add_prefix_space or without its regex")
            }
            // dropout would make encoding random; the others change which pieces BPE makes.
            let unsupported = ["byte_fallback", "ignore_merges", "dropout", "continuing_subword_prefix", "end_of_word_suffix"]
            if let field = unsupported.first(where: { isSet(model[$0]) }) {
                throw refuse(name, "model", "BPE with \(field)")
            }
        }
        let post = type(root["post_processor"])
        guard post == "TemplateProcessing" || post == "BertProcessing" else { throw refuse(name, "post_processor", post) }
        return kind
    }
}

/// The special ids the single-sequence template puts before and after the text.
enum Template {
    static func ids(_ processor: JSONValue?, name: String) throws(BundleError) -> ([Int], [Int]) {
        guard case .object(let table) = processor else { return ([], []) }
        func bad(_ what: String) -> BundleError {
            BundleError(.malformed, "\(name): the post_processor's \(what) is not in the form tokenizers writes; re-export the bundle")
        }
        if TokenizerKind.type(processor) == "BertProcessing" {  // "cls": ["[CLS]", 101], "sep": ["[SEP]", 102]
            guard case .array(let cls) = table["cls"], case .integer(let clsId)? = cls.last,
                  case .array(let sep) = table["sep"], case .integer(let sepId)? = sep.last else { throw bad("cls or sep") }
            return ([clsId], [sepId])
        }
        var before: [Int] = [], after: [Int] = [], seen = false
        guard case .array(let single) = table["single"] else { throw bad("single template") }
        var specials = JSONObject()
        if case .object(let found) = table["special_tokens"] { specials = found }
        for piece in single {
            guard case .object(let entry) = piece else { throw bad("single template") }
            if entry["Sequence"] != nil { seen = true; continue }
            guard case .object(let special) = entry["SpecialToken"], case .string(let token) = special["id"] else { continue }
            guard case .object(let definition) = specials[token], case .array(let ids) = definition["ids"] else {
                throw bad("special token \(token)")
            }
            for id in ids {
                guard case .integer(let number) = id else { throw bad("special token \(token)") }
                if seen { after.append(number) } else { before.append(number) }
            }
        }
        return (before, after)
    }
}
