//! uuencode and ASCII85 in text: `begin 644 note.txt` blocks and the bare lines
//! `binascii.b2a_uu` writes (a length character, then four characters per three bytes,
//! all between `!` and `` ` ``), and Adobe ASCII85 between `<~` and `~>` (`base64.a85encode(…,
//! adobe=True)`, PostScript and PDF streams).
//!
//! A uuencoded line must agree with its own length character (`M` is 45 bytes, four
//! characters for each three), which ordinary capitals and punctuation never do by chance
//! over a whole line. Consecutive lines are read as one run. Readings are kept only if they
//! are text ([`is_text_like`]). ASCII85 without delimiters (RFC 1924, Z85,
//! `base64.b85encode`) shares its alphabet with ordinary punctuation and is not read.
//!
//! Cost on clean text: uuencoded lines are runs of at least [`MIN_UU_RUN`] bytes between `!`
//! and `` ` `` (no lower case, no space), found by probing every [`MIN_UU_RUN`]-th byte
//! ([`first_run_of`]); ASCII85 waits for a `~` (`memchr`).

use crate::engine::bytes::first_run_of;
use crate::engine::layers::decode::is_text_like;
use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;

/// Shortest uuencoded line looked at: a length character and 12 characters (9 bytes).
const MIN_UU_RUN: usize = 13;
/// Runs read per text, per encoding.
const MAX_RUNS: usize = 8;
/// Most bytes decoded per run.
const MAX_DECODED: usize = 64 * 1024;

fn is_uu_byte(b: u8) -> bool {
    (b'!'..=b'`').contains(&b)
}

/// Appends the uuencoded and ASCII85 runs of `text` that read as text to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    // A shorter text holds no line long enough (what `uuencoded`'s first probe would find).
    if text.len() >= MIN_UU_RUN {
        uuencoded(text, out);
    }
    if memchr::memchr(b'~', text).is_some() {
        ascii85(text, out);
    }
}

/// The bytes one uuencoded line (without its line break) stands for, if it is one.
fn uu_line(line: &[u8]) -> Option<Vec<u8>> {
    let (&first, body) = line.split_first()?;
    let value = |b: u8| (b.wrapping_sub(b' ')) & 0x3F;
    let len = usize::from(value(first));
    let chars = len.div_ceil(3) * 4;
    // Some encoders pad a line with one more character; none write fewer. (Checked first: it
    // dismisses most lines without reading them.)
    if len == 0 || (body.len() != chars && body.len() != chars + 1) {
        return None;
    }
    if !body.iter().all(|&b| is_uu_byte(b) || b == b' ') {
        return None;
    }
    let mut bytes = Vec::with_capacity(len + 2);
    for quad in body.chunks_exact(4).take(chars / 4) {
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| quad.get(i).copied().map_or(0, value));
        bytes.extend_from_slice(&[
            a << 2 | b >> 4,
            (b & 0x0F) << 4 | c >> 2,
            (c & 0x03) << 6 | d,
        ]);
    }
    bytes.truncate(len);
    Some(bytes)
}

/// The line of `text` holding `at`: its span without the line break.
fn line_at(text: &[u8], at: usize) -> Span {
    let start = text
        .get(..at)
        .and_then(|b| memchr::memrchr(b'\n', b))
        .map_or(0, |p| p + 1);
    let end = text
        .get(at..)
        .and_then(|b| memchr::memchr(b'\n', b))
        .map_or(text.len(), |p| at + p);
    let end = if end > start && text.get(end - 1) == Some(&b'\r') {
        end - 1
    } else {
        end
    };
    Span::new(start, end)
}

/// The uuencoded part of a line: the line itself, or what follows the last space (a line
/// quoted in prose, `uu: 4…`).
fn uu_in_line(text: &[u8], line: Span) -> Option<(Span, Vec<u8>)> {
    if let Some(bytes) = uu_line(line.of(text)) {
        return Some((line, bytes));
    }
    let last_space = memchr::memrchr(b' ', line.of(text))?;
    let tail = Span::new(line.start + last_space + 1, line.end);
    uu_line(tail.of(text)).map(|bytes| (tail, bytes))
}

