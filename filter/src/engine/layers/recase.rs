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

use super::class_bits::ByteClass;
use super::class_windows::LazyWindows;
use crate::engine::layers::{class_bit, Unwrapped, Wrapping};
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

/// Words of `text` from `from` on: (start, end) of each maximal run of letters and leet digits.
fn words_from(text: &[u8], from: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut i = from;
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

/// `run` upper-cased, with leet characters read as the letters they stand for.
fn spelled_out(run: &[u8]) -> Vec<u8> {
    run.iter()
        .map(|&b| match leet(b) {
            Some(letter) if !b.is_ascii_alphabetic() => letter,
            _ => b.to_ascii_uppercase(),
        })
        .collect()
}

/// A byte of an identifier-like token: what glues a word to its neighbours.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'$')
}

/// Start of the token holding the token byte at `at`.
fn token_start(text: &[u8], at: usize) -> usize {
    let before = text.get(..at).unwrap_or_default();
    before
        .iter()
        .rposition(|&b| !is_token_byte(b))
        .map_or(0, |p| p + 1)
}

/// End of the token holding the token byte at `at`.
fn token_end(text: &[u8], at: usize) -> usize {
    let after = text.get(at..).unwrap_or_default();
    at + after
        .iter()
        .position(|&b| !is_token_byte(b))
        .unwrap_or(after.len())
}

/// Start of the word holding the word byte at `at`.
fn word_start(text: &[u8], at: usize) -> usize {
    (0..at)
        .rev()
        .find(|&i| !text.get(i).copied().is_some_and(is_word_byte))
        .map_or(0, |i| i + 1)
}

/// Bits of [`CLASSES`]: what [`pair_lanes`] tests, one table read per byte.
const LOWER: u8 = 1;
const UPPER: u8 = 2;
const LEET: u8 = 4;

/// Each byte's classes, from the same predicates the words are read with.
// Evaluated at compile time: an index out of bounds would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
const CLASS_TABLE: [u8; 256] =
    byte_class_table!(|byte| class_bit(byte.is_ascii_lowercase(), LOWER)
        | class_bit(byte.is_ascii_uppercase(), UPPER)
        | class_bit(
            matches!(
                byte,
                b'0' | b'1' | b'3' | b'4' | b'5' | b'7' | b'8' | b'@' | b'$'
            ),
            LEET
        ));
static CLASSES: [u8; 256] = CLASS_TABLE;
/// [`CLASSES`]' three classes, for the gate over a long text ([`ClassWindows`]).
const PAIR_CLASSES: [ByteClass; 3] = [
    ByteClass::of_bit(&CLASS_TABLE, LOWER),
    ByteClass::of_bit(&CLASS_TABLE, UPPER),
    ByteClass::of_bit(&CLASS_TABLE, LEET),
];

/// Whether `a` then `b` may be inside a mangled word: a lower-case letter before an upper-case
/// one, or a leet character next to a letter (the definition [`pair_lanes`] computes).
#[cfg(test)]
fn pair_class(a: u8, b: u8) -> bool {
    let of = |c: u8| CLASSES.get(usize::from(c)).copied().unwrap_or(0);
    let (a, b) = (of(a), of(b));
    let letter = LOWER | UPPER;
    ((a & LOWER != 0) & (b & UPPER != 0))
        | ((a & LEET != 0) & (b & letter != 0))
        | ((a & letter != 0) & (b & LEET != 0))
}

/// [`pair_class`] on eight positions: lane `i` of `here` and `next` holds the classes of the
/// `i`-th position's byte and the byte after it; a lane's low bit says the pair hits.
#[inline(always)]
fn pair_lanes(_: u64, here: u64, next: u64, _: u64) -> u64 {
    const LOW: u64 = u64::from_le_bytes([1; 8]);
    let bit = |lanes: u64, class: u8| lanes >> class.trailing_zeros() & LOW;
    let letter = |lanes: u64| bit(lanes, LOWER) | bit(lanes, UPPER);
    (bit(here, LOWER) & bit(next, UPPER))
        | (bit(here, LEET) & letter(next))
        | (letter(here) & bit(next, LEET))
}

/// [`pair_lanes`] on 64 positions: each class's bits of the positions' bytes and of the bytes
/// after them ([`PAIR_CLASSES`]' order).
#[inline(always)]
fn pair_bits(_: &[u64; 3], here: &[u64; 3], next: &[u64; 3], _: &[u64; 3]) -> u64 {
    let [lower, upper, leet] = *here;
    let [next_lower, next_upper, next_leet] = *next;
    (lower & next_upper) | (leet & (next_lower | next_upper)) | ((lower | upper) & next_leet)
}

/// The first position from `from` where [`pair_class`] holds for its byte and the next.
fn next_pair(text: &[u8], from: usize) -> Option<usize> {
    crate::engine::bytes::next_class_window(text, from, &CLASSES, b' ', pair_lanes)
}

