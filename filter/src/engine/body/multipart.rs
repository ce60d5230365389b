//! A total, bounded parser of `multipart/form-data` bodies (RFC 7578, RFC 2046 §5.1).
//!
//! File uploads to AI APIs (OpenAI Files and Audio, batch inputs, fine-tuning
//! data) are multipart bodies; without a parser the filter could only scan
//! them as one opaque text, missing the structure it needs to decode and
//! mask each part. [`parse`] returns each part's disposition, content type and
//! transfer encoding, and the byte range of its headers and body *in the
//! original body*, so a caller can scan a part and splice a masked version
//! back in place leaving every other byte untouched.
//!
//! Rules, chosen to match common server parsers (Go's `mime/multipart`,
//! Python's `multipart`) so the filter does not inspect a different split
//! from the one the upstream sees:
//!
//! * A delimiter is `--boundary` at the start of the body or right after a line
//!   break (`\r\n` or a bare `\n`), followed by optional spaces and tabs
//!   (transport padding) and a line break; the close delimiter adds `--` and
//!   may end the body. Any other occurrence of the boundary, even `--boundary`
//!   at a line start followed by other characters, is part content.
//! * The line break before a delimiter belongs to the delimiter, not to the
//!   part body.
//! * Anything before the first delimiter (preamble) and after the close
//!   delimiter (epilogue) is ignored.
//! * Part headers end at the first empty line; header lines may end with
//!   `\r\n` or `\n`; folded (continued) lines are joined with a space. A part's
//!   header block is limited to [`MAX_PART_HEADER_BYTES`] and [`MAX_PART_HEADER_LINES`].
//! * A body ending without a close delimiter, a header line without a colon
//!   and too many parts are errors: the caller should treat the body as
//!   uninspectable rather than guess.
//!
//! Work is linear in the body size (the delimiter search is an Aho-Corasick
//! automaton) and nothing recurses.

use crate::engine::span::Span;
use std::fmt;

use aho_corasick::AhoCorasick;

use crate::engine::bytes::hex_val;
use crate::engine::limits::{MAX_BOUNDARY_LEN, MAX_PART_HEADER_BYTES, MAX_PART_HEADER_LINES};

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Part {
    /// `name` of the `Content-Disposition` header.
    pub name: Option<String>,
    /// `filename` (or `filename*`, RFC 5987, if present) of the `Content-Disposition` header.
    pub filename: Option<String>,
    /// The `Content-Type` header, as sent.
    pub content_type: Option<String>,
    /// The part's content in the original body.
    pub body: Span,
}

/// Why a body could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartError {
    /// The boundary is empty, too long or holds characters RFC 2046 forbids.
    InvalidBoundary,
    /// No delimiter line in the body.
    NoDelimiter,
    /// The body ends inside a part: no close delimiter, or headers without their empty line.
    Unterminated,
    /// A part's header block exceeds the limits; `offset` is where it starts.
    HeaderTooLarge { offset: usize },
    /// A header line without a colon or with an invalid name; `offset` is where the line starts.
    MalformedHeader { offset: usize },
    /// More parts than the caller allowed.
    TooManyParts,
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultipartError::InvalidBoundary => f.write_str("invalid multipart boundary"),
            MultipartError::NoDelimiter => f.write_str("no multipart delimiter in the body"),
            MultipartError::Unterminated => f.write_str("multipart body ends inside a part"),
            MultipartError::HeaderTooLarge { offset } => {
                write!(f, "multipart part headers too large at byte {offset}")
            }
            MultipartError::MalformedHeader { offset } => {
                write!(f, "malformed multipart part header at byte {offset}")
            }
            MultipartError::TooManyParts => f.write_str("too many multipart parts"),
        }
    }
}

impl std::error::Error for MultipartError {}

/// The boundary of a `multipart/*` content type (its `boundary` parameter, quotes removed).
///
/// `None` if the media type is not `multipart/...`, or the boundary is
/// missing or invalid (see [`parse`]).
pub fn boundary(content_type: &str) -> Option<&str> {
    let media = content_type.split(';').next()?.trim();
    if !media
        .get(..10)
        .is_some_and(|m| m.eq_ignore_ascii_case("multipart/"))
    {
        return None;
    }
    let mut boundaries =
        Params::new(content_type).filter(|(name, _, _)| name.eq_ignore_ascii_case("boundary"));
    let (_, raw, quoted) = boundaries.next()?;
    if quoted && raw.contains('\\') {
        return None;
    }
    // Two boundaries: parsers disagree on which one splits the body (Go rejects the type,
    // others take the first or the last), so the body is read as one text instead.
    if boundaries.any(|(_, other, _)| other != raw) {
        return None;
    }
    is_valid_boundary(raw).then_some(raw)
}

