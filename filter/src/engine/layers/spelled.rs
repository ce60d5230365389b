//! Digits and letters spelled as words: a card number read out as English number words
//! (`four nine one six …`) and a key in the NATO phonetic alphabet (`alfa kilo india
//! alfa romeo seven …`), the way people dictate them or hide them from a pattern.
//!
//! A run is at least [`MIN_SYMBOLS`] such words in a row, in any case, with up to
//! [`MAX_GLUE`] bytes of spaces, commas, dashes, dots or line breaks between each two; it
//! reads as its digits and capital letters. Prose with a few number words ("one or two")
//! never reaches eight in a row; a run of them reads as digits, which only a detector
//! with a checksum or a structure would report.
//!
//! Cost on clean text: a probe every [`PROBE`] bytes looks up the word under it (a run of
//! eight words is longer than two probes' distance, so one of its words is probed); only
//! a probed word that spells a symbol makes the run be walked. In a long text the word is
//! found in the text's letters ([`TextClasses`]), not walked.

use super::class_bits::ClassBits;
use super::families::run_around;
use super::text_classes::TextClasses;
use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;

/// Fewest spelled symbols read as a run.
const MIN_SYMBOLS: usize = 8;
/// Distance between probes: a run of [`MIN_SYMBOLS`] words (three letters and a space at
/// least each, 31 bytes) is longer than this plus a space, so a probe lands on one of its
/// words or next to one.
const PROBE: usize = 28;
/// Longest glue between two words of a run.
const MAX_GLUE: usize = 3;
/// Runs read per text.
const MAX_RUNS: usize = 8;

fn is_glue(b: u8) -> bool {
    matches!(
        b,
        b' ' | b',' | b';' | b'-' | b'.' | b'/' | b'\n' | b'\r' | b'\t'
    )
}

/// The spelled words and what they stand for: a digit, or a capital letter of the NATO
/// alphabet. At most eight bytes each.
const WORDS: [(&[u8], u8); 46] = [
    (b"zero", b'0'),
    (b"oh", b'0'),
    (b"nought", b'0'),
    (b"one", b'1'),
    (b"two", b'2'),
    (b"three", b'3'),
    (b"tree", b'3'),
    (b"four", b'4'),
    (b"fower", b'4'),
    (b"five", b'5'),
    (b"fife", b'5'),
    (b"six", b'6'),
    (b"seven", b'7'),
    (b"eight", b'8'),
    (b"nine", b'9'),
    (b"niner", b'9'),
    (b"alfa", b'A'),
    (b"alpha", b'A'),
    (b"bravo", b'B'),
    (b"charlie", b'C'),
    (b"delta", b'D'),
    (b"echo", b'E'),
    (b"foxtrot", b'F'),
    (b"golf", b'G'),
    (b"hotel", b'H'),
    (b"india", b'I'),
    (b"juliet", b'J'),
    (b"juliett", b'J'),
    (b"kilo", b'K'),
    (b"lima", b'L'),
    (b"mike", b'M'),
    (b"november", b'N'),
    (b"oscar", b'O'),
    (b"papa", b'P'),
    (b"quebec", b'Q'),
    (b"romeo", b'R'),
    (b"sierra", b'S'),
    (b"tango", b'T'),
    (b"uniform", b'U'),
    (b"victor", b'V'),
    (b"whiskey", b'W'),
    (b"whisky", b'W'),
    (b"xray", b'X'),
    (b"x-ray", b'X'),
    (b"yankee", b'Y'),
    (b"zulu", b'Z'),
];

/// A word of at most eight bytes, lower-cased, as one number (byte `i` in bits `8i..8i + 8`).
const fn key(word: &[u8]) -> u64 {
    let mut key = 0u64;
    let mut i = word.len();
    while i > 0 {
        i -= 1;
        // `i < word.len()`: the index is in bounds.
        #[allow(clippy::indexing_slicing)]
        let b = word[i].to_ascii_lowercase();
        key = key << 8 | b as u64;
    }
    key
}

