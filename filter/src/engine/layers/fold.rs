//! Evasion-resistant text folding: the text the scanner should have seen.
//!
//! The scanner matches byte-oriented ASCII regexes and ASCII case-insensitive
//! keywords, so a secret typed with look-alike characters slips past it:
//! fullwidth letters (`ＡＫＩＡ…`), zero-width spaces or joiners inside a key
//! (`AK\u{200B}IA…`), bidi controls, soft hyphens, Cyrillic or Greek
//! homoglyphs (`АКІА` in Cyrillic), ligatures (`ﬁ`), fullwidth digits in card
//! numbers. [`Folder::fold`] rewrites such text into what it looks like,
//! so the same detectors catch it:
//!
//! * Unicode NFKC (compatibility composition): fullwidth and mathematical
//!   letters and digits, ligatures, no-break spaces, the Kelvin sign and so on
//!   become their plain forms;
//! * invisible characters (zero-width spaces and joiners, bidi embeddings,
//!   overrides and isolates, word joiners and invisible operators, the BOM,
//!   the soft hyphen, the Mongolian vowel separator, variation selectors) are
//!   removed;
//! * a table of common Cyrillic and Greek homoglyphs of ASCII letters, and the
//!   typographic dashes and quotes, fold to ASCII.
//!
//! Everything else is kept: CJK text comes through unchanged (NFKC maps only
//! the CJK compatibility ideographs), so dictionary phrases like `机密` still
//! match. Invalid UTF-8 bytes and U+FFFD (what lossy decoders make of them and
//! of lone surrogates) are removed like invisible characters.
//!
//! A finding in the folded text has to be masked in the *original* bytes, so
//! [`Folded`] keeps, for every folded byte, the original byte range of the
//! character (or NFKC segment) it came from; [`Folded::original_span`]
//! maps a hit back to the smallest original span covering it, which includes
//! any removed characters inside the hit.
//!
//! The common case costs one `is_ascii` pass: pure ASCII never needs folding,
//! and [`Folder::fold`] then returns `false` without touching its output.
//! Non-ASCII text that is already folded (most CJK prose, for instance) is
//! recognised by an NFKC quick check and also returns `false` without
//! allocating.

use crate::engine::bytes::utf8_runs;
use crate::engine::span::Span;
use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// First code point of the homoglyph lookup table (Greek and Coptic).
const CONFUSABLE_FIRST: u32 = 0x0370;
/// Last code point of the homoglyph lookup table (Cyrillic Supplement `ԁ`).
const CONFUSABLE_LAST: u32 = 0x0501;

/// Cyrillic and Greek letters that look exactly like an ASCII letter.
const CONFUSABLES: &[(char, u8)] = &[
    // Cyrillic capitals.
    ('\u{0410}', b'A'), // А
    ('\u{0412}', b'B'), // В
    ('\u{0415}', b'E'), // Е
    ('\u{041A}', b'K'), // К
    ('\u{041C}', b'M'), // М
    ('\u{041D}', b'H'), // Н
    ('\u{041E}', b'O'), // О
    ('\u{0420}', b'P'), // Р
    ('\u{0421}', b'C'), // С
    ('\u{0422}', b'T'), // Т
    ('\u{0425}', b'X'), // Х
    ('\u{0406}', b'I'), // І
    ('\u{0408}', b'J'), // Ј
    ('\u{0405}', b'S'), // Ѕ
    // Cyrillic small letters.
    ('\u{0430}', b'a'), // а
    ('\u{0435}', b'e'), // е
    ('\u{043E}', b'o'), // о
    ('\u{0440}', b'p'), // р
    ('\u{0441}', b'c'), // с
    ('\u{0443}', b'y'), // у
    ('\u{0445}', b'x'), // х
    ('\u{0456}', b'i'), // і
    ('\u{0458}', b'j'), // ј
    ('\u{0455}', b's'), // ѕ
    ('\u{0501}', b'd'), // ԁ
    // Greek capitals.
    ('\u{0391}', b'A'), // Α
    ('\u{0392}', b'B'), // Β
    ('\u{0395}', b'E'), // Ε
    ('\u{0396}', b'Z'), // Ζ
    ('\u{0397}', b'H'), // Η
    ('\u{0399}', b'I'), // Ι
    ('\u{039A}', b'K'), // Κ
    ('\u{039C}', b'M'), // Μ
    ('\u{039D}', b'N'), // Ν
    ('\u{039F}', b'O'), // Ο
    ('\u{03A1}', b'P'), // Ρ
    ('\u{03A4}', b'T'), // Τ
    ('\u{03A5}', b'Y'), // Υ
    ('\u{03A7}', b'X'), // Χ
    // Greek small letters.
    ('\u{03BF}', b'o'), // ο
    ('\u{03BD}', b'v'), // ν
];

