//! A whole `Policy::inspect`, with the invariants every request must keep.
//!
//! The first input byte picks the request around the body: content type,
//! gzip or not, destination host (approved vendor, relay), and the policy
//! (default, or every finding rewritten). The rest is the body. Invariants:
//! - no panic, and CPU time within [`work::budget`] of the input size;
//! - the decision follows the findings (the most severe action, or the fail mode);
//! - a decision that rewrites comes with a rewritten body (never the original);
//! - a rewritten body is valid JSON wherever the input was (whole, or line by line);
//! - only the findings' fields change, and in a field only the findings' spans;
//! - the rewritten body no longer holds what was rewritten (each value a finding rewrote in
//!   a text body occurs fewer times, by its number of findings).

use crate::json_tokens::{scalar_starts, tokens, Token};
use crate::policy::policies;
use crate::request_shape::{Shape, PATH};
use crate::work;
use airlock_filter::engine::bench_hooks::charset;
use airlock_filter::engine::bench_hooks::json::Outline;
use airlock_filter::engine::{Request, Span, Via};
use airlock_filter::{Action, Policy, Scratch, Verdict};
use std::cell::RefCell;
use std::io::{Read, Write};

pub fn check(data: &[u8]) {
    let [selector, body @ ..] = data else {
        return;
    };
    let shape = Shape::of(*selector);
    let policy = &policies()[shape.policy];
    let (verdict, spent) = inspect_timed(selector, &shape, policy, body);
    assert!(
        spent <= work::budget(body.len()),
        "inspecting {} bytes took {spent:?} of CPU time",
        body.len()
    );
    decision_follows_findings(policy, &verdict);
    let Some(rewritten) = &verdict.body else {
        return;
    };
    let plain = if shape.gzip {
        gunzip(rewritten)
    } else {
        rewritten.clone()
    };
    // A body in UTF-16, UTF-32 or UTF-7 is inspected, and its findings' spans given, as UTF-8
    // (`engine::body::charset`); the checks compare what the engine read.
    let (body, plain) = match charset::detect(shape.content_type, body) {
        Ok(Some(charset)) => (
            charset::decode(charset, body),
            charset::decode(charset, &plain),
        ),
        _ => (body.to_vec(), plain),
    };
    rewrite_is_confined(&body, &plain, &verdict, shape.content_type);
    rewrite_removed_findings(&body, &plain, &verdict);
}

/// Sends `body` as the request `shape` describes (gzipped if it says so) through `policy`:
/// the verdict, and the CPU time this thread spent on it.
fn inspect_timed(
    selector: &u8,
    shape: &Shape,
    policy: &Policy,
    body: &[u8],
) -> (Verdict, std::time::Duration) {
    let sent = if shape.gzip {
        gzip_bytes(body)
    } else {
        body.to_vec()
    };
    let request = Request {
        host: shape.host,
        path: PATH,
        content_type: shape.content_type,
        content_encoding: shape.content_encoding(),
        body: &sent,
        caller: None,
    };
    let started = work::thread_cpu();
    let verdict = with_scratch(selector, |scratch| policy.inspect(&request, scratch));
    let spent = work::thread_cpu().saturating_sub(started);
    (verdict, spent)
}

fn decision_follows_findings(policy: &Policy, verdict: &Verdict) {
    if verdict.uninspectable.is_some() {
        assert!(
            verdict.body.is_none(),
            "an uninspectable request got a rewritten body"
        );
        return;
    }
    let planned = verdict
        .findings
        .iter()
        .map(|f| f.action)
        .max()
        .unwrap_or(Action::Allow);
    assert_eq!(
        verdict.planned, planned,
        "the planned action is not the findings' most severe"
    );
    let _ = policy;
    if verdict.decision.rewrites() {
        assert!(
            verdict.body.is_some(),
            "a {:?} decision without a rewritten body",
            verdict.decision
        );
    }
    if verdict.body.is_some() {
        assert!(
            verdict.decision.rewrites(),
            "a rewritten body with a {:?} decision",
            verdict.decision
        );
    }
}

