//! Whether a stretch of text may hold one of the always-on gate's bytes, sixteen bytes per
//! test (issue 16).
//!
//! The gate reads every byte of a text outside its windows, and on prose that is most of it:
//! through its reach table that cost about eight wasm instructions a byte. A byte's class here
//! is two 16-entry tables, by its low and its high nibble, whose entries share a bit exactly
//! when the byte is in the set: in the wasm build two swizzles test sixteen bytes at once, and
//! only a block that may hold a gated byte is read through the table. A set with more than
//! eight distinct rows (high nibbles by their low nibbles) shares the last bit among the rest,
//! so the test may say yes for a byte outside the set, never no for one inside: the caller
//! reads such a block byte by byte anyway.

/// The two nibble tables of a byte set.
#[derive(Debug, Clone)]
pub struct GateNibbles {
    low: [u8; 16],
    high: [u8; 16],
}

impl GateNibbles {
    /// The tables of the bytes `member` holds.
    pub fn of(member: impl Fn(u8) -> bool) -> GateNibbles {
        // Per high nibble, the low nibbles of its members.
        let mut rows = [0u16; 16];
        for b in 0..=255u8 {
            if let (true, Some(row)) = (member(b), rows.get_mut(usize::from(b >> 4))) {
                *row |= 1 << (b & 15);
            }
        }
        let mut distinct: Vec<u16> = Vec::new();
        let mut tables = GateNibbles {
            low: [0; 16],
            high: [0; 16],
        };
        for (high, &row) in tables.high.iter_mut().zip(&rows) {
            if row == 0 {
                continue;
            }
            let bit = match distinct.iter().position(|&r| r == row) {
                Some(k) => k.min(7),
                None => {
                    distinct.push(row);
                    (distinct.len() - 1).min(7)
                }
            };
            *high |= 1 << bit;
            for (l, low) in tables.low.iter_mut().enumerate() {
                if row & (1 << l) != 0 {
                    *low |= 1 << bit;
                }
            }
        }
        tables
    }

    /// Whether byte `b` may be in the set (always when it is).
    #[cfg(any(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
    pub fn may_hold_byte(&self, b: u8) -> bool {
        let low = self.low.get(usize::from(b & 15)).copied().unwrap_or(0);
        let high = self.high.get(usize::from(b >> 4)).copied().unwrap_or(0);
        low & high != 0
    }

    /// Whether the sixteen bytes of two little-endian words may hold a byte of the set.
    #[inline(always)]
    pub fn may_hold(&self, first: u64, second: u64) -> bool {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        return self.may_hold_simd(first, second);
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        (first.to_le_bytes().into_iter())
            .chain(second.to_le_bytes())
            .any(|b| self.may_hold_byte(b))
    }

    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn may_hold_simd(&self, first: u64, second: u64) -> bool {
        use core::arch::wasm32::{
            i64x2, i8x16_swizzle, u8x16_shr, u8x16_splat, v128_and, v128_any_true,
        };
        let table = |t: &[u8; 16]| {
            let half = |k: usize| {
                let bytes = t.get(k..k + 8).and_then(|s| <[u8; 8]>::try_from(s).ok());
                bytes.map_or(0, i64::from_le_bytes)
            };
            i64x2(half(0), half(8))
        };
        let text = i64x2(
            i64::from_le_bytes(first.to_le_bytes()),
            i64::from_le_bytes(second.to_le_bytes()),
        );
        let lo = i8x16_swizzle(table(&self.low), v128_and(text, u8x16_splat(15)));
        let hi = i8x16_swizzle(table(&self.high), u8x16_shr(text, 4));
        v128_any_true(v128_and(lo, hi))
    }
}

/// The little-endian word of up to eight bytes, a shorter one padded with `pad`.
#[inline(always)]
pub fn word(bytes: &[u8], pad: u8) -> u64 {
    match <[u8; 8]>::try_from(bytes) {
        Ok(word) => u64::from_le_bytes(word),
        Err(_) => {
            let mut word = [pad; 8];
            for (slot, &b) in word.iter_mut().zip(bytes) {
                *slot = b;
            }
            u64::from_le_bytes(word)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_rng::TestRng;

    #[test]
    fn the_tables_hold_every_member_and_few_others() {
        let mut rng = TestRng::new(0x9a7e_0b17_e5e5_0001);
        for round in 0..400 {
            // Small sets are exact; large ones may hold more, never fewer.
            let size = if round % 2 == 0 {
                rng.below(14)
            } else {
                20 + rng.below(120)
            };
            let mut set = [false; 256];
            for _ in 0..size {
                set[rng.below(256)] = true;
            }
            let nibbles = GateNibbles::of(|b| set[usize::from(b)]);
            let rows: std::collections::BTreeSet<u16> = (0..16)
                .map(|h| (0..16).fold(0u16, |row, l| row | u16::from(set[h * 16 + l]) << l))
                .filter(|&row| row != 0)
                .collect();
            for b in 0..=255u8 {
                let said = nibbles.may_hold_byte(b);
                assert!(said || !set[usize::from(b)], "{b}");
                if rows.len() <= 8 {
                    assert_eq!(said, set[usize::from(b)], "{b}");
                }
                let one = word(&[b], 0);
                assert_eq!(nibbles.may_hold(one, 0), said || nibbles.may_hold_byte(0));
            }
        }
        let gate = GateNibbles::of(|b| b.is_ascii_digit() || b == b'+' || b == b':');
        let text = u64::from_le_bytes(*b"abc def ");
        assert!(!gate.may_hold(text, text));
        assert!(gate.may_hold(text, u64::from_le_bytes(*b"abc:def ")));
        assert_eq!(word(b"ab", b' '), u64::from_le_bytes(*b"ab      "));
    }
}
