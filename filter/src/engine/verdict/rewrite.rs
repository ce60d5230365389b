//! Rewriting matched spans: masks, hashes and reversible tokens, spliced into the original bytes.
//!
//! Only the strings that held a rewritten finding change; every other byte of
//! the body, whitespace and escapes included, is copied through unchanged.

use crate::engine::body::json;
use crate::engine::scan::scanner::Hit;
use crate::engine::span::Span;
use crate::engine::verdict::fingerprint::{fingerprint, fingerprint_hex};
use crate::policy::{Action, Policy, TierIndex};
use crate::response::RestoreMap;

/// Replacements for byte ranges of one document, added in document order.
#[derive(Debug, Default)]
pub(crate) struct Splices {
    items: Vec<(Span, Vec<u8>)>,
}

impl Splices {
    /// Replaces the inside of a JSON string (`raw`, between its quotes) with `text`, escaped.
    pub(crate) fn push_json_string(&mut self, raw: Span, text: &[u8]) {
        let mut escaped = Vec::with_capacity(text.len() + 8);
        json::escape_into(text, &mut escaped);
        self.items.push((raw, escaped));
    }

    /// Replaces a whole JSON token (`raw`: a number) with `text` as a quoted JSON string.
    pub(crate) fn push_json_string_for(&mut self, raw: Span, text: &[u8]) {
        let mut quoted = Vec::with_capacity(text.len() + 10);
        quoted.push(b'"');
        json::escape_into(text, &mut quoted);
        quoted.push(b'"');
        self.items.push((raw, quoted));
    }

    /// Replaces `span` of the document with `bytes` as they are.
    pub(crate) fn push_raw(&mut self, span: Span, bytes: Vec<u8>) {
        self.items.push((span, bytes));
    }

    /// How many replacements there are.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The replacements from the `start`th on, in the order they came.
    pub(crate) fn since(&self, start: usize) -> &[(Span, Vec<u8>)] {
        self.items.get(start..).unwrap_or_default()
    }

    /// The spans replaced, in the order they came.
    pub(crate) fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        self.items.iter().map(|(span, _)| *span)
    }

    /// The document with every replacement made, or `None` if there were none.
    pub(crate) fn apply(self, doc: &[u8]) -> Option<Vec<u8>> {
        if self.items.is_empty() {
            return None;
        }
        let extra: usize = self.items.iter().map(|(_, r)| r.len()).sum();
        let mut out = Vec::with_capacity(doc.len() + extra);
        let mut at = 0;
        for (span, replacement) in self.items {
            if span.start < at {
                continue;
            }
            out.extend_from_slice(doc.get(at..span.start).unwrap_or_default());
            out.extend_from_slice(&replacement);
            at = span.end;
        }
        out.extend_from_slice(doc.get(at..).unwrap_or_default());
        Some(out)
    }
}

/// One replacement: the merged span of overlapping rewriting hits, and the hit whose action
/// (the most severe) decides what replaces it.
#[derive(Clone, Copy)]
struct Replacement {
    span: Span,
    action: Action,
    hit: Hit,
}

/// `text` with every span whose action rewrites replaced; `hits` sorted by start.
/// Overlapping spans merge into one replacement, chosen from the most severe action.
/// Tokens minted for `tokenize` are recorded in `tokens` (the request's restore map).
pub(crate) fn apply_masks(
    policy: &Policy,
    tier: TierIndex,
    text: &[u8],
    hits: &[Hit],
    tokens: &mut RestoreMap,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 32);
    let mut at = 0;
    for_each_replacement(policy, tier, text, hits, tokens, &mut |span, bytes| {
        out.extend_from_slice(text.get(at..span.start).unwrap_or_default());
        out.extend_from_slice(bytes);
        at = span.end;
    });
    out.extend_from_slice(text.get(at..).unwrap_or_default());
    out
}

/// Calls `replace` with each span of `text` that [`apply_masks`] replaces and what replaces
/// it, in order: a caller that knows where those spans lie in the bytes as written (a JSON
/// string's escapes) can splice just them.
pub(crate) fn for_each_replacement(
    policy: &Policy,
    tier: TierIndex,
    text: &[u8],
    hits: &[Hit],
    tokens: &mut RestoreMap,
    replace: &mut dyn FnMut(Span, &[u8]),
) {
    let mut masked = Masked {
        policy,
        tier,
        tokens,
        token: Vec::new(),
        text,
        out: Vec::new(),
    };
    let mut current: Option<Replacement> = None;
    let rewriting = hits.iter().filter_map(|h| {
        let action = policy.action(h.detector, tier);
        action.rewrites().then_some((*h, action))
    });
    for (hit, action) in rewriting {
        match current.as_mut() {
            Some(r) if hit.span.start < r.span.end => {
                r.span.end = r.span.end.max(hit.span.end);
                if action > r.action {
                    r.action = action;
                    r.hit = hit;
                }
            }
            _ => {
                if let Some(r) = current.take() {
                    masked.replace(r, replace);
                }
                current = Some(Replacement {
                    span: hit.span,
                    action,
                    hit,
                });
            }
        }
    }
    if let Some(r) = current {
        masked.replace(r, replace);
    }
}

/// The text being rewritten, and the replacement being written (reused).
struct Masked<'p, 't, 'm> {
    policy: &'p Policy,
    tier: TierIndex,
    tokens: &'m mut RestoreMap,
    /// The token being written (reused).
    token: Vec<u8>,
    text: &'t [u8],
    out: Vec<u8>,
}

impl Masked<'_, '_, '_> {
    /// Writes what replaces `r` and hands it to `replace` (nothing for an unknown detector:
    /// the span is then dropped, as it always was).
    fn replace(&mut self, r: Replacement, replace: &mut dyn FnMut(Span, &[u8])) {
        let text = self.text;
        self.out.clear();
        let Some(detector) = self.policy.detector(r.hit.detector) else {
            replace(r.span, &[]);
            return;
        };
        match r.action {
            Action::Hash => {
                let fp = fingerprint(&self.policy.key, r.hit.span.of(text));
                self.out.extend_from_slice(
                    format!("[HASH:{}:{}]", detector.id, fingerprint_hex(&fp)).as_bytes(),
                );
            }
            Action::Tokenize => {
                // The whole replaced span is the original: restoring puts back exactly it.
                let value = r.span.of(text);
                let restore = self.policy.restores(self.tier, detector.class);
                let key = &self.policy.key;
                let prefix = detector.token_prefix.as_str();
                if self
                    .tokens
                    .mint(key, prefix, value, restore, &mut self.token)
                {
                    self.out.extend_from_slice(&self.token);
                } else {
                    // The map is full: mask, so nothing leaves and no token goes out unrestorable.
                    self.out.extend_from_slice(detector.mask.as_bytes());
                }
            }
            _ => self.out.extend_from_slice(detector.mask.as_bytes()),
        }
        replace(r.span, &self.out);
    }
}
