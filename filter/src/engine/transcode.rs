//! Finds and decodes the encodings people wrap secrets in, and re-encodes masked text.
//!
//! A scanner that reads only the literal text of a request misses a key that
//! was base64-encoded, percent-encoded, written as `\u0041\u004B...` or as hex,
//! or shipped as a `data:` URL or a Gemini `inlineData` / Anthropic `source`
//! blob. This module finds such runs in a piece of text, decodes them and keeps
//! only the decodings that look like text, so the caller can scan the decoded
//! bytes with the same detectors, mask them, and write them back in the
//! original style with [`encode`]. Nested encodings (base64 of base64, a
//! percent-encoded base64 blob) are followed by the caller: it calls
//! [`find_segments`] again on each decoded segment, up to its own depth limit.
//!
//! Everything here is pure, total and bounded: no panics, no recursion, work
//! linear in the input, decoded output capped by [`Limits`]. Decode buffers are
//! reused within one call; the only allocation per returned segment is its
//! decoded bytes.
//!
//! # Heuristics
//!
//! Text is split into *words* at whitespace, quotes, backticks, `<>()[]{}|` and
//! control bytes. In each word, in this order:
//!
//! * `data:` (case-insensitive, not preceded by a letter or digit) starts a
//!   data URL; its base64 payload is decoded whatever its length, a
//!   non-base64 payload is percent-decoded if it has an escape.
//! * A word with at least 3 valid `%XX` escapes, or 2 consecutive ones
//!   (`%41%4B`), is percent-decoded as a whole (`+` stays `+`).
//! * A word with at least 2 `\uXXXX` escapes is unescaped as a whole
//!   (surrogate pairs are joined, lone surrogates stay literal; `\\u0041`
//!   with several backslashes, from text escaped more than once, is one
//!   escape). A word where nothing decodes is not a segment.
//! * Otherwise each maximal run of base64 characters (`A-Z a-z 0-9 + / - _`,
//!   then `=` padding only if it completes a 4-character group) is a candidate:
//!   - all hex digits, even length, at least 32 characters (optionally after
//!     `0x`): hex;
//!   - all hex digits and `-` (UUIDs, hyphenated hashes), or all hex digits of
//!     another length: skipped;
//!   - otherwise base64 if at least [`Limits::min_base64_len`] characters, a
//!     valid length (not 1 mod 4), and shaped like base64: it holds a digit,
//!     one of `+/-_`, or both upper and lower case letters. Runs holding both
//!     `+/` and `-_` are split at `-` and `_`. `-`/`_` select the url-safe
//!     alphabet.
//!   - A run that fills its line (at least 60 characters, a multiple of 4) and
//!     continues on the next line (`\n` or `\r\n`) with lines of the same length
//!     is one MIME/PEM-style block; the span includes the line breaks.
//!
//! A decoding is kept only if it is *text-like* ([`is_text_like`]): at least
//! one letter or digit, and no control characters, invalid UTF-8 or U+FFFD at
//! all below 32 characters, at most 10% of them from 32 on. Ordinary words,
//! identifiers and paths that pass the shape test decode to a dozen or more
//! near-random bytes, which are printable with a probability around 10⁻⁵.
//! Long runs are first judged on the decoding of their first 1024 characters,
//! so an inline image is rejected without being decoded whole.
//!
//! Decodings that are not text are skipped and counted in
//! [`ScanStats::binary`] when they come from a data URL or decode to at least
//! 64 bytes (so that a git hash or a JWT signature is not counted).

use super::word_gate::{first_long_run, WordGate};
use std::ops::Range;

use base64::alphabet;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// How a segment was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Standard alphabet (`+/`), with or without padding, possibly line-wrapped.
    Base64,
    /// Url-safe alphabet (`-_`), with or without padding.
    Base64Url,
    /// `%XX` escapes (RFC 3986); `+` is left as is.
    Percent,
    /// `\uXXXX` escapes, as in JSON or JavaScript source.
    UnicodeEscape,
    /// Pairs of hex digits, optionally after `0x`.
    Hex,
}

/// One decoded run of the scanned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The encoded bytes in the scanned text (padding, `0x` and line breaks included).
    pub span: Range<usize>,
    pub encoding: Encoding,
    /// The decoding, text-like by construction.
    pub decoded: Vec<u8>,
}

/// Bounds on one [`find_segments`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Shortest base64 run considered, in base64 characters (padding and line breaks excluded).
    pub min_base64_len: usize,
    /// Total decoded bytes returned by one call; larger segments are skipped and counted.
    pub max_decoded_bytes: usize,
    /// Segments returned by one call; the scan stops at the next one.
    pub max_segments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            min_base64_len: 16,
            max_decoded_bytes: 1 << 20,
            max_segments: 64,
        }
    }
}

/// What one [`find_segments`] call decoded but did not return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanStats {
    /// Decodings that are not text: data URL payloads, and other runs decoding to at least 64 bytes.
    pub binary: usize,
    /// Text decodings skipped because they would exceed [`Limits::max_decoded_bytes`].
    pub over_budget: usize,
    /// The scan stopped at [`Limits::max_segments`] with more text segments to return.
    pub truncated: bool,
}

/// Shortest hex run decoded.
const MIN_HEX_LEN: usize = 32;
/// Shortest line a MIME/PEM-style base64 block may be wrapped at (PEM: 64, MIME: 76).
const MIN_WRAP_WIDTH: usize = 60;
/// Base64 characters decoded to judge a long run before decoding it whole.
const PREFIX_CHARS: usize = 1024;
/// Smallest non-text decoding counted in [`ScanStats::binary`] (data URLs always are).
const MIN_REPORTED_BINARY: usize = 64;
/// Longest `data:` header (media type and parameters) accepted.
const MAX_DATA_URL_HEADER: usize = 256;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Finds encoded runs in `text` whose decoding is text, and appends them to `out` in text order.
///
/// Segments do not overlap. Binary decodings, segments over the decoded-bytes
/// budget and a stop at the segment limit are reported in the returned stats.
/// See the module documentation for the heuristics.
pub fn find_segments(text: &[u8], limits: &Limits, out: &mut Vec<Segment>) -> ScanStats {
    let mut finder = Finder {
        text,
        limits,
        out,
        pushed: 0,
        used: 0,
        stats: ScanStats::default(),
        buf: Vec::new(),
        input: Vec::new(),
        stop: false,
    };
    finder.scan();
    finder.stats
}

/// Decodes a whole field value known to be base64 (Gemini `inlineData.data`,
/// Anthropic `source.data`, OpenAI `file_data`, a data URL payload).
///
/// Accepts the standard and url-safe alphabets (even mixed), optional or
/// partial padding, and ASCII whitespace anywhere. `None` if the value is not
/// base64 or would decode to more than `max_decoded` bytes.
pub fn decode_base64_field(value: &[u8], max_decoded: usize) -> Option<Vec<u8>> {
    let mut chars = 0usize;
    let mut pad = 0usize;
    let (mut std_sym, mut url_sym, mut space) = (false, false, false);
    for &b in value {
        match b {
            b'=' => pad += 1,
            b if b.is_ascii_whitespace() => space = true,
            b if pad > 0 && is_b64_char(b) => return None,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => chars += 1,
            b'+' | b'/' => {
                std_sym = true;
                chars += 1;
            }
            b'-' | b'_' => {
                url_sym = true;
                chars += 1;
            }
            _ => return None,
        }
    }
    if chars % 4 == 1 || pad > 2 || (pad > 0 && !(chars + pad).is_multiple_of(4)) {
        return None;
    }
    let len = decoded_len(chars);
    if len > max_decoded {
        return None;
    }
    let mut out = Vec::with_capacity(len);
    let decoded = if space || (std_sym && url_sym) {
        let normalized: Vec<u8> = value
            .iter()
            .filter_map(|&b| match b {
                b'-' => Some(b'+'),
                b'_' => Some(b'/'),
                b'=' => None,
                b if b.is_ascii_whitespace() => None,
                b => Some(b),
            })
            .collect();
        STD_LENIENT.decode_vec(&normalized, &mut out)
    } else if url_sym {
        URL_LENIENT.decode_vec(value, &mut out)
    } else {
        STD_LENIENT.decode_vec(value, &mut out)
    };
    decoded.is_ok().then_some(out)
}

