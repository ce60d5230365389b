//! HTTP `Content-Encoding`: undoing it before inspection, redoing it after masking.
//!
//! A DLP filter that cannot read a body must not let it through, or
//! compressing a request would be a way around every detector. This module is
//! what lets the engine read compressed bodies instead of only refusing them,
//! and every way it can fail is an error the caller turns into an
//! uninspectable verdict (fail closed):
//!
//! - [`parse`] reads the header into the [`Codings`] in the order the sender
//!   applied them (`identity` and empty list elements are skipped); a coding
//!   it does not know is [`EncodingError::Unknown`], never "pass unread".
//! - [`decode`] undoes them in reverse order. Every stage is streamed through
//!   a bounded reader, so a decompression bomb stops with
//!   [`EncodingError::TooLarge`] once `max_output` bytes are exceeded; the
//!   output buffer never grows past `max_output`. Damaged, truncated or
//!   trailing-garbage input is [`EncodingError::Corrupt`], so the filter never
//!   inspects a different body from the one a lenient upstream might decode.
//! - [`encode`] re-applies them in order, for a body that was masked. If it
//!   fails ([`EncodingError::CannotReencode`]) the caller must block rather
//!   than forward the unmasked original.
//!
//! Codings: `gzip` (and `x-gzip`; concatenated members are all decoded),
//! `deflate` (zlib-wrapped per RFC 9110 §8.4.1.2 / RFC 1950; raw RFC 1951
//! deflate, which many clients send, is accepted when the zlib header is
//! absent or does not decode; re-encoding always writes zlib), `br` (brotli)
//! and `zstd` (all frames, skippable frames skipped, content checksums
//! verified, window limited to the 8 MiB that RFC 9659 allows for HTTP).
//! All backends are pure Rust so the filter still builds for `wasm32-wasip1`.
//!
//! Brotli is re-encoded as *stored* brotli: a valid RFC 7932 stream made of
//! uncompressed meta-blocks, written here in a few lines. The `brotli`
//! crate's compressor would add about 880 KB to the `.wasm` (more than half
//! the filter) to compress only the rare masked body; stored brotli costs the
//! body's size plus 3 bytes per 32 KiB, and any brotli decoder reads it.
//!
//! Memory besides the output: a 16 KiB read buffer, the codec's own state and
//! window (32 KiB for deflate, at most 16 MiB for brotli, at most 8 MiB for
//! zstd, which reserves the declared window up front).

use std::fmt;
use std::io::{ErrorKind, Read, Write};

use crate::engine::limits::{MAX_CODINGS, ZSTD_MAX_WINDOW};

/// Bytes per uncompressed meta-block when re-encoding brotli: below the
/// 64 KiB - 16 window the stream declares, and MLEN fits in 4 nibbles.
const BROTLI_STORED_BLOCK: usize = 32 * 1024;
/// How much a decoder is asked for at a time.
const CHUNK: usize = 16 * 1024;
/// Longest token kept in [`EncodingError::Unknown`].
const MAX_TOKEN_CHARS: usize = 32;

/// One content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    /// The coding named by one header token (case-insensitive), if known. `identity` is not a coding.
    pub fn from_token(token: &str) -> Option<Coding> {
        const NAMES: [(&str, Coding); 5] = [
            ("gzip", Coding::Gzip),
            ("x-gzip", Coding::Gzip),
            ("deflate", Coding::Deflate),
            ("br", Coding::Brotli),
            ("zstd", Coding::Zstd),
        ];
        NAMES
            .iter()
            .find(|(name, _)| token.eq_ignore_ascii_case(name))
            .map(|&(_, coding)| coding)
    }

    /// The coding's canonical header token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// The codings of one body, in the order they were applied (header order).
/// Empty means the body is not encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Codings(Vec<Coding>);

impl Codings {
    /// True when the body is not encoded at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The codings in the order they were applied.
    pub fn as_slice(&self) -> &[Coding] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Coding> {
        self.0.iter()
    }
}