/// The rewritten body is JSON where the input was, and differs only in the findings' fields
/// and spans.
fn rewrite_is_confined(input: &[u8], output: &[u8], verdict: &Verdict, content_type: Option<&str>) {
    let multipart = content_type.is_some_and(|t| t.starts_with("multipart/"));
    // The engine reads a body as JSON when its type says so or it starts like a document
    // (`engine::body::shape`); a text body that happens to be a JSON scalar (`5500…` alone)
    // is text, and its mask need not be JSON.
    let starts_like_json = matches!(
        input.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    );
    let read_as_json = content_type.is_some_and(|t| t.contains("json")) || starts_like_json;
    if let (true, Ok(before)) = (read_as_json, tokens(input)) {
        if multipart {
            return;
        }
        let after = tokens(output).unwrap_or_else(|e| panic!("masking broke a JSON body: {e}"));
        same_structure(input, &before, &after, verdict);
        return;
    }
    let (lines_in, lines_out) = (input.split(|&b| b == b'\n'), output.split(|&b| b == b'\n'));
    // Line by line only where the engine reads lines as JSON documents (JSON Lines, or a
    // JSON body that is not one document); a text line that happens to be a JSON scalar
    // (`5500...` alone) is text, and its mask need not be JSON.
    let json_lines = content_type.is_some_and(|t| t.contains("json"));
    if json_lines && input.split(|&b| b == b'\n').count() == output.split(|&b| b == b'\n').count() {
        for (a, b) in lines_in.zip(lines_out) {
            if tokens(a).is_ok() {
                assert!(tokens(b).is_ok(), "masking broke a JSON line");
            }
        }
    }
    // A JSON body serde_json refuses (invalid UTF-8 in a string) is still walked as JSON: a
    // finding at `$` is then inside the root string, and rewriting that string re-encodes it
    // whole, so its spans are not the body's.
    let text_spans = !read_as_json || verdict.findings.is_empty();
    if text_spans && verdict.findings.iter().all(|f| f.path == "$") {
        within(input, output, hull(verdict, "$"), "the text body");
    }
}

/// Same tokens except strings; each changed string belongs to a finding's field.
fn same_structure(doc: &[u8], before: &[Token], after: &[Token], verdict: &Verdict) {
    assert_eq!(
        before.len(),
        after.len(),
        "masking changed the JSON structure"
    );
    let mut outline = Outline::default();
    let paths = outline.parse(doc).is_ok();
    let path_of = |node| {
        let mut path = String::from("$");
        outline.render_path(doc, node, &|_| false, &mut path);
        path
    };
    // The engine's leaves are its strings and its long numbers (scanned, and masked as strings);
    // a number token is a leaf when one starts where it does.
    let mut scalar_starts = scalar_starts(doc).into_iter();
    let mut index = 0usize;
    for (a, b) in before.iter().zip(after) {
        match (a, b) {
            (Token::Str(x), Token::Str(y)) => {
                if x != y && paths {
                    if let Some(leaf) = outline.strings.get(index) {
                        field_changed(&path_of(leaf.node), x.as_bytes(), y.as_bytes(), verdict);
                    }
                }
                index += 1;
            }
            (Token::Scalar(_), _) => {
                let start = scalar_starts.next();
                let number_leaf = outline
                    .strings
                    .get(index)
                    .filter(|leaf| paths && leaf.is_number && Some(leaf.raw.start) == start);
                match (number_leaf, b) {
                    (Some(leaf), Token::Str(y)) => {
                        let raw = leaf.raw.of(doc);
                        field_changed(&path_of(leaf.node), raw, y.as_bytes(), verdict);
                    }
                    _ => assert_eq!(
                        a, b,
                        "masking changed a JSON token that is neither a string nor a long number"
                    ),
                }
                index += usize::from(number_leaf.is_some());
            }
            _ => assert_eq!(a, b, "masking changed the JSON structure"),
        }
    }
}

fn field_changed(path: &str, before: &[u8], after: &[u8], verdict: &Verdict) {
    let rewriting = || verdict.findings.iter().filter(|f| f.action.rewrites());
    assert!(
        rewriting().any(|f| related(&f.path, path)),
        "the field {path} changed without a rewriting finding in it"
    );
    if rewriting().all(|f| unrooted(&f.path) == unrooted(path) || !related(&f.path, path)) {
        within(before, after, hull(verdict, path), path);
    }
}

/// Whether a finding's path names this field, a field inside it, or the message around it.
/// Paths compare without their root: `$` for a JSON body, `line[N]` for a JSON Lines one.
fn related(finding: &str, field: &str) -> bool {
    if finding.contains("[*]") {
        // A redacted key stands for any one step.
        return true;
    }
    let (a, b) = (unrooted(finding), unrooted(field));
    a.starts_with(b) || b.starts_with(a)
}

fn unrooted(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix('$') {
        return rest;
    }
    match path
        .strip_prefix("line[")
        .and_then(|rest| rest.split_once(']'))
    {
        Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => path,
    }
}

