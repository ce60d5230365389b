//! The evasion corpus: ways of smuggling a secret past a DLP filter, each
//! applied to four secrets and to a clean control.
//!
//! Every technique in [`techniques`] is applied to five payloads:
//!
//! | payload      | what                                              | default policy, approved vendor |
//! | ------------ | ------------------------------------------------- | ------------------------------- |
//! | `credential` | an AWS access key id ([`CREDENTIAL`])             | block (credentials never leave) |
//! | `card`       | a Luhn-valid Visa number ([`CARD`])               | tokenize (pii)                  |
//! | `cn-id`      | a GB 11643-valid PRC resident id ([`CN_ID`])      | tokenize (pii)                  |
//! | `marking`    | the 机密 classification marking ([`MARKINGS`])    | block (class secret > internal) |
//! | `clean`      | the same request without a secret                 | allow, body byte-identical      |
//!
//! The destination is an approved vendor (OpenAI, Anthropic or Gemini,
//! following the request shape) except for the `unknown-relay` technique,
//! where every secret is blocked.
//!
//! The corpus is plain data ([`EvasionCase`]) so that several runners can
//! share it: `tests/evasion.rs` drives the compiled filter in the wasmtime
//! harness, and `envoy/tests/test_evasion.py` sends the same requests through
//! a real Envoy (it reads the corpus written by `examples/evasion_corpus.rs`).
//!
//! Techniques the filter is known to miss are listed in [`KNOWN_GAPS`]; their
//! cases keep their real expectation, and the runners assert that they are
//! *still* missed, so a fix shows up as a failure asking to remove the entry.
//!
//! Nothing here prints a secret: runners name cases by technique and payload.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{Read, Write};

/// An AWS access key id: `AKIA` and 16 of `[A-Z2-7]`; not the documented example key.
pub const CREDENTIAL: &str = "AKIAR7UZ3WQ4XK2M6PLD";
/// A Luhn-valid Visa number that is not on the default policy's allowlist.
pub const CARD: &str = "4916338506124576";
/// A PRC resident identity number: Nanjing (320106), born 1987-04-15, GB 11643 check digit 4.
pub const CN_ID: &str = "320106198704152374";
/// The 机密 marking in document form, and fallbacks for techniques that only
/// rewrite ASCII: the first form a technique changes is used (`［机密］` in
/// fullwidth, `CONFIDENTIAL` in look-alike letters). All are class `secret`
/// or `confidential` in the default policy, above the approved tier's `internal`.
pub const MARKINGS: [&str; 3] = ["【机密】", "[机密]", "CONFIDENTIAL"];

/// The payload names, in corpus order.
pub const PAYLOADS: [&str; 5] = ["credential", "card", "cn-id", "marking", "clean"];

/// Cases the filter is known to miss today: (technique, payloads, why).
/// The runners assert these are still allowed through, so fixing one fails
/// the run until its entry is removed.
pub const KNOWN_GAPS: &[(&str, &[&str], &str)] = &[];

/// How the body reaches the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// One body chunk with end of stream.
    Whole,
    /// One byte per body chunk (HTTP/2 DATA frames in Envoy).
    OneByteChunks,
    /// A few chunks, then request trailers (so no body chunk ends the stream).
    Trailers,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Whole => "whole",
            Delivery::OneByteChunks => "one-byte-chunks",
            Delivery::Trailers => "trailers",
        }
    }
}

/// One request of the corpus.
#[derive(Debug, Clone)]
pub struct EvasionCase {
    pub technique: &'static str,
    /// `credential`, `card`, `cn-id`, `marking` or `clean`.
    pub payload: &'static str,
    pub host: String,
    pub path: String,
    /// `content-type` and, when the technique uses one, `content-encoding`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The raw secret, for leak checks. Never print it.
    pub secret: Option<String>,
    /// The secret as this technique wrote it (an encoded blob, a look-alike
    /// spelling), for leak checks too. Never print these either.
    pub forms: Vec<Vec<u8>>,
    pub delivery: Delivery,
    /// The decision the default policy should reach: `block`, `tokenize` or `allow`.
    pub expect: &'static str,
    /// The default policy's detector that should catch the secret: named in
    /// the block reply, or in the `[REDACTED:<id>]` mask.
    pub detector: Option<&'static str>,
    pub expect_blocked_or_masked: bool,
    /// Why the filter misses this case today, if [`KNOWN_GAPS`] lists it:
    /// runners then expect `allow`.
    pub known_gap: Option<&'static str>,
}

impl EvasionCase {
    /// `technique/payload`, the name used in every assertion message.
    pub fn name(&self) -> String {
        format!("{}/{}", self.technique, self.payload)
    }

    /// The decision the filter reaches today: `allow` for a known gap, else [`EvasionCase::expect`].
    pub fn expected_now(&self) -> &'static str {
        if self.known_gap.is_some() {
            "allow"
        } else {
            self.expect
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        crate::headers::value_of(&self.headers, name)
    }

    /// The body chunks for [`EvasionCase::delivery`].
    pub fn chunks(&self) -> Vec<&[u8]> {
        match self.delivery {
            Delivery::Whole => vec![self.body.as_slice()],
            Delivery::OneByteChunks => self.body.chunks(1).collect(),
            Delivery::Trailers => {
                let third = self.body.len().div_ceil(3).max(1);
                self.body.chunks(third).collect()
            }
        }
    }

    /// The case as one JSON object (body and forms base64-encoded), for the Envoy runner.
    pub fn to_json(&self) -> Value {
        json!({
            "technique": self.technique,
            "payload": self.payload,
            "host": self.host,
            "path": self.path,
            "headers": self.headers,
            "body_b64": STANDARD.encode(&self.body),
            "secret": self.secret,
            "forms_b64": self.forms.iter().map(|f| STANDARD.encode(f)).collect::<Vec<_>>(),
            "delivery": self.delivery.as_str(),
            "expect": self.expect,
            "expect_now": self.expected_now(),
            "detector": self.detector,
            "known_gap": self.known_gap,
        })
    }

