//! Character encodings of a body: read it as the upstream will, or refuse to read it.
//!
//! Provider APIs take UTF-8, but the parsers in front of them are lenient. Python's
//! `json.loads` detects UTF-16 and UTF-32 from a byte-order mark or from where the first bytes
//! are zero (the RFC 4627 rule), whatever the `Content-Type` says; Node's body parsers decode
//! the declared `charset`, UTF-7 included. A body sent in one of these reads, to the filter,
//! as bytes with a NUL between letters (or `+AEEASwBJAEE-` for `AKIA`), and to the upstream
//! as plain text: a way past every detector. So, before the body is taken apart:
//!
//! - [`detect`] names the encoding a lenient upstream would read: the declared `charset`, else
//!   a byte-order mark or the zero-byte pattern (only for JSON, JSON Lines and text bodies: a
//!   binary upload that starts with a zero byte stays binary, and follows the fail mode).
//! - [`decode`] turns it into UTF-8 (malformed units become U+FFFD, as decoders that do not
//!   refuse do), and [`encode`] writes a masked body back in the same encoding and
//!   byte order, with its byte-order mark if it had one.
//! - A declared charset that is neither one of these nor ASCII-compatible (EBCDIC, ISO-2022,
//!   anything unknown) cannot be read: [`CharsetError`], which the caller turns into an
//!   uninspectable verdict. ASCII-compatible charsets (ISO-8859, Windows code pages, the
//!   CJK multi-byte sets) are read as they are: their ASCII bytes are ASCII.
//!
//! The cost falls only on bodies in these encodings: detection looks at the header and the
//! first four bytes.

use std::fmt;

/// An encoding the filter decodes before inspection (UTF-8 needs none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf16 { big_endian: bool, bom: bool },
    Utf32 { big_endian: bool, bom: bool },
    Utf7,
}

/// A declared charset the filter cannot read (lowercased, token characters only, at most 32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharsetError(pub String);

impl fmt::Display for CharsetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the body declares charset \"{}\", which cannot be read for inspection; send UTF-8",
            self.0
        )
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = |big: bool| if big { "BE" } else { "LE" };
        match self {
            Charset::Utf16 { big_endian, .. } => write!(f, "UTF-16{}", order(*big_endian)),
            Charset::Utf32 { big_endian, .. } => write!(f, "UTF-32{}", order(*big_endian)),
            Charset::Utf7 => f.write_str("UTF-7"),
        }
    }
}

const BOM16_LE: &[u8] = b"\xFF\xFE";
const BOM16_BE: &[u8] = b"\xFE\xFF";
const BOM32_LE: &[u8] = b"\xFF\xFE\x00\x00";
const BOM32_BE: &[u8] = b"\x00\x00\xFE\xFF";

/// Charsets whose bytes below 0x80 are ASCII: read as they are.
const ASCII_COMPATIBLE: &[&str] = &[
    "utf-8",
    "utf8",
    "us-ascii",
    "ascii",
    "latin1",
    "latin-1",
    "l1",
    "koi8-r",
    "koi8-u",
    "gbk",
    "gb2312",
    "gb18030",
    "big5",
    "big5-hkscs",
    "shift_jis",
    "shift-jis",
    "sjis",
    "windows-31j",
    "euc-jp",
    "euc-kr",
    "euc-cn",
    "tis-620",
];