/// The smallest span holding every rewriting finding of `path`.
fn hull(verdict: &Verdict, path: &str) -> Option<Span> {
    verdict
        .findings
        .iter()
        .filter(|f| unrooted(&f.path) == unrooted(path) && f.action.rewrites())
        .map(|f| f.span)
        .reduce(|a, b| Span::new(a.start.min(b.start), a.end.max(b.end)))
}

/// The bytes that differ between `before` and `after` lie inside `hull` (of `before`).
fn within(before: &[u8], after: &[u8], hull: Option<Span>, what: &str) {
    let prefix = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    let room = before.len().min(after.len()) - prefix;
    let suffix = before
        .iter()
        .rev()
        .zip(after.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    let changed = Span::new(prefix, before.len() - suffix);
    if changed.start >= changed.end && before.len() == after.len() {
        return;
    }
    let Some(hull) = hull else {
        panic!("{what} changed without a rewriting finding");
    };
    assert!(
        hull.start <= changed.start && changed.end <= hull.end,
        "{what} changed outside its findings' spans ({changed:?} not in {hull:?})"
    );
}

/// Each value a finding rewrote in a text body occurs in the rewritten body fewer times than
/// in the input, by at least the number of its rewritten findings. (Not "inspecting the
/// rewritten body finds nothing": a mask's label, `[REDACTED:phone-national]`, holds a
/// detector's keyword and may arm it for a neighbouring value that was not a finding before,
/// which the fuzzer showed; see README.md.)
fn rewrite_removed_findings(input: &[u8], output: &[u8], verdict: &Verdict) {
    // Rewritten spans of the text body, each once (two detectors may find the same span).
    let mut spans: Vec<Span> = verdict
        .findings
        .iter()
        .filter(|f| f.action.rewrites() && f.path == "$" && f.via == Via::Plain)
        .map(|f| f.span)
        .collect();
    spans.sort_by_key(|s| (s.start, s.end));
    spans.dedup();
    // Per value, the rewritten occurrences that do not overlap one another.
    let mut values: Vec<(&[u8], usize, usize)> = Vec::new();
    for span in spans {
        let Some(value) = input.get(span.range()).filter(|v| !v.is_empty()) else {
            continue;
        };
        match values.iter_mut().find(|(v, _, _)| *v == value) {
            Some((_, n, end)) if span.start >= *end => {
                *n += 1;
                *end = span.end;
            }
            Some(_) => {}
            None => values.push((value, 1, span.end)),
        }
    }
    for (value, rewritten, _) in values {
        let (before, after) = (occurrences(input, value), occurrences(output, value));
        assert!(
            after + rewritten <= before,
            "a rewritten value is still in the rewritten body ({before} before, {after} after, {rewritten} rewritten)"
        );
    }
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    let mut count = 0;
    let mut from = 0;
    while let Some(at) = haystack
        .get(from..)
        .and_then(|h| h.windows(needle.len()).position(|w| w == needle))
    {
        count += 1;
        from += at + needle.len();
    }
    count
}

/// Runs `f` with this thread's scratch for the policy `selector` picks: reused across
/// inputs, as a VM reuses its scratch across requests (and much faster than a new one).
fn with_scratch<T>(selector: &u8, f: impl FnOnce(&mut Scratch) -> T) -> T {
    thread_local! {
        static SCRATCH: RefCell<Vec<Scratch>> = RefCell::new(policies().iter().map(Policy::scratch).collect());
    }
    let which = Shape::of(*selector).policy;
    SCRATCH.with(|all| {
        let mut all = all.borrow_mut();
        match all.get_mut(which) {
            Some(scratch) => f(scratch),
            None => f(&mut policies()[which].scratch()),
        }
    })
}

fn gzip_bytes(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("the rewritten body is not gzip: {e}"));
    out
}

/// One line about the verdict on `data` (for `examples/verdicts.rs`): no body text, no findings' bytes.
pub fn summary(data: &[u8]) -> String {
    let [selector, body @ ..] = data else {
        return "empty".into();
    };
    let shape = Shape::of(*selector);
    let (verdict, spent) = inspect_timed(selector, &shape, &policies()[shape.policy], body);
    format!(
        "{:?} findings={} rewritten={} uninspectable={} bytes={} cpu={:?} ns/byte={}",
        verdict.decision,
        verdict.findings.len(),
        verdict.body.is_some(),
        verdict.uninspectable.is_some(),
        body.len(),
        spent,
        spent.as_nanos() / (body.len().max(1) as u128)
    )
}

/// Compiles the policies and this thread's scratches (the fuzz target's `init`).
pub fn warm_up() {
    for (i, policy) in policies().iter().enumerate() {
        let selector = u8::try_from(i).unwrap_or(0) << 6;
        with_scratch(&selector, |_| ());
        let _ = policy;
    }
}
