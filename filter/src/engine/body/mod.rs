//! Body shapes: JSON, JSON Lines (Batch files), multipart/form-data (Files and audio uploads), text.
//!
//! Each shape is taken apart into fields for the walker; anything that does
//! not parse as its shape is scanned as text, so nothing is ever skipped.

pub(crate) mod charset;
pub(crate) mod content_coding;
pub(crate) mod json;
pub(crate) mod multipart;

use crate::engine::span::Span;
use crate::engine::verdict::rewrite::Splices;
use crate::engine::walk::Walk;

use crate::engine::limits::MAX_MULTIPART_PARTS;

/// Documents read one after another from a body that is not one document; the rest is text.
const MAX_SEQUENCE_DOCUMENTS: usize = 64;

enum Shape<'c> {
    Json,
    JsonLines,
    Multipart(&'c str),
    Text,
}

fn media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| ct.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json_lines_type(media: &str) -> bool {
    matches!(
        media,
        "application/jsonl"
            | "application/x-jsonl"
            | "application/jsonlines"
            | "application/x-jsonlines"
            | "application/x-ndjson"
            | "application/ndjson"
    )
}

fn shape<'c>(content_type: Option<&'c str>, body: &[u8]) -> Shape<'c> {
    let media = media_type(content_type);
    if media.starts_with("multipart/") {
        if let Some(boundary) = content_type.and_then(multipart::boundary) {
            return Shape::Multipart(boundary);
        }
    }
    if is_json_lines_type(&media) {
        return Shape::JsonLines;
    }
    if media == "application/json" || media.ends_with("+json") || json::looks_like_json(body) {
        return Shape::Json;
    }
    Shape::Text
}

/// True for a body the engine cannot read: not JSON, JSON Lines or multipart, and not text
/// (a raw image, audio or archive upload). Such a body follows the fail mode.
pub(crate) fn is_opaque(body: &[u8], content_type: Option<&str>) -> bool {
    if !matches!(shape(content_type, body), Shape::Text) {
        return false;
    }
    const SAMPLE: usize = 4096;
    let sample = body.get(..SAMPLE.min(body.len())).unwrap_or_default();
    let valid = match std::str::from_utf8(sample) {
        Ok(_) => true,
        // A character cut by the sample's end is fine; invalid bytes before it are not.
        Err(e) => e.error_len().is_none(),
    };
    let controls = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
        .count();
    !valid || controls * 100 > sample.len()
}

impl Walk<'_, '_> {
    /// Inspects a whole (decoded) body; returns the rewritten body if anything was masked or hashed.
    pub fn body(&mut self, body: &[u8], content_type: Option<&str>) -> Option<Vec<u8>> {
        match shape(content_type, body) {
            Shape::Multipart(boundary) => {
                match multipart::parse(body, boundary, MAX_MULTIPART_PARTS) {
                    Ok(parts) => self.multipart(body, boundary, &parts),
                    Err(_) => {
                        self.limits.multipart += 1;
                        self.text(body, "$")
                    }
                }
            }
            Shape::JsonLines => self.json_lines(body, ""),
            // A body that is not one JSON document may be JSON Lines; lines that are not JSON are text.
            Shape::Json => match self.json(body, "$", 0) {
                Ok(rewritten) => rewritten,
                Err(_) if body.contains(&b'\n') => self.json_lines(body, ""),
                Err(_) => self.documents(body, "$"),
            },
            Shape::Text => self.text(body, "$"),
        }
    }