/// [`WORDS`] by [`key`], sorted for a binary search: each entry the key, the word's length
/// (two words differing only by trailing zero bytes share a key) and the symbol.
// Evaluated at compile time: an index out of bounds would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
static KEYS: [(u64, usize, u8); WORDS.len()] = {
    let mut keys = [(0u64, 0usize, 0u8); WORDS.len()];
    let mut i = 0;
    while i < WORDS.len() {
        let (word, symbol) = WORDS[i];
        assert!(word.len() <= 8);
        // Insertion sort: a few dozen entries, once, at compile time.
        let mut j = i;
        let entry = (key(word), word.len(), symbol);
        while j > 0 && keys[j - 1].0 > entry.0 {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = entry;
        i += 1;
    }
    keys
};

/// Which word lengths occur per first and last letter in [`WORDS`]: bit `len` of entry
/// `(first & 31) << 5 | (last & 31)` (a letter's low five bits are the same in both cases).
// Evaluated at compile time: an index out of bounds would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
static ENDS: [u16; 1024] = {
    let mut ends = [0u16; 1024];
    let mut i = 0;
    while i < WORDS.len() {
        let word = WORDS[i].0;
        ends[ends_index(word[0], word[word.len() - 1])] |= 1 << word.len();
        i += 1;
    }
    ends
};

const fn ends_index(first: u8, last: u8) -> usize {
    ((first & 31) as usize) << 5 | (last & 31) as usize
}

/// What a spelled word stands for ([`WORDS`], in any case). Most words are ruled out by their
/// length and first and last letters ([`ENDS`], one table read); the rest are looked up by
/// binary search over numbers. The probes' lookups of ordinary words were ~160 wasm
/// instructions each on prose (issue 16, fifteenth round).
fn symbol(word: &[u8]) -> Option<u8> {
    if !may_spell(word) {
        return None;
    }
    let key = key(word);
    let at = KEYS.binary_search_by_key(&key, |e| e.0).ok()?;
    let &(_, len, symbol) = KEYS.get(at)?;
    (len == word.len()).then_some(symbol)
}

/// Where a text's letters are: read byte by byte (a short text), or in its classes. Generic,
/// so that a short text's probes compile to the walk they were.
trait Letters: Copy {
    fn is(self, text: &[u8], i: usize) -> bool;
    fn around(self, text: &[u8], at: usize) -> std::ops::Range<usize>;
}

/// Letters read as written.
#[derive(Clone, Copy)]
struct Walked;

impl Letters for Walked {
    #[inline(always)]
    fn is(self, text: &[u8], i: usize) -> bool {
        text.get(i).is_some_and(u8::is_ascii_alphabetic)
    }

    #[inline(always)]
    fn around(self, text: &[u8], at: usize) -> std::ops::Range<usize> {
        run_around(text, at, |b| b.is_ascii_alphabetic())
    }
}

impl Letters for &ClassBits {
    #[inline(always)]
    fn is(self, _: &[u8], i: usize) -> bool {
        ClassBits::is(self, i)
    }

    #[inline(always)]
    fn around(self, _: &[u8], at: usize) -> std::ops::Range<usize> {
        self.run_around(at)
    }
}

/// Whether a word of [`WORDS`] has `word`'s length and first and last letters ([`ENDS`]).
#[inline(always)]
fn may_spell(word: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (word.first(), word.last()) else {
        return false;
    };
    let lengths = ENDS.get(ends_index(first, last)).copied().unwrap_or(0);
    word.len() <= 8 && lengths >> word.len() & 1 != 0
}

/// The word of letters around `at` (`x-ray` whole), if `text[at]` is a letter.
fn word_at(text: &[u8], letters: impl Letters, at: usize) -> Option<Span> {
    let word = letters.around(text, at);
    if word.is_empty() {
        return None;
    }
    let mut span = Span::new(word.start, word.end);
    let dashed_ray = || {
        text.get(span.end..span.end + 4)
            .is_some_and(|r| r.eq_ignore_ascii_case(b"-ray"))
    };
    if span.len() == 1 && dashed_ray() {
        span.end += 4;
    }
    if span.start >= 2 && span.len() == 3 {
        let before = text.get(span.start - 2..span.start);
        if before.is_some_and(|x| x.eq_ignore_ascii_case(b"x-")) {
            span.start -= 2;
        }
    }
    Some(span)
}

/// The spelled word after `word` across at most [`MAX_GLUE`] glue bytes.
fn next_word(text: &[u8], letters: impl Letters, word: Span) -> Option<(Span, u8)> {
    let glue =
        (word.end..word.end + MAX_GLUE + 1).find(|&i| text.get(i).is_none_or(|&b| !is_glue(b)))?;
    if glue == word.end || !text.get(glue).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let next = word_at(text, letters, glue)?;
    Some((next, symbol(next.of(text))?))
}

/// The spelled word before `word` across at most [`MAX_GLUE`] glue bytes.
fn previous_word(text: &[u8], letters: impl Letters, word: Span) -> Option<(Span, u8)> {
    let lowest = word.start.saturating_sub(MAX_GLUE + 1);
    let end = (lowest..word.start)
        .rev()
        .find(|&i| text.get(i).is_none_or(|&b| !is_glue(b)))?;
    if end + 1 == word.start || !text.get(end).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let previous = word_at(text, letters, end)?;
    Some((previous, symbol(previous.of(text))?))
}

/// Appends the spelled runs of `text` (their digits and letters) to `out`.
#[cfg(test)]
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    find_in(text, Walked, out);
}

