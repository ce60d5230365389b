//! Reading Unicode tag characters as the ASCII they shadow ("ASCII smuggling").
//!
//! The tag block (U+E0020 to U+E007E) mirrors printable ASCII, and most fonts draw nothing
//! for it: a text can carry a whole hidden message, key included, that a person reviewing it
//! does not see and a model tokenizer does. Folding ([`super::fold`]) removes tag characters
//! (for tags sprinkled between a secret's characters); this layer reads them as the ASCII
//! they encode, in place among the visible characters, one run the walker scans like a
//! decoded one. Emoji subdivision flags (🏴 and the tags `gbeng`) read as short words.
//!
//! Cost: one `memchr` for their UTF-8 lead byte `F3` (rare in any text: planes 15 and 16
//! are private use) before anything else is looked at.

use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;

/// Fewest tag characters read as a hidden text.
const MIN_TAGS: usize = 2;

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

/// If `text` holds at least [`MIN_TAGS`] tag characters, appends to `out` the stretch from
/// the first to the last, each tag read as its ASCII and everything else kept: a message
/// hidden whole, or only its ASCII hidden around visible CJK (`[` `机密` `]`).
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    let tags =
        || memchr::memchr_iter(0xF3, text).filter_map(|at| Some((at, tag_at(text.get(at..)?)?)));
    let Some((first, _)) = tags().next() else {
        return;
    };
    if tags().nth(MIN_TAGS - 1).is_none() {
        return;
    }
    let mut read = Vec::new();
    let mut from = first;
    for (at, ascii) in tags() {
        read.extend_from_slice(text.get(from..at).unwrap_or_default());
        read.push(ascii);
        from = at + 4;
    }
    out.push(Unwrapped {
        span: Span::new(first, from),
        wrapping: Wrapping::TagCharacters,
        text: read,
    });
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
        let text = format!("Hello{} 机密{}", hidden("key AKIA123"), hidden("ab"));
        let mut out = Vec::new();
        find(text.as_bytes(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, "key AKIA123 机密ab".as_bytes());
        assert_eq!(out[0].span.of(text.as_bytes()), &text.as_bytes()[5..]);
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