    /// Each line a JSON document (`line[3].body.messages[0].content`), or text if it is not one.
    fn json_lines(&mut self, text: &[u8], prefix: &str) -> Option<Vec<u8>> {
        let mut splices = Splices::default();
        let mut start = 0;
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            let range = start..start + line.len();
            start = range.end + 1;
            let content = line.strip_suffix(b"\r").unwrap_or(line);
            if content.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let path = format!("{prefix}line[{n}]");
            let rewritten = match self.json(content, &path, 0) {
                Ok(rewritten) => rewritten,
                Err(_) => self.documents(content, &path),
            };
            if let Some(new) = rewritten {
                splices.push_raw(Span::new(range.start, range.start + content.len()), new);
            }
        }
        splices.apply(text)
    }

    /// Text that is not one JSON document but may start with one (`{...}{...}`, `{...}garbage`):
    /// a streaming decoder (Go's `json.Decoder`) reads the first document and leaves the rest,
    /// so each leading document is walked as JSON and what follows the last as text.
    fn documents(&mut self, text: &[u8], path: &str) -> Option<Vec<u8>> {
        let mut splices = Splices::default();
        let mut outline = json::Outline::default();
        let mut start = 0;
        for _ in 0..MAX_SEQUENCE_DOCUMENTS {
            let rest = text.get(start..).unwrap_or_default();
            if !json::looks_like_json(rest) {
                break;
            }
            let end = match outline.parse_prefix(rest, json::Grammar::Tolerant) {
                Ok(end) if end < rest.len() => end,
                _ => break,
            };
            let doc = Span::new(start, start + end);
            if let Ok(Some(new)) = self.json(doc.of(text), path, 0) {
                splices.push_raw(doc, new);
            }
            start = doc.end;
        }
        let rest = Span::new(start, text.len());
        let first_finding = self.findings.len();
        if let Some(new) = self.text(rest.of(text), path) {
            splices.push_raw(rest, new);
        }
        // The rest's findings carry the whole text's path, so their spans are the whole text's.
        for finding in self.findings.iter_mut().skip(first_finding) {
            finding.span = finding.span.shifted(start);
        }
        splices.apply(text)
    }

    fn multipart(
        &mut self,
        body: &[u8],
        boundary: &str,
        parts: &[multipart::Part],
    ) -> Option<Vec<u8>> {
        let mut splices = Splices::default();
        let mut gap_start = 0;
        for (i, part) in parts.iter().enumerate() {
            self.multipart_gap(
                body,
                boundary,
                Span::new(gap_start, part.body.start),
                &mut splices,
            );
            gap_start = part.body.end;
            let Some(content) = body.get(part.body.range()) else {
                continue;
            };
            let label = part
                .name
                .as_deref()
                .filter(|n| safe_label(n))
                .map_or_else(|| format!("{i}"), |n| format!("\"{n}\""));
            let prefix = format!("multipart[{label}]");
            let media = media_type(part.content_type.as_deref());
            let jsonl_file = part
                .filename
                .as_deref()
                .is_some_and(|f| f.ends_with(".jsonl") || f.ends_with(".ndjson"));
            let rewritten = if is_json_lines_type(&media) || jsonl_file {
                self.json_lines(content, &format!("{prefix}."))
            } else if media == "application/json" || json::looks_like_json(content) {
                match self.json(content, &prefix, 0) {
                    Ok(rewritten) => rewritten,
                    Err(_) => self.text(content, &prefix),
                }
            } else {
                self.text(content, &prefix)
            };
            if let Some(new) = rewritten {
                splices.push_raw(part.body, new);
            }
        }
        self.multipart_gap(
            body,
            boundary,
            Span::new(gap_start, body.len()),
            &mut splices,
        );
        splices.apply(body)
    }

    /// The bytes between part bodies (preamble, part headers, epilogue), scanned as text: a
    /// parser that splits the body differently may read them as content. The delimiters
    /// themselves are left out (a random boundary is not a secret).
    fn multipart_gap(&mut self, body: &[u8], boundary: &str, gap: Span, splices: &mut Splices) {
        let delimiter = [b"--".as_slice(), boundary.as_bytes()].concat();
        let mut start = gap.start;
        while start < gap.end {
            let rest = body.get(start..gap.end).unwrap_or_default();
            let end = memchr::memmem::find(rest, &delimiter).map_or(gap.end, |at| start + at);
            let piece = Span::new(start, end);
            if !piece.is_empty() {
                if let Some(new) = self.text(piece.of(body), "multipart[headers]") {
                    splices.push_raw(piece, new);
                }
            }
            start = end + delimiter.len();
        }
    }
}

/// Part names shown in paths: short, printable, no quotes.
fn safe_label(name: &str) -> bool {
    name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
}
