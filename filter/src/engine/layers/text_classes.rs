//! The classes of a long text's bytes that the gates of [`super::respell::find`] read, marked
//! once ([`ClassBits::of_each`]: one pass, each 16 bytes loaded once for all of them) and
//! handed to the layers. `case_fold`, `regroup` and `byte_lists` find their runs in them (each
//! classified the text again before); of the layers that probe, `spelled` finds the word
//! under a probe with bit operations instead of walking it byte by byte through a closure, and
//! `spaced` skips the probes outside long stretches without word pairs (issue 16, sixteenth
//! round: those two probing walks were ~185 K wasm instructions of an 8 KiB prose request,
//! about 11 a byte).
//!
//! Only texts over [`MAX_PROBED`] bytes are classified: on a short one the pass and its
//! vectors cost more than the few probes they replace.

use super::class_bits::{ByteClass, ClassBits, MAX_PROBED};
use super::{byte_lists, case_fold, regroup, word_gate, wrap_candidates};

/// ASCII letters: `spelled`'s words.
const LETTERS: ByteClass = ByteClass::of(&byte_class_table!(|b| b.is_ascii_alphabetic() as u8));
/// Printable ASCII other than the space: `spaced`'s word bytes.
const GRAPHIC: ByteClass = ByteClass::of(&byte_class_table!(|b| b.is_ascii_graphic() as u8));

/// One long text's classes.
#[derive(Debug)]
pub(crate) struct TextClasses {
    /// [`u8::is_ascii_alphabetic`].
    pub(crate) letters: ClassBits,
    /// Positions `i` where bytes `i` and `i + 1` are both [`u8::is_ascii_graphic`].
    pub(crate) word_pairs: ClassBits,
    /// `case_fold`'s lower-case letters and digits, and its upper-case key bytes.
    pub(crate) lower_or_digit: ClassBits,
    pub(crate) upper_key: ClassBits,
    /// `regroup`'s run bytes.
    pub(crate) run_bytes: ClassBits,
    /// `byte_lists`' list bytes.
    pub(crate) list_bytes: ClassBits,
    /// `rejoin`'s wrapped candidates (line breaks, quotes, backslashes).
    pub(crate) wrap_candidates: ClassBits,
    /// `decode`'s base64 characters (its word gate's long runs).
    pub(crate) base64: ClassBits,
}

impl TextClasses {
    /// [`TextClasses::of`], boxed: a short text's answer is one test inline and a word to
    /// move (the walk asks for every field; its short ones cost what they did without).
    #[inline(always)]
    pub(crate) fn boxed(text: &[u8]) -> Option<Box<TextClasses>> {
        match text.len() > MAX_PROBED {
            true => Some(Self::marked_boxed(text)),
            false => None,
        }
    }

    #[inline(never)]
    fn marked_boxed(text: &[u8]) -> Box<TextClasses> {
        Box::new(Self::marked(text))
    }

    /// The classes of `text`, if it is long enough to be worth classifying (the tests').
    #[cfg(test)]
    pub(crate) fn of(text: &[u8]) -> Option<TextClasses> {
        if text.len() <= MAX_PROBED {
            return None;
        }
        Some(Self::marked(text))
    }

    /// The classes of `text`, whatever its length.
    #[inline(always)]
    fn marked(text: &[u8]) -> TextClasses {
        let [letters, graphic, lower_or_digit, upper_key, run_bytes, list_bytes, wrap_candidates, base64] =
            ClassBits::of_each(
                text,
                &[
                    LETTERS,
                    GRAPHIC,
                    case_fold::LOWER_OR_DIGIT,
                    case_fold::UPPER_KEY_BYTES,
                    regroup::RUN_BYTES,
                    byte_lists::LIST_BYTES,
                    wrap_candidates::CANDIDATES,
                    word_gate::BASE64,
                ],
            );
        TextClasses {
            letters,
            word_pairs: graphic.pairs(),
            lower_or_digit,
            upper_key,
            run_bytes,
            list_bytes,
            wrap_candidates,
            base64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_rng::TestRng;

    #[test]
    fn the_classes_are_the_predicates() {
        for b in 0..=255u8 {
            assert_eq!(LETTERS.has(b), b.is_ascii_alphabetic(), "{b}");
            assert_eq!(GRAPHIC.has(b), b.is_ascii_graphic(), "{b}");
            let candidate = matches!(b, b'\n' | b'"' | b'\\');
            assert_eq!(wrap_candidates::CANDIDATES.has(b), candidate, "{b}");
            let base64 = crate::engine::layers::decode::is_b64_char(b);
            assert_eq!(word_gate::BASE64.has(b), base64, "{b}");
        }
    }

    #[test]
    fn every_bit_is_its_byte_s_class() {
        let mut rng = TestRng::new(0x7e47_c1a5);
        for _ in 0..300 {
            let len = MAX_PROBED + 1 + rng.below(400);
            let text: Vec<u8> = (0..len)
                .map(|_| match rng.below(4) {
                    0 => rng.below(256) as u8,
                    _ => rng.pick(b"ab Z9\t\n.-x"),
                })
                .collect();
            let classes = TextClasses::of(&text).expect("long");
            let graphic = |i: usize| text.get(i).is_some_and(u8::is_ascii_graphic);
            for i in 0..len + 70 {
                let byte = text.get(i);
                assert_eq!(
                    classes.letters.is(i),
                    byte.is_some_and(u8::is_ascii_alphabetic)
                );
                assert_eq!(
                    classes.word_pairs.is(i),
                    graphic(i) && graphic(i + 1),
                    "{i}"
                );
            }
        }
        assert!(TextClasses::of(&[b'a'; MAX_PROBED]).is_none());
    }

    /// `case_fold`, `regroup` and `byte_lists` find the same runs in the shared classes as in
    /// their own, on long seeded texts of their pieces.
    #[test]
    fn the_shared_classes_find_each_layer_s_runs() {
        let mut rng = TestRng::new(0x5a4e_d0c1);
        let pieces: [&[u8]; 14] = [
            b"akiar7uz3wq4xk2m1234",
            b"GHP_ABCDEFGHIJKLMNOP1234",
            b"AKIA R7UZ 3WQ4 XK2M",
            b"AB1-CD2.EF3_G4",
            b"41:4b:49:41 ",
            b"0x41, 0x4b, 0x49",
            b"\\101\\113",
            b"the ",
            b"word ",
            b" ",
            b"\n",
            b"2026-03-21 ",
            b"deadbeefcafe ",
            b"\xc3\xa9",
        ];
        let mut found = 0;
        for _ in 0..600 {
            let len = MAX_PROBED + 1 + rng.below(900);
            let mut text = Vec::new();
            while text.len() < len {
                text.extend_from_slice(rng.pick(&pieces));
            }
            let c = TextClasses::of(&text).expect("long");
            let (mut own, mut shared) = (Vec::new(), Vec::new());
            case_fold::find(&text, &mut own);
            case_fold::find_in_classes(&text, &c.lower_or_digit, &c.upper_key, &mut shared);
            regroup::find(&text, &mut own);
            regroup::find_in_classes(&text, &c.run_bytes, &mut shared);
            byte_lists::find(&text, &mut own);
            byte_lists::find_in_classes(&text, &c.list_bytes, &mut shared);
            assert_eq!(own, shared, "{}", String::from_utf8_lossy(&text));
            found += own.len();
        }
        assert!(found > 1_000, "{found}");
    }
}