/// What a lenient upstream would decode `body` as, given its `Content-Type`: `None` for UTF-8
/// (or an ASCII-compatible charset), an error for a declared charset that cannot be read.
pub fn detect(content_type: Option<&str>, body: &[u8]) -> Result<Option<Charset>, CharsetError> {
    let declared = content_type.and_then(declared_charset);
    let sniffable = content_type.is_none_or(is_textual);
    let Some(name) = declared else {
        return Ok(sniffable.then(|| sniff(body)).flatten());
    };
    let name = name.as_str();
    let explicit = |big_endian: bool, wide: bool| {
        let bom = match (wide, big_endian) {
            (false, false) => BOM16_LE,
            (false, true) => BOM16_BE,
            (true, false) => BOM32_LE,
            (true, true) => BOM32_BE,
        };
        let bom = body.starts_with(bom);
        Some(if wide {
            Charset::Utf32 { big_endian, bom }
        } else {
            Charset::Utf16 { big_endian, bom }
        })
    };
    Ok(match name {
        // Decoders of a byte-order-less name honour a mark, else guess; little-endian by default.
        "utf-16" | "utf16" | "ucs-2" | "ucs2" | "iso-10646-ucs-2" => {
            sniff(body).or(explicit(false, false))
        }
        "utf-32" | "utf32" | "ucs-4" | "ucs4" | "iso-10646-ucs-4" => match sniff(body) {
            Some(found @ Charset::Utf32 { .. }) => Some(found),
            _ => explicit(false, true),
        },
        "utf-16le" | "utf16le" => explicit(false, false),
        "utf-16be" | "utf16be" => explicit(true, false),
        "utf-32le" | "utf32le" => explicit(false, true),
        "utf-32be" | "utf32be" => explicit(true, true),
        "utf-7" | "utf7" | "unicode-1-1-utf-7" | "csunicode11utf7" => Some(Charset::Utf7),
        _ if ASCII_COMPATIBLE.contains(&name)
            || name.starts_with("iso-8859-")
            || name.starts_with("iso8859-")
            || name.starts_with("windows-125")
            || name.starts_with("cp125") =>
        {
            sniffable.then(|| sniff(body)).flatten()
        }
        _ => return Err(CharsetError(name.to_string())),
    })
}

/// The `charset` parameter of a `Content-Type`, lowercased and unquoted (token characters
/// only, at most 32: it may reach a reply).
fn declared_charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim().eq_ignore_ascii_case("charset").then(|| {
            value
                .trim()
                .trim_matches('"')
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
                .take(32)
                .collect::<String>()
                .to_ascii_lowercase()
        })
    })
}

/// JSON, JSON Lines and text bodies: the ones a parser reads as characters.
fn is_textual(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.is_empty()
        || media.starts_with("text/")
        || media.ends_with("/json")
        || media.ends_with("+json")
        || media.contains("jsonl")
        || media.contains("ndjson")
        || media.contains("json-seq")
}

/// UTF-16 or UTF-32 from a byte-order mark, else from which of the first bytes are zero
/// (a JSON text starts with ASCII, so its first character's zero bytes give the encoding away).
fn sniff(body: &[u8]) -> Option<Charset> {
    let (bom, big_endian, wide) = if body.starts_with(BOM32_LE) {
        (true, false, true)
    } else if body.starts_with(BOM32_BE) {
        (true, true, true)
    } else if body.starts_with(BOM16_LE) {
        (true, false, false)
    } else if body.starts_with(BOM16_BE) {
        (true, true, false)
    } else {
        match *body {
            [0, 0, _, _, ..] => (false, true, true),
            [0, _, _, _, ..] | [0, _] => (false, true, false),
            [_, 0, 0, 0, ..] => (false, false, true),
            [_, 0, _, _, ..] | [_, 0] => (false, false, false),
            _ => return None,
        }
    };
    Some(if wide {
        Charset::Utf32 { big_endian, bom }
    } else {
        Charset::Utf16 { big_endian, bom }
    })
}

