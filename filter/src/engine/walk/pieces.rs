//! Values cut into pieces across the elements of one array or object.
//!
//! A key sent as `["AKIA","R7UZ","3WQ4",…]`, `{"a":"AKIA","b":"R7UZ",…}`, one character per
//! element, or as character codes (`[65,75,73,65,…]`) or single digits of a card number, is in
//! no field: each piece is clean, and short integers are not fields at all. The reader (a model,
//! a script) joins them again. So the outline records every container whose elements are all
//! short strings or integers ([`json::ScalarRun`]), and here each such run is read joined:
//!
//! - its pieces one after another (strings unescaped, integers as their digits), through every
//!   layer a field goes through;
//! - for a run of integers, also as a comma list (which the byte-list layer reads as character
//!   codes in any base it knows) and as the characters their values name as code points (a
//!   card's digits, a marking's CJK characters).
//!
//! A hit inside one piece was the field's own scan's to find; a hit across pieces is a finding
//! of the container's path. It cannot be masked in one place, so a mask or hash blocks, as for
//! secrets cut across fields (`join.rs`). Runs are rare in chat bodies and cost one scan of their
//! joined text; long runs of numbers (token ids, embeddings are floats and never runs) are read
//! at the cost of their bytes.

use crate::engine::body::json::{self, Outline};
use crate::engine::scan::scanner::Hit;
use crate::engine::span::Span;
use crate::engine::walk::tally::Source;
use crate::engine::walk::{render_path, Found, Via, Walk};
use crate::engine::Finding;
use crate::policy::Action;

/// Most pieces of a run whose windows of 2 and 3 pieces are read too (a longer run is of
/// pieces too short to need them: characters, digits).
const MAX_WINDOWED_PIECES: usize = 12;

/// One run read joined: the text and where each piece ends in it.
#[derive(Default)]
struct Joined {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl Joined {
    fn push(&mut self, piece: &[u8], separator: &[u8]) {
        if !self.ends.is_empty() {
            self.text.extend_from_slice(separator);
        }
        self.text.extend_from_slice(piece);
        self.ends.push(self.text.len());
    }

    /// Whether `span` reaches over a piece's end into the next piece.
    fn crosses_pieces(&self, span: Span) -> bool {
        self.ends
            .iter()
            .any(|&end| span.start < end && end < span.end)
    }
}

impl Walk<'_, '_> {
    /// Reads each run of pieces of `doc` joined, and records the hits that cross pieces.
    pub(super) fn piece_runs(
        &mut self,
        doc: &[u8],
        outline: &Outline,
        prefix: &str,
        redacted: &[u32],
    ) {
        let mut scratch = Vec::new();
        for run in &outline.runs {
            let Some(raw) = doc.get(run.raw.range()) else {
                continue;
            };
            let mut joined = Joined::default();
            let mut codes = Joined::default();
            let mut chars = Joined::default();
            let (mut integers, mut code_points) = (true, true);
            for_each_piece(
                raw,
                run.is_object,
                &mut scratch,
                &mut |piece, is_integer| {
                    integers &= is_integer;
                    joined.push(piece, b"");
                    if integers {
                        codes.push(piece, b",");
                        match code_point(piece) {
                            Some(c) => chars.push(c.encode_utf8(&mut [0; 4]).as_bytes(), b""),
                            None => code_points = false,
                        }
                    }
                },
            );
            let path = || {
                let container = render_path(prefix, outline, doc, run.node, redacted);
                format!("{container} (joined pieces, {})", joined.ends.len())
            };
            self.piece_findings(&joined, &path);
            if integers {
                self.piece_findings(&codes, &path);
                if code_points {
                    self.piece_findings(&chars, &path);
                }
            }
        }
    }