    /// Where the secret shows in `body` (content-decoded), without the value:
    /// `None` if neither the secret nor any of its forms occurs in the bytes,
    /// or in any JSON string of the body (keys, JSON nested in strings, JSON
    /// Lines) once unescaped.
    pub fn leak_in(&self, body: &[u8]) -> Option<String> {
        let secret = self.secret.as_ref()?;
        let mut needles: Vec<(&[u8], String)> = vec![(secret.as_bytes(), "the raw secret".into())];
        for (i, form) in self.forms.iter().enumerate() {
            needles.push((form, format!("form #{i} of the secret")));
        }
        let mut haystacks = vec![body.to_vec()];
        json_strings_of_body(body, &mut haystacks);
        for (needle, what) in &needles {
            if needle.is_empty() {
                continue;
            }
            for (i, hay) in haystacks.iter().enumerate() {
                if contains(hay, needle) {
                    let place = if i == 0 {
                        "the body bytes"
                    } else {
                        "a JSON string of the body"
                    };
                    return Some(format!("{what} in {place}"));
                }
            }
        }
        None
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every string (keys too) of `body` parsed as JSON, or as JSON Lines, with
/// JSON documents nested in strings followed.
fn json_strings_of_body(body: &[u8], out: &mut Vec<Vec<u8>>) {
    if let Ok(doc) = serde_json::from_slice::<Value>(body) {
        json_strings(&doc, out, 0);
        return;
    }
    for line in body.split(|&b| b == b'\n') {
        if let Ok(doc) = serde_json::from_slice::<Value>(line) {
            json_strings(&doc, out, 0);
        }
    }
}

fn json_strings(value: &Value, out: &mut Vec<Vec<u8>>, depth: usize) {
    match value {
        Value::String(s) => {
            out.push(s.as_bytes().to_vec());
            let t = s.trim_start();
            if depth < 8 && (t.starts_with('{') || t.starts_with('[')) {
                if let Ok(nested) = serde_json::from_str::<Value>(s) {
                    json_strings(&nested, out, depth + 1);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, out, depth)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.as_bytes().to_vec());
                json_strings(v, out, depth);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- content codings

/// Applies `codings` in order (as `Content-Encoding: a, b` means a, then b).
pub fn encode_content(codings: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    for coding in codings {
        out = match *coding {
            "gzip" => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(&out)
                    .and_then(|()| e.finish())
                    .unwrap_or_default()
            }
            "deflate" => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(&out)
                    .and_then(|()| e.finish())
                    .unwrap_or_default()
            }
            "br" => {
                let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, 11, 22);
                let ok = w.write_all(&out).and_then(|()| w.flush()).is_ok();
                if ok {
                    w.into_inner()
                } else {
                    Vec::new()
                }
            }
            "zstd" => ruzstd::encoding::compress_to_vec(
                out.as_slice(),
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
            other => panic!("unknown content coding {other}"),
        };
    }
    out
}

/// Undoes a `Content-Encoding` header's codings (last applied first).
pub fn decode_content(content_encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    let Some(header) = content_encoding else {
        return Ok(body.to_vec());
    };
    let codings: Vec<String> = header
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t != "identity")
        .collect();
    let mut out = body.to_vec();
    for coding in codings.iter().rev() {
        let mut plain = Vec::new();
        let result = match coding.as_str() {
            "gzip" | "x-gzip" => {
                flate2::read::MultiGzDecoder::new(out.as_slice()).read_to_end(&mut plain)
            }
            "deflate" => flate2::read::ZlibDecoder::new(out.as_slice())
                .read_to_end(&mut plain)
                .or_else(|_| {
                    plain.clear();
                    flate2::read::DeflateDecoder::new(out.as_slice()).read_to_end(&mut plain)
                }),
            "br" => brotli::Decompressor::new(out.as_slice(), 4096).read_to_end(&mut plain),
            "zstd" => {
                let mut source = out.as_slice();
                match ruzstd::decoding::StreamingDecoder::new(&mut source) {
                    Ok(mut d) => d.read_to_end(&mut plain),
                    Err(e) => return Err(format!("zstd: {e}")),
                }
            }
            other => return Err(format!("unknown content coding {other:?}")),
        };
        result.map_err(|e| format!("{coding}: {e}"))?;
        out = plain;
    }
    Ok(out)
}

// ---------------------------------------------------------------- text encodings

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

/// Url-safe base64 without padding of a JWT-style claims object holding the text.
/// (`why???` puts a `?` at every offset mod 3, so the encoding has a `_`.)
fn b64url(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"note": s, "q": "why???"}).to_string())
}

/// Standard base64 wrapped at 76 characters per line, as MIME writes it.
fn b64_mime(s: &str) -> String {
    let flat = b64(s);
    let lines: Vec<&str> = flat
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    lines.join("\n")
}

/// Base64 of the gzip of the text (`H4sI…`), as pasted from `gzip | base64`.
fn b64_of_gzip(s: &str) -> String {
    STANDARD.encode(encode_content(&["gzip"], s.as_bytes()))
}

/// Base64 of the zlib stream of the text (`eJ…`), as Python's `zlib.compress` then `b64encode`.
fn b64_of_zlib(s: &str) -> String {
    STANDARD.encode(encode_content(&["deflate"], s.as_bytes()))
}

fn b64_twice(s: &str) -> String {
    b64(&b64(s))
}

fn b64_thrice(s: &str) -> String {
    b64(&b64(&b64(s)))
}

/// Every byte as `%XX`.
fn percent_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn percent_of_b64(s: &str) -> String {
    percent_all(&b64(s))
}

/// `application/x-www-form-urlencoded` value encoding: unreserved bytes kept, space as `+`.
fn form_urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every UTF-16 unit as a literal `\uXXXX` (the text itself holds the backslashes).
fn unicode_escape_all(s: &str) -> String {
    s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Every byte as a C/Python `\xNN` escape.
fn hex_escapes(s: &str) -> String {
    s.bytes().map(|b| format!("\\x{b:02x}")).collect()
}

fn spaced(s: &str) -> String {
    interleave(s, " ")
}

fn html_entities(s: &str) -> String {
    s.chars().map(|c| format!("&#{};", c as u32)).collect()
}

fn map_chars(s: &str, f: fn(char) -> char) -> String {
    s.chars().map(f).collect()
}

fn fullwidth(s: &str) -> String {
    map_chars(s, |c| match c {
        '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
        ' ' => '\u{3000}',
        _ => c,
    })
}

/// Mathematical monospace letters and digits (U+1D670...), which NFKC maps to ASCII.
fn math_monospace(s: &str) -> String {
    map_chars(s, |c| {
        let base = match c {
            'A'..='Z' => 0x1D670 + (c as u32 - 'A' as u32),
            'a'..='z' => 0x1D68A + (c as u32 - 'a' as u32),
            '0'..='9' => 0x1D7F6 + (c as u32 - '0' as u32),
            _ => return c,
        };
        char::from_u32(base).unwrap_or(c)
    })
}

/// Cyrillic and Greek letters that look like Latin ones.
fn homoglyphs(s: &str) -> String {
    map_chars(s, |c| match c {
        'A' => '\u{0410}',
        'B' => '\u{0412}',
        'C' => '\u{0421}',
        'E' => '\u{0415}',
        'H' => '\u{041D}',
        'I' => '\u{0406}',
        'J' => '\u{0408}',
        'K' => '\u{041A}',
        'M' => '\u{041C}',
        'N' => '\u{039D}',
        'O' => '\u{041E}',
        'P' => '\u{0420}',
        'S' => '\u{0405}',
        'T' => '\u{0422}',
        'X' => '\u{0425}',
        'Y' => '\u{03A5}',
        'Z' => '\u{0396}',
        'a' => '\u{0430}',
        'c' => '\u{0441}',
        'd' => '\u{0501}',
        'e' => '\u{0435}',
        'i' => '\u{0456}',
        'j' => '\u{0458}',
        'o' => '\u{043E}',
        'p' => '\u{0440}',
        's' => '\u{0455}',
        'v' => '\u{03BD}',
        'x' => '\u{0445}',
        'y' => '\u{0443}',
        _ => c,
    })
}

/// Arabic-Indic digits (U+0660...) for ASCII digits.
fn arabic_indic_digits(s: &str) -> String {
    map_chars(s, |c| match c {
        '0'..='9' => char::from_u32(0x0660 + (c as u32 - '0' as u32)).unwrap_or(c),
        _ => c,
    })
}

fn interleave(s: &str, sep: &str) -> String {
    let chars: Vec<String> = s.chars().map(String::from).collect();
    chars.join(sep)
}

fn zero_width_spaces(s: &str) -> String {
    interleave(s, "\u{200B}")
}

fn zero_width_joiners(s: &str) -> String {
    interleave(s, "\u{200D}")
}

/// A right-to-left override and its pop between every two characters.
fn bidi_controls(s: &str) -> String {
    interleave(s, "\u{202E}\u{202C}")
}

fn soft_hyphens(s: &str) -> String {
    interleave(s, "\u{00AD}")
}

/// Each ASCII token of at least 12 characters holding a digit (a key, a card number, an id),
/// cut in its middle and put back together with `join(left, right)`.
fn cut_tokens(s: &str, join: fn(&str, &str) -> String) -> String {
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.len() >= 12 && token.bytes().any(|b| b.is_ascii_digit()) {
            let (left, right) = token.split_at(token.len() / 2);
            out.push_str(&join(left, right));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

fn wrap_lf(s: &str) -> String {
    cut_tokens(s, |l, r| format!("{l}\n{r}"))
}

fn wrap_crlf_indent(s: &str) -> String {
    cut_tokens(s, |l, r| format!("{l}\r\n        {r}"))
}

fn wrap_escaped_newline(s: &str) -> String {
    cut_tokens(s, |l, r| format!("{l}\\n{r}"))
}

fn wrap_qp_soft_break(s: &str) -> String {
    cut_tokens(s, |l, r| format!("{l}=\r\n{r}"))
}

fn string_concatenation(s: &str) -> String {
    cut_tokens(s, |l, r| format!("\"{l}\" +\n    \"{r}\""))
}

fn implicit_concatenation(s: &str) -> String {
    cut_tokens(s, |l, r| format!("(\"{l}\"\n     \"{r}\")"))
}

fn dotted(s: &str) -> String {
    interleave(s, ".")
}

fn dashed(s: &str) -> String {
    interleave(s, " - ")
}

/// Each all-capitals word of at least six letters (a marking) rewritten by `f`.
fn caps_words(s: &str, f: fn(&str) -> String) -> String {
    ascii_words(s, 6, |w| w.bytes().all(|b| b.is_ascii_uppercase()), f)
}

fn alternating_case(s: &str) -> String {
    caps_words(s, |w| {
        w.chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    })
}

fn caps_lock_inverted(s: &str) -> String {
    caps_words(s, |w| {
        let (first, rest) = w.split_at(1);
        format!("{}{rest}", first.to_ascii_lowercase())
    })
}

fn leetspeak(s: &str) -> String {
    caps_words(s, |w| {
        w.chars()
            .map(|c| match c {
                'O' => '0',
                'I' => '1',
                'E' => '3',
                'A' => '4',
                'S' => '5',
                'T' => '7',
                _ => c,
            })
            .collect()
    })
}

fn alternating_case_spaced(s: &str) -> String {
    caps_words(s, |w| spaced(&alternating_case(w)))
}

// ---------------------------------------------------------------- ciphers, base32, byte lists, hidden characters

/// Each ASCII letter shifted `by` places in its alphabet.
fn shift_letters(s: &str, by: u8) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (b'a' + (c as u8 - b'a' + by) % 26) as char,
            'A'..='Z' => (b'A' + (c as u8 - b'A' + by) % 26) as char,
            _ => c,
        })
        .collect()
}