/// Re-encodes `bytes` (a decoded segment, possibly masked) in the style of `like`, its original encoding.
///
/// * Base64: the alphabet of `encoding`; padding if `like` was padded (or, when
///   `like` needed none, padding for [`Encoding::Base64`] and none for
///   [`Encoding::Base64Url`]); the line width and line break of `like`; its
///   leading and trailing whitespace.
/// * Percent: escapes every byte if `like` escaped every byte; otherwise
///   escapes the bytes `like` escaped and the bytes that are neither
///   unreserved nor literal in `like` (and a `%` that would read as an escape).
///   Hex digits in the case of `like`.
/// * Unicode escapes: escapes every character if `like` had no literal letter
///   or digit; otherwise the characters `like` escaped, control characters, a
///   `\` that would read as an escape, and non-ASCII characters unless `like`
///   had them literal. Hex digits in the case of `like`.
/// * Hex: the case and `0x` prefix of `like`.
///
/// With the unchanged decoding of a segment found by [`find_segments`], this
/// gives back the original span (for canonical encodings).
pub fn encode(encoding: Encoding, bytes: &[u8], like: &[u8]) -> Vec<u8> {
    match encoding {
        Encoding::Base64 => encode_base64(false, bytes, like),
        Encoding::Base64Url => encode_base64(true, bytes, like),
        Encoding::Percent => encode_percent(bytes, like),
        Encoding::UnicodeEscape => encode_unicode(bytes, like),
        Encoding::Hex => encode_hex(bytes, like),
    }
}

/// Parses a data URL at the start of `text`: `data:[<media type>][;param=value]*[;base64],<payload>`.
///
/// Returns the media type as written (possibly empty, without parameters),
/// the payload's span within `text`, and whether the payload is base64. The
/// payload ends at the first byte that cannot belong to it: for base64, any
/// byte that is not a base64 character or `=`; otherwise whitespace, a quote,
/// a bracket or a control byte.
pub fn parse_data_url(text: &[u8]) -> Option<(&str, Range<usize>, bool)> {
    const PREFIX: &[u8] = b"data:";
    if !text.get(..PREFIX.len())?.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let rest = text.get(PREFIX.len()..)?;
    let comma = rest
        .iter()
        .take(MAX_DATA_URL_HEADER)
        .position(|&b| b == b',')?;
    let header = rest.get(..comma)?;
    if header.iter().any(|&b| is_delim(b) || !b.is_ascii()) {
        return None;
    }
    let mut params = header.split(|&b| b == b';');
    let mime = params.next().unwrap_or_default();
    if !mime.is_empty() && !is_media_type(mime) {
        return None;
    }
    let is_base64 = header.contains(&b';')
        && header
            .rsplit(|&b| b == b';')
            .next()
            .is_some_and(|p| p.eq_ignore_ascii_case(b"base64"));
    let start = PREFIX.len() + comma + 1;
    let payload = text.get(start..).unwrap_or_default();
    let len = payload
        .iter()
        .position(|&b| {
            if is_base64 {
                !(is_b64_char(b) || b == b'=')
            } else {
                is_delim(b)
            }
        })
        .unwrap_or(payload.len());
    let mime = std::str::from_utf8(mime).ok()?;
    Some((mime, start..start + len, is_base64))
}

/// Whether decoded bytes read as text (see the module documentation).
pub fn is_text_like(bytes: &[u8]) -> bool {
    let (mut total, mut bad, mut alnum) = (0usize, 0usize, false);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            total += 1;
            if (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                || c == char::REPLACEMENT_CHARACTER
            {
                bad += 1;
            } else if c.is_alphanumeric() {
                alnum = true;
            }
        }
        let invalid = chunk.invalid().len();
        total += invalid;
        bad += invalid;
    }
    alnum
        && if total < 32 {
            bad == 0
        } else {
            bad * 10 <= total
        }
}

/// Bytes between words.
pub(super) const fn is_delim(b: u8) -> bool {
    b <= b' '
        || matches!(
            b,
            0x7f | b'"'
                | b'\''
                | b'`'
                | b'<'
                | b'>'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'|'
        )
}

/// A character of either base64 alphabet (padding excluded).
pub(super) const fn is_b64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b)
}

/// `type/subtype`, RFC 6838 tokens.
fn is_media_type(mime: &[u8]) -> bool {
    let mut halves = mime.splitn(2, |&b| b == b'/');
    let (Some(ty), Some(sub)) = (halves.next(), halves.next()) else {
        return false;
    };
    !ty.is_empty() && !sub.is_empty() && ty.iter().chain(sub).all(|&b| is_token_char(b))
}

fn word_end(text: &[u8], from: usize) -> usize {
    text.get(from..)
        .and_then(|rest| rest.iter().position(|&b| is_delim(b)))
        .map_or(text.len(), |p| from + p)
}