impl FromIterator<Coding> for Codings {
    fn from_iter<I: IntoIterator<Item = Coding>>(iter: I) -> Self {
        Codings(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Codings {
    type Item = &'a Coding;
    type IntoIter = std::slice::Iter<'a, Coding>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Header form, e.g. `gzip, br` (empty when not encoded).
impl fmt::Display for Codings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, coding) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(coding.token())?;
        }
        Ok(())
    }
}

/// Why a body could not be decoded or re-encoded. Every case means "do not
/// forward this body as inspected": the caller applies its fail mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodingError {
    /// A coding this filter cannot decode (`compress`, `aes128gcm`, ...). The
    /// token is lowercased, limited to `[a-z0-9._-]` and 32 characters, so it
    /// is safe to log and to put in a response.
    Unknown(String),
    /// More than `limits::MAX_CODINGS` codings stacked on one body.
    TooManyCodings,
    /// A stage of decoding produced more than `max_output` bytes.
    TooLarge,
    /// The body is not valid data for this coding (damaged, truncated, trailing bytes).
    Corrupt(Coding),
    /// Re-applying this coding to the masked body failed; the caller must fail
    /// closed rather than forward the original body.
    CannotReencode(Coding),
    /// The body declares a character encoding the filter cannot read (`body::charset`).
    Charset(crate::engine::body::charset::CharsetError),
}

