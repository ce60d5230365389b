//! The engine's JSON walker (`Outline`) against serde_json, differentially.
//!
//! Both read the same bytes. Where the walker accepts a document, serde_json
//! must accept it too (or refuse it for a reason in
//! [`known_refusal`](crate::json_tokens::known_refusal)), and the two must see
//! the same strings, keys included, in the same order with the same
//! unescaped bytes: a string the walker reads differently is a place to hide
//! data. Where serde_json accepts a document the walker refuses, the engine
//! scans it as text, which skips nothing; that is allowed only for nesting
//! past the walker's limit, so any other refusal is reported too.

use crate::json_tokens::{known_refusal, tokens, Token};
use airlock_filter::engine::bench_hooks::json::{unescape, Outline};
use airlock_filter::engine::bench_hooks::limits::MAX_JSON_DEPTH;

pub fn check(data: &[u8]) {
    let mut outline = Outline::default();
    let walker = outline.parse(data);
    let reference = tokens(data);
    match (walker, reference) {
        (Ok(()), Ok(tokens)) => same_strings(data, &outline, &tokens),
        (Ok(()), Err(e)) => assert!(
            known_refusal(&e),
            "the walker accepts a document serde_json refuses: {e}"
        ),
        (Err(_), Ok(tokens)) => assert!(
            depth(&tokens) > MAX_JSON_DEPTH,
            "serde_json accepts a document the walker refuses ({} tokens)",
            tokens.len()
        ),
        (Err(_), Err(_)) => {}
    }
}

/// Every string of the outline, unescaped, equals serde_json's, in order.
fn same_strings(doc: &[u8], outline: &Outline, tokens: &[Token]) {
    let reference: Vec<&str> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Str(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    // Long numbers are leaves too (a card number can be a JSON number); they are not strings.
    let strings: Vec<_> = outline.strings.iter().filter(|l| !l.is_number).collect();
    assert_eq!(
        strings.len(),
        reference.len(),
        "the walker and serde_json see a different number of strings"
    );
    let mut text = Vec::new();
    for (i, (leaf, expected)) in strings.iter().zip(&reference).enumerate() {
        let raw = doc.get(leaf.raw.range()).unwrap_or_default();
        unescape(raw, &mut text);
        assert!(
            text == expected.as_bytes(),
            "string {i} reads differently in the walker and serde_json"
        );
    }
}

fn depth(tokens: &[Token]) -> usize {
    let (mut now, mut max) = (0usize, 0usize);
    for t in tokens {
        match t {
            Token::Open(_) => {
                now += 1;
                max = max.max(now);
            }
            Token::Close(_) => now = now.saturating_sub(1),
            _ => {}
        }
    }
    max
}