fn uuencoded(text: &[u8], out: &mut Vec<Unwrapped>) {
    let mut from = 0;
    let mut runs = 0;
    while runs < MAX_RUNS {
        let Some(at) = first_run_of(text, from, text.len(), MIN_UU_RUN, is_uu_byte) else {
            return;
        };
        let line = line_at(text, at);
        from = (line.end + 1).max(at + 1);
        let Some((first, mut decoded)) = uu_in_line(text, line) else {
            continue;
        };
        // The lines after it, while they are uuencoded too.
        let mut end = first.end;
        let mut next = line.end;
        while decoded.len() < MAX_DECODED {
            next = match text.get(next..next + 2) {
                Some([b'\r', b'\n']) => next + 2,
                Some([b'\n', ..]) => next + 1,
                _ => break,
            };
            let following = line_at(text, next);
            let Some(bytes) = uu_line(following.of(text)) else {
                break;
            };
            decoded.extend_from_slice(&bytes);
            end = following.end;
            next = following.end;
        }
        from = from.max(end + 1);
        if is_text_like(&decoded) {
            out.push(Unwrapped {
                span: Span::new(first.start, end),
                wrapping: Wrapping::Uuencode,
                text: decoded,
            });
            runs += 1;
        }
    }
}

/// Adobe ASCII85 (`<~…~>`; whitespace ignored, `z` for four zero bytes).
fn ascii85(text: &[u8], out: &mut Vec<Unwrapped>) {
    let mut runs = 0;
    let mut from = 0;
    while runs < MAX_RUNS {
        let Some(open) = text
            .get(from..)
            .and_then(|t| memchr::memmem::find(t, b"<~"))
        else {
            return;
        };
        let body_start = from + open + 2;
        let Some(close) = text
            .get(body_start..)
            .and_then(|t| memchr::memmem::find(t, b"~>"))
        else {
            return;
        };
        let body_end = body_start + close;
        from = body_end + 2;
        let Some(decoded) = text.get(body_start..body_end).and_then(decode_ascii85) else {
            continue;
        };
        if is_text_like(&decoded) {
            out.push(Unwrapped {
                span: Span::new(body_start - 2, body_end + 2),
                wrapping: Wrapping::Ascii85,
                text: decoded,
            });
            runs += 1;
        }
    }
}

fn decode_ascii85(body: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(body.len() / 5 * 4 + 4);
    let mut group = [0u8; 5];
    let mut n = 0;
    let flush = |group: &[u8; 5], bytes: &mut Vec<u8>, keep: usize| -> Option<()> {
        let value = group
            .iter()
            .try_fold(0u32, |v, &d| v.checked_mul(85)?.checked_add(u32::from(d)))?;
        bytes.extend(value.to_be_bytes().iter().take(keep));
        Some(())
    };
    for &b in body {
        match b {
            b'z' if n == 0 => bytes.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                *group.get_mut(n)? = b - b'!';
                n += 1;
                if n == 5 {
                    flush(&group, &mut bytes, 4)?;
                    n = 0;
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => return None,
        }
        if bytes.len() > MAX_DECODED {
            return None;
        }
    }
    if n == 1 {
        return None;
    }
    if n > 1 {
        group.iter_mut().skip(n).for_each(|d| *d = 84);
        flush(&group, &mut bytes, n - 1)?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        crate::engine::layers::texts_found(find, text)
    }

    #[test]
    fn reads_uuencoded_lines_and_blocks() {
        // `binascii.b2a_uu(b"key AKIAQ2ZT6WM4LX7B3NRD")`.
        let line = "8:V5Y($%+24%1,EI4-E=--$Q8-T(S3E)$\n";
        assert_eq!(found(line), ["key AKIAQ2ZT6WM4LX7B3NRD"]);
        let block = format!("begin 644 note.txt\n{line}`\nend\n");
        assert_eq!(found(&block), ["key AKIAQ2ZT6WM4LX7B3NRD"]);
        assert_eq!(found(&format!("uu: {line}")), ["key AKIAQ2ZT6WM4LX7B3NRD"]);
    }

    #[test]
    fn reads_adobe_ascii85() {
        // `base64.a85encode(b"key AKIAQ2ZT6WM4LX7B3NRD", adobe=True)`.
        assert_eq!(
            found("a85 <~CLqc65tad8;)2<S2HNU09NX5?1JUh9~> end"),
            ["key AKIAQ2ZT6WM4LX7B3NRD"]
        );
    }

    #[test]
    fn leaves_capitals_and_punctuation_alone() {
        for clean in [
            "MAX_TABLE_ENTRIES=1<<20; DEFAULT_CACHE_BYTES=4096",
            "AKIAR7UZ3WQ4XK2M6PLD and ASIA+[REDACTED]=@@",
            "M=====================================================",
            "~/notes/~backup and a <~ stray marker",
        ] {
            assert_eq!(found(clean), Vec::<String>::new(), "{clean}");
        }
    }
}
