/// IEEE half precision by bits: Swift's `Float16` is unavailable on Intel Macs, and the index's float16 vectors
/// must round exactly as numpy's `astype(float16)` does (to nearest, ties to even).
enum Half {
    static func bits(_ value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        var mantissa = x & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }  // infinity, NaN
        let e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }  // too large: infinity, as numpy gives
        if e <= 0 {  // a subnormal half, or zero
            if e < -10 { return sign }
            mantissa |= 0x80_0000
            let shift = UInt32(14 - e)
            var half = mantissa >> shift
            let rest = mantissa & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
            if rest > halfway || (rest == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(truncatingIfNeeded: half)
        }
        var half = UInt32(e) << 10 | mantissa >> 13
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }  // a carry into the exponent is right
        return sign | UInt16(truncatingIfNeeded: half)
    }

    static func float(_ bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = UInt32((bits >> 10) & 0x1F), mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 { return (sign != 0 ? -1 : 1) * Float(mantissa) * 0x1p-24 }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}