/// `body` in `charset`, as UTF-8 (its byte-order mark dropped; malformed units as U+FFFD).
pub fn decode(charset: Charset, body: &[u8]) -> Vec<u8> {
    let mut text = String::with_capacity(body.len());
    match charset {
        Charset::Utf16 { big_endian, bom } => {
            let body = body.get(if bom { 2 } else { 0 }..).unwrap_or_default();
            let units = body.chunks(2).map(|pair| match *pair {
                [a, b] if big_endian => u16::from_be_bytes([a, b]),
                [a, b] => u16::from_le_bytes([a, b]),
                _ => 0xFFFD,
            });
            text.extend(char::decode_utf16(units).map(|c| c.unwrap_or('\u{FFFD}')));
        }
        Charset::Utf32 { big_endian, bom } => {
            let body = body.get(if bom { 4 } else { 0 }..).unwrap_or_default();
            text.extend(body.chunks(4).map(|quad| {
                let value = match *quad {
                    [a, b, c, d] if big_endian => u32::from_be_bytes([a, b, c, d]),
                    [a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
                    _ => 0xFFFD,
                };
                char::from_u32(value).unwrap_or('\u{FFFD}')
            }));
        }
        Charset::Utf7 => return decode_utf7(body),
    }
    text.into_bytes()
}

/// `text` (UTF-8; invalid bytes as U+FFFD) written in `charset`, as the body came.
pub fn encode(charset: Charset, text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::with_capacity(text.len() * 2 + 4);
    match charset {
        Charset::Utf16 { big_endian, bom } => {
            let units = text.encode_utf16().map(u32::from);
            put_units(
                bom.then_some(0xFEFF).into_iter().chain(units),
                2,
                big_endian,
                &mut out,
            );
        }
        Charset::Utf32 { big_endian, bom } => {
            let units = text.chars().map(u32::from);
            put_units(
                bom.then_some(0xFEFF).into_iter().chain(units),
                4,
                big_endian,
                &mut out,
            );
        }
        Charset::Utf7 => encode_utf7(&text, &mut out),
    }
    out
}

/// Writes each unit as its `width` low-order bytes (2 or 4) in the byte order asked.
fn put_units(units: impl Iterator<Item = u32>, width: usize, big_endian: bool, out: &mut Vec<u8>) {
    for unit in units {
        if big_endian {
            let bytes = unit.to_be_bytes();
            out.extend_from_slice(bytes.get(4 - width..).unwrap_or_default());
        } else {
            let bytes = unit.to_le_bytes();
            out.extend_from_slice(bytes.get(..width).unwrap_or_default());
        }
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 digit of the low 6 bits of `bits`.
fn base64_digit(bits: u32) -> u8 {
    BASE64.get((bits & 63) as usize).copied().unwrap_or(b'A')
}

fn base64_value(b: u8) -> Option<u32> {
    BASE64.iter().position(|&c| c == b).map(|v| v as u32)
}

/// UTF-7 (RFC 2152): ASCII as itself, `+-` for `+`, and `+…` runs of modified base64 (no
/// padding) holding UTF-16 big-endian units, ended by any other byte (a `-` is absorbed).
/// Bytes above ASCII, which UTF-7 never holds, are kept as they are (a UTF-8 sender's).
fn decode_utf7(body: &[u8]) -> Vec<u8> {
    let mut units: Vec<u16> = Vec::new();
    let mut out = Vec::with_capacity(body.len());
    let flush = |units: &mut Vec<u16>, out: &mut Vec<u8>| {
        let text: String = char::decode_utf16(units.drain(..))
            .map(|c| c.unwrap_or('\u{FFFD}'))
            .collect();
        out.extend_from_slice(text.as_bytes());
    };
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        i += 1;
        if b != b'+' {
            out.push(b);
            continue;
        }
        if body.get(i) == Some(&b'-') {
            out.push(b'+');
            i += 1;
            continue;
        }
        let (mut bits, mut count) = (0u32, 0u32);
        while let Some(value) = body.get(i).and_then(|&c| base64_value(c)) {
            bits = (bits << 6) | value;
            count += 6;
            i += 1;
            if count >= 16 {
                count -= 16;
                units.push((bits >> count) as u16);
                bits &= (1 << count) - 1;
            }
        }
        flush(&mut units, &mut out);
        if body.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    out
}

/// UTF-7 with every printable ASCII character, tab and line break direct, `+` as `+-`, and
/// the rest as base64 runs closed by `-`.
fn encode_utf7(text: &str, out: &mut Vec<u8>) {
    let direct =
        |c: char| c.is_ascii_graphic() && c != '+' || matches!(c, ' ' | '\t' | '\r' | '\n');
    let mut run: Vec<u16> = Vec::new();
    let close = |run: &mut Vec<u16>, out: &mut Vec<u8>| {
        if run.is_empty() {
            return;
        }
        out.push(b'+');
        let (mut bits, mut count) = (0u32, 0u32);
        for unit in run.drain(..) {
            bits = (bits << 16) | u32::from(unit);
            count += 16;
            while count >= 6 {
                count -= 6;
                out.push(base64_digit(bits >> count));
            }
            bits &= (1 << count) - 1;
        }
        if count > 0 {
            out.push(base64_digit(bits << (6 - count)));
        }
        out.push(b'-');
    };
    for c in text.chars() {
        if direct(c) {
            close(&mut run, out);
            out.push(c as u8);
        } else if c == '+' && run.is_empty() {
            out.extend_from_slice(b"+-");
        } else {
            let mut pair = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut pair));
        }
    }
    close(&mut run, out);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
    use super::*;

    const JSON: &str =
        r#"{"messages":[{"role":"user","content":"na\u00efve caf\u00e9 — 東京 𝔸 +1"}]}"#;

    fn all() -> Vec<Charset> {
        let mut out = vec![Charset::Utf7];
        for big_endian in [false, true] {
            for bom in [false, true] {
                out.push(Charset::Utf16 { big_endian, bom });
                out.push(Charset::Utf32 { big_endian, bom });
            }
        }
        out
    }

    #[test]
    fn every_encoding_round_trips_and_is_detected_from_its_bytes() {
        let text = "{\"k\": \"naïve café — 東京 𝔸 +1 a+b\"}";
        for charset in all() {
            let bytes = encode(charset, text.as_bytes());
            assert_eq!(decode(charset, &bytes), text.as_bytes(), "{charset}");
            if charset != Charset::Utf7 {
                for ct in [
                    None,
                    Some("application/json"),
                    Some("text/plain; charset=utf-8"),
                ] {
                    assert_eq!(detect(ct, &bytes), Ok(Some(charset)), "{charset} {ct:?}");
                }
            }
        }
    }

    #[test]
    fn utf8_and_ascii_compatible_bodies_are_read_as_they_are() {
        for ct in [
            None,
            Some("application/json"),
            Some("application/json; charset=UTF-8"),
            Some("text/plain; charset=\"iso-8859-1\""),
            Some("application/json;charset=windows-1252"),
        ] {
            assert_eq!(detect(ct, JSON.as_bytes()), Ok(None), "{ct:?}");
        }
        // A binary upload starting with a zero byte is not sniffed.
        assert_eq!(
            detect(Some("application/octet-stream"), b"\0\x01\x02\x03"),
            Ok(None)
        );
        assert_eq!(detect(Some("audio/wav"), b"\xFF\xFE\0\0"), Ok(None));
    }

    #[test]
    fn a_declared_charset_decides_and_an_unreadable_one_is_an_error() {
        let le = encode(
            Charset::Utf16 {
                big_endian: false,
                bom: false,
            },
            b"{}",
        );
        let declared = |cs: &str| detect(Some(&format!("application/json; charset={cs}")), &le);
        assert_eq!(
            declared("UTF-16BE"),
            Ok(Some(Charset::Utf16 {
                big_endian: true,
                bom: false
            }))
        );
        assert_eq!(
            declared("utf-16"),
            Ok(Some(Charset::Utf16 {
                big_endian: false,
                bom: false
            }))
        );
        assert_eq!(declared("utf-7"), Ok(Some(Charset::Utf7)));
        let refused = declared("IBM037").unwrap_err();
        assert_eq!(refused.0, "ibm037");
        assert!(refused.to_string().contains("send UTF-8"));
        // What reaches a reply is reduced to token characters.
        let odd = detect(Some("application/json; charset=\"x<script>\""), b"{}").unwrap_err();
        assert_eq!(odd.0, "xscript");
    }

    #[test]
    fn utf7_base64_runs_hide_ascii_and_decode_back() {
        // "AKIA" as one base64 run of UTF-16 units, closed by '-' and by a space.
        assert_eq!(decode_utf7(b"+AEEASwBJAEE-1"), b"AKIA1");
        assert_eq!(decode_utf7(b"+AEEASwBJAEE 1"), b"AKIA 1");
        assert_eq!(decode_utf7(b"1+-1=2"), b"1+1=2");
        // A surrogate pair across the run, then plain text.
        assert_eq!(decode_utf7("+2DXdOA-x".as_bytes()), "𝔸x".as_bytes());
        // A run cut short keeps what it held; stray high bytes stay.
        assert_eq!(decode_utf7("+AEE".as_bytes()), b"A");
        assert_eq!(decode_utf7("é+".as_bytes()), "é".as_bytes());
    }

    #[test]
    fn malformed_units_become_replacement_characters() {
        let odd = decode(
            Charset::Utf16 {
                big_endian: false,
                bom: false,
            },
            b"A\0\x00\xD8B\0C",
        );
        assert_eq!(String::from_utf8(odd).unwrap(), "A\u{FFFD}B\u{FFFD}");
        let wide = decode(
            Charset::Utf32 {
                big_endian: true,
                bom: false,
            },
            b"\0\x11\0\0\0\0\0A\0",
        );
        assert_eq!(String::from_utf8(wide).unwrap(), "\u{FFFD}A\u{FFFD}");
    }
}
