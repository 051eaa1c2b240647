import Foundation

/// The encoder's inputs for a batch of texts, and which output vectors PyLate keeps.
public struct EncodedBatch: Sendable, Equatable {
    public var inputIds: [[Int]]
    public var attentionMask: [[Int]]
    public var keep: [[Bool]]

    /// The kept positions of row `n`.
    public func keptPositions(_ n: Int) -> [Int] { keep[n].enumerated().filter(\.element).map(\.offset) }
}

/// PyLate's `ColBERT.tokenize` and its filtering (spec/bundle.md, "Encoding a text", steps 1 to 6):
/// preprocess, tokenise to the kind's length (less one for the prefix), insert the prefix after [CLS], pad
/// (queries to query_length with expansion), and keep what PyLate returns.
public struct ColBERTTokenizer: Sendable {
    public let settings: ColBERTSettings
    private let tokenizer: HFTokenizer
    private let preprocess: TextPreprocessor
    private let skiplist: Set<Int>

    /// The bundle's tokenizer, already read and checked when the bundle was opened.
    public init(bundle: ColBERTBundle) {
        self.init(tokenizer: bundle.tokenizer, settings: bundle.settings)
    }

    public init(tokenizerJSON: Data, settings: ColBERTSettings) throws(BundleError) {
        self.init(tokenizer: try HFTokenizer(json: tokenizerJSON), settings: settings)
    }

    public init(tokenizer: HFTokenizer, settings: ColBERTSettings) {
        self.settings = settings
        self.tokenizer = tokenizer
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
        let width = expand ? max(length, rows.map(\.count).max() ?? 0) : (rows.map(\.count).max() ?? 0)
        var batch = EncodedBatch(inputIds: [], attentionMask: [], keep: [])
        for row in rows {
            let padId = expand ? s.maskTokenId : s.padTokenId
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