/// Splits a multipart body into its parts.
///
/// `boundary` is the value of the content type's parameter (see [`boundary`]):
/// 1 to [`MAX_BOUNDARY_LEN`] characters among RFC 2046's `bchars`, not ending
/// in a space. A body holding only a close delimiter has no parts.
pub fn parse(body: &[u8], boundary: &str, max_parts: usize) -> Result<Vec<Part>, MultipartError> {
    if !is_valid_boundary(boundary) {
        return Err(MultipartError::InvalidBoundary);
    }
    let delimiters = Delimiters::new(body, boundary)?;
    let mut delimiter = delimiters.find(0).ok_or(MultipartError::NoDelimiter)?;
    let mut parts = Vec::new();
    while !delimiter.close {
        if parts.len() >= max_parts {
            return Err(MultipartError::TooManyParts);
        }
        let start = delimiter.next;
        let (mut part, body_start) = parse_headers(body, start)?;
        delimiter = delimiters
            .find(body_start)
            .ok_or(MultipartError::Unterminated)?;
        part.body = Span::new(body_start, delimiter.body_end);
        parts.push(part);
    }
    Ok(parts)
}

/// RFC 2046 `bchars`, with the length limit relaxed to [`MAX_BOUNDARY_LEN`].
fn is_valid_boundary(boundary: &str) -> bool {
    (1..=MAX_BOUNDARY_LEN).contains(&boundary.len())
        && !boundary.ends_with(' ')
        && boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b))
}

/// A delimiter line found in the body.
#[derive(Debug, Clone, Copy)]
struct Delimiter {
    /// End of the preceding part's body: where the line break before the delimiter starts.
    body_end: usize,
    /// After the delimiter line (for a close delimiter: after its `--`, the epilogue).
    next: usize,
    close: bool,
}

struct Delimiters<'b> {
    body: &'b [u8],
    /// `--boundary`.
    dash: Vec<u8>,
    /// Finds `\n--boundary`.
    finder: AhoCorasick,
}

impl<'b> Delimiters<'b> {
    fn new(body: &'b [u8], boundary: &str) -> Result<Self, MultipartError> {
        let mut dash = Vec::with_capacity(boundary.len() + 2);
        dash.extend_from_slice(b"--");
        dash.extend_from_slice(boundary.as_bytes());
        let mut needle = Vec::with_capacity(dash.len() + 1);
        needle.push(b'\n');
        needle.extend_from_slice(&dash);
        let finder = AhoCorasick::new([needle]).map_err(|_| MultipartError::InvalidBoundary)?;
        Ok(Delimiters { body, dash, finder })
    }

    /// The first delimiter line starting at or after `from`, where `from` is the start of the body or of a line.
    fn find(&self, from: usize) -> Option<Delimiter> {
        let at_line_start =
            from == 0 || from.checked_sub(1).and_then(|p| self.body.get(p)) == Some(&b'\n');
        if at_line_start {
            if let Some(delimiter) = self.at(from, from) {
                return Some(delimiter);
            }
        }
        let mut search = from;
        while search < self.body.len() {
            let found = self.finder.find(self.body.get(search..)?)?;
            let newline = search + found.start();
            let body_end = if newline > from
                && newline.checked_sub(1).and_then(|p| self.body.get(p)) == Some(&b'\r')
            {
                newline - 1
            } else {
                newline
            };
            if let Some(delimiter) = self.at(newline + 1, body_end) {
                return Some(delimiter);
            }
            search = newline + 1;
        }
        None
    }

    /// The delimiter line at `start`, if it is one.
    fn at(&self, start: usize, body_end: usize) -> Option<Delimiter> {
        let rest = self.body.get(start..)?.strip_prefix(self.dash.as_slice())?;
        let (close, rest) = match rest.strip_prefix(b"--") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let padding = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let rest = rest.get(padding..)?;
        let line_break = if rest.starts_with(b"\r\n") {
            2
        } else if rest.starts_with(b"\n") {
            1
        } else if close && rest.is_empty() {
            0
        } else {
            return None;
        };
        Some(Delimiter {
            body_end,
            next: self.body.len() - rest.len() + line_break,
            close,
        })
    }
}

/// Which header a folded line continues.
#[derive(Debug, Clone, Copy)]
enum Field {
    Disposition,
    ContentType,
}

