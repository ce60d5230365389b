//! The classes of a long text's bytes that the probing gates of [`super::respell::find`] read,
//! marked once ([`ClassBits::of_each`]: one pass, each 16 bytes loaded once for all of them)
//! and handed to every layer that probes: `spelled` finds the word under a probe with bit
//! operations instead of walking it byte by byte through a closure, and `spaced` skips the
//! probes outside long stretches without word pairs (issue 16, sixteenth round: those two probing walks
//! were ~185 K wasm instructions of an 8 KiB prose request, about 11 a byte).
//!
//! Only texts over [`MAX_PROBED`] bytes are classified: on a short one the pass and its
//! vectors cost more than the few probes they replace.

use super::class_bits::{ByteClass, ClassBits, MAX_PROBED};

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
}

impl TextClasses {
    /// The classes of `text`, if it is long enough to be worth classifying.
    pub(crate) fn of(text: &[u8]) -> Option<TextClasses> {
        if text.len() <= MAX_PROBED {
            return None;
        }
        let [letters, graphic] = ClassBits::of_each(text, &[LETTERS, GRAPHIC]);
        Some(TextClasses {
            letters,
            word_pairs: graphic.pairs(),
        })
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
}
