//! Keys typed in the other case: an access key id typed all in lower case
//! (`akiar7uz…`, whose format is upper case and digits), or a lower-case format typed in
//! capitals (`GHP_…`, `XOXB-…`, `SK-PROJ-…`).
//!
//! Which formats survive a case fold: those whose letters are all of one case (AWS key
//! ids, Slack and GitHub prefixes, base32 secrets), where folding back gives the key as
//! issued, and those with a one-case prefix and a mixed-case body, where the folded
//! prefix is enough for the detector (its body class takes either case). So a word is
//! folded whole, and the scanner decides whether the fold reads as a key.
//!
//! A word is read folded only when it looks typed that way on purpose: all its letters in
//! the case the format does not use, long ([`MIN_LOWER`] letters and digits in a row, or
//! [`MIN_UPPER`] bytes with a `-` or `_`), with digits and letters both. Hex digests are
//! left alone (a digest means the same in either case, and folding one reads nothing new).
//!
//! Cost on clean text: a search for digits eight bytes at a time (a lower-case key holds
//! digits; prose has few), and a probe every [`MIN_UPPER`] bytes for capitals
//! ([`first_run_of`]).

use super::class_bits::{ByteClass, ClassBits, Runs, MAX_PROBED};
use super::families::run_around;
use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;
use std::borrow::Cow;

/// Fewest lower-case letters and digits in a row that make a word worth folding up.
const MIN_LOWER: usize = 16;
/// Fewest capitals, digits, `-` and `_` in a row that make a word worth folding down.
const MIN_UPPER: usize = 20;
/// Longest word folded: keys in one case are short (an AWS key id is 20 characters, a
/// base32 secret 16 to 32); longer words are blobs, which the decoders read.
const MAX_WORD: usize = 64;
/// Words folded per text.
const MAX_RUNS: usize = 8;

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

const fn is_lower_or_digit(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

const fn is_upper_key_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
}

/// [`is_lower_or_digit`] and [`is_upper_key_byte`] as classes.
pub(super) const LOWER_OR_DIGIT: ByteClass =
    ByteClass::of(&byte_class_table!(|b| is_lower_or_digit(b) as u8));
pub(super) const UPPER_KEY_BYTES: ByteClass =
    ByteClass::of(&byte_class_table!(|b| is_upper_key_byte(b) as u8));

/// Appends the words of `text` typed in the other case, folded back, to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    match text.len() > MAX_PROBED {
        true => find_classified(text, out),
        false => find_walked(text, out),
    }
}

fn find_walked(text: &[u8], out: &mut Vec<Unwrapped>) {
    lower_case_keys(text, out);
    let upper = Runs::Probed {
        text,
        member: is_upper_key_byte,
    };
    folds(text, &upper, MIN_UPPER, fold_down, out);
}

/// [`find_walked`]'s runs, found in the text's classes ([`ClassBits`]: one pass, then bit
/// operations; the same runs).
fn find_classified(text: &[u8], out: &mut Vec<Unwrapped>) {
    let lower = ClassBits::of(text, &LOWER_OR_DIGIT);
    let upper = ClassBits::of(text, &UPPER_KEY_BYTES);
    find_in_classes(text, &lower, &upper, out);
}

/// [`find`] in a long text's bits of [`LOWER_OR_DIGIT`] and [`UPPER_KEY_BYTES`] (its shared
/// classes).
pub(super) fn find_in_classes(
    text: &[u8],
    lower: &ClassBits,
    upper: &ClassBits,
    out: &mut Vec<Unwrapped>,
) {
    lower_case_keys_in_bits(text, lower, out);
    let upper: Runs<fn(u8) -> bool> = Runs::Classified(Cow::Borrowed(upper));
    folds(text, &upper, MIN_UPPER, fold_down, out);
}

/// Words typed in lower case, folded up. A key typed so holds digits ([`fold_up`] wants two),
/// and prose has few: the candidates are the runs around digits, found eight bytes at a time
/// ([`next_digit`]), where probing for runs of lower-case letters would land in every word.
fn lower_case_keys(text: &[u8], out: &mut Vec<Unwrapped>) {
    let member = is_lower_or_digit;
    let mut from = 0;
    let mut runs = 0;
    while runs < MAX_RUNS {
        let Some(digit) = next_digit(text, from) else {
            return;
        };
        let run = run_around(text, digit, member);
        from = run.end.max(digit + 1);
        if run.len() < MIN_LOWER {
            continue;
        }
        let word = run_around(text, digit, is_word_byte);
        from = from.max(word.end);
        let lower = text.get(run).unwrap_or_default();
        runs += usize::from(push_fold(text, word, lower, fold_up, out));
    }
}