/// Reads the header block at `start`; returns the part (without ranges) and where its body starts.
fn parse_headers(body: &[u8], start: usize) -> Result<(Part, usize), MultipartError> {
    let mut part = Part::default();
    let mut disposition: Option<String> = None;
    let mut current: Option<Field> = None;
    let limit = start.saturating_add(MAX_PART_HEADER_BYTES).min(body.len());
    let mut pos = start;
    let mut lines = 0;
    loop {
        let window = body.get(pos..limit).unwrap_or_default();
        let Some(newline) = window.iter().position(|&b| b == b'\n') else {
            return Err(if limit == body.len() {
                MultipartError::Unterminated
            } else {
                MultipartError::HeaderTooLarge { offset: start }
            });
        };
        let line_start = pos;
        let line = window.get(..newline).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += newline + 1;
        if line.is_empty() {
            break;
        }
        lines += 1;
        if lines > MAX_PART_HEADER_LINES {
            return Err(MultipartError::HeaderTooLarge { offset: start });
        }
        let malformed = MultipartError::MalformedHeader { offset: line_start };
        if matches!(line.first(), Some(b' ' | b'\t')) {
            let slot = match current {
                Some(Field::Disposition) => &mut disposition,
                Some(Field::ContentType) => &mut part.content_type,
                None if lines > 1 => continue,
                None => return Err(malformed),
            };
            if let Some(value) = slot {
                value.push(' ');
                value.push_str(&String::from_utf8_lossy(line.trim_ascii()));
            }
            continue;
        }
        let colon = line.iter().position(|&b| b == b':').ok_or(malformed)?;
        let name = line.get(..colon).unwrap_or_default().trim_ascii();
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
            return Err(malformed);
        }
        let value = line.get(colon + 1..).unwrap_or_default().trim_ascii();
        let (field, slot) = if name.eq_ignore_ascii_case(b"content-disposition") {
            (Field::Disposition, &mut disposition)
        } else if name.eq_ignore_ascii_case(b"content-type") {
            (Field::ContentType, &mut part.content_type)
        } else {
            current = None;
            continue;
        };
        // The first of duplicate headers wins; a later one (and its continuation lines) is ignored.
        current = None;
        if slot.is_none() {
            *slot = Some(String::from_utf8_lossy(value).into_owned());
            current = Some(field);
        }
    }
    if let Some(disposition) = disposition {
        for (name, raw, quoted) in Params::new(&disposition) {
            if name.eq_ignore_ascii_case("name") && part.name.is_none() {
                part.name = Some(unquote(raw, quoted));
            } else if name.eq_ignore_ascii_case("filename") && part.filename.is_none() {
                part.filename = Some(unquote(raw, quoted));
            } else if name.eq_ignore_ascii_case("filename*") {
                if let Some(filename) = ext_value(&unquote(raw, quoted)) {
                    part.filename = Some(filename);
                }
            }
        }
    }
    Ok((part, pos))
}

/// The `;`-separated parameters of a header value after its first item, as
/// `(name, raw value, quoted)`; a quoted raw value is still backslash-escaped.
struct Params<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Params<'a> {
    fn new(text: &'a str) -> Self {
        Params {
            text,
            pos: text.find(';').unwrap_or(text.len()),
        }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, &'a str, bool);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        let skip_until_semicolon = |pos: &mut usize| {
            while bytes.get(*pos).is_some_and(|&b| b != b';') {
                *pos += 1;
            }
        };
        loop {
            while matches!(bytes.get(self.pos), Some(b' ' | b'\t' | b';')) {
                self.pos += 1;
            }
            if self.pos >= bytes.len() {
                return None;
            }
            let name_start = self.pos;
            while bytes.get(self.pos).is_some_and(|&b| b != b'=' && b != b';') {
                self.pos += 1;
            }
            let name = self.text.get(name_start..self.pos)?.trim();
            if bytes.get(self.pos) != Some(&b'=') {
                continue;
            }
            self.pos += 1;
            while matches!(bytes.get(self.pos), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
            if bytes.get(self.pos) == Some(&b'"') {
                self.pos += 1;
                let value_start = self.pos;
                loop {
                    match bytes.get(self.pos) {
                        None | Some(b'"') => break,
                        Some(b'\\') => self.pos += 2,
                        Some(_) => self.pos += 1,
                    }
                }
                let value_end = self.pos.min(bytes.len());
                skip_until_semicolon(&mut self.pos);
                return Some((name, self.text.get(value_start..value_end)?, true));
            }
            let value_start = self.pos;
            skip_until_semicolon(&mut self.pos);
            return Some((name, self.text.get(value_start..self.pos)?.trim(), false));
        }
    }
}

