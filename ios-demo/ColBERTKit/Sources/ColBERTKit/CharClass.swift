/// A set of code points as sorted inclusive ranges, flat: `[first0, last0, first1, last1, ...]`.
struct CharClass: Sendable {
    let ranges: [UInt32]

    init(ranges: [UInt32]) { self.ranges = ranges }

    /// Binary search over the ranges (a few hundred at most: about ten steps).
    func contains(_ scalar: Unicode.Scalar) -> Bool { contains(scalar.value) }

    func contains(_ value: UInt32) -> Bool {
        var low = 0, high = ranges.count / 2
        while low < high {
            let mid = (low + high) / 2
            if value < ranges[2 * mid] { high = mid } else if value > ranges[2 * mid + 1] { low = mid + 1 } else { return true }
        }
        return false
    }

    /// The ranges as `[first, last]` pairs, to compare with the conformance file.
    var pairs: [[UInt32]] { stride(from: 0, to: ranges.count, by: 2).map { [ranges[$0], ranges[$0 + 1]] } }
}

/// Code point -> text, where a mapping changes it; flat: `[code point, count, scalar...]`.
struct CharMapping: Sendable {
    let table: [UInt32: [Unicode.Scalar]]

    init(flat: [UInt32]) {
        var table: [UInt32: [Unicode.Scalar]] = [:]
        var i = 0
        while i + 1 < flat.count {
            let count = Int(flat[i + 1])
            table[flat[i]] = flat[i + 2 ..< i + 2 + count].compactMap(Unicode.Scalar.init)
            i += 2 + count
        }
        self.table = table
    }

    /// The mapped scalars, or the scalar itself where the mapping leaves it alone.
    func map(_ scalar: Unicode.Scalar, into out: inout String.UnicodeScalarView) {
        if let mapped = table[scalar.value] { out.append(contentsOf: mapped) } else { out.append(scalar) }
    }
}

/// Unicode's White_Space property (Rust's `char::is_whitespace`, which `tokenizers` uses to widen an added
/// token's match with lstrip/rstrip). A fixed list, stable since Unicode 6.3, not the toolchain's tables.
enum WhiteSpace {
    static let scalars: Set<UInt32> = [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
        0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ]

    static func contains(_ scalar: Unicode.Scalar) -> Bool { scalars.contains(scalar.value) }
}
