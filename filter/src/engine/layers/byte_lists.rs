//! Reading lists of byte values as the text they spell: hex pairs with separators
//! (`41:4b:49`, `41 4B 49`, `0x41, 0x4b`), decimal character codes (`65,75,73`, as
//! `String.fromCharCode` or `bytes([...])` take them), binary octets (`01000001 01001011`)
//! and octal escapes (`\101\113`).
//!
//! The hex decoder ([`super::decode`]) reads only unbroken hex runs; these notations put a
//! separator between bytes, or write them in another base. A list is at least
//! [`MIN_BYTES`] values in one notation with the same separator between each two, and its
//! reading is kept only if it is text with a letter (of any script) in it: a table of small numbers (all
//! between 48 and 57, say) would otherwise read as a string of digits, a card number with
//! some luck. So a list of only digit codes is not read (a card written as character codes,
//! with nothing around it, stays unseen).
//!
//! Cost on clean text: the candidates are runs of at least [`MIN_RUN`] bytes drawn from hex
//! digits, `x` and the separators, found by probing every [`MIN_RUN`]-th byte
//! ([`first_run_of`]); prose rarely has one. Octal escapes wait for a `\` followed by a digit.

use super::class_bits::{ByteClass, ClassBits, Runs};
use crate::engine::layers::decode::is_text_like;
use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;
use std::borrow::Cow;

/// Fewest byte values read as a list.
const MIN_BYTES: usize = 8;
/// Shortest run of list bytes that can hold [`MIN_BYTES`] values (two characters and one
/// separator each, the last without).
const MIN_RUN: usize = MIN_BYTES * 3 - 1;
/// Lists read per text.
const MAX_RUNS: usize = 16;

/// How one value of a list is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notation {
    /// Two hex digits, optionally after `0x`.
    Hex,
    /// One to three decimal digits.
    Decimal,
    /// Eight binary digits.
    Binary,
}

const NOTATIONS: [Notation; 3] = [Notation::Hex, Notation::Decimal, Notation::Binary];

impl Notation {
    /// The byte `token` stands for in this notation.
    fn value(self, token: &[u8]) -> Option<u8> {
        let digits = |radix: u32, digits: &[u8]| -> Option<u32> {
            let s = std::str::from_utf8(digits).ok()?;
            u32::from_str_radix(s, radix).ok()
        };
        let value = match self {
            Notation::Hex => {
                let bare = match token {
                    [b'0', b'x' | b'X', rest @ ..] => rest,
                    _ => token,
                };
                (bare.len() == 2 && bare.iter().all(u8::is_ascii_hexdigit))
                    .then(|| digits(16, bare))??
            }
            Notation::Decimal => ((1..=3).contains(&token.len())
                && token.iter().all(u8::is_ascii_digit))
            .then(|| digits(10, token))??,
            Notation::Binary => (token.len() == 8
                && token.iter().all(|b| matches!(b, b'0' | b'1')))
            .then(|| digits(2, token))??,
        };
        let byte = u8::try_from(value).ok()?;
        // Text bytes only: printable ASCII, tab and line breaks, and UTF-8 beyond ASCII (the
        // reading as a whole must then be valid text, see `is_text_like`).
        let text_byte = matches!(byte, 0x20..=0x7E | b'\t' | b'\n' | b'\r' | 0x80..=0xFF);
        text_byte.then_some(byte)
    }
}

const fn is_token_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b'x' || b == b'X'
}

const fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b',' | b':' | b';' | b'-' | b'\t')
}

const fn is_list_byte(b: u8) -> bool {
    is_token_byte(b) || is_separator(b)
}

/// Appends the byte lists of `text` that read as text to `out`. Inlined, so that a short
/// text's test is not a call (the caller's size decides otherwise).
#[inline(always)]
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    // A list spans at least `MIN_RUN` bytes, and `MIN_BYTES` octal escapes 4 bytes each: a
    // shorter text (a JSON key, a short value) holds neither, and is not searched.
    if text.len() < MIN_RUN.min(4 * MIN_BYTES) {
        return;
    }
    find_long(text, out);
}