/// A parameter value without its quoting.
fn unquote(raw: &str, quoted: bool) -> String {
    if !quoted {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes an RFC 5987 `ext-value` (`charset'language'percent-encoded`) as UTF-8, lossily.
fn ext_value(value: &str) -> Option<String> {
    let mut pieces = value.splitn(3, '\'');
    let (_charset, _language, encoded) = (pieces.next()?, pieces.next()?, pieces.next()?);
    let encoded = encoded.as_bytes();
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while let Some(&b) = encoded.get(i) {
        let escape = match (b, encoded.get(i + 1), encoded.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => {
                (hex_val(hi)).zip(hex_val(lo)).map(|(hi, lo)| hi << 4 | lo)
            }
            _ => None,
        };
        match escape {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &[u8], span: &Span) -> String {
        String::from_utf8_lossy(span.of(body)).into_owned()
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"),
            Some("----WebKitFormBoundary7MA4YWxkTrZu0gW")
        );
        assert_eq!(
            boundary("Multipart/Form-Data;charset=utf-8;BOUNDARY=\"a b:c\""),
            Some("a b:c")
        );
        assert_eq!(
            boundary("multipart/mixed; boundary=\"simple\" ; x=y"),
            Some("simple")
        );
        assert_eq!(
            boundary("multipart/form-data; name=\"x;boundary=no\"; boundary=yes"),
            Some("yes")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("application/json; boundary=abc"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
        assert_eq!(boundary("multipart/form-data; boundary=\"a\\\"b\""), None);
        assert_eq!(boundary("multipart/form-data; boundary=bad\u{e9}"), None);
        assert_eq!(boundary("multipart/form-data; boundary=\"ends \""), None);
    }

    #[test]
    fn openai_files_upload() {
        let body = b"--abc123\r\n\
            Content-Disposition: form-data; name=\"purpose\"\r\n\
            \r\n\
            fine-tune\r\n\
            --abc123\r\n\
            Content-Disposition: form-data; name=\"file\"; filename=\"train.jsonl\"\r\n\
            Content-Type: application/jsonl\r\n\
            \r\n\
            {\"messages\":[{\"role\":\"user\",\"content\":\"my key is AKIAIOSFODNN7EXAMPLE\"}]}\n\
            {\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n\
            \r\n\
            --abc123--\r\n";
        let parts = parse(body, "abc123", 16).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name.as_deref(), Some("purpose"));
        assert_eq!(parts[0].filename, None);
        assert_eq!(text(body, &parts[0].body), "fine-tune");
        let file = &parts[1];
        assert_eq!(file.name.as_deref(), Some("file"));
        assert_eq!(file.filename.as_deref(), Some("train.jsonl"));
        assert_eq!(file.content_type.as_deref(), Some("application/jsonl"));
        let content = text(body, &file.body);
        assert!(content.starts_with("{\"messages\""));
        assert!(content.ends_with("\"hi\"}]}\n"));
        assert_eq!(content.lines().count(), 2);
    }

    #[test]
    fn splice_masked_part_back() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nkey AKIAIOSFODNN7EXAMPLE\r\n--b--\r\n";
        let parts = parse(body, "b", 4).unwrap();
        let range = parts[0].body;
        let mut masked = body[..range.start].to_vec();
        masked.extend_from_slice(b"key [REDACTED]");
        masked.extend_from_slice(&body[range.end..]);
        let reparsed = parse(&masked, "b", 4).unwrap();
        assert_eq!(text(&masked, &reparsed[0].body), "key [REDACTED]");
    }

    #[test]
    fn audio_upload_with_binary_content() {
        let mut audio: Vec<u8> = b"RIFF\x24\x08\0\0WAVEfmt ".to_vec();
        audio.extend((0..=255u8).cycle().take(2048));
        audio.extend_from_slice(b"\r\n--boundar\r\n-- boundary\n\r\n\0\xff--boundaryX\r\n");
        audio.extend((0..=255u8).rev().cycle().take(1000));
        let mut body = Vec::new();
        body.extend_from_slice(
            b"--boundary\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n",
        );
        body.extend_from_slice(
            b"--boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"speech.wav\"\r\n\
              Content-Type: audio/wav\r\nContent-Transfer-Encoding: binary\r\n\r\n",
        );
        let start = body.len();
        body.extend_from_slice(&audio);
        body.extend_from_slice(b"\r\n--boundary--");
        let parts = parse(&body, "boundary", 8).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(text(&body, &parts[0].body), "whisper-1");
        assert_eq!(parts[1].body, Span::new(start, start + audio.len()));
        assert_eq!(parts[1].body.of(&body), audio.as_slice());
        assert_eq!(parts[1].content_type.as_deref(), Some("audio/wav"));
    }

    #[test]
    fn lf_only_preamble_epilogue_and_padding() {
        let body = b"This is the preamble.\n--b-- is not a close delimiter here\n--b \t\n\
            content-disposition: form-data;\n  name=\"folded\"\n\nline one\n\nline three\n\
            --b\nX-Other: ignored\nContent-Disposition: form-data; name=note; filename*=UTF-8''na%C3%AFve%20file.txt\n\n\n\
            --b--   \nepilogue\n--b\nnot a part\n";
        let parts = parse(body, "b", 8).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name.as_deref(), Some("folded"));
        assert_eq!(text(body, &parts[0].body), "line one\n\nline three");
        assert_eq!(parts[1].name.as_deref(), Some("note"));
        assert_eq!(parts[1].filename.as_deref(), Some("na\u{ef}ve file.txt"));
        assert_eq!(text(body, &parts[1].body), "");
    }

    #[test]
    fn boundary_inside_content_does_not_split() {
        let body = b"--xyz\r\n\
            Content-Disposition: form-data; name=\"doc\"\r\n\r\n\
            the boundary is xyz and --xyz appears mid-line;\r\n\
            xyz\r\n\
            --xyzzy starts a line\r\n\
            \n-xyz\r\n\
            --xyz-- followed by text\r\n\
            end\r\n\
            --xyz--";
        let parts = parse(body, "xyz", 8).unwrap();
        assert_eq!(parts.len(), 1);
        let content = text(body, &parts[0].body);
        assert!(content.starts_with("the boundary is xyz"));
        assert!(content.ends_with("--xyz-- followed by text\r\nend"));
    }

    #[test]
    fn empty_parts_and_empty_body() {
        assert_eq!(parse(b"--b--\r\n", "b", 8).unwrap(), []);
        // Headers directly followed by the delimiter: an empty body.
        let parts = parse(
            b"--b\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n--b--",
            "b",
            8,
        )
        .unwrap();
        assert_eq!(parts.len(), 1);
        assert!(parts[0].body.is_empty());
        // No headers at all.
        let parts = parse(b"--b\r\n\r\nvalue\r\n--b--", "b", 8).unwrap();
        assert_eq!(parts[0].name, None);
        assert_eq!(text(b"--b\r\n\r\nvalue\r\n--b--", &parts[0].body), "value");
    }

    #[test]
    fn malformed_bodies() {
        let part = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n";
        assert_eq!(parse(part, "b", 8), Err(MultipartError::Unterminated));
        assert_eq!(
            parse(b"--b\r\nContent-Disposition: form-data", "b", 8),
            Err(MultipartError::Unterminated)
        );
        assert_eq!(
            parse(b"no delimiters at all", "b", 8),
            Err(MultipartError::NoDelimiter)
        );
        assert_eq!(parse(b"", "b", 8), Err(MultipartError::NoDelimiter));
        assert_eq!(parse(b"x--b\r\n", "b", 8), Err(MultipartError::NoDelimiter));
        assert_eq!(
            parse(b"--b\r\nno colon here\r\n\r\nx\r\n--b--", "b", 8),
            Err(MultipartError::MalformedHeader { offset: 5 })
        );
        assert_eq!(
            parse(b"--b\r\n continuation first\r\n\r\nx\r\n--b--", "b", 8),
            Err(MultipartError::MalformedHeader { offset: 5 })
        );
        assert_eq!(parse(part, "", 8), Err(MultipartError::InvalidBoundary));
        assert_eq!(parse(part, "a\"b", 8), Err(MultipartError::InvalidBoundary));
        assert_eq!(
            parse(part, &"b".repeat(MAX_BOUNDARY_LEN + 1), 8),
            Err(MultipartError::InvalidBoundary)
        );

        let mut huge = b"--b\r\nX-Pad: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_PART_HEADER_BYTES));
        huge.extend_from_slice(b"\r\n\r\nx\r\n--b--");
        assert_eq!(
            parse(&huge, "b", 8),
            Err(MultipartError::HeaderTooLarge { offset: 5 })
        );
        let mut many = b"--b\r\n".to_vec();
        for _ in 0..=MAX_PART_HEADER_LINES {
            many.extend_from_slice(b"X-A: b\r\n");
        }
        many.extend_from_slice(b"\r\nx\r\n--b--");
        assert_eq!(
            parse(&many, "b", 8),
            Err(MultipartError::HeaderTooLarge { offset: 5 })
        );

        let three = b"--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b\r\n\r\n3\r\n--b--";
        assert_eq!(parse(three, "b", 2), Err(MultipartError::TooManyParts));
        assert_eq!(parse(three, "b", 3).map(|p| p.len()), Ok(3));
    }
}