/// Length of the line break at `at`: 1 for `\n`, 2 for `\r\n`, else 0.
fn line_break_len(text: &[u8], at: usize) -> usize {
    match (text.get(at), text.get(at + 1)) {
        (Some(b'\n'), _) => 1,
        (Some(b'\r'), Some(b'\n')) => 2,
        _ => 0,
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decoded length of `chars` base64 characters (padding excluded).
fn decoded_len(chars: usize) -> usize {
    chars / 4 * 3
        + match chars % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
}

/// The byte `%XX` at `at` encodes.
fn percent_escape(text: &[u8], at: usize) -> Option<u8> {
    match (text.get(at), text.get(at + 1), text.get(at + 2)) {
        (Some(b'%'), Some(&hi), Some(&lo)) => Some(hex_val(hi)? << 4 | hex_val(lo)?),
        _ => None,
    }
}

/// The code unit the escape at `at` encodes, and the escape's length: `\uXXXX`,
/// or `\\uXXXX` with any number of backslashes (text escaped more than once).
fn unicode_escape(text: &[u8], at: usize) -> Option<(u32, usize)> {
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

/// Number of `%XX` escapes in `text`, and the longest chain of consecutive ones.
fn count_percent_escapes(text: &[u8]) -> (usize, usize) {
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

/// True if a `%XX` escape of a separator (`%3D` `=`, `%3A` `:`, `%2F` `/`, `%26` `&`, `%22` `"`,
/// ...; not `%20`, common between words) is glued to a letter or digit that follows it:
/// `k%3DAKIA...` hides a key
/// behind a word byte, where a detector's `\b` cannot see its start until the escape is decoded.
fn glued_escape(text: &[u8]) -> bool {
    (0..text.len()).any(|i| {
        percent_escape(text, i)
            .is_some_and(|b| b.is_ascii_punctuation() && !matches!(b, b'%' | b'-' | b'_' | b'.'))
            && text.get(i + 3).is_some_and(u8::is_ascii_alphanumeric)
    })
}

fn count_unicode_escapes(text: &[u8]) -> usize {
    let mut count = 0;
    let mut i = 0;
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

/// Decodes the unit of `%`-encoded text at `at` into `out`; returns its length (0 at the end).
fn percent_step(text: &[u8], at: usize, out: &mut Vec<u8>) -> usize {
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
fn unicode_step(text: &[u8], at: usize, out: &mut Vec<u8>) -> usize {
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

fn decode_steps(step: Step, text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        match step(text, i, out) {
            0 => break,
            n => i += n,
        }
    }
}

fn hex_decode_into(digits: &[u8], out: &mut Vec<u8>) -> Option<()> {
    for pair in digits.chunks(2) {
        match pair {
            [hi, lo] => out.push(hex_val(*hi)? << 4 | hex_val(*lo)?),
            _ => return None,
        }
    }
    Some(())
}

/// Which characters a base64 run may hold.
#[derive(Debug, Clone, Copy)]
enum Alphabet {
    /// Both alphabets, to find the run and learn which one it uses.
    Either,
    /// Standard only: splits a run that mixes both at `-` and `_`.
    Standard,
}

impl Alphabet {
    fn accepts(self, b: u8) -> bool {
        byte_kind(b) & self.kind() != 0
    }

    /// The [`byte_kind`] bit of the bytes it accepts.
    fn kind(self) -> u16 {
        match self {
            Alphabet::Either => kind::BASE64,
            Alphabet::Standard => kind::STANDARD,
        }
    }
}

/// What a byte is, one bit per property a run is judged on: a run's summary is the OR and
/// the AND of its bytes' kinds, two operations per byte.
mod kind {
    pub const DIGIT: u16 = 1 << 0;
    pub const UPPER: u16 = 1 << 1;
    pub const LOWER: u16 = 1 << 2;
    /// `+` or `/`.
    pub const STD_SYM: u16 = 1 << 3;
    /// `-` or `_`.
    pub const URL_SYM: u16 = 1 << 4;
    pub const HEX: u16 = 1 << 5;
    /// A hex digit or `-`.
    pub const HEXISH: u16 = 1 << 6;
    /// In either base64 alphabet.
    pub const BASE64: u16 = 1 << 7;
    /// In the standard base64 alphabet.
    pub const STANDARD: u16 = 1 << 8;
}

const fn kind_of(b: u8) -> u16 {
    let mut k = 0;
    if b.is_ascii_digit() {
        k |= kind::DIGIT;
    }
    if b.is_ascii_uppercase() {
        k |= kind::UPPER;
    }
    if b.is_ascii_lowercase() {
        k |= kind::LOWER;
    }
    if b == b'+' || b == b'/' {
        k |= kind::STD_SYM | kind::STANDARD;
    }
    if b == b'-' || b == b'_' {
        k |= kind::URL_SYM;
    }
    if b.is_ascii_hexdigit() {
        k |= kind::HEX | kind::HEXISH;
    }
    if b == b'-' {
        k |= kind::HEXISH;
    }
    if b.is_ascii_alphanumeric() {
        k |= kind::STANDARD;
    }
    if is_b64_char(b) {
        k |= kind::BASE64;
    }
    k
}

static BYTE_KINDS: [u16; 256] = {
    let mut table = [0; 256];
    let mut b = 0u8;
    loop {
        // `b` is a u8, so the index is in bounds.
        #[allow(clippy::indexing_slicing)]
        {
            table[b as usize] = kind_of(b);
        }
        if b == u8::MAX {
            break table;
        }
        b += 1;
    }
};

fn byte_kind(b: u8) -> u16 {
    BYTE_KINDS.get(usize::from(b)).copied().unwrap_or(0)
}

/// A maximal run of base64 characters and what it is made of.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    /// End of the run's first line (its end, unless wrapped).
    first_line_end: usize,
    /// Base64 characters, padding and line breaks excluded.
    chars: usize,
    pad: usize,
    wrapped: bool,
    digit: bool,
    upper: bool,
    lower: bool,
    std_sym: bool,
    url_sym: bool,
    /// Only hex digits.
    hex: bool,
    /// Only hex digits and `-`.
    hexish: bool,
}

impl Run {
    fn new(start: usize) -> Run {
        Run {
            start,
            end: start,
            first_line_end: start,
            chars: 0,
            pad: 0,
            wrapped: false,
            digit: false,
            upper: false,
            lower: false,
            std_sym: false,
            url_sym: false,
            hex: true,
            hexish: true,
        }
    }

    /// Records what the run's bytes were: `any` and `all` are the OR and the AND of their
    /// [`byte_kind`]s.
    fn summarize(&mut self, any: u16, all: u16) {
        self.digit = any & kind::DIGIT != 0;
        self.upper = any & kind::UPPER != 0;
        self.lower = any & kind::LOWER != 0;
        self.std_sym = any & kind::STD_SYM != 0;
        self.url_sym = any & kind::URL_SYM != 0;
        self.hex = all & kind::HEX != 0;
        self.hexish = all & kind::HEXISH != 0;
    }

    fn looks_like_base64(&self) -> bool {
        self.digit || self.std_sym || self.url_sym || (self.upper && self.lower)
    }
}

/// The verdict on one decoding.
enum Outcome {
    Text,
    Binary,
    OverBudget,
    Invalid,
}

struct Finder<'t, 'o> {
    text: &'t [u8],
    limits: &'t Limits,
    out: &'o mut Vec<Segment>,
    pushed: usize,
    used: usize,
    stats: ScanStats,
    /// Decoded bytes of the current candidate.
    buf: Vec<u8>,
    /// A wrapped base64 run without its line breaks.
    input: Vec<u8>,
    stop: bool,
}

impl<'t> Finder<'t, '_> {
    fn at(&self, i: usize) -> u8 {
        self.text.get(i).copied().unwrap_or(0)
    }

    fn slice(&self, range: Range<usize>) -> &'t [u8] {
        self.text.get(range).unwrap_or_default()
    }

    /// The fewest base64 characters in a row that can decode to anything here: fewer make
    /// neither a base64 nor a hex candidate.
    fn shortest_run(&self) -> usize {
        self.limits.min_base64_len.clamp(1, MIN_HEX_LEN)
    }

    /// Looks closer only at the words that could hold an encoding: a base64 or hex run long
    /// enough to decode, or a `%`, `\` or `:` (percent-encoding, `\u` escapes, `data:` URLs).
    /// Most words of prose and code are neither, and [`WordGate`] skips them without reading
    /// every byte.
    fn scan(&mut self) {
        let mut gate = WordGate::new(self.text, self.shortest_run());
        let mut from = 0;
        while !self.stop {
            let Some(word) = gate.next_word(from) else {
                break;
            };
            from = self.word(word.start, word.end).max(word.start + 1);
        }
    }

    /// Scans the word `start..end`; returns where scanning resumes.
    fn word(&mut self, start: usize, end: usize) -> usize {
        let mut from = start;
        let mut search = start;
        while let Some(at) = self.find_data_prefix(search, end) {
            let Some((_, payload, is_base64)) = parse_data_url(self.slice(at..end)) else {
                search = at + 1;
                continue;
            };
            self.plain(from, at, false);
            if self.stop {
                return end;
            }
            let payload = at + payload.start..at + payload.end;
            self.data_payload(payload.clone(), is_base64);
            from = payload.end;
            search = payload.end;
        }
        self.plain(from, end, true)
    }

    /// The next `data:` in `from..to` not preceded by a letter or digit.
    fn find_data_prefix(&self, from: usize, to: usize) -> Option<usize> {
        (from..to.saturating_sub(4)).find(|&p| {
            matches!(self.at(p), b'd' | b'D')
                && self.slice(p..p + 5).eq_ignore_ascii_case(b"data:")
                && (p == 0 || !self.at(p - 1).is_ascii_alphanumeric())
        })
    }

    fn data_payload(&mut self, payload: Range<usize>, is_base64: bool) {
        if is_base64 {
            let run = self.extend_run(payload.start, payload.end, false, Alphabet::Either);
            if run.chars > 0 && run.chars % 4 != 1 {
                self.base64(&run, true);
            }
        } else if count_percent_escapes(self.slice(payload.clone())).0 > 0 {
            self.percent(payload, true);
        }
    }

    /// Scans `start..end`, a word or the part of one outside data URLs; returns where scanning resumes.
    ///
    /// `at_word_end`: `end` is the end of the word, so a base64 run may continue on the next line.
    fn plain(&mut self, start: usize, end: usize, at_word_end: bool) -> usize {
        if start >= end || self.stop {
            return end;
        }
        let text = self.slice(start..end);
        let (escapes, chain) = count_percent_escapes(text);
        if (escapes >= 3 || chain >= 2 || (escapes >= 1 && glued_escape(text)))
            && self.percent(start..end, false)
        {
            return end;
        }
        if count_unicode_escapes(text) >= 2 && self.unicode(start..end) {
            return end;
        }
        // A run shorter than both the shortest base64 and the shortest hex candidate decodes to
        // nothing (and only a 60-character line wraps), so a word without a longer one is done:
        // most words that reach here hold a `:` (times, URLs), not an encoding.
        if first_long_run(self.text, start, end, self.shortest_run()).is_none() {
            return end;
        }
        let mut j = start;
        while j < end && !self.stop {
            if !is_b64_char(self.at(j)) {
                j += 1;
                continue;
            }
            let run = self.extend_run(j, end, at_word_end, Alphabet::Either);
            let resume = self.candidate(&run);
            if resume > end {
                return resume;
            }
            j = resume.max(j + 1);
        }
        end
    }

    /// The maximal run of base64 characters from `start`, within `limit` or, if
    /// `wrap`, continued on following lines of the same width.
    fn extend_run(&self, start: usize, limit: usize, wrap: bool, alphabet: Alphabet) -> Run {
        let mut run = Run::new(start);
        let (mut k, mut limit, mut line_start) = (start, limit, start);
        let mut width: Option<usize> = None;
        let (mut any, mut all) = (0, u16::MAX);
        loop {
            for &b in self.slice(k..limit) {
                let kind = byte_kind(b);
                if kind & alphabet.kind() == 0 {
                    break;
                }
                any |= kind;
                all &= kind;
                k += 1;
                run.chars += 1;
            }
            if width.is_none() {
                run.first_line_end = k;
            }
            let line = k - line_start;
            let brk = line_break_len(self.text, k);
            let continues = wrap
                && k == limit
                && brk > 0
                && line >= MIN_WRAP_WIDTH
                && line % 4 == 0
                && width.is_none_or(|w| w == line)
                && alphabet.accepts(self.at(k + brk));
            if !continues {
                break;
            }
            width = Some(line);
            run.wrapped = true;
            k += brk;
            line_start = k;
            limit = word_end(self.text, k);
        }
        run.summarize(any, all);
        let need = (4 - run.chars % 4) % 4;
        if (1..=2).contains(&need)
            && self
                .slice(k..k + need)
                .iter()
                .filter(|&&b| b == b'=')
                .count()
                == need
        {
            run.pad = need;
            k += need;
        }
        run.end = k;
        run
    }

    /// Decodes a run if it is a candidate; returns where scanning resumes.
    fn candidate(&mut self, run: &Run) -> usize {
        if !(run.std_sym && run.url_sym) {
            self.decode_run(run);
            return run.end;
        }
        let end = run.first_line_end;
        let mut j = run.start;
        while j < end && !self.stop {
            if !Alphabet::Standard.accepts(self.at(j)) {
                j += 1;
                continue;
            }
            let sub = self.extend_run(j, end, false, Alphabet::Standard);
            self.decode_run(&sub);
            j = sub.end.max(j + 1);
        }
        end
    }

    fn decode_run(&mut self, run: &Run) {
        if run.chars == 0 {
            return;
        }
        if !run.wrapped && run.pad == 0 {
            if run.hex {
                if run.chars >= MIN_HEX_LEN && run.chars.is_multiple_of(2) {
                    self.hex(run.start..run.end, 0);
                }
                return;
            }
            let (prefix, digits) = (
                self.slice(run.start..run.start + 2),
                self.slice(run.start + 2..run.end),
            );
            if matches!(prefix, b"0x" | b"0X")
                && digits.len() >= MIN_HEX_LEN
                && digits.len() % 2 == 0
                && digits.iter().all(u8::is_ascii_hexdigit)
            {
                self.hex(run.start..run.end, 2);
                return;
            }
        }
        if run.hexish
            || run.chars < self.limits.min_base64_len
            || run.chars % 4 == 1
            || !run.looks_like_base64()
        {
            return;
        }
        self.base64(run, false);
    }

    fn base64(&mut self, run: &Run, forced: bool) {
        let (engine, encoding) = if run.url_sym {
            (&URL_LENIENT, Encoding::Base64Url)
        } else {
            (&STD_LENIENT, Encoding::Base64)
        };
        let raw = self.slice(run.start..run.end);
        let mut input = std::mem::take(&mut self.input);
        input.clear();
        let src: &[u8] = if run.wrapped {
            input.extend(raw.iter().copied().filter(|&b| b != b'\r' && b != b'\n'));
            &input
        } else {
            raw
        };
        let expected = decoded_len(run.chars);
        let mut buf = std::mem::take(&mut self.buf);
        let outcome = self.decode_base64_checked(engine, src, expected, &mut buf);
        self.settle(
            outcome,
            run.start..run.end,
            encoding,
            &mut buf,
            expected,
            forced,
        );
        self.input = input;
        self.buf = buf;
    }

    fn decode_base64_checked(
        &self,
        engine: &GeneralPurpose,
        src: &[u8],
        expected: usize,
        buf: &mut Vec<u8>,
    ) -> Outcome {
        if src.len() > PREFIX_CHARS + 4 {
            buf.clear();
            let prefix = src.get(..PREFIX_CHARS).unwrap_or(src);
            if engine.decode_vec(prefix, buf).is_err() {
                return Outcome::Invalid;
            }
            if !is_text_like(buf) {
                return Outcome::Binary;
            }
        }
        if self.used.saturating_add(expected) > self.limits.max_decoded_bytes {
            return Outcome::OverBudget;
        }
        buf.clear();
        if engine.decode_vec(src, buf).is_err() {
            return Outcome::Invalid;
        }
        self.judge(buf)
    }

    /// Percent-decodes `span`; true if it became a segment.
    fn percent(&mut self, span: Range<usize>, forced: bool) -> bool {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        decode_steps(percent_step, self.slice(span.clone()), &mut buf);
        let outcome = self.judge(&buf);
        let size = buf.len();
        let pushed = self.settle(outcome, span, Encoding::Percent, &mut buf, size, forced);
        self.buf = buf;
        pushed
    }

    /// Unescapes `\uXXXX` in `span`; true if it became a segment.
    fn unicode(&mut self, span: Range<usize>) -> bool {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let raw = self.slice(span.clone());
        decode_steps(unicode_step, raw, &mut buf);
        let outcome = if buf == raw {
            Outcome::Invalid
        } else {
            self.judge(&buf)
        };
        let size = buf.len();
        let pushed = self.settle(
            outcome,
            span,
            Encoding::UnicodeEscape,
            &mut buf,
            size,
            false,
        );
        self.buf = buf;
        pushed
    }

    /// Decodes the hex digits of `span` after a `prefix`-byte `0x`.
    fn hex(&mut self, span: Range<usize>, prefix: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let outcome = match hex_decode_into(self.slice(span.start + prefix..span.end), &mut buf) {
            Some(()) => self.judge(&buf),
            None => Outcome::Invalid,
        };
        let size = buf.len();
        self.settle(outcome, span, Encoding::Hex, &mut buf, size, false);
        self.buf = buf;
    }

    fn judge(&self, decoded: &[u8]) -> Outcome {
        if !is_text_like(decoded) {
            Outcome::Binary
        } else if self.used.saturating_add(decoded.len()) > self.limits.max_decoded_bytes {
            Outcome::OverBudget
        } else {
            Outcome::Text
        }
    }

    /// Acts on a decoding's outcome; true if `buf` became a segment (and was taken).
    fn settle(
        &mut self,
        outcome: Outcome,
        span: Range<usize>,
        encoding: Encoding,
        buf: &mut Vec<u8>,
        size: usize,
        forced: bool,
    ) -> bool {
        match outcome {
            Outcome::Text => {
                if self.pushed >= self.limits.max_segments {
                    self.stats.truncated = true;
                    self.stop = true;
                    return false;
                }
                self.pushed += 1;
                self.used += buf.len();
                let decoded = std::mem::take(buf);
                self.out.push(Segment {
                    span,
                    encoding,
                    decoded,
                });
                true
            }
            Outcome::Binary => {
                if forced || size >= MIN_REPORTED_BINARY {
                    self.stats.binary += 1;
                }
                false
            }
            Outcome::OverBudget => {
                self.stats.over_budget += 1;
                false
            }
            Outcome::Invalid => false,
        }
    }
}

/// Splits `like` into leading whitespace, body and trailing whitespace.
fn trim_whitespace(like: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let start = like
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(like.len());
    let end = like
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    (
        like.get(..start).unwrap_or_default(),
        like.get(start..end).unwrap_or_default(),
        like.get(end..).unwrap_or_default(),
    )
}

fn encode_base64(url: bool, bytes: &[u8], like: &[u8]) -> Vec<u8> {
    let (lead, core, trail) = trim_whitespace(like);
    let chars = core.iter().filter(|&&b| is_b64_char(b)).count();
    let pad = if core.last() == Some(&b'=') {
        true
    } else if chars % 4 != 0 {
        false
    } else {
        !url
    };
    let engine: &GeneralPurpose = match (url, pad) {
        (false, true) => &STANDARD,
        (false, false) => &STANDARD_NO_PAD,
        (true, true) => &URL_SAFE,
        (true, false) => &URL_SAFE_NO_PAD,
    };
    let encoded = engine.encode(bytes).into_bytes();
    let wrap = core.iter().position(|&b| b == b'\n').map(|nl| {
        if nl > 0 && core.get(nl - 1) == Some(&b'\r') {
            (nl - 1, &b"\r\n"[..])
        } else {
            (nl, &b"\n"[..])
        }
    });
    let mut out = Vec::with_capacity(lead.len() + encoded.len() + trail.len() + encoded.len() / 32);
    out.extend_from_slice(lead);
    match wrap {
        Some((width, brk)) if width > 0 => {
            for (i, line) in encoded.chunks(width).enumerate() {
                if i > 0 {
                    out.extend_from_slice(brk);
                }
                out.extend_from_slice(line);
            }
        }
        _ => out.extend_from_slice(&encoded),
    }
    out.extend_from_slice(trail);
    out
}

/// A set of bytes.
#[derive(Default)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn insert(&mut self, b: u8) {
        if let Some(word) = self.0.get_mut(usize::from(b >> 6)) {
            *word |= 1 << (b & 63);
        }
    }

    fn contains(&self, b: u8) -> bool {
        self.0
            .get(usize::from(b >> 6))
            .is_some_and(|word| word >> (b & 63) & 1 == 1)
    }
}

/// Whether `like` writes hex letters in lower case (upper case if it has none).
fn lower_hex(digits: impl Iterator<Item = u8>) -> bool {
    let (mut lower, mut upper) = (false, false);
    for b in digits {
        lower |= matches!(b, b'a'..=b'f');
        upper |= matches!(b, b'A'..=b'F');
    }
    lower && !upper
}

fn push_hex(out: &mut Vec<u8>, b: u8, lower: bool) {
    let digits: &[u8; 16] = if lower {
        b"0123456789abcdef"
    } else {
        b"0123456789ABCDEF"
    };
    for nibble in [b >> 4, b & 15] {
        if let Some(&d) = digits.get(usize::from(nibble)) {
            out.push(d);
        }
    }
}

/// Splits the re-encoding of `bytes` in the style of `like` into the encoded
/// prefix of `like` that decodes to an unchanged prefix of `bytes` (its end),
/// the bytes between to encode anew, and the encoded suffix of `like` that
/// decodes to an unchanged suffix (its start). An unmodified decoding keeps
/// all of `like`; a masked one keeps the context around the mask verbatim.
fn unchanged_context(bytes: &[u8], like: &[u8], step: Step) -> (usize, Range<usize>, usize) {
    let mut decoded = Vec::with_capacity(like.len());
    let mut units: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    let mut i = 0;
    while i < like.len() {
        let start = decoded.len();
        match step(like, i, &mut decoded) {
            0 => break,
            n => {
                units.push((i..i + n, start..decoded.len()));
                i += n;
            }
        }
    }
    let unit_bytes =
        |unit: &(Range<usize>, Range<usize>)| decoded.get(unit.1.clone()).unwrap_or_default();
    let (mut p, mut head) = (0, 0);
    for unit in &units {
        let d = unit_bytes(unit);
        if !bytes.get(p..).is_some_and(|rest| rest.starts_with(d)) {
            break;
        }
        p += d.len();
        head += 1;
    }
    let (mut q, mut tail) = (bytes.len(), units.len());
    while tail > head {
        let Some(unit) = units.get(tail - 1) else {
            break;
        };
        let d = unit_bytes(unit);
        if q - p < d.len() || !bytes.get(..q).is_some_and(|rest| rest.ends_with(d)) {
            break;
        }
        q -= d.len();
        tail -= 1;
    }
    let enc_start = |index: usize| units.get(index).map_or(like.len(), |unit| unit.0.start);
    (enc_start(head), p..q, enc_start(tail))
}

fn encode_percent(bytes: &[u8], like: &[u8]) -> Vec<u8> {
    let (mut escaped, mut literal) = (ByteSet::default(), ByteSet::default());
    let (mut any_escaped, mut any_literal) = (false, false);
    let mut hex_digits = Vec::new();
    let mut i = 0;
    while let Some(&b) = like.get(i) {
        if let Some(v) = percent_escape(like, i) {
            escaped.insert(v);
            any_escaped = true;
            hex_digits.extend_from_slice(like.get(i + 1..i + 3).unwrap_or_default());
            i += 3;
        } else {
            literal.insert(b);
            any_literal = true;
            i += 1;
        }
    }
    let all = any_escaped && !any_literal;
    let lower = lower_hex(hex_digits.into_iter());
    let (before, middle, after) = unchanged_context(bytes, like, percent_step);
    let mut out = Vec::with_capacity(like.len() + middle.len() * 3);
    out.extend_from_slice(like.get(..before).unwrap_or_default());
    for i in middle {
        let Some(&b) = bytes.get(i) else { break };
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        let keep = !all
            && (literal.contains(b) || (unreserved && !escaped.contains(b)))
            && !(b == b'%' && percent_escape(bytes, i).is_some());
        if keep {
            out.push(b);
        } else {
            out.push(b'%');
            push_hex(&mut out, b, lower);
        }
    }
    out.extend_from_slice(like.get(after..).unwrap_or_default());
    out
}

fn push_unicode_escape(out: &mut Vec<u8>, c: char, slashes: usize, lower: bool) {
    let mut units = [0u16; 2];
    for &unit in c.encode_utf16(&mut units).iter() {
        out.extend(std::iter::repeat_n(b'\\', slashes));
        out.push(b'u');
        let [hi, lo] = unit.to_be_bytes();
        push_hex(out, hi, lower);
        push_hex(out, lo, lower);
    }
}

fn encode_unicode(bytes: &[u8], like: &[u8]) -> Vec<u8> {
    let (mut escaped, mut literal) = (ByteSet::default(), ByteSet::default());
    let (mut escaped_non_ascii, mut literal_non_ascii, mut literal_alnum) = (false, false, false);
    let mut hex_digits = Vec::new();
    let mut slashes = None;
    let mut i = 0;
    while let Some(&b) = like.get(i) {
        if let Some((unit, len)) = unicode_escape(like, i) {
            match u8::try_from(unit) {
                Ok(ascii) if ascii.is_ascii() => escaped.insert(ascii),
                _ => escaped_non_ascii = true,
            }
            hex_digits.extend_from_slice(like.get(i + len - 4..i + len).unwrap_or_default());
            slashes.get_or_insert(len - 5);
            i += len;
        } else {
            if b.is_ascii() {
                literal.insert(b);
                literal_alnum |= b.is_ascii_alphanumeric();
            } else {
                literal_non_ascii = true;
            }
            i += 1;
        }
    }
    let all = !literal_alnum;
    let lower = lower_hex(hex_digits.into_iter());
    let slashes = slashes.unwrap_or(1);
    let (before, middle, after) = unchanged_context(bytes, like, unicode_step);
    let mut out = Vec::with_capacity(like.len() + middle.len() * 6);
    out.extend_from_slice(like.get(..before).unwrap_or_default());
    let mut pos = middle.start;
    for chunk in bytes.get(middle).unwrap_or_default().utf8_chunks() {
        for c in chunk.valid().chars() {
            let escape = all
                || match u8::try_from(c) {
                    Ok(b) if b.is_ascii() => {
                        (escaped.contains(b) && !literal.contains(b))
                            || (!literal.contains(b) && b.is_ascii_control())
                            || (b == b'\\' && unicode_escape(bytes, pos).is_some())
                    }
                    _ => escaped_non_ascii || !literal_non_ascii,
                };
            if escape {
                push_unicode_escape(&mut out, c, slashes, lower);
            } else {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            pos += c.len_utf8();
        }
        out.extend_from_slice(chunk.invalid());
        pos += chunk.invalid().len();
    }
    out.extend_from_slice(like.get(after..).unwrap_or_default());
    out
}

fn encode_hex(bytes: &[u8], like: &[u8]) -> Vec<u8> {
    let prefix = like
        .get(..2)
        .filter(|p| matches!(*p, b"0x" | b"0X"))
        .unwrap_or_default();
    let lower = !like.iter().skip(prefix.len()).any(u8::is_ascii_uppercase)
        || lower_hex(like.iter().skip(prefix.len()).copied());
    let mut out = Vec::with_capacity(prefix.len() + bytes.len() * 2);
    out.extend_from_slice(prefix);
    for &b in bytes {
        push_hex(&mut out, b, lower);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    fn find(text: &[u8]) -> (Vec<Segment>, ScanStats) {
        let mut out = Vec::new();
        let stats = find_segments(text, &Limits::default(), &mut out);
        (out, stats)
    }

    fn decoded(segments: &[Segment]) -> Vec<String> {
        segments
            .iter()
            .map(|s| String::from_utf8_lossy(&s.decoded).into_owned())
            .collect()
    }

    /// Every segment re-encodes to its own span.
    fn assert_round_trips(text: &[u8], segments: &[Segment]) {
        for s in segments {
            let like = &text[s.span.clone()];
            assert_eq!(
                String::from_utf8_lossy(&encode(s.encoding, &s.decoded, like)),
                String::from_utf8_lossy(like),
                "{:?}",
                s.encoding
            );
        }
    }

    const SECRET: &str =
        "aws_access_key_id=AKIAIOSFODNN7EXAMPLE secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn base64_inside_prose() {
        let blob = b64(SECRET.as_bytes());
        let text =
            format!("Hi! Please decode this config for me: {blob}. Thanks a lot, it's urgent.");
        let (segments, stats) = find(text.as_bytes());
        assert_eq!(decoded(&segments), [SECRET]);
        let s = &segments[0];
        assert_eq!(s.encoding, Encoding::Base64);
        assert_eq!(&text.as_bytes()[s.span.clone()], blob.as_bytes());
        assert_eq!(stats, ScanStats::default());
        assert_round_trips(text.as_bytes(), &segments);
    }

    #[test]
    fn base64_without_padding_and_short_runs() {
        let blob = STANDARD_NO_PAD.encode("AKIAIOSFODNN7EXAMPLE!");
        assert!(!blob.ends_with('='));
        let text = format!("key:{blob};");
        let (segments, _) = find(text.as_bytes());
        assert_eq!(decoded(&segments), ["AKIAIOSFODNN7EXAMPLE!"]);
        assert_round_trips(text.as_bytes(), &segments);
        // Shorter than min_base64_len.
        assert!(find(b"x QUtJQQ== y").0.is_empty());
        // Padding that does not complete a group is not padding.
        let text = format!("{}=value", STANDARD_NO_PAD.encode("AKIAIOSFODNN7EXAMPLE"));
        let (segments, _) = find(text.as_bytes());
        assert_eq!(decoded(&segments), ["AKIAIOSFODNN7EXAMPLE"]);
    }

    #[test]
    fn base64url() {
        let secret = "token ghp_16C7e42F292c6912E7710c838347Ae178B4a?? >>> end";
        let blob = URL_SAFE_NO_PAD.encode(secret);
        assert!(blob.contains('-') || blob.contains('_'), "{blob}");
        let text = format!("url: https://example.com/cb?state={blob}&x=1");
        let (segments, _) = find(text.as_bytes());
        assert_eq!(decoded(&segments), [secret]);
        assert_eq!(segments[0].encoding, Encoding::Base64Url);
        assert_round_trips(text.as_bytes(), &segments);
    }

    #[test]
    fn base64_of_base64() {
        let inner = b64(SECRET.as_bytes());
        let outer = b64(inner.as_bytes());
        let text = format!("blob=\"{outer}\"");
        let (segments, _) = find(text.as_bytes());
        assert_eq!(decoded(&segments), [inner.as_str()]);
        let (nested, _) = find(&segments[0].decoded);
        assert_eq!(decoded(&nested), [SECRET]);
    }

    #[test]
    fn mixed_alphabets_split_at_url_symbols() {
        let secret = format!("{SECRET} ??>>");
        let blob = b64(secret.as_bytes());
        assert!(blob.contains('/') || blob.contains('+'), "{blob}");
        let text = format!("my-file_name-{blob}");
        let (segments, _) = find(text.as_bytes());
        assert_eq!(decoded(&segments), [secret]);
    }

    #[test]
    fn wrapped_base64_block() {
        let secret = SECRET.repeat(3);
        let blob = b64(secret.as_bytes());
        for brk in ["\n", "\r\n"] {
            let wrapped: Vec<&str> = blob
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let block = wrapped.join(brk);
            let text = format!("Attachment:{brk}{block}{brk}-- end");
            let (segments, _) = find(text.as_bytes());
            assert_eq!(decoded(&segments), [secret.as_str()]);
            assert_eq!(&text.as_bytes()[segments[0].span.clone()], block.as_bytes());
            assert_round_trips(text.as_bytes(), &segments);
        }
    }

    #[test]
    fn data_urls() {
        let text_url = format!("data:text/plain;base64,{}", b64(SECRET.as_bytes()));
        let (mime, span, is_base64) = parse_data_url(text_url.as_bytes()).unwrap();
        assert_eq!((mime, is_base64), ("text/plain", true));
        assert_eq!(&text_url[span], b64(SECRET.as_bytes()));

        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0".to_vec();
        png.extend((0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        let png_url = format!("data:image/png;base64,{}", b64(&png));
        let (mime, _, is_base64) = parse_data_url(png_url.as_bytes()).unwrap();
        assert_eq!((mime, is_base64), ("image/png", true));

        let body = format!("![chart]({png_url}) and the notes: <a href=\"{text_url}\">notes</a>");
        let (segments, stats) = find(body.as_bytes());
        assert_eq!(decoded(&segments), [SECRET]);
        assert_eq!(stats.binary, 1);
        assert_round_trips(body.as_bytes(), &segments);

        // A short payload is decoded too: the data URL says it is base64.
        let (segments, _) = find(b"data:;base64,QUtJQQ==");
        assert_eq!(decoded(&segments), ["AKIA"]);

        // Percent-encoded payloads.
        let url = b"data:text/plain;charset=utf-8,key%3DAKIAIOSFODNN7EXAMPLE";
        let (mime, span, is_base64) = parse_data_url(url).unwrap();
        assert_eq!(
            (mime, is_base64, span.end),
            ("text/plain", false, url.len())
        );
        let (segments, _) = find(url);
        assert_eq!(decoded(&segments), ["key=AKIAIOSFODNN7EXAMPLE"]);

        assert!(parse_data_url(b"data: not a url, really").is_none());
        assert!(parse_data_url(b"metadata:x,y").is_none());
        assert!(parse_data_url(b"data:text/plain").is_none());
        assert_eq!(
            parse_data_url(b"DATA:,hello world").map(|d| (d.0, d.1, d.2)),
            Some(("", 6..11, false))
        );
    }

    #[test]
    fn percent_encoding() {
        let text =
            b"open https://example.com/login?user=bob&key=%41%4B%49%41IOSFODNN7EXAMPLE&x=%2F now";
        let (segments, _) = find(text);
        assert_eq!(
            decoded(&segments),
            ["https://example.com/login?user=bob&key=AKIAIOSFODNN7EXAMPLE&x=/"]
        );
        assert_eq!(segments[0].encoding, Encoding::Percent);
        assert_round_trips(text, &segments);

        let text = b"p=%73%6B%2D%70%72%6F%6A";
        let (segments, _) = find(text);
        assert_eq!(decoded(&segments), ["p=sk-proj"]);
        assert_round_trips(text, &segments);
        // One escape, or percentages, are not encodings.
        assert!(find(b"a%20b and 100% sure, 50%-60% off").0.is_empty());
    }

    #[test]
    fn unicode_escapes() {
        let text = br"the key is \u0041\u004B\u0049\u0041IOSFODNN7EXAMPLE ok";
        let (segments, _) = find(text);
        assert_eq!(decoded(&segments), ["AKIAIOSFODNN7EXAMPLE"]);
        assert_eq!(segments[0].encoding, Encoding::UnicodeEscape);
        assert_round_trips(text, &segments);

        let text = br"\u0041\u004b\ud83d\ude00";
        let (segments, _) = find(text);
        assert_eq!(decoded(&segments), ["AK\u{1F600}"]);
        assert_round_trips(text, &segments);
        assert!(find(br"C:\users\u0041").0.is_empty());
        assert!(find(br"lone \uDC00\uDFFF\uD800 surrogates").0.is_empty());

        // Escaped twice.
        let text = br#"{\"k\": \"\\u0041\\u004B\\u0049\\u0041IOSFODNN7EXAMPLE\"}"#;
        let (segments, _) = find(text);
        assert_eq!(decoded(&segments), [r"AKIAIOSFODNN7EXAMPLE\"]);
        assert_round_trips(text, &segments);
        let like = &text[segments[0].span.clone()];
        assert_eq!(
            encode(
                Encoding::UnicodeEscape,
                "\u{e9}***IOSFODNN7EXAMPLE\\".as_bytes(),
                like
            ),
            br"\\u00E9***IOSFODNN7EXAMPLE\"
        );
    }

    #[test]
    fn hex() {
        let secret = "sk-proj-abcdefghijklmnopqrstuvwxyz012345";
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        let text = format!("payload {hex} and 0X{}", hex.to_uppercase());
        let (segments, _) = find(text.as_bytes());
        assert_eq!(decoded(&segments), [secret, secret]);
        assert!(segments.iter().all(|s| s.encoding == Encoding::Hex));
        assert_round_trips(text.as_bytes(), &segments);
        // Digests and hashes decode to binary; short ones are not counted.
        let text = b"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904";
        let (segments, stats) = find(text);
        assert!(segments.is_empty());
        assert_eq!(stats.binary, 0);
    }

    const PROSE: &str = "The history of cartography is, in many ways, the history of how people have \
        tried to make sense of the world around them. Early maps were drawn on clay tablets, animal \
        skins and papyrus; they showed rivers, mountains and the routes between settlements. By the \
        fifteenth century, navigators relied on portolan charts, whose characteristic rhumb lines \
        radiated from compass roses scattered across the Mediterranean. Mercator's projection of 1569 \
        preserved angles at the expense of area, which is why Greenland appears nearly as large as \
        Africa on many classroom walls. Today, satellite imagery and GPS receivers have transformed \
        mapmaking into a continuous, data-driven process: OpenStreetMap contributors edit roughly \
        4,000,000 objects per day, and services such as https://www.openstreetmap.org/about or \
        /usr/share/doc/osmium/README.md describe the tooling. Internationalization, interoperability \
        and accessibility remain challenges; counterrevolutionaries and antidisestablishmentarianism \
        aside, the NorthAmericanDatum1983 and WorldGeodeticSystem1984 reference frames differ by about \
        one to two metres. Surveyors still quote e.g. 12.5km, 3x3 grids, ISO-8601 dates like \
        2024-03-15T10:30:00Z and phone numbers such as +1-555-0100-2030. Nevertheless, the \
        fundamental question persists: what should a map leave out? Every cartographer must choose \
        which roads, rivers and boundaries deserve ink, and which details would only clutter the page. \
        Those choices, made thousands of times over, quietly shape how millions of readers understand \
        distance, territory and belonging. In the end, a good map is an argument, not a photograph; \
        it persuades as much as it informs, and the best cartographers know it. StackOverflow, \
        JavaScript, TypeScript, PostgreSQL and Kubernetes users will recognise the CamelCaseHabit \
        of naming things; ReallyLongIdentifiersLikeThis are common in enterprise codebases too.";

    const RUST: &str = r#"
        use std::collections::HashMap;
        /// Computes a checksum over every segment in the request.
        pub fn compute_checksum_for_segments(segments: &[Segment], limits: &Limits) -> Result<u64, ChecksumError> {
            let mut accumulated_hash_value: u64 = 0xcbf29ce484222325;
            for (index, segment) in segments.iter().enumerate() {
                let normalized_bytes = segment.decoded.to_ascii_lowercase();
                accumulated_hash_value ^= u64::from_le_bytes(normalized_bytes[..8].try_into()?);
                accumulated_hash_value = accumulated_hash_value.wrapping_mul(0x100000001b3);
                if index >= limits.max_segments_per_request { return Err(ChecksumError::TooManySegments); }
            }
            let config_path = "/etc/airlock/policies/default/policy.yaml";
            let lookup: HashMap<String, Vec<u8>> = HashMap::with_capacity(DEFAULT_CAPACITY_HINT);
            Ok(accumulated_hash_value)
        }
        impl std::fmt::Display for ChecksumError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") } }
    "#;

    #[test]
    fn no_false_positives() {
        let prose = PROSE.repeat(2);
        assert!(prose.len() >= 2048);
        let uuids = "550e8400-e29b-41d4-a716-446655440000\n6ba7b810-9dad-11d1-80b4-00c04fd430c8, \
            f47ac10b-58cc-4372-a567-0e02b2c3d479 7C9E6679-7425-40DE-944B-E07FC1F90AE7 \
            123e4567e89b12d3a456426614174000";
        for text in [prose.as_str(), RUST, uuids] {
            let (segments, stats) = find(text.as_bytes());
            assert!(segments.is_empty(), "{:?}", decoded(&segments));
            assert_eq!(stats.binary, 0);
        }
        // A JWT header decodes to JSON text: returning it is fine, and the signature is skipped.
        let jwt = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        let (segments, _) = find(jwt.as_bytes());
        assert!(decoded(&segments).iter().all(|d| d.starts_with('{')));
        assert_eq!(decoded(&segments)[0], r#"{"alg":"HS256","typ":"JWT"}"#);
    }

    #[test]
    fn limits() {
        let blob = b64(SECRET.as_bytes());
        let text = format!("{blob} {blob} {blob}");
        let mut out = Vec::new();
        let limits = Limits {
            max_segments: 2,
            ..Limits::default()
        };
        let stats = find_segments(text.as_bytes(), &limits, &mut out);
        assert_eq!(out.len(), 2);
        assert!(stats.truncated);

        out.clear();
        let limits = Limits {
            max_decoded_bytes: SECRET.len() + 10,
            ..Limits::default()
        };
        let stats = find_segments(text.as_bytes(), &limits, &mut out);
        assert_eq!(
            (out.len(), stats.over_budget, stats.truncated),
            (1, 2, false)
        );

        // An inline image is judged on its prefix and counted as binary, not over budget.
        let image: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        let text = format!("img {} end", b64(&image));
        out.clear();
        let stats = find_segments(text.as_bytes(), &limits, &mut out);
        assert!(out.is_empty());
        assert_eq!((stats.binary, stats.over_budget), (1, 0));
    }

    #[test]
    fn decode_whole_fields() {
        let value = b64(SECRET.as_bytes());
        assert_eq!(
            decode_base64_field(value.as_bytes(), 1 << 20).unwrap(),
            SECRET.as_bytes()
        );
        let url = URL_SAFE_NO_PAD.encode([0xfb, 0xff, 0xfe, 0x41]);
        assert_eq!(
            decode_base64_field(url.as_bytes(), 16).unwrap(),
            [0xfb, 0xff, 0xfe, 0x41]
        );
        let wrapped = format!(" {}\r\n{} \n", &value[..40], &value[40..]);
        assert_eq!(
            decode_base64_field(wrapped.as_bytes(), 1 << 20).unwrap(),
            SECRET.as_bytes()
        );
        assert_eq!(
            decode_base64_field(b"+/-_", 16).unwrap(),
            [0xfb, 0xff, 0xbf]
        );
        assert_eq!(decode_base64_field(b"", 16).unwrap(), b"");
        assert!(decode_base64_field(b"QUtJQQ==", 3).is_none());
        assert!(decode_base64_field(b"QUtJQ", 16).is_none());
        assert!(decode_base64_field(b"QU=tJQQ", 16).is_none());
        assert!(decode_base64_field(b"QUtJQ===", 16).is_none());
        assert!(decode_base64_field(b"not base64!", 16).is_none());
    }

    #[test]
    fn encode_keeps_style_when_masking() {
        // Base64: alphabet, padding, line width and break.
        let like = b64(b"AKIAIOSFODNN7EXAMPLE").into_bytes();
        assert_eq!(
            encode(Encoding::Base64, b"********************", &like),
            b64(b"********************").into_bytes()
        );
        let no_pad = URL_SAFE_NO_PAD.encode(b"\xff\xfe masked");
        assert_eq!(
            encode(Encoding::Base64Url, b"\xff\xfe masked", no_pad.as_bytes()),
            no_pad.as_bytes()
        );
        assert_eq!(
            encode(Encoding::Base64Url, b"\xff\xfe", b"QUtJQQ").as_slice(),
            b"__4"
        );
        let block = b"QUtJQUlPU0ZPRE5ON0VYQU1QTEUgYW5k\r\nIG1vcmU=\r\n";
        let masked = encode(Encoding::Base64, b"********************and more", block);
        assert_eq!(masked, b"KioqKioqKioqKioqKioqKioqKiphbmQg\r\nbW9yZQ==\r\n");
        // Percent: fully escaped stays fully escaped; a URL keeps its literal structure.
        assert_eq!(
            encode(Encoding::Percent, b"****", b"%41%4B%49%41"),
            b"%2A%2A%2A%2A"
        );
        assert_eq!(
            encode(
                Encoding::Percent,
                b"https://x.io/?k=[masked] 100%41",
                b"https://x.io/?k=%61%62%20c"
            ),
            b"https://x.io/?k=%5Bm%61sked%5D%20100%2541"
        );
        assert_eq!(
            encode(Encoding::Percent, b"a b", b"%6a%6b%6c"),
            b"%61%20%62"
        );
        // Unchanged context around a mask is kept verbatim, escapes included.
        assert_eq!(
            encode(
                Encoding::Percent,
                b"key=****&x=/",
                b"key=%41%4B%49%41&x=%2F"
            ),
            b"key=%2A%2A%2A%2A&x=%2F"
        );
        assert_eq!(
            encode(
                Encoding::UnicodeEscape,
                b"AK** secret",
                br"\u0041K\u0049\u0041 secret"
            ),
            br"\u0041K** secret"
        );
        // Unicode escapes.
        assert_eq!(
            encode(
                Encoding::UnicodeEscape,
                b"**\xc3\xa9",
                br"\u0041\u004B\u0049\u0041"
            ),
            br"\u002A\u002A\u00E9"
        );
        assert_eq!(
            encode(
                Encoding::UnicodeEscape,
                br"AK** \u0041",
                br"AK\u0049\u0041 x"
            ),
            br"AK** \u005Cu0041"
        );
        // Hex.
        assert_eq!(encode(Encoding::Hex, b"**", b"0X414B"), b"0X2A2A");
        assert_eq!(encode(Encoding::Hex, b"**", b"414b"), b"2a2a");
    }

    #[test]
    fn text_like() {
        assert!(is_text_like(b"hello world"));
        assert!(is_text_like("d\u{e9}j\u{e0} vu \u{1F600}".as_bytes()));
        assert!(!is_text_like(b"hello\0world"));
        assert!(!is_text_like(b"\xff\xfe\x00\x01"));
        assert!(!is_text_like(b"!!!! ????"));
        assert!(!is_text_like(b""));
        let mut long = b"a fairly long line of text with one control byte ".repeat(2);
        long.push(0x01);
        assert!(is_text_like(&long));
    }

    #[test]
    fn one_separator_escape_glued_to_a_word_is_decoded() {
        let (segments, _) = find(b"GET /cb?state=1&k%3DAKIAR7UZ3WQ4XK2M6PLD HTTP/1.1");
        assert_eq!(decoded(&segments), ["/cb?state=1&k=AKIAR7UZ3WQ4XK2M6PLD"]);
        let (segments, _) = find(b"path%2Fsecrets and 50%25 off");
        assert_eq!(decoded(&segments), ["path/secrets"]);
        // A lone escape before a separator or at the end stays as written.
        let (segments, _) = find(b"50%25 off, x%3D and y%3D-z");
        assert!(segments.is_empty());
    }
}