fn find_long(text: &[u8], out: &mut Vec<Unwrapped>) {
    lists(text, Runs::of(text, &LIST_BYTES, is_list_byte), out);
    octal_escapes(text, out);
}

/// [`find`] in a long text's bits of [`LIST_BYTES`] (its shared classes).
pub(super) fn find_in_classes(text: &[u8], bits: &ClassBits, out: &mut Vec<Unwrapped>) {
    let runs: Runs<fn(u8) -> bool> = Runs::Classified(Cow::Borrowed(bits));
    lists(text, runs, out);
    octal_escapes(text, out);
}

/// [`is_list_byte`] as a class.
pub(super) const LIST_BYTES: ByteClass =
    ByteClass::of(&byte_class_table!(|b| is_list_byte(b) as u8));

/// The lists in the candidates of `runs` (runs of at least [`MIN_RUN`] list bytes).
fn lists(text: &[u8], runs: Runs<impl Fn(u8) -> bool + Copy>, out: &mut Vec<Unwrapped>) {
    let mut read = 0;
    let mut from = 0;
    while read < MAX_RUNS {
        let Some((start, end)) = runs.next(from, MIN_RUN) else {
            break;
        };
        read += lists_in(text, start, end, out);
        from = end.max(start + 1);
    }
}

/// The tokens of `text[start..end]` (runs of token bytes) and the separators after each.
fn tokens(text: &[u8], start: usize, end: usize) -> Vec<(Span, Span)> {
    let mut pieces = Vec::new();
    let mut i = start;
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    while i < end {
        if !is_token_byte(at(i)) {
            i += 1;
            continue;
        }
        let token_start = i;
        while i < end && is_token_byte(at(i)) {
            i += 1;
        }
        let sep_start = i;
        while i < end && is_separator(at(i)) {
            i += 1;
        }
        pieces.push((Span::new(token_start, sep_start), Span::new(sep_start, i)));
    }
    pieces
}

/// Whether `bytes` read as text hold a letter of any script (not only digits and marks).
fn has_letter(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes)
        .chars()
        .any(char::is_alphabetic)
}

/// Whether hex tokens say they are hex (an `a-f` digit, or `0x`): two-digit decimal numbers
/// (a table of scores) would otherwise read as capitals and digits.
fn written_as_hex(text: &[u8], listed: &[(Span, Span)]) -> bool {
    listed.iter().any(|(token, _)| {
        token
            .of(text)
            .iter()
            .any(|b| matches!(b.to_ascii_lowercase(), b'a'..=b'f' | b'x'))
    })
}

/// Reads the lists in one run of list bytes; returns how many it appended.
fn lists_in(text: &[u8], start: usize, end: usize, out: &mut Vec<Unwrapped>) -> usize {
    let pieces = tokens(text, start, end);
    let mut appended = 0;
    for notation in NOTATIONS {
        let mut i = 0;
        while i < pieces.len() {
            // The longest stretch from `i` of tokens in `notation`, all with the same separator.
            let Some((first, first_sep)) = pieces.get(i) else {
                break;
            };
            let separator = first_sep.of(text);
            let mut bytes = Vec::new();
            let mut j = i;
            // The token after which the separator changed: it may start the next list
            // (`word: 41 4b 49`, where `de` of `decode` and `41` are the first list).
            let mut restart = None;
            while let Some((token, sep)) = pieces.get(j) {
                let Some(byte) = notation.value(token.of(text)) else {
                    break;
                };
                bytes.push(byte);
                j += 1;
                let last = pieces.get(j).is_none();
                if separator.is_empty() || (sep.of(text) != separator && !last) {
                    restart = Some(j - 1).filter(|&r| r > i);
                    break;
                }
            }
            let listed = pieces.get(i..j).unwrap_or_default();
            let readable = bytes.len() >= MIN_BYTES
                && has_letter(&bytes)
                && (notation != Notation::Hex || written_as_hex(text, listed))
                && is_text_like(&bytes);
            if readable {
                let last_token = pieces.get(j - 1).map_or(first.end, |(t, _)| t.end);
                out.push(Unwrapped {
                    span: Span::new(first.start, last_token),
                    wrapping: Wrapping::ByteList,
                    text: bytes,
                });
                appended += 1;
            }
            i = restart.unwrap_or(j.max(i + 1));
        }
    }
    appended
}