fn rot13(s: &str) -> String {
    shift_letters(s, 13)
}

fn caesar3(s: &str) -> String {
    shift_letters(s, 3)
}

/// Printable ASCII rotated by 47 (letters, digits and punctuation).
fn rot47(s: &str) -> String {
    map_chars(s, |c| match c {
        '!'..='~' => (b'!' + (c as u8 - b'!' + 47) % 94) as char,
        _ => c,
    })
}

/// Letters mirrored in the alphabet (`a`↔`z`).
fn atbash(s: &str) -> String {
    map_chars(s, |c| match c {
        'a'..='z' => (b'z' - (c as u8 - b'a')) as char,
        'A'..='Z' => (b'Z' - (c as u8 - b'A')) as char,
        _ => c,
    })
}

fn reversed(s: &str) -> String {
    s.chars().rev().collect()
}

fn reversed_words(s: &str) -> String {
    s.split(' ').map(reversed).collect::<Vec<_>>().join(" ")
}

/// RFC 4648 base32 of the UTF-8 bytes, `alphabet` being 32 characters, `=`-padded if `pad`.
fn base32_with(s: &str, alphabet: &[u8; 32], pad: bool) -> String {
    let mut out = String::new();
    let (mut bits, mut held) = (0u32, 0u32);
    for &b in s.as_bytes() {
        bits = (bits << 8) | u32::from(b);
        held += 8;
        while held >= 5 {
            held -= 5;
            out.push(alphabet[((bits >> held) & 31) as usize] as char);
        }
        bits &= (1 << held) - 1;
    }
    if held > 0 {
        out.push(alphabet[((bits << (5 - held)) & 31) as usize] as char);
    }
    while pad && !out.len().is_multiple_of(8) {
        out.push('=');
    }
    out
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

fn base32(s: &str) -> String {
    base32_with(s, BASE32, true)
}

fn base32_lower_unpadded(s: &str) -> String {
    base32_with(s, BASE32, false).to_lowercase()
}

fn base32hex(s: &str) -> String {
    base32_with(s, BASE32HEX, true)
}

/// Each UTF-8 byte written by `byte`, joined by `sep`.
fn byte_list(s: &str, sep: &str, byte: fn(u8) -> String) -> String {
    s.bytes().map(byte).collect::<Vec<_>>().join(sep)
}

fn hex_pairs_colon(s: &str) -> String {
    byte_list(s, ":", |b| format!("{b:02x}"))
}

fn hex_pairs_0x(s: &str) -> String {
    byte_list(s, ", ", |b| format!("0x{b:02X}"))
}

fn decimal_codes(s: &str) -> String {
    byte_list(s, ",", |b| b.to_string())
}

fn binary_octets(s: &str) -> String {
    byte_list(s, " ", |b| format!("{b:08b}"))
}

fn octal_escapes(s: &str) -> String {
    byte_list(s, "", |b| format!("\\{b:03o}"))
}

/// ASCII written in Unicode tag characters (U+E0020...), invisible in most fonts; other
/// characters as they are.
fn tag_smuggled(s: &str) -> String {
    map_chars(s, |c| match c {
        ' '..='~' => char::from_u32(0xE0000 + c as u32).unwrap_or(c),
        _ => c,
    })
}

fn tag_separators(s: &str) -> String {
    interleave(s, "\u{E0020}")
}

/// A combining long stroke overlay (U+0336) on every character: ~~struck through~~.
fn struck_through(s: &str) -> String {
    s.chars().flat_map(|c| [c, '\u{0336}']).collect()
}

fn hangul_fillers(s: &str) -> String {
    interleave(s, "\u{3164}")
}

fn grapheme_joiners(s: &str) -> String {
    interleave(s, "\u{034F}")
}

/// Capital letters as small capitals (IPA and phonetic extensions), where one exists.
fn small_capitals(s: &str) -> String {
    map_chars(s, |c| match c {
        'A' => 'ᴀ',
        'B' => 'ʙ',
        'C' => 'ᴄ',
        'D' => 'ᴅ',
        'E' => 'ᴇ',
        'F' => 'ꜰ',
        'G' => 'ɢ',
        'H' => 'ʜ',
        'I' => 'ɪ',
        'J' => 'ᴊ',
        'K' => 'ᴋ',
        'L' => 'ʟ',
        'M' => 'ᴍ',
        'N' => 'ɴ',
        'O' => 'ᴏ',
        'P' => 'ᴘ',
        'Q' => 'ꞯ',
        'R' => 'ʀ',
        'S' => 'ꜱ',
        'T' => 'ᴛ',
        'U' => 'ᴜ',
        'V' => 'ᴠ',
        'W' => 'ᴡ',
        'Y' => 'ʏ',
        'Z' => 'ᴢ',
        _ => c,
    })
}

/// Capital letters as regional indicator symbols (the letters flags are made of).
fn regional_indicators(s: &str) -> String {
    map_chars(s, |c| match c {
        'A'..='Z' => char::from_u32(0x1F1E6 + (c as u32 - 'A' as u32)).unwrap_or(c),
        _ => c,
    })
}

fn middle_dots(s: &str) -> String {
    interleave(s, "·")
}

fn hair_spaces(s: &str) -> String {
    interleave(s, "\u{200A}")
}

fn line_separators(s: &str) -> String {
    interleave(s, "\u{2028}")
}

// ---------------------------------------------------------------- fourth round: case, grouping, spelling, uu/85

/// Each ASCII word of at least `min` letters and digits for which `pick` holds, rewritten by `f`
/// (words end at anything but an ASCII letter or digit).
fn ascii_words(s: &str, min: usize, pick: fn(&str) -> bool, f: fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.len() >= min && pick(word) {
            out.push_str(&f(word));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A key-like word: a capital and a digit in it.
fn key_like(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase()) && w.chars().any(|c| c.is_ascii_digit())
}

fn has_capital(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase())
}

fn all_digits(w: &str) -> bool {
    w.chars().all(|c| c.is_ascii_digit())
}

/// Key-like words (a capital and a digit, 12+ characters) typed in lower case.
fn keys_lower_case(s: &str) -> String {
    ascii_words(s, 12, key_like, |w| w.to_lowercase())
}

/// Key-like words and long numbers cut into groups of four with single spaces.
fn grouped_by_four(s: &str) -> String {
    ascii_words(
        s,
        12,
        |w| key_like(w) || all_digits(w),
        |w| {
            let chars: Vec<char> = w.chars().collect();
            let groups: Vec<String> = chars.chunks(4).map(|g| g.iter().collect()).collect();
            groups.join(" ")
        },
    )
}

/// Words of 8+ letters and digits with a capital or all digits, a separator between every
/// two characters, cycling through `-`, `.`, `_`, `/`.
fn mixed_separators(s: &str) -> String {
    ascii_words(
        s,
        8,
        |w| has_capital(w) || all_digits(w),
        |w| {
            let mut out = String::new();
            for (i, c) in w.chars().enumerate() {
                if i > 0 {
                    out.push(['-', '.', '_', '/'][i % 4]);
                }
                out.push(c);
            }
            out
        },
    )
}

const NUMBER_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const NATO: [&str; 26] = [
    "alfa", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "x-ray", "yankee", "zulu",
];

/// Each character as a word: digits in English, capitals in the NATO alphabet.
fn spell_word(w: &str) -> String {
    let words: Vec<&str> = w
        .chars()
        .map(|c| match c {
            '0'..='9' => NUMBER_WORDS[(c as u8 - b'0') as usize],
            'A'..='Z' => NATO[(c as u8 - b'A') as usize],
            _ => "?",
        })
        .collect();
    words.join(" ")
}

/// Numbers of 12+ digits read out as English number words.
fn number_words(s: &str) -> String {
    ascii_words(s, 12, all_digits, spell_word)
}

/// Capitals-and-digits words of 8+ characters (keys, markings) and long numbers spelled in
/// the NATO alphabet and number words.
fn phonetic_alphabet(s: &str) -> String {
    ascii_words(
        s,
        8,
        |w| {
            w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        },
        spell_word,
    )
}

/// Numbers of 12+ digits written backwards, nothing else changed (no keyword to hint at it).
fn reversed_numbers(s: &str) -> String {
    // An id's check character `X` is part of its number.
    ascii_words(
        s,
        12,
        |w| w.trim_end_matches('X').chars().all(|c| c.is_ascii_digit()),
        reversed,
    )
}

/// uuencode as `uuencode note.txt` writes it: `begin`, 45-byte lines, a `` ` `` line, `end`.
fn uuencode(s: &str) -> String {
    let enc = |v: u8| if v == 0 { '`' } else { (b' ' + v) as char };
    let mut out = String::from("begin 644 note.txt\n");
    for line in s.as_bytes().chunks(45) {
        out.push(enc(line.len() as u8));
        for group in line.chunks(3) {
            let b = [0, 1, 2].map(|i| group.get(i).copied().unwrap_or(0));
            out.push(enc(b[0] >> 2));
            out.push(enc((b[0] & 3) << 4 | b[1] >> 4));
            out.push(enc((b[1] & 15) << 2 | b[2] >> 6));
            out.push(enc(b[2] & 63));
        }
        out.push('\n');
    }
    out.push_str("`\nend\n");
    out
}

/// Adobe ASCII85 (`<~…~>`), as `base64.a85encode(data, adobe=True)`.
fn ascii85(s: &str) -> String {
    let mut out = String::from("<~");
    for group in s.as_bytes().chunks(4) {
        let mut word = [0u8; 4];
        word[..group.len()].copy_from_slice(group);
        let mut value = u32::from_be_bytes(word);
        if group.len() == 4 && value == 0 {
            out.push('z');
            continue;
        }
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = (value % 85) as u8 + b'!';
            value /= 85;
        }
        out.extend(digits[..group.len() + 1].iter().map(|&d| d as char));
    }
    out.push_str("~>");
    out
}

