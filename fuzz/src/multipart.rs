//! Multipart bodies: the `Content-Type` boundary and the split into parts.
//!
//! Input: a `Content-Type` value, a line break, the body. Invariants: the
//! boundary returned is part of the header and has only RFC 2046 characters;
//! parts lie inside the body, in order, without overlapping, at most as many
//! as allowed; and the body delimited by the boundary contains each part
//! preceded by a delimiter line (so no byte of a part is skipped).

use airlock_filter::engine::bench_hooks::multipart::{boundary, parse, MAX_MULTIPART_PARTS};

const BCHARS: &[u8] = b"'()+_,-./:=? ";

pub fn check(data: &[u8]) {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (
            data.get(..at).unwrap_or_default(),
            data.get(at + 1..).unwrap_or_default(),
        ),
        None => (data, &[][..]),
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let Some(found) = boundary(header) else {
        // A boundary the header does not give can still be tried directly.
        let _ = parse(body, header, 8);
        return;
    };
    assert!(
        !found.is_empty() && found.len() <= 200,
        "boundary length {}",
        found.len()
    );
    assert!(
        header.contains(found),
        "the boundary is not part of the header"
    );
    assert!(
        found
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || BCHARS.contains(&b)),
        "the boundary holds a character RFC 2046 forbids"
    );
    let Ok(parts) = parse(body, found, MAX_MULTIPART_PARTS) else {
        return;
    };
    assert!(parts.len() <= MAX_MULTIPART_PARTS);
    let mut end = 0;
    let delimiter = format!("--{found}");
    for part in &parts {
        let span = part.body;
        assert!(
            span.start <= span.end && span.end <= body.len(),
            "part outside the body"
        );
        assert!(span.start >= end, "parts overlap or are out of order");
        let before = body.get(end..span.start).unwrap_or_default();
        assert!(
            before
                .windows(delimiter.len())
                .any(|w| w == delimiter.as_bytes()),
            "a part starts without a delimiter line before it"
        );
        let inside = body.get(span.range()).unwrap_or_default();
        assert!(
            !contains_line(inside, delimiter.as_bytes()),
            "a part holds a delimiter line of its own boundary"
        );
        end = span.end;
    }
}

/// Whether `text` holds a delimiter line of the boundary: after a line break, `--boundary`,
/// optionally `--` (a close delimiter), then optional spaces or tabs and a line break or the end.
/// (`--boundary` followed by other characters is part content, RFC 2046 section 5.1.1: the
/// engine then inspects more than a laxer parser would forward, never less.)
fn contains_line(text: &[u8], delimiter: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = find(text.get(from..).unwrap_or_default(), delimiter) {
        let start = from + at;
        let after = text.get(start + delimiter.len()..).unwrap_or_default();
        let at_line_start = start > 0 && text.get(start - 1) == Some(&b'\n');
        let close = after.strip_prefix(b"--");
        if at_line_start && (ends_line(after) || close.is_some_and(ends_line)) {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Optional spaces or tabs (RFC 2046 transport padding), then a line break or the end.
fn ends_line(text: &[u8]) -> bool {
    let rest = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .and_then(|i| text.get(i..));
    rest.is_none_or(|r| r.starts_with(b"\r\n") || r.starts_with(b"\n"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