/// Finds mangled words in `text` and appends them (with a word either side) to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    // Cheap gates. A mangled word has a lower-case letter before an upper-case one, or a leet
    // character next to a letter (one branch-free pass, which most text fails); and the scan
    // below has only ever run on text with a digit or such a lower-upper pair.
    // Long clean text is classified once its first search walks far without a pair.
    let mut pairs = LazyWindows::new(text, &PAIR_CLASSES, b' ');
    if pairs.next(0, next_pair, pair_bits).is_none() {
        return;
    }
    let gate = text.iter().any(u8::is_ascii_digit)
        || text
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.is_ascii_lowercase() && b.is_ascii_uppercase()));
    if !gate {
        return;
    }
    // Only the words holding such a pair are looked at, with their neighbours: the words
    // before and after a mangled word are found from it. A word glued to other characters
    // (`x86_64`, `v1.2.3a`) is an identifier: a word is read only when it is a whole
    // *token* (a run of letters, digits, `_`, `@` and `$`; a word's bytes are all token
    // bytes, and a byte just outside a word that is a token byte glues it). So each token
    // holding a pair is looked at once, and dismissed by its length before its bytes.
    let mut from = 0;
    while let Some(at) = pairs.next(from, next_pair, pair_bits) {
        let (start, end) = (token_start(text, at), token_end(text, at));
        from = end.max(at + 1);
        if out.len() >= MAX_RESPELLED_RUNS {
            return;
        }
        let word = text.get(start..end).unwrap_or_default();
        let whole_word =
            (MIN_WORD..=MAX_WORD).contains(&word.len()) && word.iter().all(|&b| is_word_byte(b));
        if !(whole_word && mangled(word)) {
            continue;
        }
        let short = |w: &(usize, usize)| w.1 - w.0 <= MAX_WORD;
        let before = (0..start)
            .rev()
            .find(|&i| text.get(i).copied().is_some_and(is_word_byte))
            .map(|last| (word_start(text, last), last + 1));
        let after = words_from(text, end).next();
        let first = before.filter(short).map_or(start, |w| w.0);
        let last = after.filter(short).map_or(end, |w| w.1);
        let plain = spelled_out(text.get(first..last).unwrap_or_default());
        out.push(Unwrapped {
            span: Span::new(first, last),
            wrapping: Wrapping::Recased,
            text: plain,
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pair_table_agrees_with_the_letters_and_leet() {
        let letter = |c: u8| c.is_ascii_alphabetic();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let expected = (a.is_ascii_lowercase() && b.is_ascii_uppercase())
                    || (super::leet(a).is_some() && letter(b))
                    || (letter(a) && super::leet(b).is_some());
                assert_eq!(super::pair_class(a, b), expected, "{a} {b}");
                let (a_lanes, b_lanes) = (
                    super::CLASSES[usize::from(a)],
                    super::CLASSES[usize::from(b)],
                );
                let lanes = super::pair_lanes(0, u64::from(a_lanes), u64::from(b_lanes), 0);
                assert_eq!(lanes & 1 == 1, expected, "{a} {b}");
            }
        }
    }

    use super::*;

    fn recased(text: &str) -> Vec<String> {
        super::super::texts_found(find, text)
    }

    #[test]
    fn mangled_words_are_upper_cased() {
        assert_eq!(recased("cOnFiDeNtIaL"), ["CONFIDENTIAL"]);
        assert_eq!(recased("see cONFIDENTIAL now"), ["SEE CONFIDENTIAL NOW"]);
        assert_eq!(recased("C0NF1D3NT14L"), ["CONFIDENTIAL"]);
        assert_eq!(recased("tOp SeCrEt"), ["TOP SECRET"]);
    }

    /// The walk over every word that the pair-driven [`find`] replaced.
    fn every_word(text: &[u8], out: &mut Vec<Unwrapped>) {
        let mut previous: Option<(usize, usize)> = None;
        let mut all = words_from(text, 0).peekable();
        while let Some((start, end)) = all.next() {
            let before = previous.replace((start, end));
            let alone = |at: usize| {
                text.get(at)
                    .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_')
            };
            if !(mangled(&text[start..end]) && alone(end) && (start == 0 || alone(start - 1))) {
                continue;
            }
            let short = |w: &(usize, usize)| w.1 - w.0 <= MAX_WORD;
            let first = before.filter(short).map_or(start, |w| w.0);
            let last = all.peek().filter(|w| short(w)).map_or(end, |w| w.1);
            let plain = spelled_out(&text[first..last]);
            out.push(Unwrapped {
                span: Span::new(first, last),
                wrapping: Wrapping::Recased,
                text: plain,
            });
        }
        out.truncate(MAX_RESPELLED_RUNS);
    }

    /// The classified gate against the eight-lane walk, every start of texts of 0 to 700 bytes.
    #[test]
    fn classified_pairs_are_the_walked_pairs() {
        let pieces: [&[u8]; 12] = [
            b"word",
            b" ",
            b"tOp",
            b"x86",
            b"@",
            b"$",
            b"A",
            b"a",
            b"\xc3\xa9",
            b"7",
            b".",
            b"\n",
        ];
        let gate = super::super::class_windows::Gate {
            walked: super::next_pair,
            classes: super::PAIR_CLASSES,
            bits: super::pair_bits,
        };
        let hits = super::super::class_windows::same_hits(0x9a1f, &pieces, &gate);
        assert!(hits > 10_000, "{hits}");
    }

    #[test]
    fn pairs_find_what_every_word_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x2545_f491_4f6c_dd1d);
        let pieces = [
            "cOnFiDeNtIaL",
            "C0NF1D3NT14L",
            "tOp",
            "SeCrEt",
            "word",
            "x86_64",
            "p@$$w0rd",
            "a",
            "getElementById",
            "机密",
            "1234",
            "_",
            "-",
            "\n",
            "cONFIDENTIAL",
            "Confidential",
        ];
        for _ in 0..3000 {
            let count = rng.below(30);
            let seps = [" ", "", "  ", "\n", ".", "_"];
            let text: String = (0..count)
                .map(|_| format!("{}{}", rng.pick(&pieces), rng.pick(&seps)))
                .collect();
            let text = text.as_bytes();
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            find(text, &mut fast);
            let gate = text.iter().any(u8::is_ascii_digit)
                || text
                    .windows(2)
                    .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
            if gate {
                every_word(text, &mut slow);
            }
            assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(text));
        }
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