/// At most this many characters go through NFKC as one unit; a longer run of
/// combining marks is cut (as in UAX #15's stream-safe format) so that
/// pathological input costs linear time and the offset map stays fine-grained.
const MAX_SEGMENT_CHARS: usize = 32;

/// Characters that render as nothing (or only steer rendering) and are removed.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                      // soft hyphen
            | '\u{180E}'                // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'   // zero-width space, ZWNJ, ZWJ, LRM, RLM
            | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'   // bidi isolates
            | '\u{FE00}'..='\u{FE0F}'   // variation selectors
            | '\u{FEFF}'               // zero-width no-break space (BOM)
            | '\u{FFFD}' // replacement character: what a lone surrogate or invalid byte becomes
    ) || super::lookalikes::is_hidden(c)
}

/// Characters NFKC keeps, that combine with nothing before them and that fold to nothing else:
/// CJK ideographs and kana, most of any Chinese or Japanese text. Checked first, so such text
/// skips the Unicode table lookups.
fn is_inert(c: char) -> bool {
    matches!(
        c,
        '\u{3041}'..='\u{3096}'       // Hiragana (not U+309F, which NFKC expands)
            | '\u{30A1}'..='\u{30FA}' // Katakana letters
            | '\u{3400}'..='\u{4DBF}' // CJK Extension A
            | '\u{4E00}'..='\u{9FFF}' // CJK Unified Ideographs
    )
}

/// The ASCII character NFKC makes of a fullwidth form (`，` `：` `Ａ` `１`) or the ideographic space.
fn fullwidth_ascii(c: char) -> Option<u8> {
    match c {
        '\u{FF01}'..='\u{FF5E}' => u8::try_from(u32::from(c) - 0xFEE0).ok(),
        '\u{3000}' => Some(b' '),
        _ => None,
    }
}

/// Whether NFKC can never join `c` with what precedes it, so folding may
/// restart at `c` and map its output to `c` alone.
///
/// That holds when `c` is a starter whose compatibility decomposition begins
/// with a starter that never composes with a preceding character (NFKC quick
/// check not `Maybe`): canonical reordering stops at a starter, and
/// composition is blocked by one that does not combine backwards.
fn starts_segment(c: char) -> bool {
    if c.is_ascii() || is_inert(c) {
        return true;
    }
    if canonical_combining_class(c) != 0 {
        return false;
    }
    let mut first = None;
    decompose_compatible(c, |d| {
        if first.is_none() {
            first = Some(d);
        }
    });
    let d = first.unwrap_or(c);
    d.is_ascii()
        || (canonical_combining_class(d) == 0
            && is_nfkc_quick(core::iter::once(d)) != IsNormalized::Maybe)
}

/// Text folded by [`Folder::fold`], with a map back to the original bytes.
///
/// Reuse one across calls: [`Folder::fold`] clears and refills it.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// The folded bytes.
    text: Vec<u8>,
    /// For each folded byte, the original byte range `[start, end)` of the
    /// character or NFKC segment it came from; non-decreasing in both ends.
    /// 32-bit offsets halve the map (bodies are far below 4 GiB; larger offsets saturate).
    map: Vec<(u32, u32)>,
    /// Length of the original text.
    original_len: usize,
}

