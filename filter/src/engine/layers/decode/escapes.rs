//! Escapes in text: `%XX`, `\uXXXX` (escaped any number of times) and hex digits,
//! counted, and decoded one unit at a time, for the encoded-run finder.

use crate::engine::bytes::hex_val;

/// The byte `%XX` at `at` encodes.
pub(super) fn percent_escape(text: &[u8], at: usize) -> Option<u8> {
    match (text.get(at), text.get(at + 1), text.get(at + 2)) {
        (Some(b'%'), Some(&hi), Some(&lo)) => Some(hex_val(hi)? << 4 | hex_val(lo)?),
        _ => None,
    }
}

/// The code unit the escape at `at` encodes, and the escape's length: `\uXXXX`,
/// or `\\uXXXX` with any number of backslashes (text escaped more than once).
pub(super) fn unicode_escape(text: &[u8], at: usize) -> Option<(u32, usize)> {
    let rest = text.get(at..)?;
    let slashes = rest.iter().take_while(|&&b| b == b'\\').count();
    if slashes == 0 || rest.get(slashes) != Some(&b'u') {
        return None;
    }
    let unit = rest
        .get(slashes + 1..slashes + 5)?
        .iter()
        .try_fold(0u32, |acc, &b| Some(acc << 4 | u32::from(hex_val(b)?)))?;
    Some((unit, slashes + 5))
}

/// Number of `%XX` escapes in `text`, and the longest chain of consecutive ones. Escapes
/// start at a `%`, so the walk goes from one `%` to the next (`memchr`), not byte by byte.
pub(super) fn count_percent_escapes(text: &[u8]) -> (usize, usize) {
    let (mut total, mut chain, mut longest) = (0, 0, 0);
    let mut i = 0;
    while let Some(p) = text.get(i..).and_then(|rest| memchr::memchr(b'%', rest)) {
        let at = i + p;
        // The bytes before it were not escapes: they end a chain.
        if at > i {
            chain = 0;
        }
        if percent_escape(text, at).is_some() {
            total += 1;
            chain += 1;
            longest = usize::max(longest, chain);
            i = at + 3;
        } else {
            chain = 0;
            i = at + 1;
        }
    }
    (total, longest)
}

/// True if a `%XX` escape of a separator (`%3D` `=`, `%3A` `:`, `%2F` `/`, `%26` `&`, `%22` `"`,
/// ...; not `%20`, common between words) is glued to a letter or digit that follows it:
/// `k%3DAKIA...` hides a key behind a word byte, where a detector's `\b` cannot see its start
/// until the escape is decoded.
pub(super) fn glued_escape(text: &[u8]) -> bool {
    (0..text.len()).any(|i| {
        percent_escape(text, i)
            .is_some_and(|b| b.is_ascii_punctuation() && !matches!(b, b'%' | b'-' | b'_' | b'.'))
            && text.get(i + 3).is_some_and(u8::is_ascii_alphanumeric)
    })
}

pub(super) fn count_unicode_escapes(text: &[u8]) -> usize {
    // Escapes start at a `\`: the walk goes from one to the next, not byte by byte.
    let mut count = 0;
    let mut i = 0;
    while let Some(p) = text.get(i..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let at = i + p;
        if let Some((_, len)) = unicode_escape(text, at) {
            count += 1;
            i = at + len;
        } else {
            i = at + 1;
        }
    }
    count
}

/// Decodes the unit of `%`-encoded text at `at` into `out`; returns its length (0 at the end).
pub(super) fn percent_step(text: &[u8], at: usize, out: &mut Vec<u8>) -> usize {
    if let Some(v) = percent_escape(text, at) {
        out.push(v);
        3
    } else if let Some(&b) = text.get(at) {
        out.push(b);
        1
    } else {
        0
    }
}

/// Decodes the unit of `\u`-escaped text at `at` into `out`; returns its length (0 at the end).
pub(super) fn unicode_step(text: &[u8], at: usize, out: &mut Vec<u8>) -> usize {
    if let Some((unit, len)) = unicode_escape(text, at) {
        let (c, len) = match unit {
            0xD800..=0xDBFF => match unicode_escape(text, at + len) {
                Some((low @ 0xDC00..=0xDFFF, low_len)) => (
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)),
                    len + low_len,
                ),
                _ => (None, len),
            },
            _ => (char::from_u32(unit), len),
        };
        if let Some(c) = c {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            return len;
        }
    }
    match text.get(at) {
        Some(&b) => {
            out.push(b);
            1
        }
        None => 0,
    }
}

/// A decoder of one unit: an escape or a literal byte.
type Step = fn(&[u8], usize, &mut Vec<u8>) -> usize;

pub(super) fn decode_steps(step: Step, text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        match step(text, i, out) {
            0 => break,
            n => i += n,
        }
    }
}

pub(super) fn hex_decode_into(digits: &[u8], out: &mut Vec<u8>) -> Option<()> {
    for pair in digits.chunks(2) {
        match pair {
            [hi, lo] => out.push(hex_val(*hi)? << 4 | hex_val(*lo)?),
            _ => return None,
        }
    }
    Some(())
}

#[cfg(test)]
mod counting_tests {
    use super::*;

    /// The byte-by-byte walks the counts replaced.
    fn percent_walk(text: &[u8]) -> (usize, usize) {
        let (mut total, mut chain, mut longest) = (0, 0, 0);
        let mut i = 0;
        while i < text.len() {
            if percent_escape(text, i).is_some() {
                total += 1;
                chain += 1;
                longest = usize::max(longest, chain);
                i += 3;
            } else {
                chain = 0;
                i += 1;
            }
        }
        (total, longest)
    }

    fn unicode_walk(text: &[u8]) -> usize {
        let (mut count, mut i) = (0, 0);
        while i < text.len() {
            if let Some((_, len)) = unicode_escape(text, i) {
                count += 1;
                i += len;
            } else {
                i += 1;
            }
        }
        count
    }

    #[test]
    fn counts_agree_with_a_byte_by_byte_walk() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x1f83_d9ab_fb41_bd6b);
        let pieces: [&[u8]; 12] = [
            b"%41",
            b"%",
            b"%4",
            b"%zz",
            b"a",
            b"\\u0041",
            b"\\\\u00e9",
            b"\\",
            b"u",
            b"\\x41",
            b"%%41",
            b"0",
        ];
        for _ in 0..5000 {
            let text: Vec<u8> = (0..rng.below(12))
                .flat_map(|_| rng.pick(&pieces).to_vec())
                .collect();
            assert_eq!(
                count_percent_escapes(&text),
                percent_walk(&text),
                "{text:?}"
            );
            assert_eq!(
                count_unicode_escapes(&text),
                unicode_walk(&text),
                "{text:?}"
            );
        }
    }
}