// ---------------------------------------------------------------- request shapes

const OPENAI: &str = "api.openai.com";
const CHAT: &str = "/v1/chat/completions";
const ANTHROPIC: &str = "api.anthropic.com";
const MESSAGES: &str = "/v1/messages";
const GEMINI: &str = "generativelanguage.googleapis.com";
const GENERATE: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
const RELAY: &str = "llm-relay.example.net";
const JSON_TYPE: &str = "application/json";
const BOUNDARY: &str = "airlock-evasion-7f3a9c";

/// What a technique builds from the prompt text.
struct Request {
    host: &'static str,
    path: &'static str,
    content_type: String,
    content_encoding: Option<&'static str>,
    body: Vec<u8>,
    /// Encoded carriers of the text in the body (e.g. its base64), for leak checks.
    forms: Vec<Vec<u8>>,
    delivery: Delivery,
}

impl Request {
    fn json(host: &'static str, path: &'static str, doc: &Value) -> Request {
        Request::raw(
            host,
            path,
            JSON_TYPE,
            serde_json::to_vec(doc).unwrap_or_default(),
        )
    }

    fn raw(host: &'static str, path: &'static str, content_type: &str, body: Vec<u8>) -> Request {
        Request {
            host,
            path,
            content_type: content_type.to_string(),
            content_encoding: None,
            body,
            forms: Vec::new(),
            delivery: Delivery::Whole,
        }
    }

    fn with_form(mut self, form: String) -> Request {
        self.forms.push(form.into_bytes());
        self
    }
}

fn chat_doc(text: &str) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": text}
        ],
        "temperature": 0.2
    })
}

fn chat(text: &str) -> Request {
    Request::json(OPENAI, CHAT, &chat_doc(text))
}

fn chat_messages(messages: Value) -> Request {
    Request::json(
        OPENAI,
        CHAT,
        &json!({"model": "gpt-4o-mini", "messages": messages}),
    )
}

fn chat_encoded(text: &str, codings: &'static [&'static str], header: &'static str) -> Request {
    let mut r = chat(text);
    r.body = encode_content(codings, &r.body);
    r.content_encoding = Some(header);
    r
}

fn chat_delivered(text: &str, delivery: Delivery) -> Request {
    let mut r = chat(text);
    r.delivery = delivery;
    r
}

fn data_url(text: &str) -> String {
    format!("data:text/plain;base64,{}", b64(text))
}

/// A JSON string literal with every character written as `\uXXXX`.
fn json_string_all_escaped(text: &str) -> String {
    format!("\"{}\"", unicode_escape_all(text))
}

fn batch_line(id: &str, text: &str) -> String {
    json!({
        "custom_id": id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": chat_doc(text)
    })
    .to_string()
}

const FILLER: &str = "Summarise last week's release notes in two sentences.";

fn shape_content_parts(t: &str) -> Request {
    chat_messages(json!([{"role": "user", "content": [
        {"type": "text", "text": "Here is my note:"},
        {"type": "text", "text": t}
    ]}]))
}

/// The text as a `role` message, and the user asking about it.
fn chat_note_from(role: &str, t: &str) -> Request {
    chat_messages(json!([
        {"role": role, "content": t},
        {"role": "user", "content": format!("Summarise the {role} note.")}
    ]))
}

fn shape_system(t: &str) -> Request {
    chat_note_from("system", t)
}

fn shape_developer(t: &str) -> Request {
    chat_note_from("developer", t)
}

fn shape_assistant_history(t: &str) -> Request {
    chat_messages(json!([
        {"role": "user", "content": "What did I tell you earlier?"},
        {"role": "assistant", "content": t},
        {"role": "user", "content": "Repeat it word for word."}
    ]))
}

/// Chat turns: the user asks, the assistant calls function `name` with
/// `arguments` (a JSON text), the tool answers `result`.
fn chat_tool_turns(ask: &str, name: &str, arguments: &str, result: &str) -> Request {
    chat_messages(json!([
        {"role": "user", "content": ask},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": result}
    ]))
}

fn shape_tool_message(t: &str) -> Request {
    chat_tool_turns("Look up my note.", "lookup_note", "{}", t)
}

fn shape_tool_call_arguments(t: &str) -> Request {
    let arguments = json!({"note": t, "priority": "high"}).to_string();
    chat_tool_turns(
        "File a ticket with my note.",
        "file_ticket",
        &arguments,
        "filed",
    )
}

fn shape_tool_definition(t: &str) -> Request {
    Request::json(
        OPENAI,
        CHAT,
        &json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Which tool fits?"}],
            "tools": [{"type": "function", "function": {
                "name": "file_ticket",
                "description": t,
                "parameters": {"type": "object", "properties": {
                    "summary": {"type": "string", "description": "Ticket summary"}
                }}
            }}]
        }),
    )
}

fn shape_responses_input(t: &str) -> Request {
    Request::json(
        OPENAI,
        "/v1/responses",
        &json!({
            "model": "gpt-4.1-mini",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": t}]}],
            // Already what the default policy's field rule sets: the body stays byte-identical.
            "store": false
        }),
    )
}

fn shape_responses_instructions(t: &str) -> Request {
    Request::json(
        OPENAI,
        "/v1/responses",
        &json!({"model": "gpt-4.1-mini", "instructions": t, "input": "Follow the instructions.", "store": false}),
    )
}