/// Appends `word` of `text`, folded by `fold` (given the word and its `run`), if it folds;
/// returns whether it did.
fn push_fold(
    text: &[u8],
    word: std::ops::Range<usize>,
    run: &[u8],
    fold: fn(&[u8], &[u8]) -> Option<Vec<u8>>,
    out: &mut Vec<Unwrapped>,
) -> bool {
    let folded = text.get(word.clone()).and_then(|w| fold(w, run));
    let pushed = folded.is_some();
    if let Some(folded) = folded {
        out.push(Unwrapped {
            span: Span::new(word.start, word.end),
            wrapping: Wrapping::Recased,
            text: folded,
        });
    }
    pushed
}

/// [`lower_case_keys`] over a classified text: the runs it folds are the maximal runs of
/// lower-case letters and digits of at least [`MIN_LOWER`] bytes that hold a digit (it visits
/// each run around a digit, and a shorter run or one inside the last folded word is passed
/// over), so those are read in order, without visiting the digits of short runs.
fn lower_case_keys_in_bits(text: &[u8], bits: &ClassBits, out: &mut Vec<Unwrapped>) {
    let mut from = 0;
    let mut runs = 0;
    while runs < MAX_RUNS {
        // `from` is 0 or just past a byte of no run: `start` begins a maximal run.
        let Some(start) = bits.first_run(from, MIN_LOWER) else {
            return;
        };
        let end = bits.run_end(start);
        let lower = text.get(start..end).unwrap_or_default();
        let Some(digit) = lower.iter().position(u8::is_ascii_digit) else {
            from = end + 1;
            continue;
        };
        let word = run_around(text, start + digit, is_word_byte);
        from = end.max(word.end);
        runs += usize::from(push_fold(text, word, lower, fold_up, out));
    }
}

/// The first ASCII digit of `text` at or after `from`: eight bytes per step where there is none.
fn next_digit(text: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const LOW7: u64 = ONES * 0x7F;
    const HIGHS: u64 = ONES * 0x80;
    // A lane is flagged if its byte lies in 0x30..=0x39 (ASCII only: `!x` clears bytes >= 0x80);
    // a flagged word is then searched byte by byte, so the test only needs no false negatives.
    let any_digit = |x: u64| {
        let low = x & LOW7;
        (ONES * (0x7F + 0x3A)).wrapping_sub(low)
            & !x
            & low.wrapping_add(ONES * (0x7F - 0x2F))
            & HIGHS
            != 0
    };
    crate::engine::byte_set::next_where(text, from, any_digit, |b| b.is_ascii_digit())
}

/// The words around the runs of at least `min_run` bytes of `runs` that `fold` reads, folded.
fn folds(
    text: &[u8],
    runs: &Runs<impl Fn(u8) -> bool + Copy>,
    min_run: usize,
    fold: fn(&[u8], &[u8]) -> Option<Vec<u8>>,
    out: &mut Vec<Unwrapped>,
) {
    let mut from = 0;
    let mut folded_words = 0;
    while folded_words < MAX_RUNS {
        let Some((at, run_end)) = runs.next(from, min_run) else {
            return;
        };
        let run = text.get(at..run_end).unwrap_or_default();
        let word = run_around(text, at, is_word_byte);
        from = word.end.max(run_end);
        folded_words += usize::from(push_fold(text, word, run, fold, out));
    }
}

/// Digits and letters a word holds.
fn counts(word: &[u8]) -> (usize, usize) {
    let digits = word.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = word.iter().filter(|b| b.is_ascii_alphabetic()).count();
    (digits, letters)
}

/// A word with no capital, digits, and a long lower-case `run` that is not hex: in capitals.
fn fold_up(word: &[u8], run: &[u8]) -> Option<Vec<u8>> {
    let (digits, letters) = counts(word);
    let hex_only = run.iter().all(u8::is_ascii_hexdigit);
    let typed_lower = word.len() <= MAX_WORD
        && !word.iter().any(u8::is_ascii_uppercase)
        && digits >= 2
        && letters >= 4
        && !hex_only;
    typed_lower.then(|| word.to_ascii_uppercase())
}