/// Words with at least [`MIN_BYTES`] octal escapes in a row (`\101\113…`, C and Python).
fn octal_escapes(text: &[u8], out: &mut Vec<Unwrapped>) {
    let escape = |at: usize| -> Option<u8> {
        match text.get(at..at + 4)? {
            [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7'] => {
                Some(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'))
            }
            _ => None,
        }
    };
    let mut from = 0;
    while let Some(at) = text.get(from..).and_then(|r| memchr::memchr(b'\\', r)) {
        let start = from + at;
        let mut end = start;
        let mut bytes = Vec::new();
        while let Some(byte) = escape(end) {
            bytes.push(byte);
            end += 4;
        }
        if bytes.len() >= MIN_BYTES && is_text_like(&bytes) {
            out.push(Unwrapped {
                span: Span::new(start, end),
                wrapping: Wrapping::ByteList,
                text: bytes,
            });
        }
        from = end.max(start + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::super::class_bits::found_either_way;
    use super::*;

    #[test]
    fn classified_texts_list_what_probed_texts_list() {
        let pieces: [&[u8]; 10] = [
            b"41:4b:49:41:52:37:55:5a",
            b"0x41, 0x4b, 0x49, 0x41, 0x52, 0x37",
            b"65,75,73,65,82,55,85,90",
            b"01000001 01001011 01001001 01000001",
            b"    \"abcdef\": 12,\n",
            b"deadbeef cafe ",
            b" ",
            b",",
            b"word ",
            b"7",
        ];
        let lists = found_either_way(0x1157_b7e5, &pieces, &LIST_BYTES, is_list_byte, lists);
        assert!(lists > 2_000, "{lists}");
    }

    fn read(text: &str) -> Vec<String> {
        super::super::texts_found(find, text)
    }

    #[test]
    fn lists_in_each_notation() {
        let word = "Key AKIA9";
        let hex: Vec<String> = word.bytes().map(|b| format!("{b:02x}")).collect();
        let dec: Vec<String> = word.bytes().map(|b| b.to_string()).collect();
        let bin: Vec<String> = word.bytes().map(|b| format!("{b:08b}")).collect();
        let oct: String = word.bytes().map(|b| format!("\\{b:03o}")).collect();
        for list in [
            hex.join(":"),
            hex.join(" ").to_uppercase(),
            format!("0x{}", hex.join(", 0x")),
            format!("fromCharCode({})", dec.join(",")),
            format!("bytes([{}])", dec.join(", ")),
            bin.join(" "),
            format!("b'{oct}'"),
            // After a word whose tail reads as a token of its own (`de` of `decode`, `cafe`)
            // with another separator: the list starts at its own first token.
            format!("decode: {}", hex.join(" ")),
            format!("bad cafe, {}", hex.join(":")),
            format!("2024-01-05; {}", dec.join(",")),
        ] {
            assert!(
                read(&list).iter().any(|r| r == word),
                "{list}: {:?}",
                read(&list)
            );
        }
    }

    #[test]
    fn tables_and_prose_are_not_lists() {
        for clean in [
            "scores 52, 49, 54, 51, 50, 55, 53, 56, 57 and 50",
            "MAC 00:1a:2b:3c:4d:5e and a deaf cab faced a bad bed",
            "2024-01-15 10:30:00, 2024-01-16 11:45:00",
            "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12",
        ] {
            assert!(read(clean).is_empty(), "{clean}: {:?}", read(clean));
        }
    }
}