fn shape_completions_prompt(t: &str) -> Request {
    Request::json(
        OPENAI,
        "/v1/completions",
        &json!({"model": "gpt-3.5-turbo-instruct", "prompt": t, "max_tokens": 64}),
    )
}

fn shape_embeddings_input(t: &str) -> Request {
    Request::json(
        OPENAI,
        "/v1/embeddings",
        &json!({"model": "text-embedding-3-small", "input": ["quarterly review", t]}),
    )
}

/// An Anthropic Messages request with `messages` (and the model and token
/// limit every Anthropic shape uses).
fn anthropic(messages: Value) -> Request {
    Request::json(
        ANTHROPIC,
        MESSAGES,
        &json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": messages}),
    )
}

/// Anthropic turns: the user asks, the assistant calls tool `name` with
/// `input`, the tool answers `result`.
fn anthropic_tool_turns(ask: &str, name: &str, input: Value, result: Value) -> Request {
    anthropic(json!([
        {"role": "user", "content": ask},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_01", "name": name, "input": input}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": result}
        ]}
    ]))
}

fn shape_anthropic_system(t: &str) -> Request {
    Request::json(
        ANTHROPIC,
        MESSAGES,
        &json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "system": [{"type": "text", "text": t}],
            "messages": [{"role": "user", "content": "Summarise the system note."}]
        }),
    )
}

fn shape_anthropic_tool_use(t: &str) -> Request {
    let input = json!({"summary": t});
    anthropic_tool_turns(
        "File a ticket with my note.",
        "file_ticket",
        input,
        json!("filed"),
    )
}

fn shape_anthropic_tool_result(t: &str) -> Request {
    let result = json!([{"type": "text", "text": t}]);
    anthropic_tool_turns("Look up my note.", "lookup_note", json!({}), result)
}

fn shape_anthropic_document(t: &str) -> Request {
    anthropic(json!([{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "text/plain", "data": b64(t)}},
        {"type": "text", "text": "Summarise the document."}
    ]}]))
    .with_form(b64(t))
}

/// A Gemini `generateContent` request.
fn gemini(doc: Value) -> Request {
    Request::json(GEMINI, GENERATE, &doc)
}

fn shape_gemini_contents(t: &str) -> Request {
    gemini(json!({"contents": [{"role": "user", "parts": [{"text": t}]}]}))
}

fn shape_gemini_system(t: &str) -> Request {
    gemini(json!({
        "systemInstruction": {"parts": [{"text": t}]},
        "contents": [{"role": "user", "parts": [{"text": "Summarise the instruction."}]}]
    }))
}

fn shape_gemini_inline_data(t: &str) -> Request {
    gemini(json!({"contents": [{"role": "user", "parts": [
        {"inlineData": {"mimeType": "text/plain", "data": b64(t)}},
        {"text": "Summarise the attachment."}
    ]}]}))
    .with_form(b64(t))
}

fn shape_gemini_function_call(t: &str) -> Request {
    gemini(json!({"contents": [
        {"role": "user", "parts": [{"text": "File a ticket with my note."}]},
        {"role": "model", "parts": [{"functionCall": {"name": "file_ticket", "args": {"summary": t}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "file_ticket", "response": {"status": "filed"}}}]}
    ]}))
}

fn shape_image_url_data_url(t: &str) -> Request {
    chat_messages(json!([{"role": "user", "content": [
        {"type": "text", "text": "Read the attached note."},
        {"type": "image_url", "image_url": {"url": data_url(t)}}
    ]}]))
    .with_form(b64(t))
}

fn shape_file_data(t: &str) -> Request {
    chat_messages(json!([{"role": "user", "content": [
        {"type": "file", "file": {"filename": "note.txt", "file_data": data_url(t)}},
        {"type": "text", "text": "Summarise the file."}
    ]}]))
    .with_form(b64(t))
}

fn shape_json_unicode_escapes(t: &str) -> Request {
    let body = format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":{}}}]}}"#,
        json_string_all_escaped(t)
    );
    Request::raw(OPENAI, CHAT, JSON_TYPE, body.into_bytes()).with_form(unicode_escape_all(t))
}

fn shape_gzip(t: &str) -> Request {
    chat_encoded(t, &["gzip"], "gzip")
}

fn shape_deflate(t: &str) -> Request {
    chat_encoded(t, &["deflate"], "deflate")
}

fn shape_br(t: &str) -> Request {
    chat_encoded(t, &["br"], "br")
}

fn shape_zstd(t: &str) -> Request {
    chat_encoded(t, &["zstd"], "zstd")
}

fn shape_gzip_then_br(t: &str) -> Request {
    chat_encoded(t, &["gzip", "br"], "gzip, br")
}

fn shape_multipart(t: &str) -> Request {
    let jsonl = format!(
        "{}\n{}\n",
        batch_line("req-1", FILLER),
        batch_line("req-2", t)
    );
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"batch.jsonl\"\r\n\
         Content-Type: application/jsonl\r\n\r\n{jsonl}\r\n--{BOUNDARY}--\r\n"
    );
    Request::raw(
        OPENAI,
        "/v1/files",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body.into_bytes(),
    )
}

fn shape_json_lines(t: &str) -> Request {
    let body = format!(
        "{}\n{}\n",
        batch_line("req-1", FILLER),
        batch_line("req-2", t)
    );
    Request::raw(OPENAI, "/v1/files", "application/jsonl", body.into_bytes())
}

fn shape_text_plain(t: &str) -> Request {
    Request::raw(
        OPENAI,
        CHAT,
        "text/plain; charset=utf-8",
        t.as_bytes().to_vec(),
    )
}

fn shape_form_urlencoded(t: &str) -> Request {
    let body = format!(
        "model=gpt-3.5-turbo-instruct&max_tokens=64&prompt={}",
        form_urlencode(t)
    );
    Request::raw(
        OPENAI,
        "/v1/completions",
        "application/x-www-form-urlencoded",
        body.into_bytes(),
    )
    .with_form(form_urlencode(t))
}

fn shape_mislabelled(t: &str) -> Request {
    let mut r = chat(t);
    r.content_type = "application/octet-stream".into();
    r
}

fn shape_truncated(t: &str) -> Request {
    let mut r = chat(t);
    // Cut inside the final object: `..."temperature":0.` - no longer a JSON document.
    r.body.truncate(r.body.len() - 3);
    r
}

fn shape_deeply_nested(t: &str) -> Request {
    const DEPTH: usize = 200;
    let body = format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"Read the nested note."}}],"metadata":{}{}{}}}"#,
        "[".repeat(DEPTH),
        Value::String(t.to_string()),
        "]".repeat(DEPTH)
    );
    Request::raw(OPENAI, CHAT, JSON_TYPE, body.into_bytes())
}

fn shape_json_key(t: &str) -> Request {
    let mut metadata = serde_json::Map::new();
    metadata.insert(t.to_string(), Value::String("note".into()));
    Request::json(
        OPENAI,
        CHAT,
        &json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Summarise the metadata."}],
            "metadata": metadata
        }),
    )
}

fn shape_one_byte_chunks(t: &str) -> Request {
    chat_delivered(t, Delivery::OneByteChunks)
}

fn shape_trailers(t: &str) -> Request {
    chat_delivered(t, Delivery::Trailers)
}

