//! Finding the bytes of a small set, eight at a time.
//!
//! A layer's gate often looks for a few rare bytes (the glue of digit groups, say) in text
//! that mostly has none. Tested position by position through a class table, that costs tens of
//! wasm instructions per byte; here one 64-bit word of text is compared with every byte of the
//! set at once (SWAR: wasm32 has native 64-bit integers, so this holds inside the filter too),
//! about half an instruction per byte and set member. [`next_where`] is the loop for any
//! such word test.

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
    next_where(
        text,
        from,
        |word| lanes_in(word, set) != 0,
        |b| set.contains(&b),
    )
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
            let len = rng.below(70);
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
            }
        }
    }
}
