//! Which words of a text may hold an encoded run, found without visiting every byte.
//!
//! The encoded-run finder ([`crate::engine::layers::decode`]) looks closely only at words
//! (runs between delimiters) that hold a trigger (a valid `%XX`, a `\u` escape, the `:` of
//! `data:`; `decode::next_trigger`) or at least `shortest_run` base64 characters in a row.
//! Ordinary text has neither, and this gate runs on every field, so it avoids touching
//! each byte: the triggers' first bytes are found with `memchr3`, and a
//! long base64 run is found by probing every `shortest_run`-th byte (any such
//! run covers a probe) and looking around a probe only when it is a base64
//! character.

use super::class_bits::{ByteClass, ClassBits, MAX_PROBED};
use crate::engine::bytes::first_run_of;
use crate::engine::layers::decode::{is_b64_char, is_delim, next_trigger};
use std::borrow::Cow;
use std::ops::Range;

/// Yields, in order, the words of one text worth a close look. `R` finds the long runs:
/// [`Probed`] on a short text, [`Classifying`] on a long one.
pub(super) struct WordGate<'t, R> {
    text: &'t [u8],
    shortest_run: usize,
    /// The first trigger at or after `trigger_from` (`None`: there is none).
    trigger: Option<usize>,
    trigger_from: usize,
    runs: R,
}

/// How a [`WordGate`] finds the first long run counted from `from`: exactly when it starts
/// before `before`; past `before` it may answer one or not (the gate takes the earlier of it
/// and the trigger at `before`).
pub(super) trait LongRuns {
    fn first(&mut self, text: &[u8], from: usize, before: usize, n: usize) -> Option<usize>;
}

/// Probing every `n`-th byte ([`first_long_run`]): a short text's gate, as small as it was.
pub(super) struct Probed;

impl LongRuns for Probed {
    #[inline(always)]
    fn first(&mut self, text: &[u8], from: usize, before: usize, n: usize) -> Option<usize> {
        first_long_run(text, from, before, n)
    }
}

/// Probing until a search spans more than [`CLASSIFIED_SPAN`] bytes, then reading the text's
/// base64 characters marked once: on prose the probes land in a word almost every time and
/// walk it, ~18 wasm instructions per byte (issue 16, fifteenth round). Not before: a field
/// whose triggers are close together (log lines' `:`) is cheaper probed.
/// [`Classifying::shared`]: the text's classes marked once for all the layers
/// ([`super::text_classes::TextClasses`]), read from the first search.
#[derive(Default)]
pub(super) struct Classifying<'c> {
    bits: Option<Cow<'c, ClassBits>>,
}

impl<'c> Classifying<'c> {
    /// Reading the text's base64 characters from `bits`, marked beforehand.
    pub(super) fn shared(bits: &'c ClassBits) -> Self {
        Classifying {
            bits: Some(Cow::Borrowed(bits)),
        }
    }
}

impl LongRuns for Classifying<'_> {
    fn first(&mut self, text: &[u8], from: usize, before: usize, n: usize) -> Option<usize> {
        let span = before.min(text.len()).saturating_sub(from);
        if self.bits.is_none() && span <= CLASSIFIED_SPAN {
            return first_long_run(text, from, before, n);
        }
        let bits = self
            .bits
            .get_or_insert_with(|| Cow::Owned(ClassBits::of(text, &BASE64)));
        bits.first_run_before(from, before, n)
    }
}

/// Shortest search that has the text classified (every later search reads the bits); also
/// the longest text whose gate only probes.
pub(super) const CLASSIFIED_SPAN: usize = MAX_PROBED;

/// The bytes of [`is_b64_char`].
pub(super) const BASE64: ByteClass = ByteClass::of(&byte_class_table!(|b| is_b64_char(b) as u8));

impl<'t, R: LongRuns> WordGate<'t, R> {
    /// `shortest_run`: base64 characters in a row that make a word worth a look (at least 1).
    pub fn new(text: &'t [u8], shortest_run: usize, runs: R) -> WordGate<'t, R> {
        WordGate {
            text,
            shortest_run: shortest_run.max(1),
            trigger: next_trigger(text, 0),
            trigger_from: 0,
            runs,
        }
    }

    /// The first word worth a look that ends after `from`. Words are maximal runs of
    /// non-delimiters, except that one holding `from` starts at `from`.
    pub fn next_word(&mut self, from: usize) -> Option<Range<usize>> {
        let trigger = self.trigger_at_or_after(from);
        let run = self.long_run_at_or_after(from, trigger.unwrap_or(usize::MAX));
        let at = match (trigger, run) {
            (Some(t), Some(r)) => t.min(r),
            (t, r) => t.or(r)?,
        };
        let before = self.text.get(from..at).unwrap_or_default();
        let start = before
            .iter()
            .rposition(|&b| is_delim(b))
            .map_or(from, |p| from + p + 1);
        let after = self.text.get(at..).unwrap_or_default();
        let end = after
            .iter()
            .position(|&b| is_delim(b))
            .map_or(self.text.len(), |p| at + p);
        Some(start..end)
    }

    fn trigger_at_or_after(&mut self, from: usize) -> Option<usize> {
        let still_valid = match self.trigger {
            Some(t) => t >= from,
            None => from >= self.trigger_from,
        };
        if !still_valid {
            self.trigger_from = from;
            self.trigger = next_trigger(self.text, from);
        }
        self.trigger
    }

    fn long_run_at_or_after(&mut self, from: usize, before: usize) -> Option<usize> {
        (self.runs).first(self.text, from, before, self.shortest_run)
    }
}

/// The start of the first run of at least `n` (≥ 1) base64 characters in `text` that lies
/// after `from` (counted from `from`) and starts before `before`.
pub(super) fn first_long_run(text: &[u8], from: usize, before: usize, n: usize) -> Option<usize> {
    first_run_of(text, from, before, n, is_b64_char)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::layers::decode::is_trigger;

    /// The words a byte-by-byte walk finds worth a look, each ended where the walk resumes.
    fn reference(text: &[u8], shortest_run: usize) -> Vec<Range<usize>> {
        let mut words = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let start = i;
            let (mut run, mut worth_a_look) = (0usize, false);
            while let Some(&b) = text.get(i) {
                if is_delim(b) {
                    break;
                }
                if is_b64_char(b) {
                    run += 1;
                    worth_a_look |= run >= shortest_run;
                } else {
                    run = 0;
                    worth_a_look |= is_trigger(text, i);
                }
                i += 1;
            }
            if i == start {
                i += 1;
            } else if worth_a_look {
                words.push(start..i);
            }
        }
        words
    }

