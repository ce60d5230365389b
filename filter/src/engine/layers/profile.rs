//! Which kinds of bytes a short field holds, found in one pass, so that [`super::respell::find`]
//! skips every layer whose trigger the field lacks.
//!
//! Each respelling layer has its own gate (a `memchr`, a class walk, a probe every N bytes),
//! and on a short field (a JSON key or value, a chat turn of a few words) those gates' set-up,
//! not the bytes, is what it costs: about 2 700 wasm instructions per field for the eight layers
//! (issue 16, twelfth round). One table read per byte tells which classes occur, and a layer
//! that needs an absent class is skipped: the skip is exact, since the layer would find
//! nothing. Longer texts are not profiled ([`MAX_PROFILED`]): there each layer's own gate is
//! cheaper than a pass of table reads.

/// Longest text profiled; a longer one reads as holding every class.
const MAX_PROFILED: usize = 256;

/// A byte at or above 0x80 (part of a non-ASCII character).
pub(crate) const HIGH: u8 = 1;
pub(crate) const DIGIT: u8 = 2;
pub(crate) const UPPER: u8 = 4;
/// `' '`.
pub(crate) const SPACE: u8 = 8;
/// A separator of `rejoin`'s interleaved family other than `' '`.
pub(crate) const SEPARATOR: u8 = 16;
/// What `rejoin`'s wrapped family starts from: `\n`, `"`, `\`.
pub(crate) const WRAP: u8 = 32;
/// `rejoin`'s group glue: `.` `-` `_` `/` `:`.
pub(crate) const GLUE: u8 = 64;
/// What every escape of `respell` starts with: `&`, `\`, `=`.
pub(crate) const ESCAPE: u8 = 128;

/// Each byte's classes, built from the layers' own predicates where they have one.
// Evaluated at compile time: an index out of bounds would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
static CLASSES: [u8; 256] = byte_class_table!(|byte| super::class_bit(byte >= 0x80, HIGH)
    | super::class_bit(byte.is_ascii_digit(), DIGIT)
    | super::class_bit(byte.is_ascii_uppercase(), UPPER)
    | super::class_bit(byte == b' ', SPACE)
    | super::class_bit(super::rejoin::is_separator(byte) && byte != b' ', SEPARATOR)
    | super::class_bit(matches!(byte, b'\n' | b'"' | b'\\'), WRAP)
    | super::class_bit(super::rejoin::is_group_glue(byte), GLUE)
    | super::class_bit(matches!(byte, b'&' | b'\\' | b'='), ESCAPE));

/// The classes of the bytes of one text (every class, for a text too long to profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Profile {
    classes: u8,
    profiled: bool,
}

impl Profile {
    pub(crate) fn of(text: &[u8]) -> Profile {
        if text.len() > MAX_PROFILED {
            return Profile::everything();
        }
        let classes = text.iter().fold(0, |classes, &b| {
            classes | CLASSES.get(usize::from(b)).copied().unwrap_or(0)
        });
        Profile {
            classes,
            profiled: true,
        }
    }

    /// A profile that skips nothing.
    pub(crate) fn everything() -> Profile {
        Profile {
            classes: u8::MAX,
            profiled: false,
        }
    }

    /// Whether the text may hold a byte of any class in `classes`.
    pub(crate) fn has(self, classes: u8) -> bool {
        self.classes & classes != 0
    }

    /// Whether the text may hold two spaces in a row (not looked for in a text too long to
    /// profile).
    pub(crate) fn may_have_double_space(self, text: &[u8]) -> bool {
        !self.profiled || (self.has(SPACE) && text.windows(2).any(|w| w == b"  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_holds_the_class_of_every_byte() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let len = rng.below(300);
            let text: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            let profile = Profile::of(&text);
            for &b in &text {
                let class = CLASSES[usize::from(b)];
                assert!(class == 0 || profile.has(class), "{b}");
            }
            if text.len() <= MAX_PROFILED {
                let any = |f: fn(u8) -> bool| text.iter().any(|&b| f(b));
                assert_eq!(profile.has(DIGIT), any(|b| b.is_ascii_digit()));
                assert_eq!(profile.has(HIGH), any(|b| b >= 0x80));
                assert_eq!(profile.has(ESCAPE), any(|b| b"&\\=".contains(&b)));
            } else {
                assert_eq!(profile, Profile::everything());
            }
        }
    }
}