impl fmt::Display for EncodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodingError::Unknown(token) => {
                write!(f, "the body uses content-encoding \"{token}\", which cannot be decoded for inspection")
            }
            EncodingError::TooManyCodings => write!(
                f,
                "the body has more than {MAX_CODINGS} content-encodings stacked, which is not decoded for inspection"
            ),
            EncodingError::TooLarge => f.write_str("the body decompresses to more than the inspection size limit"),
            EncodingError::Corrupt(coding) => {
                write!(f, "the body is not valid {coding} data (damaged, truncated or with trailing bytes)")
            }
            EncodingError::CannotReencode(coding) => {
                write!(f, "the masked body could not be re-encoded with {coding}")
            }
            EncodingError::Charset(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for EncodingError {}

/// Parses a `Content-Encoding` header value: comma-separated tokens,
/// case-insensitive, surrounding whitespace and empty elements ignored,
/// `identity` skipped. An empty value means no codings.
pub fn parse(header: &str) -> Result<Codings, EncodingError> {
    let mut codings = Vec::new();
    for token in header.split(',').map(str::trim) {
        if token.is_empty() || token.eq_ignore_ascii_case("identity") {
            continue;
        }
        let coding =
            Coding::from_token(token).ok_or_else(|| EncodingError::Unknown(sanitize(token)))?;
        if codings.len() >= MAX_CODINGS {
            return Err(EncodingError::TooManyCodings);
        }
        codings.push(coding);
    }
    Ok(Codings(codings))
}

fn sanitize(token: &str) -> String {
    token
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        .take(MAX_TOKEN_CHARS)
        .collect()
}

/// Undoes `codings` (last applied first). Every stage's output, and the
/// result, is at most `max_output` bytes or this returns
/// [`EncodingError::TooLarge`] without having buffered more. An empty input
/// to any stage decodes to an empty output (zero bytes hide nothing).
pub fn decode(codings: &Codings, body: &[u8], max_output: usize) -> Result<Vec<u8>, EncodingError> {
    if codings.0.len() > MAX_CODINGS {
        return Err(EncodingError::TooManyCodings);
    }
    let mut current: Option<Vec<u8>> = None;
    for &coding in codings.0.iter().rev() {
        let input = current.as_deref().unwrap_or(body);
        current = Some(decode_one(coding, input, max_output)?);
    }
    match current {
        Some(decoded) => Ok(decoded),
        None if body.len() > max_output => Err(EncodingError::TooLarge),
        None => Ok(body.to_vec()),
    }
}

/// Applies `codings` in order, to send a masked body with the same
/// `Content-Encoding` header it came with. Deflate is written zlib-wrapped
/// (the HTTP form) even when the original was raw deflate.
pub fn encode(codings: &Codings, body: &[u8]) -> Result<Vec<u8>, EncodingError> {
    let mut current: Option<Vec<u8>> = None;
    for &coding in &codings.0 {
        let input = current.as_deref().unwrap_or(body);
        current = Some(encode_one(coding, input)?);
    }
    Ok(current.unwrap_or_else(|| body.to_vec()))
}

fn decode_one(coding: Coding, input: &[u8], max_output: usize) -> Result<Vec<u8>, EncodingError> {
    if input.is_empty() {
        return Ok(Vec::new());
    }
    match coding {
        Coding::Gzip => {
            let mut decoder = flate2::bufread::MultiGzDecoder::new(input);
            let out = read_all(&mut decoder, max_output, coding)?;
            ensure_consumed(decoder.get_ref(), coding)?;
            Ok(out)
        }
        Coding::Deflate if looks_like_zlib(input) => match zlib(input, max_output) {
            // A raw deflate stream can start with two bytes that pass the zlib header check.
            Err(EncodingError::Corrupt(_)) => raw_deflate(input, max_output),
            other => other,
        },
        Coding::Deflate => raw_deflate(input, max_output),
        Coding::Brotli => brotli(input, max_output),
        Coding::Zstd => zstd(input, max_output),
    }
}

/// RFC 1950 header: compression method 8 (deflate), window at most 32 KiB, check bits.
fn looks_like_zlib(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

fn zlib(input: &[u8], max_output: usize) -> Result<Vec<u8>, EncodingError> {
    let mut decoder = flate2::bufread::ZlibDecoder::new(input);
    let out = read_all(&mut decoder, max_output, Coding::Deflate)?;
    ensure_consumed(decoder.get_ref(), Coding::Deflate)?;
    Ok(out)
}

fn raw_deflate(input: &[u8], max_output: usize) -> Result<Vec<u8>, EncodingError> {
    let mut decoder = flate2::bufread::DeflateDecoder::new(input);
    let out = read_all(&mut decoder, max_output, Coding::Deflate)?;
    ensure_consumed(decoder.get_ref(), Coding::Deflate)?;
    Ok(out)
}

fn brotli(input: &[u8], max_output: usize) -> Result<Vec<u8>, EncodingError> {
    let mut decoder = brotli_decompressor::Decompressor::new(input, 4096);
    let out = read_all(&mut decoder, max_output, Coding::Brotli)?;
    // The first end-of-stream read does not report bytes left over in the
    // decoder's buffer; the next one does (as an error).
    let mut probe = [0u8; 1];
    match decoder.read(&mut probe) {
        Ok(0) => ensure_consumed(decoder.get_ref(), Coding::Brotli)?,
        _ => return Err(EncodingError::Corrupt(Coding::Brotli)),
    }
    Ok(out)
}

fn zstd(input: &[u8], max_output: usize) -> Result<Vec<u8>, EncodingError> {
    use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
    use ruzstd::decoding::StreamingDecoder;
    let corrupt = EncodingError::Corrupt(Coding::Zstd);
    let mut rest = input;
    let mut out = Vec::new();
    // A zstd body is any number of frames, some of them skippable.
    while !rest.is_empty() {
        let mut frame = match StreamingDecoder::new_with_max_window_size(&mut rest, ZSTD_MAX_WINDOW)
        {
            Ok(frame) => frame,
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                // The 8-byte skippable-frame header is consumed; skip its content.
                let length = usize::try_from(length).map_err(|_| corrupt.clone())?;
                rest = rest.get(length..).ok_or_else(|| corrupt.clone())?;
                continue;
            }
            Err(_) => return Err(corrupt),
        };
        read_into(&mut frame, &mut out, max_output, Coding::Zstd)?;
        let decoder = frame.into_frame_decoder();
        if !decoder.is_finished() {
            return Err(corrupt);
        }
        if let (Some(stored), Some(computed)) = (
            decoder.get_checksum_from_data(),
            decoder.get_calculated_checksum(),
        ) {
            if stored != computed {
                return Err(corrupt);
            }
        }
    }
    Ok(out)
}

fn ensure_consumed(rest: &[u8], coding: Coding) -> Result<(), EncodingError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(EncodingError::Corrupt(coding))
    }
}