    fn gated(text: &[u8], shortest_run: usize) -> Vec<Range<usize>> {
        // As the decoder builds it.
        match text.len() > CLASSIFIED_SPAN {
            true => words_of(WordGate::new(text, shortest_run, Classifying::default())),
            false => words_of(WordGate::new(text, shortest_run, Probed)),
        }
    }

    fn words_of<R: LongRuns>(mut gate: WordGate<R>) -> Vec<Range<usize>> {
        let mut words = Vec::new();
        let mut from = 0;
        while let Some(word) = gate.next_word(from) {
            from = word.end.max(word.start + 1);
            words.push(word);
        }
        words
    }

    #[test]
    fn finds_triggers_and_long_runs_only() {
        let text = b"plain words, a key=QUJDREVGR0hJSktMTU5PUFFS and %41 then a\\x41 and \
            http://x x::y 5 % 2 %zz a\\u0041 data:, Data:x short";
        let words: Vec<&[u8]> = gated(text, 16).into_iter().map(|r| &text[r]).collect();
        assert_eq!(
            words,
            vec![
                &b"key=QUJDREVGR0hJSktMTU5PUFFS"[..],
                b"%41",
                b"a\\u0041",
                b"data:,",
                b"Data:x"
            ]
        );
    }

    /// Long texts with few triggers, so that searches longer than [`CLASSIFIED_SPAN`] read the
    /// classified bytes: the same words as the walk.
    #[test]
    fn agrees_with_a_byte_by_byte_walk_on_long_texts() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x6a09_e667_f3bc_c908);
        let pieces: [&[u8]; 17] = [
            b"word ",
            b"a ",
            b"QUJDREVGR0hJSktM",
            b"aB3+/-_",
            b"Zz9",
            b"\n",
            b", ",
            b"\"",
            b"=",
            b"%",
            b":",
            b"\\",
            b"%4b",
            b"\\u00e9",
            b"data:",
            b"dAta",
            b"\xc3\xa9",
        ];
        let (mut classified, mut words) = (0, 0);
        for _ in 0..1500 {
            let len = rng.below(1500);
            let mut text = Vec::new();
            while text.len() < len {
                // Triggers rare: one piece in 40.
                let piece = match rng.below(40) {
                    0 => rng.pick(&pieces[9..16]),
                    _ => rng.pick(&pieces[..9]),
                };
                text.extend_from_slice(piece);
            }
            let most = if rng.below(4) == 0 { 80 } else { 24 };
            let shortest_run = 1 + rng.below(most);
            let got = gated(&text, shortest_run);
            assert_eq!(got, reference(&text, shortest_run), "{shortest_run}");
            // Read from bits marked beforehand (the walk's shared classes), from the first search.
            let bits = ClassBits::of(&text, &BASE64);
            let shared = words_of(WordGate::new(
                &text,
                shortest_run,
                Classifying::shared(&bits),
            ));
            assert_eq!(shared, got, "{shortest_run}");
            let mut gate = WordGate::new(&text, shortest_run, Classifying::default());
            let _ = gate.next_word(0);
            classified += usize::from(gate.runs.bits.is_some());
            words += got.len();
        }
        assert!(classified > 200 && words > 5_000, "{classified} {words}");
    }

    #[test]
    fn agrees_with_a_byte_by_byte_walk() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x2545_f491_4f6c_dd1d);
        // Mostly base64 characters, so runs of every length around `shortest_run` occur.
        let alphabet = b"aB3+/-_aaaaZZZ99 \n\".,=%\\:4u0dDt";
        for _ in 0..2000 {
            let len = rng.below(120);
            let text: Vec<u8> = (0..len).map(|_| rng.pick(alphabet)).collect();
            let shortest_run = 1 + rng.below(12);
            assert_eq!(
                gated(&text, shortest_run),
                reference(&text, shortest_run),
                "text {:?} shortest run {shortest_run}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}
