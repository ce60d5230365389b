//! Non-ASCII separators between a secret's characters: middle dots and bullets
//! (`A·K·I·A`), Unicode spaces (no-break, hair, thin, ideographic, the braille blank) and
//! the line and paragraph separators (U+2028, U+2029).
//!
//! [`super::rejoin`] reads chains of characters and ASCII separators byte by byte. Here each
//! such character is replaced by its ASCII counterpart (`.`, space, line break) in a copy
//! that remembers where each byte came from, the copy goes through
//! [`super::rejoin::find`], and the runs that cross a replaced character are kept, mapped
//! back (the others were found in the text as written).
//!
//! Cost: a `memchr3` for the lead bytes `C2`, `E2`, `E3`; text with typographic quotes or
//! CJK punctuation has them, so each hit's next bytes are checked, and nothing is copied
//! unless at least [`MIN_SEPARATORS`] separators occur.

use crate::engine::layers::Unwrapped;
use crate::engine::span::Span;

/// Fewest separators that make the copy worth making (a chain has at least three).
const MIN_SEPARATORS: usize = 3;

/// The ASCII stand-in for the separator whose UTF-8 starts at `bytes`, and its length.
///
/// Spaces become two ASCII spaces: a single space between characters is
/// [`super::respell`]'s `spaced` family, which `rejoin` leaves alone.
fn separator_at(bytes: &[u8]) -> Option<(&'static [u8], usize)> {
    Some(match bytes {
        [0xC2, 0xB7, ..] => (b".", 2),                     // · middle dot
        [0xC2, 0xA0, ..] => (b"  ", 2),                    // no-break space
        [0xE2, 0x80, 0x80..=0x8A, ..] => (b"  ", 3),       // en quad .. hair space
        [0xE2, 0x80, 0xA2 | 0xA4 | 0xA7, ..] => (b".", 3), // bullet, one dot leader, hyphenation point
        [0xE2, 0x80, 0xA8 | 0xA9, ..] => (b"\n", 3),       // line and paragraph separators
        [0xE2, 0x80, 0xAF, ..] | [0xE2, 0x81, 0x9F, ..] => (b"  ", 3), // narrow no-break, math space
        [0xE2, 0x88, 0x99, ..] | [0xE2, 0x8B, 0x85, ..] => (b".", 3),  // bullet and dot operators
        [0xE2, 0xA0, 0x80, ..] => (b"  ", 3),                          // braille pattern blank
        [0xE3, 0x80, 0x80, ..] => (b"  ", 3),                          // ideographic space
        [0xE3, 0x83, 0xBB, ..] => (b".", 3),                           // katakana middle dot
        _ => return None,
    })
}

/// Finds chains cut by non-ASCII separators in `text` and appends them to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    let separators = || {
        memchr::memchr3_iter(0xC2, 0xE2, 0xE3, text).filter_map(|at| {
            let (ascii, len) = separator_at(text.get(at..)?)?;
            Some((at, ascii, len))
        })
    };
    if separators().nth(MIN_SEPARATORS - 1).is_none() {
        return;
    }
    // The copy, each separator one ASCII byte, and where each of its bytes came from.
    let mut copy = Vec::with_capacity(text.len());
    let mut origin: Vec<usize> = Vec::with_capacity(text.len() + 1);
    let mut replaced = Vec::new();
    let mut from = 0;
    for (at, ascii, len) in separators() {
        if at < from {
            continue;
        }
        copy.extend_from_slice(text.get(from..at).unwrap_or_default());
        origin.extend(from..at);
        replaced.push(copy.len());
        copy.extend_from_slice(ascii);
        origin.extend(std::iter::repeat_n(at, ascii.len()));
        from = at + len;
    }
    copy.extend_from_slice(text.get(from..).unwrap_or_default());
    origin.extend(from..=text.len());
    let before = out.len();
    super::rejoin::find(&copy, out);
    let mut index = 0;
    out.retain_mut(|run| {
        index += 1;
        if index <= before {
            return true;
        }
        let crosses = replaced
            .iter()
            .any(|&at| run.span.start <= at && at < run.span.end);
        let start = origin.get(run.span.start).copied();
        // The run's last byte is a character of the chain, whole in the original.
        let end = run
            .span
            .end
            .checked_sub(1)
            .and_then(|last| origin.get(last))
            .map(|&last| last + 1);
        match (start, end) {
            (Some(start), Some(end)) if crosses && start < end => {
                run.span = Span::new(start, end);
                true
            }
            _ => false,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejoined(text: &str) -> Vec<String> {
        super::super::texts_found(find, text)
    }

    #[test]
    fn chains_with_unicode_separators() {
        for sep in [
            "·", " · ", "\u{2028}", "\u{200A}", "\u{2800}", "\u{3000}", "•",
        ] {
            let chain: Vec<&str> = "AKIAR7UZ3WQ4".split("").filter(|s| !s.is_empty()).collect();
            let text = format!("id {}", chain.join(sep));
            let runs = rejoined(&text);
            assert!(
                runs.iter().any(|r| r.contains("AKIAR7UZ3WQ4")),
                "{sep:?}: {runs:?}"
            );
        }
    }

    #[test]
    fn prose_with_typography_is_left_alone() {
        for clean in [
            "It’s the team’s “final” plan — see § 3 · page 2",
            "价格调整方案・第三季度　全体　会议",
        ] {
            assert!(rejoined(clean).is_empty(), "{clean}");
        }
    }
}
