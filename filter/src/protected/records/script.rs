//! Byte-class shortcuts for the scripts whose letters have no case: CJK ideographs and Hangul
//! syllables, recognized from their UTF-8 bytes without decoding.
//!
//! A records search cuts every text into words (alphanumeric runs) and lowercases them as it
//! hashes. For ASCII both are byte tests; for other characters they are a decode, a
//! `char::is_alphanumeric` and a `char::to_lowercase`, each a lookup in Unicode tables, and CJK
//! text is nearly all such characters. The 3-byte sequences recognized here are, whole
//! blocks, letters without case (so each is its own lowercase), so a word of them is classified
//! and hashed byte by byte with the same result as the Unicode functions:
//!
//! * `E4 xx` except `E4 B7`: U+4000–U+4FFF without U+4DC0–U+4DFF (the Yijing hexagram
//!   symbols): CJK Unified Ideographs Extension A and the start of the main block;
//! * `E5`–`E9`: U+5000–U+9FFF, CJK Unified Ideographs;
//! * `EB`, `EC`: U+B000–U+CFFF, Hangul syllables.
//!
//! Everything else falls back to the Unicode functions.

/// The byte length of the caseless letter starting `bytes` (a valid UTF-8 text), if it is one
/// of the blocks above.
#[inline]
pub(crate) fn caseless_letter(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [0xE5..=0xE9 | 0xEB | 0xEC, _, _, ..] => Some(3),
        [0xE4, second, _, ..] if *second != 0xB7 => Some(3),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortcut_agrees_with_unicode_on_every_character_it_takes() {
        let mut taken = 0;
        for c in (0x3000u32..0xE000).filter_map(char::from_u32) {
            let mut buf = [0u8; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            if caseless_letter(bytes).is_some() {
                taken += 1;
                assert!(c.is_alphanumeric(), "{c:?} U+{:04X}", c as u32);
                assert!(c.to_lowercase().eq([c]), "{c:?}");
            }
        }
        assert_eq!(taken, 4096 - 64 + 5 * 4096 + 2 * 4096);
        for text in ["Ω", "é", "。", "䷀", "ア", "a"] {
            assert_eq!(caseless_letter(text.as_bytes()), None, "{text}");
        }
    }
}
