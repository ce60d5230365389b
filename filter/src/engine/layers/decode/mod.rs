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
//!   - written in one base32 alphabet and case (`A-Z2-7`, `0-9A-V`, or lower case), at
//!     least 16 characters and a length base32 can have: base32 ([`base32`]), if that
//!     decodes to text;
//!   - otherwise base64 if at least [`Limits::min_base64_len`] characters, a
//!     valid length (not 1 mod 4), and shaped like base64: it holds a digit,
//!     one of `+/-_`, or both upper and lower case letters. Runs holding both
//!     `+/` and `-_` are split at `-` and `_`. `-`/`_` select the url-safe
//!     alphabet.
//!   - A run that fills its line (at least 60 characters, a multiple of 4) and
//!     continues on the next line (`\n` or `\r\n`) with lines of the same length
//!     is one MIME/PEM-style block; the span includes the line breaks.
//!
//! A base64 decoding that starts like a gzip or zlib stream is inflated (within the same
//! budget) and judged as what it inflates to: text compressed and then base64-encoded.
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

use crate::engine::layers::text_classes::TextClasses;
use crate::engine::layers::word_gate::{
    first_long_run, Classifying, LongRuns, Probed, WordGate, CLASSIFIED_SPAN,
};
use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;
use escapes::{
    count_percent_escapes, count_unicode_escapes, decode_steps, glued_escape, hex_decode_into,
    percent_step, unicode_step,
};
use std::ops::Range;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

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
            max_decoded_bytes: crate::engine::limits::MAX_DECODED_BYTES,
            max_segments: crate::engine::limits::MAX_DECODED_SEGMENTS,
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
/// (The walk calls [`find_segments_in`]; this is for the tests, benches and fuzz targets.)
#[cfg(any(test, feature = "bench-hooks"))]
pub fn find_segments(text: &[u8], limits: &Limits, out: &mut Vec<Unwrapped>) -> ScanStats {
    find_segments_in(text, None, limits, out)
}

/// [`find_segments`] with the text's classes if it was classified for all the layers (the
/// walk's long fields): its gate reads their base64 characters instead of marking them again.
pub fn find_segments_in(
    text: &[u8],
    classes: Option<&TextClasses>,
    limits: &Limits,
    out: &mut Vec<Unwrapped>,
) -> ScanStats {
    with_finder(text, limits, out, |finder| finder.scan(classes))
}

/// [`find_segments`] reading every word closely, not only those its gate lets through.
#[cfg(test)]
fn find_segments_in_every_word(
    text: &[u8],
    limits: &Limits,
    out: &mut Vec<Unwrapped>,
) -> ScanStats {
    with_finder(text, limits, out, |finder| finder.scan_every_word())
}

/// Runs `scan` with a new [`Finder`] over `text`; returns its stats.
#[inline(always)]
fn with_finder<'t>(
    text: &'t [u8],
    limits: &'t Limits,
    out: &mut Vec<Unwrapped>,
    scan: impl FnOnce(&mut Finder<'t, '_>),
) -> ScanStats {
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
    scan(&mut finder);
    finder.stats
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
    // Below 32 characters one bad one fails; an ASCII control byte is always one, and so is
    // invalid UTF-8. Most runs judged are identifiers decoded as base64 (a dozen random
    // bytes), and this reads them without walking their characters.
    if bytes.len() < 32
        && (bytes.iter().any(|&b| is_control_byte(b)) || str::from_utf8(bytes).is_err())
    {
        return false;
    }
    judged_by_characters(bytes)
}

