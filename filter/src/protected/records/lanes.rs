//! Where a text's words and digits are, eight ASCII bytes at a time.
//!
//! A records search reads every byte of every text, and most of those bytes are words that
//! start no indexed value. Tested one byte at a time (`is_ascii_alphanumeric`, `is_ascii_digit`),
//! finding the words and digit groups cost about as much as all the hashing and lookups after
//! them. Here a little-endian 64-bit word of text is classified in a few operations (SWAR:
//! wasm32 has native 64-bit integers, so this holds inside the filter too), and only the
//! boundaries between words and the rest are visited one by one.
//!
//! The trade-off: a word holding a byte that is not ASCII is still read character by
//! character through Unicode's tables ([`script`](super::script) for the caseless scripts), so
//! CJK text gains nothing; it was never the costly case, having few word boundaries.

use super::script;

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const LOW7: u64 = u64::from_le_bytes([0x7f; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each lane of `word` (every lane below 0x80) within `lo..=hi` (`lo` ≥ 1):
/// adding `0x80 - lo` sets a lane's high bit when it is at least `lo`, adding `0x7f - hi` when
/// it is above `hi`, and neither sum leaves its lane.
#[inline(always)]
fn lanes_within(word: u64, lo: u8, hi: u8) -> u64 {
    let at_least = word.wrapping_add(ONES * u64::from(0x80 - lo));
    let above = word.wrapping_add(ONES * u64::from(0x7f - hi));
    at_least & !above & HIGHS
}

/// The high bit of each ASCII digit lane of `word` (any bytes).
#[inline(always)]
fn digit_lanes(word: u64) -> u64 {
    lanes_within(word & LOW7, b'0', b'9') & !word
}

/// The high bit of each ASCII letter or digit lane of `word` (every lane below 0x80). Setting
/// bit 5 maps `A..=Z` onto `a..=z` and no other lane into it.
#[inline(always)]
fn alphanumeric_lanes(word: u64) -> u64 {
    lanes_within(word, b'0', b'9') | lanes_within(word | (ONES * 0x20), b'a', b'z')
}

/// The eight bytes at `at` as a little-endian word, if there are eight.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at.checked_add(8)?)?;
    <[u8; 8]>::try_from(chunk).ok().map(u64::from_le_bytes)
}

/// The first ASCII digit at or after `from`.
#[inline]
pub(super) fn next_digit(bytes: &[u8], mut from: usize) -> Option<usize> {
    while let Some(word) = word_at(bytes, from) {
        let digits = digit_lanes(word);
        if digits != 0 {
            return Some(from + (digits.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    let rest = bytes.get(from..)?;
    rest.iter().position(u8::is_ascii_digit).map(|p| from + p)
}

/// A word: a maximal run of alphanumeric characters, its byte span and whether all of it is
/// ASCII (then its normalized form is its bytes, lowercased).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word {
    pub start: usize,
    pub end: usize,
    pub ascii: bool,
}

/// Every word of `text`, in order, into `out`.
pub(super) fn words(text: &str, out: &mut Vec<Word>) {
    out.clear();
    let bytes = text.as_bytes();
    // The word being read: its start and whether it is ASCII so far.
    let mut open: Option<(usize, bool)> = None;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = word_at(bytes, i).filter(|w| w & HIGHS == 0) {
            let alphanumeric = alphanumeric_lanes(word);
            let before = (alphanumeric << 8) | u64::from(open.is_some()) << 7;
            // Lanes where a word starts or ends; the two alternate.
            let mut edges = alphanumeric ^ before;
            while edges != 0 {
                let at = i + (edges.trailing_zeros() / 8) as usize;
                edges &= edges - 1;
                match open.take() {
                    None => open = Some((at, true)),
                    Some((start, ascii)) => out.push(Word {
                        start,
                        end: at,
                        ascii,
                    }),
                }
            }
            i += 8;
            continue;
        }
        let (alphanumeric, len) = character_at(text, i);
        match (alphanumeric, open) {
            (true, None) => open = Some((i, len == 1)),
            (true, Some((start, ascii))) => open = Some((start, ascii && len == 1)),
            (false, Some((start, ascii))) => {
                out.push(Word {
                    start,
                    end: i,
                    ascii,
                });
                open = None;
            }
            (false, None) => {}
        }
        i += len;
    }
    if let Some((start, ascii)) = open {
        out.push(Word {
            start,
            end: bytes.len(),
            ascii,
        });
    }
}

/// Whether the character at `i` (a character boundary of `text`) is alphanumeric, and its
/// byte length.
fn character_at(text: &str, i: usize) -> (bool, usize) {
    let bytes = text.as_bytes();
    match bytes.get(i) {
        None => (false, 1),
        Some(&b) if b < 0x80 => (b.is_ascii_alphanumeric(), 1),
        Some(_) => match bytes.get(i..).and_then(script::caseless_letter) {
            Some(len) => (true, len),
            None => text
                .get(i..)
                .and_then(|rest| rest.chars().next())
                .map_or((false, 1), |c| (c.is_alphanumeric(), c.len_utf8())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_rng::TestRng;

    /// Words found one character at a time, with Unicode's own classification: each
    /// alphanumeric character extends the word ending right before it or starts one.
    fn slow_words(text: &str) -> Vec<Word> {
        let mut out: Vec<Word> = Vec::new();
        for (i, c) in text.match_indices(|c: char| c.is_alphanumeric()) {
            match out.last_mut() {
                Some(word) if word.end == i => {
                    word.end += c.len();
                    word.ascii &= c.is_ascii();
                }
                _ => out.push(Word {
                    start: i,
                    end: i + c.len(),
                    ascii: c.is_ascii(),
                }),
            }
        }
        out
    }

    /// Seeded texts glued from pieces that sit on every side of the lane tests' edges.
    fn texts() -> Vec<String> {
        let pieces = [
            "a", "Z", "0", "9", "/", ":", "@", "[", "`", "{", "~", " ", "\t", "\n", "-", "_", "é",
            "Ω", "中文", "한", "。", "\u{7f}", "\u{80}", "ß", "Anna", "Novak", "555", "0102345",
            "  ", "ab12CD", "ＡＢ", "٣",
        ];
        let mut rng = TestRng::new(0x5eed_1234_abcd_0042);
        (0..4000)
            .map(|_| {
                let n = rng.below(40);
                (0..n).map(|_| pieces[rng.below(pieces.len())]).collect()
            })
            .collect()
    }

    #[test]
    fn words_are_what_a_character_by_character_reading_finds() {
        let mut out = Vec::new();
        for text in texts() {
            words(&text, &mut out);
            assert_eq!(out, slow_words(&text), "{text:?}");
        }
    }

    #[test]
    fn the_next_digit_is_the_first_one() {
        for text in texts() {
            let bytes = text.as_bytes();
            for from in 0..=bytes.len() {
                let slow = (from..bytes.len()).find(|&i| bytes[i].is_ascii_digit());
                assert_eq!(next_digit(bytes, from), slow, "{text:?} from {from}");
            }
        }
        assert_eq!(next_digit(b"", 3), None);
    }

    #[test]
    fn every_byte_is_classified_as_one_byte_would_be() {
        for b in 0u8..0x80 {
            let word = u64::from_le_bytes([b; 8]);
            assert_eq!(
                alphanumeric_lanes(word) != 0,
                b.is_ascii_alphanumeric(),
                "{b:#x}"
            );
            assert_eq!(digit_lanes(word) != 0, b.is_ascii_digit(), "{b:#x}");
        }
        for b in 0x80u8..=0xff {
            assert_eq!(digit_lanes(u64::from_le_bytes([b; 8])), 0, "{b:#x}");
        }
    }
}
