//! Finding the bytes of a small set, eight at a time.
//!
//! A layer's gate often looks for a few rare bytes (the glue of digit groups, say) in text
//! that mostly has none. Tested position by position through a class table, that costs tens of
//! wasm instructions per byte; here one 64-bit word of text is compared with every byte of the
//! set at once (SWAR: wasm32 has native 64-bit integers, so this holds inside the filter too),
//! about half an instruction per byte and set member. [`next_where`] is the loop for any
//! such word test.
//!
//! In the wasm build (`simd128`, see `.cargo/config.toml`) [`next_in`] compares sixteen bytes
//! per step in one 128-bit register instead ([`next_in_blocks`]): on 64 KiB of prose the group
//! gate's five-byte search then costs ~0.3 M fewer wasm instructions (about 5 per byte less).
//! The loop is written over [`Block`], so native tests run it on a portable sixteen-byte array.

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const LOW7: u64 = u64::from_le_bytes([0x7f; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each byte (lane) of `word` that equals `byte`, and no other bit. Exact
/// in every lane: adding 0x7f to a lane's low seven bits carries into its high bit only.
#[inline(always)]
fn lanes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW7) + LOW7) | x) & HIGHS
}

/// The high bit of each lane of `word` holding a byte of `set`.
#[inline(always)]
fn lanes_in<const N: usize>(word: u64, set: &[u8; N]) -> u64 {
    set.iter().fold(0, |lanes, &b| lanes | lanes_equal(word, b))
}

/// The first position at or after `from` whose byte is in `set`.
#[inline]
pub fn next_in<const N: usize>(text: &[u8], from: usize, set: &[u8; N]) -> Option<usize> {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return next_in_blocks::<wasm_simd::V128, N>(text, from, set);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    next_in_words(text, from, set)
}

/// [`next_in`] eight bytes per step (64-bit words).
#[inline]
fn next_in_words<const N: usize>(text: &[u8], from: usize, set: &[u8; N]) -> Option<usize> {
    next_where(
        text,
        from,
        |word| lanes_in(word, set) != 0,
        |b| set.contains(&b),
    )
}

/// Sixteen bytes compared at once: wasm's `v128` in the filter, [`Portable`] in native tests.
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
trait Block: Copy {
    /// The sixteen bytes whose first eight are `low` and last eight `high` (little-endian).
    fn load(low: u64, high: u64) -> Self;
    /// Whether any lane equals any byte of `set`.
    fn any_in<const N: usize>(self, set: &[u8; N]) -> bool;
}

/// [`next_in`] sixteen bytes per step: each block is tested whole with [`Block::any_in`], and
/// only a block that holds a member is read byte by byte; the last < 16 bytes in words.
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn next_in_blocks<B: Block, const N: usize>(
    text: &[u8],
    from: usize,
    set: &[u8; N],
) -> Option<usize> {
    let rest = text.get(from..)?;
    let mut blocks = rest.chunks_exact(16);
    let mut offset = from;
    let word = |bytes: Option<&[u8]>| {
        bytes
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    };
    for block in &mut blocks {
        if B::load(word(block.get(..8)), word(block.get(8..))).any_in(set) {
            if let Some(p) = block.iter().position(|b| set.contains(b)) {
                return Some(offset + p);
            }
        }
        offset += 16;
    }
    next_in_words(text, offset, set)
}

/// The wasm SIMD [`Block`]: one `v128`, a compare and an or per set member.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_simd {
    use core::arch::wasm32::{i64x2, i8x16_eq, u8x16_splat, v128, v128_any_true, v128_or};

    #[derive(Clone, Copy)]
    pub(super) struct V128(v128);

    impl super::Block for V128 {
        #[inline(always)]
        fn load(low: u64, high: u64) -> Self {
            V128(i64x2(
                i64::from_le_bytes(low.to_le_bytes()),
                i64::from_le_bytes(high.to_le_bytes()),
            ))
        }

        #[inline(always)]
        fn any_in<const N: usize>(self, set: &[u8; N]) -> bool {
            let hits = set.iter().fold(u8x16_splat(0), |hits, &b| {
                v128_or(hits, i8x16_eq(self.0, u8x16_splat(b)))
            });
            v128_any_true(hits)
        }
    }
}

/// The portable [`Block`] the native tests run [`next_in_blocks`] on.
#[cfg(test)]
#[derive(Clone, Copy)]
struct Portable([u8; 16]);

#[cfg(test)]
impl Block for Portable {
    fn load(low: u64, high: u64) -> Self {
        let mut lanes = [0u8; 16];
        lanes[..8].copy_from_slice(&low.to_le_bytes());
        lanes[8..].copy_from_slice(&high.to_le_bytes());
        Portable(lanes)
    }

    fn any_in<const N: usize>(self, set: &[u8; N]) -> bool {
        self.0.iter().any(|b| set.contains(b))
    }
}

/// The first position at or after `from` whose byte passes `byte`, reading eight bytes per
/// step: `word` tells from a little-endian word of eight whether any of them may pass (no
/// false negatives), and only such a word is read byte by byte.
#[inline]
pub fn next_where(
    text: &[u8],
    from: usize,
    word: impl Fn(u64) -> bool,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    let rest = text.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut offset = from;
    for chunk in &mut words {
        let mut lanes = [0u8; 8];
        lanes.copy_from_slice(chunk);
        if word(u64::from_le_bytes(lanes)) {
            if let Some(p) = chunk.iter().position(|&b| byte(b)) {
                return Some(offset + p);
            }
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| byte(b))
        .map(|p| offset + p)
}

#[cfg(test)]
mod tests {
    use super::next_in;

    #[test]
    fn finds_what_a_byte_by_byte_search_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x2545_f491_4f6c_dd1d);
        let set = *b".-_/:";
        let alphabet = [
            b'a', b'.', b'-', 0xff, 0x80, 0x7f, 0x00, b'_', b'/', b':', b' ', 0xae, 0xad,
        ];
        for _ in 0..3000 {
            let len = rng.below(90);
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.below(4) == 0 {
                        rng.pick(&alphabet)
                    } else {
                        (rng.below(256) & 0xff) as u8
                    }
                })
                .collect();
            for from in 0..=len + 1 {
                let walk = (from..text.len()).find(|&i| set.contains(&text[i]));
                assert_eq!(next_in(&text, from, &set), walk, "{text:?} from {from}");
                let blocks = super::next_in_blocks::<super::Portable, 5>(&text, from, &set);
                assert_eq!(blocks, walk, "blocks: {text:?} from {from}");
            }
        }
    }
}
