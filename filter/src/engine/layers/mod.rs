//! What a field's text hides, and the text the scanner should see instead.
//!
//! Each layer turns a field into more text to scan, with a way back to the
//! bytes as written: [`fold`] undoes look-alike and invisible characters,
//! [`decode`] finds and decodes encoded runs (base64, percent-encoding, `\u`
//! escapes, hex, `data:` URLs), [`respell`] undoes HTML references, `\xNN`
//! escapes and spaced-out letters, [`rejoin`] undoes hard wraps, string concatenation and
//! separators between characters, [`recase`] undoes scrambled case and leetspeak, and [`word_gate`] finds the few words that
//! may hold an encoded run without visiting every byte. [`ciphers`] undoes ROT13, ROT47,
//! Atbash, Caesar and reversed text around enciphered keywords, [`lookalikes`] widens
//! folding, [`tags`] reads tag characters, [`byte_lists`] lists of byte values and
//! [`separators`] non-ASCII separators between characters.
//!
//! Decoding and respelling both yield [`Unwrapped`] runs: a span of the text
//! as written, how it was wrapped, and the text inside, which the walker scans
//! like a field of its own (one loop for every kind of wrapping).

/// A compile-time `[u8; 256]` of each byte's class bits, `$bits` computed from `$byte`: the
/// gates read one table entry per byte instead of calling their predicates (whose `match`es
/// compile to jump tables). Built from the predicates themselves, so the two cannot disagree.
macro_rules! byte_class_table {
    (|$byte:ident| $bits:expr) => {{
        // Evaluated at compile time: an index out of bounds would fail the build.
        #[allow(clippy::indexing_slicing)]
        let table = {
            let mut table = [0u8; 256];
            let mut b = 0;
            while b < 256 {
                let $byte = b as u8;
                table[b] = $bits;
                b += 1;
            }
            table
        };
        table
    }};
}

/// `bit` when `yes`, else 0: one class of a [`byte_class_table!`] entry.
const fn class_bit(yes: bool, bit: u8) -> u8 {
    if yes {
        bit
    } else {
        0
    }
}

pub(crate) mod byte_lists;
pub(crate) mod case_fold;
pub(crate) mod ciphers;
pub(crate) mod class_bits;
pub(crate) mod class_windows;
pub(crate) mod decode;
pub(crate) mod families;
pub(crate) mod fold;
pub(crate) mod lookalikes;
pub(crate) mod profile;
pub(crate) mod recase;
pub(crate) mod regroup;
pub(crate) mod rejoin;
pub(crate) mod respell;
pub(crate) mod reversed_numbers;
pub(crate) mod separators;
pub(crate) mod spaced_gate;
pub(crate) mod spelled;
pub(crate) mod tags;
pub(crate) mod text_classes;
pub(crate) mod uu85;
pub(crate) mod word_gate;
pub(crate) mod wrap_candidates;

use crate::engine::span::Span;

/// How a run of text hid the text inside it, as findings name it (`via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wrapping {
    Base64,
    /// Base64 with the URL-safe alphabet (`-`, `_`).
    Base64Url,
    Percent,
    /// `\uXXXX` escapes (JSON, JavaScript), escaped any number of times.
    UnicodeEscape,
    Hex,
    /// HTML character references (`&#65;`, `&#x4B;`).
    HtmlReference,
    /// `\xNN` byte escapes.
    HexEscape,
    /// Characters spaced out one by one (`A K I A ...`).
    Spaced,
    /// Pieces cut apart by line breaks, string concatenation or separators, rejoined.
    Rejoined,
    /// Letters in scrambled case or leetspeak (`cOnFiDeNtIaL`, `C0NF1D3NT14L`).
    Recased,
    /// Letters rotated by 13 (ROT13): `layers::ciphers`.
    Rotated,
    /// Characters in reverse order, whole or word by word: `layers::ciphers`.
    Reversed,
    /// Base32 (RFC 4648, also its `base32hex` alphabet and lower case).
    Base32,
    /// Unicode tag characters (U+E0020..U+E007E) read as the ASCII they shadow: `layers::tags`.
    TagCharacters,
    /// Byte values listed with separators (`41:4b`, `65,75`, binary octets, `\101`): `layers::byte_lists`.
    ByteList,
    /// Digits and letters spelled as words (number words, the NATO alphabet): `layers::spelled`.
    Spelled,
    /// uuencode, `begin` blocks or bare lines: `layers::uu85`.
    Uuencode,
    /// Adobe ASCII85 (`<~…~>`): `layers::uu85`.
    Ascii85,
}

impl Wrapping {
    pub fn as_str(self) -> &'static str {
        match self {
            Wrapping::Base64 => "base64",
            Wrapping::Base64Url => "base64url",
            Wrapping::Percent => "percent",
            Wrapping::UnicodeEscape => "unicode-escape",
            Wrapping::Hex => "hex",
            Wrapping::HtmlReference => "html-reference",
            Wrapping::HexEscape => "hex-escape",
            Wrapping::Spaced => "spaced",
            Wrapping::Rejoined => "rejoined",
            Wrapping::Recased => "recased",
            Wrapping::Rotated => "rotated",
            Wrapping::Reversed => "reversed",
            Wrapping::Base32 => "base32",
            Wrapping::TagCharacters => "tag-characters",
            Wrapping::ByteList => "byte-list",
            Wrapping::Spelled => "spelled",
            Wrapping::Uuencode => "uuencode",
            Wrapping::Ascii85 => "ascii85",
        }
    }
}

/// A run of a text that hid other text, and the text it hid: one decoded or respelled layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped {
    /// The run as written in the text it was found in.
    pub span: Span,
    pub wrapping: Wrapping,
    /// What the run reads as.
    pub text: Vec<u8>,
}

/// What a layer's `find` reads in `text`: each run's plain text (lossy UTF-8), checking that
/// every run lies inside `text`. For the layers' unit tests.
#[cfg(test)]
fn texts_found(find: fn(&[u8], &mut Vec<Unwrapped>), text: &str) -> Vec<String> {
    let mut out = Vec::new();
    find(text.as_bytes(), &mut out);
    out.into_iter()
        .map(|u| {
            assert!(u.span.end <= text.len(), "a run ends past the text");
            String::from_utf8_lossy(&u.text).into_owned()
        })
        .collect()
}