/// [`is_text_like`] character by character.
fn judged_by_characters(bytes: &[u8]) -> bool {
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

/// An ASCII control byte other than tab, line feed and carriage return: in UTF-8 always a
/// character of its own, and one [`is_text_like`] counts as bad.
const fn is_control_byte(b: u8) -> bool {
    (b < b' ' && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f
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

/// Decoded length of `chars` base64 characters (padding excluded).
fn decoded_len(chars: usize) -> usize {
    chars / 4 * 3
        + match chars % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
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
    out: &'o mut Vec<Unwrapped>,
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
    fn scan(&mut self, classes: Option<&TextClasses>) {
        // A short text's gate only probes; a long one may classify its bytes.
        let n = self.shortest_run();
        if let Some(classes) = classes {
            return self.scan_with(WordGate::new(
                self.text,
                n,
                Classifying::shared(&classes.base64),
            ));
        }
        match self.text.len() > CLASSIFIED_SPAN {
            true => self.scan_with(WordGate::new(self.text, n, Classifying::default())),
            false => self.scan_with(WordGate::new(self.text, n, Probed)),
        }
    }

    fn scan_with<R: LongRuns>(&mut self, mut gate: WordGate<'t, R>) {
        let mut from = 0;
        while !self.stop {
            let Some(word) = gate.next_word(from) else {
                break;
            };
            from = self.word(word.start, word.end).max(word.start + 1);
        }
    }

    /// [`Self::scan`] without the gate: every word read closely (the tests' reference).
    #[cfg(test)]
    fn scan_every_word(&mut self) {
        let mut from = 0;
        while !self.stop {
            let Some(p) = self
                .text
                .get(from..)
                .and_then(|t| t.iter().position(|&b| !is_delim(b)))
            else {
                break;
            };
            let start = from + p;
            from = self.word(start, word_end(self.text, start)).max(start + 1);
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
        let end = to.saturating_sub(4).min(self.text.len());
        let mut from = from;
        // From one `d` or `D` to the next (`memchr2`), not a test per byte of every word.
        while from < end {
            let p = from + memchr::memchr2(b'd', b'D', self.text.get(from..end)?)?;
            if self.slice(p..p + 5).eq_ignore_ascii_case(b"data:")
                && (p == 0 || !self.at(p - 1).is_ascii_alphanumeric())
            {
                return Some(p);
            }
            from = p + 1;
        }
        None
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
        if !run.wrapped && !run.std_sym && !run.url_sym && self.base32(run) {
            return;
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
            (&URL_LENIENT, Wrapping::Base64Url)
        } else {
            (&STD_LENIENT, Wrapping::Base64)
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
        let mut outcome = self.decode_base64_checked(engine, src, expected, &mut buf);
        if matches!(outcome, Outcome::Binary) {
            if let Some(plain) = self.decompressed(engine, src, &mut buf) {
                outcome = self.judge(&plain);
                buf = plain;
            }
        }
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

    /// A binary base64 decoding that is a gzip or zlib stream (`H4sI…`, `eJ…`: text compressed,
    /// then base64-encoded to paste it), inflated within the decoded-bytes budget. Only the
    /// two-byte magic is tested on other binary data, so images cost nothing more.
    fn decompressed(
        &self,
        engine: &GeneralPurpose,
        src: &[u8],
        buf: &mut Vec<u8>,
    ) -> Option<Vec<u8>> {
        use crate::engine::body::content_coding;
        let coding = match buf.as_slice() {
            [0x1f, 0x8b, ..] => "gzip",
            [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => "deflate",
            _ => return None,
        };
        let budget = self.limits.max_decoded_bytes.saturating_sub(self.used);
        if src.len() > PREFIX_CHARS + 4 {
            // Only the prefix was decoded to judge the run.
            if decoded_len(src.len()) > budget {
                return None;
            }
            buf.clear();
            engine.decode_vec(src, buf).ok()?;
        }
        let codings = content_coding::parse(coding).ok()?;
        content_coding::decode(&codings, buf, budget).ok()
    }

    /// Percent-decodes `span`; true if it became a segment.
    fn percent(&mut self, span: Range<usize>, forced: bool) -> bool {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        decode_steps(percent_step, self.slice(span.clone()), &mut buf);
        let outcome = self.judge(&buf);
        let size = buf.len();
        let pushed = self.settle(outcome, span, Wrapping::Percent, &mut buf, size, forced);
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
            Wrapping::UnicodeEscape,
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
        self.settle(outcome, span, Wrapping::Hex, &mut buf, size, false);
        self.buf = buf;
    }

    /// Decodes a run written in one base32 alphabet ([`base32`]); true if its decoding is text
    /// (a segment, or over the budget).
    /// A decoding that is not text is left to the base64 attempt, as before base32 was read.
    fn base32(&mut self, run: &Run) -> bool {
        let chars = self.slice(run.start..run.start + run.chars);
        if chars.len() < base32::MIN_BASE32_LEN {
            return false;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        // A long run is judged on its first characters (a multiple of 8) before it is decoded whole.
        let prefix = chars.get(..PREFIX_CHARS).unwrap_or(chars);
        let mut outcome = match base32::decode_into(prefix, &mut buf) {
            Some(()) => self.judge(&buf),
            None => Outcome::Invalid,
        };
        if prefix.len() < chars.len() && matches!(outcome, Outcome::Text | Outcome::OverBudget) {
            buf.clear();
            outcome = match base32::decode_into(chars, &mut buf) {
                Some(()) => self.judge(&buf),
                None => Outcome::Invalid,
            };
        }
        let handled = matches!(outcome, Outcome::Text | Outcome::OverBudget);
        if handled {
            let end = run.start + run.chars;
            let end = end + base32::padding(self.slice(end..self.text.len()));
            let size = buf.len();
            self.settle(
                outcome,
                run.start..end,
                Wrapping::Base32,
                &mut buf,
                size,
                false,
            );
        }
        self.buf = buf;
        handled
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
        wrapping: Wrapping,
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
                self.out.push(Unwrapped {
                    span: Span::from(span),
                    wrapping,
                    text: std::mem::take(buf),
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

mod base32;
mod escapes;
mod triggers;
#[cfg(test)]
pub(super) use triggers::is_trigger;
pub(super) use triggers::next_trigger;
#[cfg(test)]
mod tests;
