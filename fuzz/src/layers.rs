//! The text layers: folding, decoding of encoded runs, respelling.
//!
//! Invariants: every span a layer reports lies inside the text, runs come in
//! text order without overlapping and within the layer's count and size
//! bounds; decoded runs are text-like (never binary handed to the scanner);
//! folding maps every folded span back to a span of the original, monotonically.

use airlock_filter::engine::bench_hooks::decode::{find_segments, Limits};
use airlock_filter::engine::bench_hooks::fold::{Folded, Folder};
use airlock_filter::engine::bench_hooks::layers::{Unwrapped, MAX_RESPELLED_RUNS};
use airlock_filter::engine::bench_hooks::respell;
use airlock_filter::engine::Span;
use std::sync::OnceLock;

pub fn check(text: &[u8]) {
    fold(text);
    decoded(text);
    let mut runs = Vec::new();
    respell::find(text, &mut runs);
    assert!(
        runs.len() <= MAX_RESPELLED_RUNS,
        "more respelled runs than allowed"
    );
    in_bounds(text, &runs, false);
}

fn fold(text: &[u8]) {
    static FOLDER: OnceLock<Folder> = OnceLock::new();
    let folder = FOLDER.get_or_init(Folder::new);
    let mut out = Folded::default();
    if !folder.fold(text, &mut out) {
        assert!(out.text().is_empty(), "an unchanged fold left text behind");
        return;
    }
    let n = out.text().len();
    let mut last = Span::new(0, 0);
    for end in 0..=n {
        let whole = out.original_span(Span::new(0, end));
        assert!(
            whole.start <= whole.end && whole.end <= text.len(),
            "folded span maps outside the text"
        );
        assert!(whole.end >= last.end, "the fold's map goes backwards");
        last = whole;
    }
    let all = out.original_span(Span::new(0, n));
    assert!(all.end <= text.len());
}

fn decoded(text: &[u8]) {
    let limits = Limits::default();
    let mut runs = Vec::new();
    find_segments(text, &limits, &mut runs);
    assert!(
        runs.len() <= limits.max_segments,
        "more decoded segments than allowed"
    );
    let total: usize = runs.iter().map(|r| r.text.len()).sum();
    assert!(total <= limits.max_decoded_bytes, "decoded past the budget");
    in_bounds(text, &runs, true);
}

fn in_bounds(text: &[u8], runs: &[Unwrapped], ordered: bool) {
    let mut end = 0;
    for run in runs {
        assert!(
            run.span.start <= run.span.end && run.span.end <= text.len(),
            "run outside the text"
        );
        if ordered {
            assert!(
                run.span.start >= end,
                "decoded runs overlap or are out of order"
            );
            end = run.span.end;
        }
    }
}
