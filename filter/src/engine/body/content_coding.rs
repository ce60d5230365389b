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

/// At most this many (non-identity) codings per body; real traffic uses one,
/// and each stage costs up to `max_output` bytes of work.
pub const MAX_CODINGS: usize = 4;

/// Largest zstd window accepted (RFC 9659: 8 MiB for the `zstd` content coding).
pub const ZSTD_MAX_WINDOW: u64 = 8 * 1024 * 1024;

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
    /// More than [`MAX_CODINGS`] codings stacked on one body.
    TooManyCodings,
    /// A stage of decoding produced more than `max_output` bytes.
    TooLarge,
    /// The body is not valid data for this coding (damaged, truncated, trailing bytes).
    Corrupt(Coding),
    /// Re-applying this coding to the masked body failed; the caller must fail
    /// closed rather than forward the original body.
    CannotReencode(Coding),
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
mod tests {
    use super::*;
    use std::io;

    const MIB: usize = 1024 * 1024;

    fn codings(header: &str) -> Codings {
        parse(header).unwrap()
    }

    /// Text that compresses (repeated JSON) followed by bytes that do not (an LCG), > 128 KiB.
    fn sample() -> Vec<u8> {
        let mut body = Vec::new();
        for i in 0..2000 {
            body.extend_from_slice(
                format!("{{\"role\":\"user\",\"content\":\"key AKIAIOSFODNN7EXAMPLE #{i}\"}}\n")
                    .as_bytes(),
            );
        }
        let mut x: u32 = 0x1234_5678;
        for _ in 0..70_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            body.push((x >> 24) as u8);
        }
        body
    }

    /// 10 MiB of zeros, from the `brotli` crate at quality 11, lgwin 24: 14 bytes.
    const BROTLI_BOMB: [u8; 14] = [
        0x9f, 0xff, 0xff, 0x9f, 0xf8, 0x27, 0x00, 0xe2, 0xb1, 0x40, 0x20, 0xf7, 0xfe, 0x13,
    ];

    fn gzip_bomb(zeros: usize) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        io::copy(&mut io::repeat(0).take(zeros as u64), &mut encoder).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn parse_cases() {
        assert_eq!(codings("gzip").as_slice(), [Coding::Gzip]);
        assert_eq!(codings("x-gzip").as_slice(), [Coding::Gzip]);
        assert_eq!(
            codings("GZip, BR").as_slice(),
            [Coding::Gzip, Coding::Brotli]
        );
        assert_eq!(
            codings("deflate,zstd").as_slice(),
            [Coding::Deflate, Coding::Zstd]
        );
        assert_eq!(
            codings("\tgzip ,  br\t").as_slice(),
            [Coding::Gzip, Coding::Brotli]
        );
        assert_eq!(
            codings("gzip, identity, Identity ,br").as_slice(),
            [Coding::Gzip, Coding::Brotli]
        );
        assert_eq!(
            codings("gzip,,br,").as_slice(),
            [Coding::Gzip, Coding::Brotli]
        );
        assert!(codings(" identity ").is_empty());
        assert!(codings("").is_empty());
        assert!(codings(" , ").is_empty());
        assert_eq!(codings("gzip, BR").to_string(), "gzip, br");
        assert_eq!(codings("x-gzip").to_string(), "gzip");
    }

    #[test]
    fn parse_unknown_is_sanitized() {
        assert_eq!(
            parse("gzip, compress"),
            Err(EncodingError::Unknown("compress".into()))
        );
        assert_eq!(
            parse("gzip;q=1"),
            Err(EncodingError::Unknown("gzipq1".into()))
        );
        assert_eq!(
            parse("X-Evil\"<script>é"),
            Err(EncodingError::Unknown("x-evilscript".into()))
        );
        let long = "a".repeat(100);
        assert_eq!(parse(&long), Err(EncodingError::Unknown("a".repeat(32))));
        let err = parse("aes128gcm").unwrap_err();
        assert!(err.to_string().contains("\"aes128gcm\""), "{err}");
    }

    #[test]
    fn parse_too_many_codings() {
        assert_eq!(codings("gzip, gzip, gzip, gzip").as_slice().len(), 4);
        assert_eq!(
            parse("gzip, gzip, gzip, gzip, gzip"),
            Err(EncodingError::TooManyCodings)
        );
        assert!(
            codings("identity, identity, identity, identity, identity, gzip")
                .as_slice()
                .len()
                == 1
        );
        let built: Codings = std::iter::repeat_n(Coding::Gzip, 5).collect();
        assert_eq!(
            decode(&built, b"x", MIB),
            Err(EncodingError::TooManyCodings)
        );
    }

    #[test]
    fn round_trip_each_coding() {
        let body = sample();
        for header in ["gzip", "deflate", "br", "zstd"] {
            let c = codings(header);
            let encoded = encode(&c, &body).unwrap();
            assert_ne!(encoded, body, "{header}");
            assert_eq!(decode(&c, &encoded, body.len()).unwrap(), body, "{header}");
            // Small bodies too.
            let small = b"{\"prompt\":\"hi\"}";
            assert_eq!(
                decode(&c, &encode(&c, small).unwrap(), 100).unwrap(),
                small,
                "{header}"
            );
        }
    }

    #[test]
    fn round_trip_chains() {
        let body = sample();
        for header in [
            "gzip, br",
            "br, gzip",
            "deflate, zstd",
            "zstd, br, gzip, deflate",
        ] {
            let c = codings(header);
            let encoded = encode(&c, &body).unwrap();
            // Inner stages can be larger than the body (stored brotli is), hence the headroom.
            assert_eq!(
                decode(&c, &encoded, body.len() + 1024).unwrap(),
                body,
                "{header}"
            );
        }
        // The order matters: "gzip, br" is br(gzip(body)).
        let c = codings("gzip, br");
        let encoded = encode(&c, &body).unwrap();
        let gz = decode(&codings("br"), &encoded, 2 * body.len()).unwrap();
        assert_eq!(decode(&codings("gzip"), &gz, body.len()).unwrap(), body);
    }

    #[test]
    fn no_codings_is_identity() {
        let none = Codings::default();
        assert_eq!(encode(&none, b"abc").unwrap(), b"abc");
        assert_eq!(decode(&none, b"abc", 3).unwrap(), b"abc");
        assert_eq!(decode(&none, b"abc", 2), Err(EncodingError::TooLarge));
    }

    #[test]
    fn empty_body_decodes_to_empty() {
        for header in ["gzip", "deflate", "br", "zstd", "gzip, br"] {
            assert_eq!(decode(&codings(header), b"", 0).unwrap(), b"", "{header}");
        }
    }

    #[test]
    fn limit_is_inclusive() {
        let body = vec![b'a'; 1000];
        for header in ["gzip", "deflate", "br", "zstd"] {
            let c = codings(header);
            let encoded = encode(&c, &body).unwrap();
            assert_eq!(decode(&c, &encoded, 1000).unwrap(), body, "{header}");
            assert_eq!(
                decode(&c, &encoded, 999),
                Err(EncodingError::TooLarge),
                "{header}"
            );
        }
    }

    #[test]
    fn gzip_bomb_is_too_large() {
        let bomb = gzip_bomb(10 * MIB);
        assert!(bomb.len() < 64 * 1024, "bomb is {} bytes", bomb.len());
        let err = decode(&codings("gzip"), &bomb, MIB).unwrap_err();
        assert_eq!(err, EncodingError::TooLarge);
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn brotli_zstd_and_zlib_bombs_are_too_large() {
        const ZEROS: u64 = 4 * MIB as u64;
        assert_eq!(
            decode(&codings("br"), &BROTLI_BOMB, MIB),
            Err(EncodingError::TooLarge)
        );
        assert_eq!(
            decode(&codings("br"), &BROTLI_BOMB, 10 * MIB)
                .unwrap()
                .len(),
            10 * MIB
        );

        let zst = ruzstd::encoding::compress_to_vec(
            io::repeat(0).take(ZEROS),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(
            decode(&codings("zstd"), &zst, MIB),
            Err(EncodingError::TooLarge)
        );

        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        io::copy(&mut io::repeat(0).take(ZEROS), &mut zl).unwrap();
        assert_eq!(
            decode(&codings("deflate"), &zl.finish().unwrap(), MIB),
            Err(EncodingError::TooLarge)
        );
    }

    #[test]
    fn bomb_in_an_inner_stage_is_too_large() {
        // br(gzip(10 MiB of zeros)): the br stage is small, the gzip stage explodes.
        let bomb = gzip_bomb(10 * MIB);
        let wrapped = encode(&codings("br"), &bomb).unwrap();
        assert_eq!(
            decode(&codings("gzip, br"), &wrapped, MIB),
            Err(EncodingError::TooLarge)
        );
    }

    #[test]
    fn bounded_reader_never_buffers_past_the_limit() {
        // An endless stream: only a bounded reader returns at all.
        let mut out = Vec::new();
        let result = read_into(&mut io::repeat(7), &mut out, MIB, Coding::Gzip);
        assert_eq!(result, Err(EncodingError::TooLarge));
        assert!(out.len() <= MIB);
        assert!(out.capacity() <= MIB, "capacity {}", out.capacity());
    }

    #[test]
    fn corrupt_input_is_corrupt() {
        let garbage = b"this is not compressed at all, not even a little bit";
        for (header, coding) in [
            ("gzip", Coding::Gzip),
            ("deflate", Coding::Deflate),
            ("br", Coding::Brotli),
            ("zstd", Coding::Zstd),
        ] {
            let err = decode(&codings(header), garbage, MIB).unwrap_err();
            assert_eq!(err, EncodingError::Corrupt(coding), "{header}");
                assert!(err.to_string().contains(coding.token()), "{err}");
        }
    }

    #[test]
    fn truncated_input_is_corrupt() {
        let body = sample();
        for (header, coding) in [
            ("gzip", Coding::Gzip),
            ("deflate", Coding::Deflate),
            ("br", Coding::Brotli),
            ("zstd", Coding::Zstd),
        ] {
            let encoded = encode(&codings(header), &body).unwrap();
            for cut in [1, 4, encoded.len() / 2] {
                let truncated = &encoded[..encoded.len() - cut];
                assert_eq!(
                    decode(&codings(header), truncated, MIB),
                    Err(EncodingError::Corrupt(coding)),
                    "{header} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn checksum_mismatch_is_corrupt() {
        let body = sample();
        for (header, coding) in [
            ("gzip", Coding::Gzip),
            ("deflate", Coding::Deflate),
            ("zstd", Coding::Zstd),
        ] {
            let mut encoded = encode(&codings(header), &body).unwrap();
            // gzip: CRC32 then size; zlib: Adler-32; zstd: xxhash64 low 32 bits. All at the end.
            let at = if coding == Coding::Gzip {
                encoded.len() - 8
            } else {
                encoded.len() - 1
            };
            encoded[at] ^= 0x01;
            assert_eq!(
                decode(&codings(header), &encoded, MIB),
                Err(EncodingError::Corrupt(coding)),
                "{header}"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_corrupt() {
        let body = b"{\"prompt\":\"secret\"}".repeat(50);
        for (header, coding) in [
            ("gzip", Coding::Gzip),
            ("deflate", Coding::Deflate),
            ("br", Coding::Brotli),
            ("zstd", Coding::Zstd),
        ] {
            let mut encoded = encode(&codings(header), &body).unwrap();
            encoded.extend_from_slice(b"hidden tail AKIAIOSFODNN7EXAMPLE");
            assert_eq!(
                decode(&codings(header), &encoded, MIB),
                Err(EncodingError::Corrupt(coding)),
                "{header}"
            );
        }
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&body).unwrap();
        let mut raw = raw.finish().unwrap();
        raw.extend_from_slice(b"tail");
        assert_eq!(
            decode(&codings("deflate"), &raw, MIB),
            Err(EncodingError::Corrupt(Coding::Deflate))
        );
        // Past the brotli decoder's input buffer, too.
        let mut br = encode(&codings("br"), &sample()).unwrap();
        assert!(br.len() > 3 * 4096);
        br.extend_from_slice(b"tail");
        assert_eq!(
            decode(&codings("br"), &br, MIB),
            Err(EncodingError::Corrupt(Coding::Brotli))
        );
    }

    #[test]
    fn raw_deflate_is_accepted() {
        let body = sample();
        for level in [0, 1, 6, 9] {
            let mut encoder =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
            encoder.write_all(&body).unwrap();
            let raw = encoder.finish().unwrap();
            assert_eq!(
                decode(&codings("deflate"), &raw, body.len()).unwrap(),
                body,
                "level {level}"
            );
        }
        // Re-encoding writes the HTTP form (zlib).
        let encoded = encode(&codings("deflate"), b"x").unwrap();
        assert!(looks_like_zlib(&encoded));
    }

    #[test]
    fn concatenated_gzip_members_are_all_decoded() {
        let gz = |part: &[u8]| encode(&codings("gzip"), part).unwrap();
        let mut body = gz(b"harmless ");
        body.extend(gz(b"AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(
            decode(&codings("gzip"), &body, MIB).unwrap(),
            b"harmless AKIAIOSFODNN7EXAMPLE"
        );
    }

    #[test]
    fn zstd_frames_from_the_reference_encoder() {
        // `zstd -19 --check` output: a compressed block and a content checksum.
        const REFERENCE: [u8; 54] = [
            0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x68, 0x4d, 0x01, 0x00, 0x04, 0x02, 0x74, 0x6f, 0x6b,
            0x65, 0x6e, 0x3d, 0x73, 0x6b, 0x2d, 0x6c, 0x69, 0x76, 0x65, 0x2d, 0x30, 0x31, 0x32,
            0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x3b,
            0x20, 0x01, 0x00, 0xe8, 0x66, 0xfc, 0xea, 0x09, 0x29, 0x54, 0x8a, 0x39,
        ];
        let expected = b"token=sk-live-0123456789abcdef; ".repeat(40);
        assert_eq!(decode(&codings("zstd"), &REFERENCE, MIB).unwrap(), expected);
        let mut bad = REFERENCE;
        bad[53] ^= 0x80;
        assert_eq!(
            decode(&codings("zstd"), &bad, MIB),
            Err(EncodingError::Corrupt(Coding::Zstd))
        );
    }

    #[test]
    fn brotli_from_the_reference_encoder() {
        // The `brotli` crate at quality 5, lgwin 22: compressed meta-blocks.
        const REFERENCE: [u8; 43] = [
            0x1b, 0xff, 0x04, 0x00, 0x64, 0xb7, 0x61, 0xaa, 0x0b, 0x65, 0xf0, 0xbc, 0x88, 0x2d,
            0xbc, 0x09, 0xa2, 0x4d, 0xb0, 0x06, 0xf1, 0xb0, 0x2c, 0x4e, 0xe5, 0x68, 0x52, 0xdf,
            0xc1, 0xbb, 0xbf, 0x21, 0xb1, 0xa8, 0xf3, 0x21, 0xa6, 0xdc, 0xfa, 0x98, 0xb6, 0x0a,
            0x18,
        ];
        let expected = b"token=sk-live-0123456789abcdef; ".repeat(40);
        assert_eq!(decode(&codings("br"), &REFERENCE, MIB).unwrap(), expected);
    }

    #[test]
    fn stored_brotli_round_trips_at_block_boundaries() {
        let body = sample();
        for len in [
            0,
            1,
            2,
            255,
            32 * 1024 - 1,
            32 * 1024,
            32 * 1024 + 1,
            64 * 1024,
            100_000,
            body.len(),
        ] {
            let part = &body[..len];
            let encoded = brotli_stored(part);
            assert_eq!(
                encoded.len(),
                len + 3 * len.div_ceil(32 * 1024) + 1,
                "len {len}"
            );
            assert_eq!(
                decode_one(Coding::Brotli, &encoded, MIB).unwrap(),
                part,
                "len {len}"
            );
        }
        // The empty stream: WBITS=16, ISLAST, ISLASTEMPTY.
        assert_eq!(brotli_stored(b""), [0x06]);
    }

    #[test]
    fn zstd_multiple_and_skippable_frames() {
        let z = |part: &[u8]| encode(&codings("zstd"), part).unwrap();
        let mut body = z(b"harmless ");
        // Skippable frame: magic 0x184D2A50..5F, 4-byte length, content.
        body.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, b'a', b'b', b'c']);
        body.extend(z(b"AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(
            decode(&codings("zstd"), &body, MIB).unwrap(),
            b"harmless AKIAIOSFODNN7EXAMPLE"
        );
        // The limit counts all frames together.
        assert_eq!(
            decode(&codings("zstd"), &body, 20),
            Err(EncodingError::TooLarge)
        );
        // A skippable frame claiming more than is there.
        let short = [0x50, 0x2a, 0x4d, 0x18, 9, 0, 0, 0, b'a'];
        assert_eq!(
            decode(&codings("zstd"), &short, MIB),
            Err(EncodingError::Corrupt(Coding::Zstd))
        );
    }

    #[test]
    fn zstd_window_over_8_mib_is_refused() {
        // Frame header: no single segment, window descriptor exponent 30 (1 GiB), then a last raw block of 1 byte.
        let frame = [
            0x28,
            0xb5,
            0x2f,
            0xfd,
            0x00,
            (30 - 10) << 3,
            0x09,
            0x00,
            0x00,
            b'x',
        ];
        assert_eq!(
            decode(&codings("zstd"), &frame, MIB),
            Err(EncodingError::Corrupt(Coding::Zstd))
        );
        // The same frame with an 8 MiB window (exponent 23) decodes.
        let ok = [
            0x28,
            0xb5,
            0x2f,
            0xfd,
            0x00,
            (23 - 10) << 3,
            0x09,
            0x00,
            0x00,
            b'x',
        ];
        assert_eq!(decode(&codings("zstd"), &ok, MIB).unwrap(), b"x");
    }

    #[test]
    fn display() {
        let cases = [
            EncodingError::Unknown("compress".into()),
            EncodingError::TooManyCodings,
            EncodingError::TooLarge,
            EncodingError::Corrupt(Coding::Brotli),
            EncodingError::CannotReencode(Coding::Zstd),
        ];
        for err in cases {
            let text = err.to_string();
            assert!(text.starts_with("the "), "{text}");
        }
        assert_eq!(Coding::Brotli.to_string(), "br");
    }
}
