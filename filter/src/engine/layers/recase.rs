//! Undoing letter-case mangling and leetspeak in words: `cOnFiDeNtIaL`, `C0NF1D3NT14L`.
//!
//! Markings match case-sensitively (`CONFIDENTIAL` on a document, not "keep this
//! confidential" in prose), so a marking typed with scrambled case or digits for letters
//! slips past them. A word is *mangled* when its case flips from lower to upper at least
//! twice and on at least a third of its letters (`cOnFiDeNtIaL`, not `getElementById`
//! or `iPhone`), or when it starts lower-case and continues upper-case (`cONFIDENTIAL`, caps
//! lock), or when it is letters and at least two leet digits (`0 1 3 4 5 7 8` for `O I E A S
//! T B`) and nothing else. The run is the mangled word with one word either side (so `tOp
//! SeCrEt` reads as `TOP SECRET`), upper-cased and de-leeted. One pass over the bytes.

use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::limits::MAX_RESPELLED_RUNS;
use crate::engine::span::Span;

/// Shortest mangled word.
const MIN_WORD: usize = 6;
/// Longest word looked at (a marking is a word, not a token).
const MAX_WORD: usize = 24;

/// The letter a leet digit stands for.
fn leet(b: u8) -> Option<u8> {
    Some(match b {
        b'0' => b'O',
        b'1' => b'I',
        b'3' => b'E',
        b'4' | b'@' => b'A',
        b'5' | b'$' => b'S',
        b'7' => b'T',
        b'8' => b'B',
        _ => return None,
    })
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphabetic() || leet(b).is_some()
}

/// Whether `word` (letters and leet digits) is mangled (see the module documentation).
fn mangled(word: &[u8]) -> bool {
    if !(MIN_WORD..=MAX_WORD).contains(&word.len()) || word.iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    let letters = word.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let leets = word.len() - letters;
    if leets > 0 {
        return leets >= 2 && letters >= 3;
    }
    let flips = word
        .windows(2)
        .filter(|w| matches!(w, [a, b] if a.is_ascii_lowercase() && b.is_ascii_uppercase()))
        .count();
    let caps_lock = word.first().is_some_and(u8::is_ascii_lowercase)
        && word.iter().skip(1).all(u8::is_ascii_uppercase);
    caps_lock || (flips >= 2 && flips * 3 >= letters)
}

/// Words of `text`: (start, end) of each maximal run of letters and leet digits.
fn words(text: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let rest = text.get(i..)?;
        let start = i + rest.iter().position(|&b| is_word_byte(b))?;
        let after = text.get(start..).unwrap_or_default();
        let end = start
            + after
                .iter()
                .position(|&b| !is_word_byte(b))
                .unwrap_or(after.len());
        i = end;
        Some((start, end))
    })
}

/// Finds mangled words in `text` and appends them (with a word either side) to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    // Cheap gate: a mangled word has a lower-case letter before an upper-case one, or a digit.
    let gate = text.iter().any(u8::is_ascii_digit)
        || text
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.is_ascii_lowercase() && b.is_ascii_uppercase()));
    if !gate {
        return;
    }
    let mut previous: Option<(usize, usize)> = None;
    let mut all = words(text).peekable();
    while let Some((start, end)) = all.next() {
        if out.len() >= MAX_RESPELLED_RUNS {
            return;
        }
        let before = previous.replace((start, end));
        // A word glued to other characters (`x86_64`, `v1.2.3a`) is an identifier.
        let alone = |at: usize| {
            text.get(at)
                .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_')
        };
        let word = text.get(start..end).unwrap_or_default();
        if !(mangled(word) && alone(end) && (start == 0 || alone(start - 1))) {
            continue;
        }
        let short = |w: &(usize, usize)| w.1 - w.0 <= MAX_WORD;
        let first = before.filter(short).map_or(start, |w| w.0);
        let last = all.peek().filter(|w| short(w)).map_or(end, |w| w.1);
        let plain = text
            .get(first..last)
            .unwrap_or_default()
            .iter()
            .map(|&b| match leet(b) {
                Some(letter) if !b.is_ascii_alphabetic() => letter,
                _ => b.to_ascii_uppercase(),
            })
            .collect();
        out.push(Unwrapped {
            span: Span::new(first, last),
            wrapping: Wrapping::Recased,
            text: plain,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recased(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        find(text.as_bytes(), &mut out);
        out.into_iter()
            .map(|u| String::from_utf8(u.text).unwrap())
            .collect()
    }

    #[test]
    fn mangled_words_are_upper_cased() {
        assert_eq!(recased("cOnFiDeNtIaL"), ["CONFIDENTIAL"]);
        assert_eq!(recased("see cONFIDENTIAL now"), ["SEE CONFIDENTIAL NOW"]);
        assert_eq!(recased("C0NF1D3NT14L"), ["CONFIDENTIAL"]);
        assert_eq!(recased("tOp SeCrEt"), ["TOP SECRET"]);
    }

    #[test]
    fn ordinary_words_and_code_are_not() {
        for clean in [
            "getElementById(x)",
            "iPhone and eBay and McDonald",
            "isHTTPSEnabled",
            "keep this Confidential",
            "sha256 md5sum x86_64 utf8 base64 1080p",
            "AKIAR7UZ3WQ4XK2M6PLD",
            "deadbeef0123",
        ] {
            assert!(recased(clean).is_empty(), "{clean}");
        }
    }
}