impl Folded {
    /// The folded text; empty unless the last [`Folder::fold`] returned `true`.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Maps a byte span of the folded text to the smallest span of the original text covering it.
    ///
    /// A span covering part of a character's folding (one byte of `fi` from
    /// `ﬁ`) maps to the whole original character; removed characters inside
    /// the span are included, those just outside it are not. Bounds past the
    /// folded text are clamped, and `start > end` is read as an empty span at
    /// `end`. An empty span maps to the original bytes between its neighbours
    /// (the removed characters there, if any), or to the whole original
    /// character when it falls inside one character's folding. Only meaningful
    /// after [`Folder::fold`] returned `true`; on an empty `Folded` it
    /// returns an empty span at 0.
    pub fn original_span(&self, span: Span) -> Span {
        let end = span.end.min(self.map.len());
        let start = span.start.min(end);
        if start < end {
            Span::new(self.start_of(start), self.end_of(end))
        } else {
            let (a, b) = (self.start_of(start), self.end_of(start));
            Span::new(a.min(b), a.max(b))
        }
    }

    /// Empties the folded text and its map, keeping their capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.map.clear();
        self.original_len = 0;
    }

    /// Original offset where a span starting at folded offset `pos` starts.
    fn start_of(&self, pos: usize) -> usize {
        self.map
            .get(pos)
            .map_or(self.original_len, |&(start, _)| widen(start))
    }

    /// Original offset where a span ending at folded offset `pos` ends.
    fn end_of(&self, pos: usize) -> usize {
        pos.checked_sub(1)
            .and_then(|last| self.map.get(last))
            .map_or(0, |&(_, end)| widen(end))
    }

    fn push(&mut self, bytes: &[u8], from: (usize, usize)) {
        self.text.extend_from_slice(bytes);
        let from = (narrow(from.0), narrow(from.1));
        self.map.extend(std::iter::repeat_n(from, bytes.len()));
    }
}

fn narrow(offset: usize) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

fn widen(offset: u32) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// Folds text against evasion; build once (per policy or per VM) and share.
#[derive(Debug, Clone)]
pub struct Folder {
    /// ASCII replacement (or 0) for each code point from [`CONFUSABLE_FIRST`] to [`CONFUSABLE_LAST`].
    confusables: Vec<u8>,
}

impl Default for Folder {
    fn default() -> Self {
        Folder::new()
    }
}

