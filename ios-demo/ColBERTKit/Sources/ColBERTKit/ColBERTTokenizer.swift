import Foundation

/// The encoder's inputs for a batch of texts, and which output vectors PyLate keeps.
public struct EncodedBatch: Sendable, Equatable {
    public var inputIds: [[Int]]
    public var attentionMask: [[Int]]
    public var keep: [[Bool]]
}

/// PyLate's `ColBERT.tokenize` and its filtering, exactly as `runtimes/colbert.py` does them: preprocess,
/// tokenise to the kind's length (less one for the prefix), insert the prefix after [CLS], pad with the mask
/// id (queries to query_length with expansion), and keep what PyLate returns.
public struct ColBERTTokenizer: Sendable {
    public let settings: ColBERTSettings
    private let tokenizer: HFTokenizer
    private let preprocess: TextPreprocessor
    private let skiplist: Set<Int>

    public init(bundle: ColBERTBundle) throws(TokenizerError) {
        guard let data = FileManager.default.contents(atPath: bundle.tokenizerURL.path) else {
            throw .unreadable("no tokenizer.json in the bundle")
        }
        try self.init(tokenizerJSON: data, settings: bundle.settings)
    }

    public init(tokenizerJSON: Data, settings: ColBERTSettings) throws(TokenizerError) {
        self.settings = settings
        tokenizer = try HFTokenizer(json: tokenizerJSON)
        preprocess = TextPreprocessor(settings: settings)
        skiplist = Set(settings.skiplistIds)
    }

    public func encode(_ texts: [String], isQuery: Bool) -> EncodedBatch {
        let s = settings
        let prefixId = isQuery ? s.queryPrefixId : s.documentPrefixId
        let length = isQuery ? s.queryLength : s.documentLength
        let budget = prefixId == nil ? length : length - 1
        let rows = texts.map { text in
            let ids = tokenizer.encode(preprocess(text), maxLength: budget)
            guard let prefixId, !ids.isEmpty else { return ids }
            return [ids[0], prefixId] + ids.dropFirst()
        }
        let expand = isQuery && s.doQueryExpansion
        let width = expand ? length : (rows.map(\.count).max() ?? 0)
        let padId = expand ? s.maskTokenId : s.padTokenId
        var batch = EncodedBatch(inputIds: [], attentionMask: [], keep: [])
        for row in rows {
            let ids = row + Array(repeating: padId, count: width - row.count)
            var mask = Array(repeating: 1, count: row.count) + Array(repeating: 0, count: width - row.count)
            if expand && s.attendToExpansionTokens { mask = Array(repeating: 1, count: width) }
            let keep: [Bool] = isQuery
                ? (s.doQueryExpansion ? Array(repeating: true, count: width) : mask.map { $0 == 1 })
                : zip(ids, mask).map { $1 == 1 && !skiplist.contains($0) }
            batch.inputIds.append(ids)
            batch.attentionMask.append(mask)
            batch.keep.append(keep)
        }
        return batch
    }
}
