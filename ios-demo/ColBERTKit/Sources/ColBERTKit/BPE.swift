/// Byte-level BPE on integer ids: each merge is a table lookup of a pair of ids, never a string built per
/// merge (tokenizing thousands of texts is the tests' and an app's indexing hot path).
struct BPEModel: Sendable {
    private let byteIds: [Int?]  // the vocabulary id of each byte's printable character
    private let merges: [UInt64: (rank: Int, merged: Int)]  // (left id << 32 | right id) -> rank, merged id

    init(vocab: [String: Int], merges json: JSONValue?) {
        byteIds = ByteLevel.byteToCharacter.map { vocab[$0] }
        var merges: [UInt64: (rank: Int, merged: Int)] = [:]
        if case .array(let entries) = json {
            merges.reserveCapacity(entries.count)
            for (rank, entry) in entries.enumerated() {
                let pair: (String, String)
                switch entry {
                case .array(let parts) where parts.count == 2:
                    guard case .string(let left) = parts[0], case .string(let right) = parts[1] else { continue }
                    pair = (left, right)
                case .string(let line):
                    let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else { continue }
                    pair = (String(parts[0]), String(parts[1]))
                default: continue
                }
                guard let left = vocab[pair.0], let right = vocab[pair.1], let merged = vocab[pair.0 + pair.1] else { continue }
                let key = Self.key(left, right)
                if merges[key] == nil { merges[key] = (rank, merged) }  // the first listing of a pair wins
            }
        }
        self.merges = merges
    }

    static func key(_ left: Int, _ right: Int) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: left)) << 32 | UInt64(UInt32(truncatingIfNeeded: right)) }

    /// One pre-tokenized word: its UTF-8 bytes as ids, then the adjacent pair of lowest rank merged, leftmost
    /// first, until none is left.
    func encode(_ word: [Unicode.Scalar], into ids: inout [Int]) {
        var symbols: [Int] = []
        for scalar in word {
            for byte in String(scalar).utf8 { if let id = byteIds[Int(byte)] { symbols.append(id) } }
        }
        while symbols.count > 1 {
            var best: (rank: Int, index: Int, merged: Int)?
            for i in 0 ..< symbols.count - 1 {
                if let merge = merges[Self.key(symbols[i], symbols[i + 1])], merge.rank < (best?.rank ?? Int.max) {
                    best = (merge.rank, i, merge.merged)
                }
            }
            guard let best else { break }
            symbols[best.index] = best.merged
            symbols.remove(at: best.index + 1)
        }
        ids += symbols
    }
}

/// GPT-2's byte-level pre-tokenization: its regex split, and each byte as one printable character. The regex's
/// classes (`\p{L}`, `\p{N}`, Oniguruma's `\s`) come from `charclasses.jsonl`.
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
        for (byte, scalar) in zip(printable, mapped) {
            // Every value here is below 0x200, a valid scalar; the fallback is never taken.
            table[byte] = String(Unicode.Scalar(UInt32(scalar)).map(Character.init) ?? "?")
        }
        return table
    }()

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        s.isASCII ? (s.value | 0x20 >= 0x61 && s.value | 0x20 <= 0x7A) : UnicodeTables.bytelevelLetter.contains(s)
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        s.isASCII ? (s.value >= 0x30 && s.value <= 0x39) : UnicodeTables.bytelevelNumber.contains(s)
    }

    static func isSpace(_ s: Unicode.Scalar) -> Bool { UnicodeTables.bytelevelWhitespace.contains(s) }

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