impl Folder {
    /// Builds the lookup tables.
    pub fn new() -> Folder {
        let size = CONFUSABLE_LAST
            .saturating_sub(CONFUSABLE_FIRST)
            .saturating_add(1);
        let mut confusables = vec![0u8; usize::try_from(size).unwrap_or(0)];
        for &(c, ascii) in CONFUSABLES {
            let slot = u32::from(c)
                .checked_sub(CONFUSABLE_FIRST)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| confusables.get_mut(i));
            if let Some(slot) = slot {
                *slot = ascii;
            }
        }
        Folder { confusables }
    }

    /// Folds `text` (UTF-8 bytes, possibly with invalid sequences which pass
    /// through unchanged) into `out`; returns false and leaves `out` empty
    /// when folding changes nothing.
    ///
    /// Pure ASCII is recognised with one `is_ascii` pass, and already-folded
    /// non-ASCII text with an NFKC quick check; neither allocates.
    pub fn fold(&self, text: &[u8], out: &mut Folded) -> bool {
        out.clear();
        if text.is_ascii() || self.already_folded(text) {
            return false;
        }
        out.text.reserve(text.len());
        out.map.reserve(text.len());
        out.original_len = text.len();
        let mut offset = 0;
        for (valid, invalid) in utf8_runs(text) {
            self.fold_str(valid, offset, out);
            offset += valid.len();
            // Invalid bytes are removed like invisible characters: a receiver that decodes
            // lossily (Go, browsers) shows them as U+FFFD, a separator that hides nothing.
            offset += invalid.len();
        }
        if out.text == text {
            out.clear();
            return false;
        }
        true
    }

    /// The ASCII letter or punctuation `c` folds to, if it is in the homoglyph table.
    fn confusable(&self, c: char) -> Option<u8> {
        match c {
            '\u{2010}'..='\u{2015}' => Some(b'-'),
            '\u{2018}' | '\u{2019}' => Some(b'\''),
            '\u{201C}' | '\u{201D}' => Some(b'"'),
            _ => decimal_digit(c)
                .or_else(|| {
                    let index = u32::from(c).checked_sub(CONFUSABLE_FIRST)?;
                    let ascii = *self.confusables.get(usize::try_from(index).ok()?)?;
                    (ascii != 0).then_some(ascii)
                })
                .or_else(|| super::lookalikes::ascii_letter(c)),
        }
    }

    /// True when folding certainly leaves `text` unchanged.
    fn already_folded(&self, text: &[u8]) -> bool {
        utf8_runs(text).all(|(valid, invalid)| {
            invalid.is_empty()
                && valid.chars().all(|c| {
                    c.is_ascii()
                        || is_inert(c)
                        || !(is_invisible(c) || self.confusable(c).is_some())
                })
                && is_nfkc_quick(valid.chars().filter(|&c| !is_inert(c))) == IsNormalized::Yes
        })
    }

    /// Folds valid UTF-8 `s`, found at offset `base` of the original text.
    fn fold_str(&self, s: &str, base: usize, out: &mut Folded) {
        // The NFKC segment being gathered: its start in `s` and its length in chars.
        let mut segment: Option<(usize, usize)> = None;
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            // An ASCII, inert or fullwidth character followed by another (or by nothing) is a
            // segment of its own whose folding is known: most of a CJK text and its fullwidth
            // punctuation, done without the NFKC path.
            let plain = |c: char| c.is_ascii() || is_inert(c) || fullwidth_ascii(c).is_some();
            if plain(c) && chars.peek().is_none_or(|&(_, next)| plain(next)) {
                if let Some((start, _)) = segment.take() {
                    self.fold_segment(s, start, i, base, out);
                }
                let end = i + c.len_utf8();
                let from = (base + i, base + end);
                match fullwidth_ascii(c) {
                    Some(ascii) => out.push(&[ascii], from),
                    None => out.push(s.as_bytes().get(i..end).unwrap_or_default(), from),
                }
                continue;
            }
            if is_invisible(c) {
                if let Some((start, _)) = segment.take() {
                    self.fold_segment(s, start, i, base, out);
                }
                continue;
            }
            segment = match segment {
                Some((start, chars)) if chars < MAX_SEGMENT_CHARS && !starts_segment(c) => {
                    Some((start, chars + 1))
                }
                previous => {
                    if let Some((start, _)) = previous {
                        self.fold_segment(s, start, i, base, out);
                    }
                    Some((i, 1))
                }
            };
        }
        if let Some((start, _)) = segment {
            self.fold_segment(s, start, s.len(), base, out);
        }
    }

    /// Folds `s[start..end]`, a run of characters NFKC may combine, mapping all its output to that range.
    fn fold_segment(&self, s: &str, start: usize, end: usize, base: usize, out: &mut Folded) {
        let Some(segment) = s.get(start..end) else {
            return;
        };
        let from = (base + start, base + end);
        if let [byte] = segment.as_bytes() {
            if byte.is_ascii() {
                out.push(&[*byte], from);
                return;
            }
        }
        let mut chars = segment.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            // Most non-ASCII text (CJK, accented letters) is single characters NFKC keeps.
            if is_inert(c)
                || is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes
                    && self.confusable(c).is_none()
            {
                out.push(segment.as_bytes(), from);
                return;
            }
        }
        let mut buf = [0u8; 4];
        for c in segment.nfkc() {
            if is_invisible(c) {
                continue;
            }
            match self.confusable(c) {
                Some(ascii) => out.push(&[ascii], from),
                None => out.push(c.encode_utf8(&mut buf).as_bytes(), from),
            }
        }
    }
}