/// The prompt cut in two in the middle of its longest token holding a digit (or of the text).
fn cut_prompt(t: &str) -> (String, String) {
    let mut best: Option<(usize, usize)> = None;
    let mut start = None;
    for (i, c) in t.char_indices().chain(std::iter::once((t.len(), ' '))) {
        match (c.is_ascii_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let token = &t[s..i];
                let digit = token.bytes().any(|b| b.is_ascii_digit());
                if digit && token.len() >= 12 && best.is_none_or(|(a, b)| b - a < i - s) {
                    best = Some((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    let at = match best {
        Some((a, b)) => a + (b - a) / 2,
        None => (0..=t.len() / 2)
            .rev()
            .find(|&i| t.is_char_boundary(i))
            .unwrap_or(0),
    };
    (t[..at].to_string(), t[at..].to_string())
}

fn shape_split_messages(t: &str) -> Request {
    let (first, second) = cut_prompt(t);
    chat_messages(json!([
        {"role": "user", "content": first},
        {"role": "user", "content": second}
    ]))
    .with_form(first)
    .with_form(second)
}

fn shape_split_parts(t: &str) -> Request {
    let (first, second) = cut_prompt(t);
    chat_messages(json!([{"role": "user", "content": [
        {"type": "text", "text": first},
        {"type": "text", "text": second}
    ]}]))
    .with_form(first)
    .with_form(second)
}

/// The secret of a prompt as pieces sit in one field: the longest token holding a digit, else
/// a marking, else the longest word; and the prompt with it replaced by a pointer.
fn secret_out_of(t: &str) -> (String, String) {
    let digits = t
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 12 && w.bytes().any(|b| b.is_ascii_digit()))
        .max_by_key(|w| w.len());
    let marking = MARKINGS.iter().copied().find(|m| t.contains(m));
    let longest = t.split(' ').max_by_key(|w| w.chars().count()).unwrap_or(t);
    let secret = digits.or(marking).unwrap_or(longest).to_string();
    (
        t.replacen(&secret, "(join the pieces in the metadata)", 1),
        secret,
    )
}

/// `s` cut into four (or, when longer than 16 characters, five) pieces of whole characters.
fn four_or_five_pieces(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = if chars.len() > 16 { 5 } else { 4 };
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// The prompt with its secret moved into `metadata` as `pieces` (built from the secret).
fn shape_pieces(t: &str, pieces: fn(&str) -> Value) -> Request {
    let (text, secret) = secret_out_of(t);
    let mut r = chat(&text);
    let mut doc: Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let pieces = pieces(&secret);
    // The pieces as the body writes them: the form a leak check looks for.
    let written = serde_json::to_string(&pieces).unwrap_or_default();
    doc["metadata"] = pieces;
    r.body = serde_json::to_vec(&doc).unwrap_or_default();
    r.with_form(written)
}

fn shape_pieces_in_an_array(t: &str) -> Request {
    shape_pieces(t, |s| json!({ "pieces": four_or_five_pieces(s) }))
}

fn shape_pieces_in_an_object(t: &str) -> Request {
    shape_pieces(t, |s| {
        let members: serde_json::Map<String, Value> = four_or_five_pieces(s)
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("part{}", i + 1), Value::String(p)))
            .collect();
        json!({ "parts": members })
    })
}

fn shape_one_character_per_element(t: &str) -> Request {
    shape_pieces(
        t,
        |s| json!({ "chars": s.chars().map(String::from).collect::<Vec<_>>() }),
    )
}

fn shape_character_codes(t: &str) -> Request {
    shape_pieces(
        t,
        |s| json!({ "codes": s.chars().map(u32::from).collect::<Vec<_>>() }),
    )
}

/// The prompt's longest all-digit token (if any) moved into a JSON number field.
fn shape_number_literal(t: &str) -> Request {
    let number = t
        .split(|c: char| !c.is_ascii_digit())
        .filter(|d| d.len() >= 12)
        .max_by_key(|d| d.len())
        .and_then(|d| d.parse::<u64>().ok());
    let Some(number) = number else {
        return chat(t);
    };
    let text = t.replacen(&number.to_string(), "(see reference)", 1);
    let mut r = chat(&text);
    let mut doc: Value = serde_json::from_slice(&r.body).unwrap_or_default();
    doc["metadata"] = json!({ "reference": number });
    r.body = serde_json::to_vec(&doc).unwrap_or_default();
    r
}

fn shape_relay(t: &str) -> Request {
    let mut r = chat(t);
    r.host = RELAY;
    r
}

// ---------------------------------------------------------------- the technique table

/// How a technique hides the prompt.
enum Kind {
    /// The prompt is re-encoded or re-spelt (`encode`), optionally inside a
    /// sentence (`wrap`, `{}` marks the encoded prompt), and sent as the user
    /// message of a chat completion.
    Text {
        encode: fn(&str) -> String,
        wrap: &'static str,
    },
    /// The prompt, as written, is placed in a request shape or body format.
    Shape(fn(&str) -> Request),
}

/// One evasion technique.
pub struct Technique {
    pub id: &'static str,
    pub about: &'static str,
    kind: Kind,
}

const fn text(
    id: &'static str,
    about: &'static str,
    encode: fn(&str) -> String,
    wrap: &'static str,
) -> Technique {
    Technique {
        id,
        about,
        kind: Kind::Text { encode, wrap },
    }
}

const fn shape(id: &'static str, about: &'static str, build: fn(&str) -> Request) -> Technique {
    Technique {
        id,
        about,
        kind: Kind::Shape(build),
    }
}

fn plain(s: &str) -> String {
    s.to_string()
}

/// Every technique, in corpus order.
pub fn techniques() -> Vec<Technique> {
    vec![
        text(
            "plain",
            "baseline: the prompt as a chat completion's user message",
            plain,
            "{}",
        ),
        shape(
            "content-parts",
            "OpenAI user content as an array of text parts",
            shape_content_parts,
        ),
        shape("system-message", "OpenAI system message", shape_system),
        shape(
            "developer-role",
            "OpenAI developer message",
            shape_developer,
        ),
        shape(
            "assistant-history",
            "an earlier assistant turn in the history",
            shape_assistant_history,
        ),
        shape(
            "tool-message",
            "a tool message (role tool) answering a tool call",
            shape_tool_message,
        ),
        shape(
            "tool-call-arguments",
            "tool_calls[].function.arguments: JSON inside a JSON string",
            shape_tool_call_arguments,
        ),
        shape(
            "tool-definition",
            "a tool definition's description",
            shape_tool_definition,
        ),
        shape(
            "responses-input",
            "OpenAI Responses API input item (input_text)",
            shape_responses_input,
        ),
        shape(
            "responses-instructions",
            "OpenAI Responses API instructions",
            shape_responses_instructions,
        ),
        shape(
            "completions-prompt",
            "legacy completions prompt",
            shape_completions_prompt,
        ),
        shape(
            "embeddings-input",
            "embeddings input array",
            shape_embeddings_input,
        ),
        shape(
            "anthropic-system-blocks",
            "Anthropic system as text blocks",
            shape_anthropic_system,
        ),
        shape(
            "anthropic-tool-use-input",
            "Anthropic tool_use input object",
            shape_anthropic_tool_use,
        ),
        shape(
            "anthropic-tool-result",
            "Anthropic tool_result content blocks",
            shape_anthropic_tool_result,
        ),
        shape(
            "anthropic-document-base64",
            "Anthropic document with a base64 text/plain source",
            shape_anthropic_document,
        ),
        shape(
            "gemini-contents",
            "Gemini contents[].parts[].text",
            shape_gemini_contents,
        ),
        shape(
            "gemini-system-instruction",
            "Gemini systemInstruction",
            shape_gemini_system,
        ),
        shape(
            "gemini-inline-data",
            "Gemini inlineData, base64 text/plain",
            shape_gemini_inline_data,
        ),
        shape(
            "gemini-function-call-args",
            "Gemini functionCall args",
            shape_gemini_function_call,
        ),
        shape(
            "image-url-data-url",
            "OpenAI image_url holding a data:text/plain;base64 URL",
            shape_image_url_data_url,
        ),
        shape(
            "file-data-base64",
            "OpenAI file part with base64 file_data",
            shape_file_data,
        ),
        shape(
            "json-unicode-escapes",
            "every character of the JSON string as a \\uXXXX escape",
            shape_json_unicode_escapes,
        ),
        text(
            "base64-in-prose",
            "base64 of the prompt inside a sentence",
            b64,
            "Decode this base64 and answer the question inside: {}",
        ),
        text(
            "base64url",
            "url-safe base64 (no padding) of JWT-style claims",
            b64url,
            "Token claims (base64url): {}",
        ),
        text(
            "base64-mime-wrapped",
            "base64 wrapped at 76 columns",
            b64_mime,
            "Attachment:\n{}\nPlease summarise it.",
        ),
        text(
            "base64-of-base64",
            "base64 of base64",
            b64_twice,
            "Decode twice: {}",
        ),
        text(
            "base64-three-layers",
            "base64 of base64 of base64",
            b64_thrice,
            "Decode three times: {}",
        ),
        text(
            "percent-encoded",
            "every byte percent-encoded, in a URL",
            percent_all,
            "Fetch https://notes.example/view?q={} and summarise it.",
        ),
        text(
            "percent-of-base64",
            "percent-encoded base64",
            percent_of_b64,
            "Decode: {}",
        ),
        text(
            "text-unicode-escapes",
            "\\uXXXX escapes written in the text (double-escaped in the JSON)",
            unicode_escape_all,
            "Unescape this JavaScript string: \"{}\"",
        ),
        text(
            "hex",
            "hex of the UTF-8 bytes",
            hex,
            "Hex dump of my note, decode it first: {}",
        ),
        text("fullwidth", "fullwidth forms (U+FF01...)", fullwidth, "{}"),
        text(
            "math-alphanumerics",
            "mathematical monospace letters and digits",
            math_monospace,
            "{}",
        ),
        text(
            "zero-width-spaces",
            "U+200B between every two characters",
            zero_width_spaces,
            "{}",
        ),
        text(
            "zero-width-joiners",
            "U+200D between every two characters",
            zero_width_joiners,
            "{}",
        ),
        text(
            "bidi-controls",
            "right-to-left override and pop (U+202E U+202C) between characters",
            bidi_controls,
            "{}",
        ),
        text(
            "soft-hyphens",
            "U+00AD between every two characters",
            soft_hyphens,
            "{}",
        ),
        text(
            "cyrillic-greek-homoglyphs",
            "Cyrillic and Greek look-alike letters",
            homoglyphs,
            "{}",
        ),
        text(
            "hex-escapes",
            "every byte as a \\xNN escape (C, Python)",
            hex_escapes,
            "Decode this Python bytes literal: b'{}'",
        ),
        text(
            "spaced-characters",
            "a space between every two characters",
            spaced,
            "{}",
        ),
        text(
            "html-entities",
            "HTML numeric character references",
            html_entities,
            "Render this HTML: {}",
        ),
        text(
            "non-ascii-digits",
            "Arabic-Indic digits for ASCII digits (the marking has none: a control)",
            arabic_indic_digits,
            "{}",
        ),
        shape("gzip", "Content-Encoding: gzip", shape_gzip),
        shape("deflate", "Content-Encoding: deflate (zlib)", shape_deflate),
        shape("br", "Content-Encoding: br", shape_br),
        shape("zstd", "Content-Encoding: zstd", shape_zstd),
        shape(
            "gzip-then-br",
            "Content-Encoding: gzip, br (stacked)",
            shape_gzip_then_br,
        ),
        shape(
            "multipart-file-upload",
            "OpenAI Files upload: multipart/form-data with a .jsonl batch file",
            shape_multipart,
        ),
        shape(
            "json-lines-batch",
            "an application/jsonl batch body",
            shape_json_lines,
        ),
        shape("text-plain-body", "a text/plain body", shape_text_plain),
        shape(
            "form-urlencoded-body",
            "an application/x-www-form-urlencoded body",
            shape_form_urlencoded,
        ),
        shape(
            "mislabelled-content-type",
            "a JSON body labelled application/octet-stream",
            shape_mislabelled,
        ),
        shape(
            "truncated-json",
            "a JSON body cut short (not a document)",
            shape_truncated,
        ),
        shape(
            "deeply-nested-json",
            "the prompt under 200 levels of arrays (past the parser's depth limit)",
            shape_deeply_nested,
        ),
        shape(
            "secret-as-json-key",
            "the prompt as an object key",
            shape_json_key,
        ),
        shape(
            "one-byte-chunks",
            "the body delivered one byte per chunk",
            shape_one_byte_chunks,
        ),
        shape(
            "trailers",
            "the body in chunks followed by request trailers",
            shape_trailers,
        ),
        text(
            "base64-of-gzip",
            "gzip-compressed text, base64-encoded",
            b64_of_gzip,
            "Decompress this (gzip | base64): {}",
        ),
        text(
            "base64-of-zlib",
            "zlib-compressed text, base64-encoded",
            b64_of_zlib,
            "zlib + base64: {}",
        ),
        text(
            "hard-wrap-lf",
            "long tokens hard-wrapped with a line break in the middle",
            wrap_lf,
            "{}",
        ),
        text(
            "hard-wrap-crlf-indent",
            "long tokens wrapped with CRLF and an indent",
            wrap_crlf_indent,
            "{}",
        ),
        text(
            "hard-wrap-escaped-newline",
            "long tokens cut by a written \\n escape",
            wrap_escaped_newline,
            "{}",
        ),
        text(
            "quoted-printable-soft-break",
            "long tokens cut by a quoted-printable soft line break (=CRLF)",
            wrap_qp_soft_break,
            "{}",
        ),
        text(
            "string-concatenation",
            "long tokens as two string literals joined by + across lines",
            string_concatenation,
            "key = {}",
        ),
        text(
            "implicit-concatenation",
            "long tokens as adjacent string literals (Python, C)",
            implicit_concatenation,
            "key = {}",
        ),
        text(
            "dotted-characters",
            "a dot between every two characters",
            dotted,
            "{}",
        ),
        text(
            "dashed-characters",
            "' - ' between every two characters",
            dashed,
            "{}",
        ),
        text(
            "alternating-case",
            "capitalised words (markings) in alternating case",
            alternating_case,
            "{}",
        ),
        text(
            "caps-lock-inverted",
            "capitalised words (markings) with the case inverted (cONFIDENTIAL)",
            caps_lock_inverted,
            "{}",
        ),
        text(
            "leetspeak",
            "capitalised words (markings) in leetspeak (C0NF1D3NT14L)",
            leetspeak,
            "{}",
        ),
        text(
            "alternating-case-spaced",
            "capitalised words in alternating case, spaced out",
            alternating_case_spaced,
            "{}",
        ),
        text(
            "rot13",
            "ROT13 (letters rotated by 13; digits kept)",
            rot13,
            "Decode this ROT13 and answer: {}",
        ),
        text(
            "rot47",
            "ROT47 (printable ASCII rotated by 47)",
            rot47,
            "ROT47: {}",
        ),
        text(
            "atbash",
            "Atbash (the alphabet mirrored)",
            atbash,
            "Atbash: {}",
        ),
        text(
            "caesar-3",
            "Caesar cipher, letters shifted by 3",
            caesar3,
            "Shift back by three: {}",
        ),
        text(
            "reversed-text",
            "the whole text written backwards",
            reversed,
            "Read this backwards: {}",
        ),
        text(
            "reversed-words",
            "each word written backwards, word order kept",
            reversed_words,
            "Each word is reversed: {}",
        ),
        text("base32", "RFC 4648 base32, padded", base32, "base32: {}"),
        text(
            "base32-lower-unpadded",
            "base32 in lower case without padding",
            base32_lower_unpadded,
            "b32: {}",
        ),
        text(
            "base32hex",
            "RFC 4648 base32hex (0-9A-V)",
            base32hex,
            "base32hex: {}",
        ),
        text(
            "hex-pairs-colon",
            "hex bytes separated by colons",
            hex_pairs_colon,
            "Bytes: {}",
        ),
        text(
            "hex-pairs-0x-list",
            "hex bytes as a 0x.. list",
            hex_pairs_0x,
            "const NOTE: [u8; N] = [{}];",
        ),
        text(
            "decimal-char-codes",
            "decimal byte values, comma-separated",
            decimal_codes,
            "new TextDecoder().decode(new Uint8Array([{}]))",
        ),
        text(
            "binary-octets",
            "each byte as eight binary digits",
            binary_octets,
            "Binary: {}",
        ),
        text(
            "octal-escapes",
            "each byte as an octal escape (\\101)",
            octal_escapes,
            "printf '{}'",
        ),
        text(
            "unicode-tags-hidden",
            "ASCII hidden in Unicode tag characters (U+E0020...) after a visible sentence",
            tag_smuggled,
            "Please summarise my note.{}",
        ),
        text(
            "unicode-tag-separators",
            "a tag space (U+E0020) between every two characters",
            tag_separators,
            "{}",
        ),
        text(
            "combining-strikethrough",
            "a combining long stroke (U+0336) on every character",
            struck_through,
            "{}",
        ),
        text(
            "hangul-fillers",
            "Hangul filler (U+3164) between every two characters",
            hangul_fillers,
            "{}",
        ),
        text(
            "grapheme-joiners",
            "combining grapheme joiner (U+034F) between every two characters",
            grapheme_joiners,
            "{}",
        ),
        text(
            "small-capitals",
            "capital letters as small capitals (ᴀᴋɪᴀ)",
            small_capitals,
            "{}",
        ),
        text(
            "regional-indicators",
            "capital letters as regional indicator symbols",
            regional_indicators,
            "{}",
        ),
        text(
            "middle-dots",
            "a middle dot (U+00B7) between every two characters",
            middle_dots,
            "{}",
        ),
        text(
            "hair-spaces",
            "a hair space (U+200A) between every two characters",
            hair_spaces,
            "{}",
        ),
        text(
            "line-separators",
            "a line separator (U+2028) between every two characters",
            line_separators,
            "{}",
        ),
        text(
            "keys-lower-case",
            "key-like words (capitals and digits) typed all in lower case",
            keys_lower_case,
            "{}",
        ),
        text(
            "grouped-by-four",
            "keys and long numbers in groups of four with single spaces",
            grouped_by_four,
            "{}",
        ),
        text(
            "mixed-separators",
            "a separator between every two characters that changes (-, ., _, /)",
            mixed_separators,
            "{}",
        ),
        text(
            "number-words",
            "long numbers read out as English number words",
            number_words,
            "{}",
        ),
        text(
            "phonetic-alphabet",
            "keys and markings spelled in the NATO alphabet, digits as number words",
            phonetic_alphabet,
            "{}",
        ),
        text(
            "reversed-numbers",
            "long numbers written backwards with nothing else changed",
            reversed_numbers,
            "{}",
        ),
        text(
            "uuencode",
            "the text uuencoded (begin 644 ... end)",
            uuencode,
            "{}",
        ),
        text(
            "ascii85",
            "the text in Adobe ASCII85 (<~...~>)",
            ascii85,
            "Decode: {}",
        ),
        shape(
            "split-across-messages",
            "the prompt cut in two user messages in the middle of its secret",
            shape_split_messages,
        ),
        shape(
            "split-across-content-parts",
            "the prompt cut in two text parts of one message in the middle of its secret",
            shape_split_parts,
        ),
        shape(
            "pieces-in-an-array",
            "the secret cut into 4-5 strings of one JSON array in another field",
            shape_pieces_in_an_array,
        ),
        shape(
            "pieces-in-an-object",
            "the secret cut into 4-5 member values of one JSON object in another field",
            shape_pieces_in_an_object,
        ),
        shape(
            "one-character-per-element",
            "the secret as a JSON array of one-character strings",
            shape_one_character_per_element,
        ),
        shape(
            "character-codes",
            "the secret as a JSON array of its characters' code points",
            shape_character_codes,
        ),
        shape(
            "number-literal",
            "the secret's digits as a JSON number in another field",
            shape_number_literal,
        ),
        shape(
            "unknown-relay",
            "an unknown relay host (tier unknown-relay: nothing above public)",
            shape_relay,
        ),
    ]
}

// ---------------------------------------------------------------- payloads

fn sentence(payload: &str, secret: &str) -> String {
    match payload {
        "credential" => format!("Our CI deploy user has access key id {secret} and S3 keeps answering AccessDenied; what is wrong?"),
        "card" => format!("Please charge the deposit to card {secret}, expiry 09/28, and send the receipt to the guest."),
        "cn-id" => format!("申请人刘洋，身份证号 {secret}，请核对户籍信息后回复。"),
        "marking" => format!("{secret} 华东区三季度价格调整方案：所有标价下调百分之八。"),
        // Near misses the default policy must not report, whatever the technique does to
        // them: the documented example key and test card (allowlisted), a Luhn-invalid card
        // number, an id with a wrong check digit, and the words of markings used as prose.
        _ => "Summarise the Q3 pricing review for the East China team (华东区) in three bullet points; \
              keep it confidential, mind 数据机密性, and note the docs use AKIAIOSFODNN7EXAMPLE, \
              test card 4111111111111111, order 4916338506124577 and ticket 320106198704152375."
            .to_string(),
    }
}

fn expectation(technique: &str, payload: &str) -> &'static str {
    match (technique, payload) {
        (_, "clean") => "allow",
        (_, "credential" | "marking") => "block",
        ("unknown-relay", _) => "block",
        // A secret cut across fields cannot be masked in one place: the request is blocked.
        (
            "split-across-messages"
            | "split-across-content-parts"
            | "pieces-in-an-array"
            | "pieces-in-an-object"
            | "one-character-per-element"
            | "character-codes",
            _,
        ) => "block",
        _ => "tokenize",
    }
}

/// The detector of the default policy that matches `secret` of `payload`.
fn detector(payload: &str, secret: Option<&str>) -> Option<&'static str> {
    match (payload, secret?) {
        ("credential", _) => Some("aws-access-key-id"),
        ("card", _) => Some("card-visa"),
        ("cn-id", _) => Some("cn-resident-id"),
        (_, "CONFIDENTIAL") => Some("marking-confidential"),
        _ => Some("marking-cn-jimi"),
    }
}

fn known_gap(technique: &str, payload: &str) -> Option<&'static str> {
    KNOWN_GAPS
        .iter()
        .find(|(t, payloads, _)| *t == technique && payloads.contains(&payload))
        .map(|(_, _, why)| *why)
}