fn read_all(
    reader: &mut impl Read,
    max_output: usize,
    coding: Coding,
) -> Result<Vec<u8>, EncodingError> {
    let mut out = Vec::new();
    read_into(reader, &mut out, max_output, coding)?;
    Ok(out)
}

/// Appends everything `reader` yields to `out`, failing with
/// [`EncodingError::TooLarge`] as soon as `out` would exceed `max_output`.
/// `out` never holds, nor has capacity for, more than `max_output` bytes
/// (unless it came in that way), so a bomb costs at most `max_output` of memory.
fn read_into(
    reader: &mut impl Read,
    out: &mut Vec<u8>,
    max_output: usize,
    coding: Coding,
) -> Result<(), EncodingError> {
    let mut chunk = [0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(EncodingError::Corrupt(coding)),
        };
        let data = chunk.get(..n).ok_or(EncodingError::Corrupt(coding))?;
        if n > max_output.saturating_sub(out.len()) {
            return Err(EncodingError::TooLarge);
        }
        let needed = out.len() + n;
        if needed > out.capacity() {
            // Amortized growth like Vec's own, but capped at the limit.
            let target = out
                .capacity()
                .saturating_mul(2)
                .max(CHUNK)
                .max(needed)
                .min(max_output);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(data);
    }
}

fn encode_one(coding: Coding, input: &[u8]) -> Result<Vec<u8>, EncodingError> {
    let failed = |_| EncodingError::CannotReencode(coding);
    match coding {
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(input).map_err(failed)?;
            encoder.finish().map_err(failed)
        }
        Coding::Deflate => {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(input).map_err(failed)?;
            encoder.finish().map_err(failed)
        }
        Coding::Brotli => Ok(brotli_stored(input)),
        Coding::Zstd => Ok(ruzstd::encoding::compress_to_vec(
            input,
            ruzstd::encoding::CompressionLevel::Fastest,
        )),
    }
}

/// A brotli stream (RFC 7932) holding `input` in uncompressed meta-blocks.
fn brotli_stored(input: &[u8]) -> Vec<u8> {
    let blocks = input.len().div_ceil(BROTLI_STORED_BLOCK);
    let mut bits = BitWriter {
        out: Vec::with_capacity(input.len() + 3 * blocks + 2),
        acc: 0,
        len: 0,
    };
    bits.put(0, 1); // Stream header: WBITS = 16.
    for block in input.chunks(BROTLI_STORED_BLOCK) {
        bits.put(0, 1); // ISLAST = 0
        bits.put(0, 2); // MNIBBLES = 4
        bits.put(block.len().saturating_sub(1) as u64, 16); // MLEN - 1
        bits.put(1, 1); // ISUNCOMPRESSED = 1
        bits.align();
        bits.out.extend_from_slice(block);
    }
    bits.put(1, 1); // ISLAST = 1
    bits.put(1, 1); // ISLASTEMPTY = 1
    bits.align();
    bits.out
}

/// Least-significant-bit-first writer, as brotli packs its headers.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl BitWriter {
    /// Appends the low `count` (at most 32) bits of `value`.
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= (value & ((1 << count) - 1)) << self.len;
        self.len += count;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    /// Pads with zero bits to the next byte boundary.
    fn align(&mut self) {
        if self.len > 0 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.len = 0;
        }
    }
}

#[cfg(test)]
mod tests;