    fn piece_findings(&mut self, joined: &Joined, path: &dyn Fn() -> String) {
        let mut found: Vec<Found> = Vec::new();
        let mut scan = |walk: &mut Self, span: Span| {
            let mut inner = Vec::new();
            walk.collect(span.of(&joined.text), None, Source::Joined, 0, &mut inner);
            found.extend(inner.into_iter().map(|f| Found {
                hit: Hit {
                    span: f.hit.span.shifted(span.start),
                    ..f.hit
                },
                ..f
            }));
        };
        scan(self, Span::new(0, joined.text.len()));
        // Windows of 2 and 3 pieces too: a neighbour joined on would cut the word edge a
        // pattern needs (`user` before `AKIA…`, the members of one message).
        let pieces = joined.ends.len();
        if (3..=MAX_WINDOWED_PIECES).contains(&pieces) {
            for width in 2..=3 {
                for first in 0..=pieces - width {
                    let start = match first {
                        0 => 0,
                        _ => joined.ends.get(first - 1).copied().unwrap_or(0),
                    };
                    let end = joined.ends.get(first + width - 1).copied().unwrap_or(start);
                    scan(self, Span::new(start, end));
                }
            }
        }
        found.retain(|f| joined.crosses_pieces(f.hit.span));
        found.sort_unstable_by_key(|f| (f.hit.span, f.hit.detector));
        found.dedup_by_key(|f| (f.hit.span, f.hit.detector));
        for f in found {
            let action = match self.policy.action(f.hit.detector, self.tier) {
                a if a.rewrites() => Action::Block,
                a => a,
            };
            self.findings.push(Finding {
                detector: f.hit.detector,
                path: path(),
                span: f.hit.span,
                action,
                fingerprint: f.fingerprint,
                via: Via::Joined,
                origin: f.hit.origin,
            });
        }
    }
}

/// The character an integer piece names as a code point (`String.fromCodePoint`), if it is
/// one that text holds: not a control character, not a surrogate.
fn code_point(digits: &[u8]) -> Option<char> {
    let value = std::str::from_utf8(digits).ok()?.parse::<u32>().ok()?;
    char::from_u32(value).filter(|c| !c.is_control())
}

/// Calls `piece` with each element of the container `raw` (an object's values, not its keys):
/// a string's unescaped text, or an integer's digits (and `true`). `raw` passed the outline's
/// parser, so a plain lexer reads it; whitespace and the tolerant grammar's comments are skipped.
fn for_each_piece(
    raw: &[u8],
    is_object: bool,
    scratch: &mut Vec<u8>,
    piece: &mut dyn FnMut(&[u8], bool),
) {
    let mut i = 1; // past the opening bracket
    while let Some(&b) = raw.get(i) {
        match b {
            b'"' => {
                let start = i + 1;
                let mut end = start;
                while let Some(&c) = raw.get(end) {
                    match c {
                        b'\\' => end += 2,
                        b'"' => break,
                        _ => end += 1,
                    }
                }
                i = end + 1;
                let key = is_object && next_significant(raw, i) == Some(b':');
                if !key {
                    json::unescape(raw.get(start..end).unwrap_or_default(), scratch);
                    piece(scratch, false);
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i + usize::from(b == b'-');
                i = start;
                while raw.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                piece(raw.get(start..i).unwrap_or_default(), true);
            }
            b'/' => i = past_comment(raw, i),
            _ => i += 1,
        }
    }
}

/// The first byte at or after `at` that is neither whitespace nor in a comment.
fn next_significant(raw: &[u8], mut at: usize) -> Option<u8> {
    loop {
        match raw.get(at) {
            Some(b'/') => at = past_comment(raw, at),
            Some(b) if b.is_ascii_whitespace() => at += 1,
            other => return other.copied(),
        }
    }
}

/// Past the `//` or `/* */` comment at `at` (or past the byte, if it opens none).
fn past_comment(raw: &[u8], at: usize) -> usize {
    let rest = raw.get(at..).unwrap_or_default();
    let len = if rest.starts_with(b"//") {
        memchr::memchr(b'\n', rest).unwrap_or(rest.len())
    } else if rest.starts_with(b"/*") {
        memchr::memmem::find(rest.get(2..).unwrap_or_default(), b"*/").map_or(rest.len(), |p| p + 4)
    } else {
        1
    };
    at + len.max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
    use super::*;

    fn pieces(raw: &str, is_object: bool) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        for_each_piece(raw.as_bytes(), is_object, &mut scratch, &mut |p, n| {
            out.push((String::from_utf8_lossy(p).into_owned(), n));
        });
        out
    }

    #[test]
    fn pieces_are_values_unescaped_and_integers_as_digits() {
        assert_eq!(
            pieces(r#"["A\u004b", "I" , /* c */ "A\"" ]"#, false),
            [
                ("AK".into(), false),
                ("I".into(), false),
                ("A\"".into(), false)
            ]
        );
        assert_eq!(
            pieces(
                r#"{"k1": "AK", "k:2" : -65, // x
 "k3":"IA"}"#,
                true
            ),
            [
                ("AK".into(), false),
                ("65".into(), true),
                ("IA".into(), false)
            ]
        );
    }

    #[test]
    fn a_hit_counts_only_across_pieces() {
        let mut joined = Joined::default();
        for p in ["AKIA", "R7UZ", "3WQ4"] {
            joined.push(p.as_bytes(), b",");
        }
        assert!(!joined.crosses_pieces(Span::new(0, 4)));
        assert!(joined.crosses_pieces(Span::new(2, 7)));
        assert!(!joined.crosses_pieces(Span::new(5, 9)));
    }
}