/// The secret a payload carries under a technique (`None` for `clean`).
fn secret_for(technique: &Technique, payload: &str) -> Option<String> {
    match payload {
        "credential" => Some(CREDENTIAL.into()),
        "card" => Some(CARD.into()),
        "cn-id" => Some(CN_ID.into()),
        "marking" => {
            let changed = |m: &str| match technique.kind {
                Kind::Text { encode, .. } => encode(m) != m,
                Kind::Shape(_) => true,
            };
            let marking = MARKINGS
                .into_iter()
                .find(|m| changed(m))
                .unwrap_or(MARKINGS[0]);
            Some(marking.to_string())
        }
        _ => None,
    }
}

fn build(technique: &Technique, payload: &'static str) -> EvasionCase {
    let secret = secret_for(technique, payload);
    let prompt = sentence(payload, secret.as_deref().unwrap_or(""));
    let mut forms: Vec<Vec<u8>> = Vec::new();
    let request = match technique.kind {
        Kind::Text { encode, wrap } => {
            let encoded = encode(&prompt);
            forms.push(encoded.clone().into_bytes());
            if let Some(s) = &secret {
                forms.push(encode(s).into_bytes());
            }
            chat(&wrap.replace("{}", &encoded))
        }
        Kind::Shape(build) => build(&prompt),
    };
    forms.extend(request.forms);
    let raw = secret.as_deref().unwrap_or("").as_bytes();
    forms.retain(|f| !f.is_empty() && f != raw);
    forms.dedup();
    if secret.is_none() {
        forms.clear();
    }
    let mut headers = vec![("content-type".to_string(), request.content_type)];
    if let Some(ce) = request.content_encoding {
        headers.push(("content-encoding".to_string(), ce.to_string()));
    }
    let expect = expectation(technique.id, payload);
    let secret_ref = secret.as_deref();
    let detector = detector(payload, secret_ref);
    EvasionCase {
        technique: technique.id,
        payload,
        host: request.host.to_string(),
        path: request.path.to_string(),
        headers,
        body: request.body,
        secret,
        forms,
        delivery: request.delivery,
        expect,
        detector,
        expect_blocked_or_masked: expect != "allow",
        known_gap: known_gap(technique.id, payload),
    }
}

/// The whole corpus: every technique applied to every payload, in table order.
pub fn corpus() -> Vec<EvasionCase> {
    let mut cases = Vec::new();
    for technique in techniques() {
        for payload in PAYLOADS {
            cases.push(build(&technique, payload));
        }
    }
    cases
}

// ---------------------------------------------------------------- checks of the secrets themselves

/// Luhn checksum of an all-digit string.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// The GB 11643 check character of the first 17 digits of a resident id.
pub fn gb11643_check(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.bytes().zip(WEIGHTS) {
        if !c.is_ascii_digit() {
            return None;
        }
        sum += u32::from(c - b'0') * w;
    }
    CHECK.get((sum % 11) as usize).map(|&b| b as char)
}