/// [`find`], reading the letters in `classes` (the text's, if it was classified).
pub(super) fn find_classified(
    text: &[u8],
    classes: Option<&TextClasses>,
    out: &mut Vec<Unwrapped>,
) {
    match classes {
        Some(classes) => find_in(text, &classes.letters, out),
        None => find_in(text, Walked, out),
    }
}

fn find_in(text: &[u8], letters: impl Letters, out: &mut Vec<Unwrapped>) {
    let mut probe = PROBE - 1;
    let mut runs = 0;
    while probe < text.len() && runs < MAX_RUNS {
        let letter = [probe, probe + 1, probe.saturating_sub(1)]
            .into_iter()
            .find(|&i| letters.is(text, i));
        // Most probed words are ruled out by their length and ends alone; only a word of one
        // or three letters may grow into `x-ray` ([`word_at`]), so those are looked up whole.
        let hit = letter.and_then(|at| {
            let run = letters.around(text, at);
            let plain = text.get(run.clone()).unwrap_or_default();
            if !matches!(run.len(), 1 | 3) && !may_spell(plain) {
                return None;
            }
            let word = word_at(text, letters, at)?;
            Some((word, symbol(word.of(text))?))
        });
        let Some((word, first)) = hit else {
            probe += PROBE;
            continue;
        };
        let mut before = Vec::new();
        let mut start = word;
        while let Some((w, s)) = previous_word(text, letters, start) {
            before.push(s);
            start = w;
        }
        let mut spelled: Vec<u8> = before.into_iter().rev().collect();
        spelled.push(first);
        let mut end = word;
        while let Some((w, s)) = next_word(text, letters, end) {
            spelled.push(s);
            end = w;
        }
        if spelled.len() >= MIN_SYMBOLS {
            out.push(Unwrapped {
                span: Span::new(start.start, end.end),
                wrapping: Wrapping::Spelled,
                text: spelled,
            });
            runs += 1;
        }
        probe = (end.end + PROBE).max(probe + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table read word by word, in any case (what the lookup must answer).
    fn listed_symbol(word: &[u8]) -> Option<u8> {
        let mut listed = WORDS.iter().filter(|(w, _)| w.eq_ignore_ascii_case(word));
        listed.next().map(|&(_, symbol)| symbol)
    }

    /// The ends and the sorted keys answer as the table does: every word in two cases, cut and
    /// extended, and seeded words of letters, `-` and zero bytes.
    #[test]
    fn the_keys_are_the_words() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x5be1_1ed0);
        let mut words: Vec<Vec<u8>> = Vec::new();
        for (word, _) in WORDS {
            for w in [word.to_vec(), word.to_ascii_uppercase()] {
                for cut in 0..=w.len() {
                    words.push(w[..cut].to_vec());
                }
                words.push([&w[..], b"s"].concat());
                words.push([&w[..], b"\0"].concat());
            }
        }
        for _ in 0..50_000 {
            let len = rng.below(10);
            words.push((0..len).map(|_| rng.pick(b"aeinorstuvwxyz-\0O")).collect());
        }
        let mut found = 0;
        for word in &words {
            assert_eq!(
                symbol(word),
                listed_symbol(word),
                "{:?}",
                String::from_utf8_lossy(word)
            );
            found += usize::from(symbol(word).is_some());
        }
        assert!(found > 50, "{found}");
    }

    /// In long seeded texts of spelled words, glue, other words and odd bytes, the words read
    /// in the text's classes are the walked ones: the same runs.
    #[test]
    fn classified_letters_find_the_walked_runs() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x5e11_ed0c);
        // Mostly spelled words, some that are not, and one-letter words (`x-ray`'s pieces).
        let words: [&[u8]; 20] = [
            b"five",
            b"One",
            b"alfa",
            b"x-ray",
            b"X",
            b"ray",
            b"zulu",
            b"NINER",
            b"four",
            b"kilo",
            b"oh",
            b"tango",
            b"Seven",
            b"delta",
            b"eight",
            b"two",
            b"the",
            b"strawberries",
            b"\xc3\xa9",
            b"7",
        ];
        let glue: [&[u8]; 6] = [b" ", b", ", b" - ", b"\n", b"", b" -  "];
        let (mut classified, mut runs) = (0, 0);
        for _ in 0..3_000 {
            let len = 200 + rng.below(1_000);
            let mut text = Vec::new();
            while text.len() < len {
                text.extend_from_slice(rng.pick(&words));
                text.extend_from_slice(rng.pick(&glue));
            }
            let classes = TextClasses::of(&text);
            let (mut walked, mut read) = (Vec::new(), Vec::new());
            find(&text, &mut walked);
            find_classified(&text, classes.as_ref(), &mut read);
            assert_eq!(read, walked, "{}", String::from_utf8_lossy(&text));
            classified += usize::from(classes.is_some());
            runs += walked.len();
        }
        assert!(classified > 2_000 && runs > 300, "{classified} {runs}");
    }

    fn found(text: &str) -> Vec<String> {
        crate::engine::layers::texts_found(find, text)
    }

    #[test]
    fn reads_number_words_and_the_phonetic_alphabet() {
        assert_eq!(
            found("card: five one zero five, one zero five one, Zero Five One Zero, five one zero zero thanks"),
            ["5105105105105100"]
        );
        assert_eq!(
            found("id is alfa kilo india alpha quebec two zulu tango six whiskey mike four lima x-ray seven bravo three november romeo delta"),
            ["AKIAQ2ZT6WM4LX7B3NRD"]
        );
    }

    #[test]
    fn leaves_prose_with_number_words_alone() {
        for clean in [
            "one or two of the three teams met five times in the last nine weeks, and six more plan to",
            "Romeo and Juliet meets Victor at the Hotel India in Lima; Oscar and Mike play golf with Charlie",
            "the first, second and third of the one hundred and twenty items",
        ] {
            assert_eq!(found(clean), Vec::<String>::new(), "{clean}");
        }
    }
}
