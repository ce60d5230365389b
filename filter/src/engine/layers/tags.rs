//! Reading Unicode tag characters as the ASCII they shadow ("ASCII smuggling").
//!
//! The tag block (U+E0020 to U+E007E) mirrors printable ASCII, and most fonts draw nothing
//! for it: a text can carry a whole hidden message, key included, that a person reviewing it
//! does not see and a model tokenizer does. Folding ([`super::fold`]) removes tag characters
//! (for tags sprinkled between a secret's characters); this layer reads each run of them as
//! the ASCII it encodes, a run the walker scans like a decoded one.
//!
//! Cost: one `memchr` for their UTF-8 lead byte `F3` (rare in any text: planes 15 and 16
//! are private use) before anything else is looked at.

use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;

/// Fewest tag characters read as a hidden text.
const MIN_TAGS: usize = 4;
/// Runs read per text.
const MAX_RUNS: usize = 16;

/// The ASCII byte the tag character at the start of `bytes` shadows (`F3 A0 80..81 xx`).
fn tag_at(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [0xF3, 0xA0, hi @ (0x80 | 0x81), lo, ..] if (0x80..0xC0).contains(lo) => {
            let ascii = ((hi & 0x01) << 6) | (lo & 0x3F);
            (0x20..0x7F).contains(&ascii).then_some(ascii)
        }
        _ => None,
    }
}

/// Appends each run of at least [`MIN_TAGS`] tag characters of `text`, read as ASCII, to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    let mut from = 0;
    let mut runs = 0;
    while runs < MAX_RUNS {
        let Some(at) = text
            .get(from..)
            .and_then(|rest| memchr::memchr(0xF3, rest))
            .map(|p| from + p)
        else {
            return;
        };
        let mut end = at;
        let mut ascii = Vec::new();
        while let Some(b) = text.get(end..).and_then(tag_at) {
            ascii.push(b);
            end += 4;
        }
        if ascii.len() >= MIN_TAGS {
            out.push(Unwrapped {
                span: Span::new(at, end),
                wrapping: Wrapping::TagCharacters,
                text: ascii,
            });
            runs += 1;
        }
        from = end.max(at + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden(s: &str) -> String {
        s.chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect()
    }

    #[test]
    fn tag_runs_read_as_ascii() {
        let text = format!("Hello{} there{}", hidden("key AKIA123"), hidden("ab"));
        let mut out = Vec::new();
        find(text.as_bytes(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, b"key AKIA123");
        assert_eq!(
            out[0].span.of(text.as_bytes()),
            hidden("key AKIA123").as_bytes()
        );
    }

    #[test]
    fn other_supplementary_characters_are_not_tags() {
        let mut out = Vec::new();
        find(
            "emoji 😀😀😀😀 and private \u{F0000}\u{F0001}".as_bytes(),
            &mut out,
        );
        find(b"\xF3\xA0\x81", &mut out);
        assert!(out.is_empty());
    }
}
