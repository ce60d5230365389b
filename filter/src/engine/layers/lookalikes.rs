//! More characters for folding ([`super::fold`]) to remove or read as ASCII: invisible
//! characters beyond the zero-width and bidi ones, combining marks, Unicode tag characters,
//! small capitals and regional indicator letters.
//!
//! Each is a way to put something between or onto a secret's characters that a reader (or a
//! model) skips: the combining grapheme joiner, the Arabic letter mark, Hangul and Khmer
//! fillers and the shorthand format controls render as nothing; tag characters (U+E0000
//! block) are invisible in most fonts; combining marks (`A̶K̶I̶A̶`, accents, Zalgo text,
//! keycaps) sit on a letter without changing what it reads as. Small capitals (`ᴀᴋɪᴀ`) and
//! regional indicators (`🇦🇰`) are letters in other clothes, which NFKC does not fold.
//!
//! Removing combining marks also strips accents written as separate marks (decomposed
//! text): only the folded copy, which only detectors read, changes. Precomposed letters
//! (`é`, the usual form) are kept. These are checked only for non-ASCII characters, and
//! [`super::fold`] already visits each of those.

/// Characters that render as nothing on a letter or between letters: removed when folding.
pub(super) fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'         // combining diacritical marks (U+034F grapheme joiner too)
            | '\u{061C}'                // Arabic letter mark
            | '\u{115F}' | '\u{1160}'   // Hangul choseong and jungseong fillers
            | '\u{17B4}' | '\u{17B5}'   // Khmer inherent vowels
            | '\u{1AB0}'..='\u{1AFF}'   // combining diacritical marks extended
            | '\u{1DC0}'..='\u{1DFF}'   // combining diacritical marks supplement
            | '\u{20D0}'..='\u{20FF}'   // combining marks for symbols (keycaps, enclosing circles)
            | '\u{3164}'                // Hangul filler
            | '\u{FE20}'..='\u{FE2F}'   // combining half marks
            | '\u{FFA0}'                // halfwidth Hangul filler
            | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
            | '\u{E0000}'..='\u{E007F}' // tag characters
    )
}

/// The ASCII letter a small capital or a regional indicator letter stands for.
pub(super) fn ascii_letter(c: char) -> Option<u8> {
    if let '\u{1F1E6}'..='\u{1F1FF}' = c {
        return u8::try_from(u32::from(c) - 0x1F1E6).ok().map(|i| b'A' + i);
    }
    SMALL_CAPITALS
        .binary_search_by_key(&c, |&(small, _)| small)
        .ok()
        .and_then(|i| SMALL_CAPITALS.get(i))
        .map(|&(_, ascii)| ascii)
}

/// Small capitals (IPA and phonetic extensions, Latin Extended-D), sorted by code point.
const SMALL_CAPITALS: &[(char, u8)] = &[
    ('\u{0262}', b'G'), // ɢ
    ('\u{026A}', b'I'), // ɪ
    ('\u{0274}', b'N'), // ɴ
    ('\u{0280}', b'R'), // ʀ
    ('\u{028F}', b'Y'), // ʏ
    ('\u{0299}', b'B'), // ʙ
    ('\u{029C}', b'H'), // ʜ
    ('\u{029F}', b'L'), // ʟ
    ('\u{1D00}', b'A'), // ᴀ
    ('\u{1D04}', b'C'), // ᴄ
    ('\u{1D05}', b'D'), // ᴅ
    ('\u{1D07}', b'E'), // ᴇ
    ('\u{1D0A}', b'J'), // ᴊ
    ('\u{1D0B}', b'K'), // ᴋ
    ('\u{1D0D}', b'M'), // ᴍ
    ('\u{1D0F}', b'O'), // ᴏ
    ('\u{1D18}', b'P'), // ᴘ
    ('\u{1D1B}', b'T'), // ᴛ
    ('\u{1D1C}', b'U'), // ᴜ
    ('\u{1D20}', b'V'), // ᴠ
    ('\u{1D21}', b'W'), // ᴡ
    ('\u{1D22}', b'Z'), // ᴢ
    ('\u{A730}', b'F'), // ꜰ
    ('\u{A731}', b'S'), // ꜱ
    ('\u{A7AF}', b'Q'), // ꞯ
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_capitals_are_sorted_and_read_as_capitals() {
        assert!(SMALL_CAPITALS.windows(2).all(|w| w[0].0 < w[1].0));
        let word: Option<Vec<u8>> = "ᴀᴋɪᴀ".chars().map(ascii_letter).collect();
        assert_eq!(word.as_deref(), Some(&b"AKIA"[..]));
        assert_eq!(ascii_letter('🇿'), Some(b'Z'));
        assert_eq!(ascii_letter('é'), None);
    }

    #[test]
    fn hidden_characters() {
        for c in ['\u{034F}', '\u{0336}', '\u{E0041}', '\u{3164}', '\u{20E3}'] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in ['é', 'A', '\u{4E00}', ' '] {
            assert!(!is_hidden(c), "{c:?}");
        }
    }
}