/// A word in capitals with a `-` or `_`, digits and letters: in lower case.
fn fold_down(word: &[u8], _run: &[u8]) -> Option<Vec<u8>> {
    let (digits, letters) = counts(word);
    let typed_upper = word.len() <= MAX_WORD
        && !word.iter().any(u8::is_ascii_lowercase)
        && word.iter().any(|b| *b == b'-' || *b == b'_')
        && digits >= 3
        && letters >= 4;
    typed_upper.then(|| word.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        crate::engine::layers::texts_found(find, text)
    }

    #[test]
    fn folds_keys_typed_in_the_other_case() {
        assert_eq!(
            found("the key id is akiaq2zt6wm4lx7b3nrd, region eu-west-1"),
            ["AKIAQ2ZT6WM4LX7B3NRD"]
        );
        assert_eq!(
            found("token GHP_4K9ZQ2WX7M3LR8TY5VN6PB1CD0HJ2FS4GE8A please"),
            ["ghp_4k9zq2wx7m3lr8ty5vn6pb1cd0hj2fs4ge8a"]
        );
    }

    #[test]
    fn classified_texts_fold_what_walked_texts_fold() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x0ca5_ef01d);
        let pieces: [&[u8]; 16] = [
            b"akiaq2zt6wm4lx7b3nrd",
            b"GHP_4K9ZQ2WX7M3LR8TY5VN6PB1CD0HJ2FS4GE8A",
            b"3f9a0c1e2b4d5a6f",
            b"2026-11-05T12:34:56.789Z",
            b"req=",
            b"abcdefghijklmnopq1",
            b"ABCDEFGHIJKLMNOPQRSTU",
            b"-",
            b"_",
            b" ",
            b"\\n",
            b"12",
            b"x",
            b"Q",
            "\u{e9}".as_bytes(),
            b"akiaq2zt6wm4lx7b3nrdakiaq2zt6wm4lx7b3nrdakiaq2zt6wm4lx7b3nrdakiaq2zt6wm4lx7b3nrd",
        ];
        let (mut folded, mut full) = (0, 0);
        for _ in 0..6_000 {
            let mut text = Vec::new();
            let len = rng.below(900);
            while text.len() < len {
                text.extend_from_slice(rng.pick(&pieces));
            }
            let (mut walked, mut classified) = (Vec::new(), Vec::new());
            find_walked(&text, &mut walked);
            find_classified(&text, &mut classified);
            assert_eq!(walked, classified, "{}", String::from_utf8_lossy(&text));
            folded += walked.len();
            full += usize::from(walked.len() >= MAX_RUNS);
        }
        assert!(folded > 5_000 && full > 0, "{folded} {full}");
    }

    #[test]
    fn next_digit_agrees_with_a_byte_by_byte_search() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"ab/0:9 \x2f\x3a\xff\x80AZ";
        for _ in 0..2000 {
            let len = rng.below(40);
            let mut text: Vec<u8> = (0..len).map(|_| rng.pick(alphabet)).collect();
            if rng.below(4) == 0 {
                text.iter_mut().for_each(|b| *b ^= 0x80);
            }
            let from = rng.below(len + 1);
            let expected = text[from..]
                .iter()
                .position(u8::is_ascii_digit)
                .map(|p| from + p);
            assert_eq!(next_digit(&text, from), expected, "{text:?} from {from}");
        }
    }

    #[test]
    fn leaves_ordinary_words_digests_and_mixed_case_alone() {
        for clean in [
            "internationalization and counterrevolutionaries are long words",
            "commit 9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012345 fixed it",
            "uuid 3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b",
            "AKIAR7UZ3WQ4XK2M6PLD is already upper case",
            "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z mixed case is read as written",
            "MAX_TABLE_ENTRIES and DEFAULT_CACHE_BYTES are constants",
            "user2024 release2025 v12 build9 are short",
            "legacy xoxs-31410203013-4656325-a481372db8289032eed28eefc0c29436 is hex after its prefix",
        ] {
            assert_eq!(found(clean), Vec::<String>::new(), "{clean}");
        }
    }
}