/// The zero of each run of ten decimal digits (Unicode `Nd`) outside ASCII that NFKC keeps:
/// Arabic-Indic, Devanagari, Bengali, Thai, Myanmar, and the other scripts' digits. A card
/// number typed in any of them must still read as one.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0x104A0, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0,
    0x11730, 0x118E0, 0x16A60, 0x16B50, 0x1E950,
];

/// The ASCII digit a non-ASCII decimal digit stands for.
fn decimal_digit(c: char) -> Option<u8> {
    let code = u32::from(c);
    // The zeros are sorted: the only candidate is the last one not above `code`.
    let candidates = DIGIT_ZEROS.partition_point(|&zero| zero <= code);
    let zero = *DIGIT_ZEROS.get(candidates.checked_sub(1)?)?;
    code.checked_sub(zero)
        .filter(|d| *d < 10)
        .and_then(|d| u8::try_from(d).ok())
        .map(|d| b'0' + d)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_rng::TestRng;

    /// [`Folded::original_span`] of `start..end`, as a pair.
    fn mapped_back(out: &Folded, start: usize, end: usize) -> (usize, usize) {
        let span = out.original_span(Span::new(start, end));
        (span.start, span.end)
    }

    fn fold(text: &[u8]) -> Option<Folded> {
        let mut out = Folded::default();
        Folder::new().fold(text, &mut out).then_some(out)
    }

    fn folded_text(text: &str) -> String {
        let out = fold(text.as_bytes()).expect("folds");
        String::from_utf8(out.text().to_vec()).expect("utf-8")
    }

    #[test]
    fn fullwidth_forms_fold_as_nfkc_folds_them() {
        for c in ('\u{FF01}'..='\u{FF5E}').chain(['\u{3000}']) {
            let nfkc: String = c.to_string().nfkc().collect();
            let ascii = fullwidth_ascii(c).map(|b| char::from(b).to_string());
            assert_eq!(Some(nfkc), ascii, "{c:?}");
        }
        assert_eq!(fullwidth_ascii('。'), None);
    }

    #[test]
    fn inert_characters_really_are() {
        let folder = Folder::new();
        let inert = (0u32..0x11_0000)
            .filter_map(char::from_u32)
            .filter(|&c| is_inert(c));
        let mut count = 0;
        for c in inert {
            count += 1;
            let alone: String = std::iter::once(c).nfkc().collect();
            assert_eq!(alone, c.to_string(), "NFKC changes {c:?}");
            assert_eq!(canonical_combining_class(c), 0, "{c:?}");
            assert_eq!(
                is_nfkc_quick(std::iter::once(c)),
                IsNormalized::Yes,
                "{c:?}"
            );
            assert!(folder.confusable(c).is_none() && !is_invisible(c), "{c:?}");
        }
        assert!(count > 27_000, "{count}");
    }

    #[test]
    fn digit_zeros_are_sorted_for_the_binary_search() {
        assert!(DIGIT_ZEROS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(decimal_digit('\u{0669}'), Some(b'9'));
        assert_eq!(decimal_digit('\u{1E959}'), Some(b'9'));
        assert_eq!(decimal_digit('\u{065F}'), None);
        assert_eq!(decimal_digit('机'), None);
    }

    #[test]
    fn ascii_is_unchanged() {
        let folder = Folder::new();
        let mut out = Folded::default();
        assert!(!folder.fold(b"AKIAIOSFODNN7EXAMPLE and {\"x\": 1}\t\n\x7f", &mut out));
        assert!(out.text().is_empty());
        assert!(!folder.fold(b"", &mut out));
        assert_eq!(mapped_back(&out, 0, 0), (0, 0));
    }

    #[test]
    fn fullwidth_folds_and_maps_back() {
        let original = "ＡＫＩＡ１２３";
        let out = fold(original.as_bytes()).expect("folds");
        assert_eq!(out.text(), b"AKIA123");
        // Each fullwidth character is 3 bytes; KIA1 is folded bytes 1..5.
        let (start, end) = mapped_back(&out, 1, 5);
        assert_eq!(&original.as_bytes()[start..end], "ＫＩＡ１".as_bytes());
        assert_eq!(mapped_back(&out, 0, 7), (0, original.len()));
    }

    #[test]
    fn zero_width_is_removed_and_covered() {
        let original = "AK\u{200B}IA";
        let out = fold(original.as_bytes()).expect("folds");
        assert_eq!(out.text(), b"AKIA");
        assert_eq!(mapped_back(&out, 0, 4), (0, original.len()));
        assert_eq!(mapped_back(&out, 0, 2), (0, 2));
        assert_eq!(mapped_back(&out, 2, 4), (5, 7));
        // The empty span where the ZWSP was maps to the ZWSP.
        assert_eq!(mapped_back(&out, 2, 2), (2, 5));
    }

    #[test]
    fn invisible_characters_are_removed() {
        let original = "\u{FEFF}A\u{00AD}K\u{200D}I\u{202E}A\u{2066}1\u{FE0F}2\u{180E}3\u{2063}";
        assert_eq!(folded_text(original), "AKIA123");
        let out = fold(original.as_bytes()).expect("folds");
        // Removed characters at the edges are outside the smallest covering span.
        assert_eq!(mapped_back(&out, 0, 7), (3, original.len() - 3));
        // An all-invisible text folds to nothing, which maps to all of it.
        let out = fold("\u{200B}\u{200C}".as_bytes()).expect("folds");
        assert!(out.text().is_empty());
        assert_eq!(mapped_back(&out, 0, 0), (0, 6));
    }

    #[test]
    fn homoglyphs_fold_to_ascii() {
        // Cyrillic А К І А.
        assert_eq!(folded_text("\u{0410}\u{041A}\u{0406}\u{0410}"), "AKIA");
        // Greek Α Κ Ι Α, mixed with Latin.
        assert_eq!(folded_text("\u{0391}KI\u{0391}"), "AKIA");
        for &(c, ascii) in CONFUSABLES {
            assert_eq!(folded_text(&c.to_string()).as_bytes(), [ascii], "{c}");
        }
        assert_eq!(
            folded_text("\u{2010}\u{2011}\u{2013}\u{2014}\u{2015}"),
            "-----"
        );
        assert_eq!(
            folded_text("\u{2018}a\u{2019} \u{201C}b\u{201D}"),
            "'a' \"b\""
        );
    }

    #[test]
    fn nfkc_compatibility_forms() {
        assert_eq!(folded_text("\u{FB01}le"), "file");
        let out = fold("\u{FB01}".as_bytes()).expect("folds");
        assert_eq!(mapped_back(&out, 1, 2), (0, 3));
        // Fullwidth digits in a card number, no-break and ideographic spaces.
        assert_eq!(
            folded_text("４１１１\u{00A0}１１１１\u{3000}1111"),
            "4111 1111 1111"
        );
        // Kelvin sign, mathematical bold, circled digits, superscripts.
        assert_eq!(folded_text("\u{212A}\u{1D400}\u{2460}\u{00B2}"), "KA12");
        // Mathematical bold capital alpha is a Greek alpha after NFKC, then an A.
        assert_eq!(folded_text("\u{1D6A8}"), "A");
        // Combining marks are removed (`layers::lookalikes`): a decomposed accent leaves its
        // letter, a struck-through key its characters; precomposed letters stay.
        assert_eq!(folded_text("e\u{0301}"), "e");
        assert_eq!(folded_text("A\u{0336}K\u{0336}\u{00E9}"), "AK\u{00E9}");
    }

    #[test]
    fn cjk_is_unchanged() {
        let folder = Folder::new();
        let mut out = Folded::default();
        assert!(!folder.fold("内部资料".as_bytes(), &mut out));
        assert!(!folder.fold("机密 report: 内部资料, 한국어, café".as_bytes(), &mut out));
        assert!(out.text().is_empty());
        // Around a folded character, CJK still comes through.
        assert_eq!(folded_text("机\u{200B}密"), "机密");
    }

    #[test]
    fn invalid_utf8_is_removed() {
        let original: &[u8] = b"\xFFA\xE2\x80\x8BK\xC3\xEF\xBC\xA9\xF0\x9FA";
        let out = fold(original).expect("folds");
        assert_eq!(out.text(), b"AKIA");
        assert_eq!(mapped_back(&out, 0, 1), (1, 2));
        assert_eq!(mapped_back(&out, 0, 2), (1, 6)); // A ZWSP K
        assert_eq!(mapped_back(&out, 2, 3), (7, 10)); // Ｉ
        assert_eq!(mapped_back(&out, 1, 4), (5, 13)); // K \xC3 Ｉ, a cut sequence, A
                                                      // Invalid bytes and replacement characters are separators that hide nothing.
        assert_eq!(fold(b"abc\xFF\xFEdef").expect("folds").text(), b"abcdef");
        assert_eq!(folded_text("AK\u{FFFD}IA"), "AKIA");
        assert!(fold("\u{00E9}\u{00FF}".as_bytes()).is_none());
    }

    #[test]
    fn clamps_out_of_range_spans() {
        let out = fold("ＡＢ".as_bytes()).expect("folds");
        assert_eq!(mapped_back(&out, 0, 100), (0, 6));
        assert_eq!(mapped_back(&out, 100, 200), (6, 6));
        assert_eq!(mapped_back(&out, 2, 1), (3, 3));
    }

    #[test]
    fn reuses_the_output() {
        let folder = Folder::new();
        let mut out = Folded::default();
        assert!(folder.fold("ＡＢＣ".as_bytes(), &mut out));
        assert_eq!(out.text(), b"ABC");
        assert!(!folder.fold(b"plain", &mut out));
        assert!(out.text().is_empty());
        assert!(folder.fold("\u{0410}".as_bytes(), &mut out));
        assert_eq!(out.text(), b"A");
        assert_eq!(mapped_back(&out, 0, 1), (0, 2));
    }

    #[test]
    fn non_ascii_decimal_digits_fold_to_ascii() {
        let n = Folder::new();
        let mut out = Folded::default();
        // Arabic-Indic 4539, Devanagari 1488, Thai 0343.
        assert!(n.fold("\u{664}\u{665}\u{663}\u{669} \u{967}\u{96A}\u{96E}\u{96E} \u{E50}\u{E53}\u{E54}\u{E53}".as_bytes(), &mut out));
        assert_eq!(out.text(), b"4539 1488 0343");
    }

    const TRICKY: &[&[u8]] = &[
        b"A",
        b"k",
        b"1",
        b" ",
        "Ａ".as_bytes(),
        "１".as_bytes(),
        "，".as_bytes(),
        "\u{3000}".as_bytes(),
        "\u{200B}".as_bytes(),
        "\u{200D}".as_bytes(),
        "\u{202E}".as_bytes(),
        "\u{00AD}".as_bytes(),
        "\u{FE0F}".as_bytes(),
        "\u{0301}".as_bytes(),
        "\u{0323}".as_bytes(),
        "e".as_bytes(),
        "\u{00E9}".as_bytes(),
        "\u{FB01}".as_bytes(),
        "\u{FDFA}".as_bytes(),
        "\u{0410}".as_bytes(),
        "\u{03BF}".as_bytes(),
        "\u{2014}".as_bytes(),
        "\u{212B}".as_bytes(),
        "\u{1100}".as_bytes(),
        "\u{1161}".as_bytes(),
        "\u{11A8}".as_bytes(),
        "\u{AC00}".as_bytes(),
        "\u{0B47}".as_bytes(),
        "\u{0B3E}".as_bytes(),
        "机".as_bytes(),
        "\u{F900}".as_bytes(),
        "\u{1D400}".as_bytes(),
        b"\xFF",
        b"\xC3",
        b"\xF0\x9F",
    ];

    fn random_text(rng: &mut TestRng, pieces: &[&[u8]], max_len: usize) -> Vec<u8> {
        let len = rng.below(max_len + 1);
        let mut text = Vec::new();
        for _ in 0..len {
            text.extend_from_slice(rng.pick(pieces));
        }
        text
    }

    #[test]
    fn spans_are_in_bounds_and_monotonic() {
        let folder = Folder::new();
        let mut out = Folded::default();
        let mut part = Folded::default();
        let mut rng = TestRng::new(0x9E37_79B9_7F4A_7C15);
        let mut folded_count = 0;
        for _ in 0..400 {
            let text = random_text(&mut rng, TRICKY, 12);
            if !folder.fold(&text, &mut out) {
                assert!(out.text().is_empty());
                continue;
            }
            folded_count += 1;
            let len = out.text().len();
            let mut previous = (0, 0);
            for start in 0..=len + 1 {
                for end in start..=len + 1 {
                    let (a, b) = mapped_back(&out, start, end);
                    assert!(
                        a <= b && b <= text.len(),
                        "{text:?} {start}..{end} -> {a}..{b}"
                    );
                    if end == start {
                        continue;
                    }
                    // Monotonic: a later start or end never maps earlier.
                    let (left, _) = mapped_back(&out, start.saturating_sub(1), end);
                    let (_, right) = mapped_back(&out, start, end + 1);
                    assert!(left <= a && b <= right, "{text:?} {start}..{end}");
                    if end == start + 1 && start < len {
                        assert!(a >= previous.0 && b >= previous.1, "{text:?} {start}");
                        assert!(a < b, "a folded byte comes from some original bytes");
                        previous = (a, b);
                        // Refolding the original span yields at least the folded byte.
                        let piece = &text[a..b];
                        let refolded: &[u8] = if folder.fold(piece, &mut part) {
                            part.text()
                        } else {
                            piece
                        };
                        let target = &out.text()[start..end];
                        assert!(
                            refolded.windows(target.len()).any(|w| w == target),
                            "{text:?}: byte {start} from {a}..{b}"
                        );
                    }
                }
            }
        }
        assert!(folded_count > 200);
    }

    #[test]
    fn segments_agree_with_whole_string_nfkc() {
        // Without removals, homoglyphs or invalid bytes, folding is exactly NFKC.
        let pieces: Vec<&[u8]> = TRICKY
            .iter()
            .copied()
            .filter(|p| {
                std::str::from_utf8(p).is_ok_and(|s| {
                    s.chars()
                        .all(|c| !is_invisible(c) && Folder::new().confusable(c).is_none())
                })
            })
            .collect();
        let folder = Folder::new();
        let mut out = Folded::default();
        let mut rng = TestRng::new(42);
        for _ in 0..400 {
            let text = random_text(&mut rng, &pieces, 16);
            let s = std::str::from_utf8(&text).unwrap();
            let expected: String = s.nfkc().collect();
            let got = if folder.fold(&text, &mut out) {
                out.text()
            } else {
                &text[..]
            };
            assert_eq!(got, expected.as_bytes(), "{s:?}");
        }
    }
}
