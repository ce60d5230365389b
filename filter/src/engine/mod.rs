//! The inspection engine: one request in, one verdict out.
//!
//! Host-agnostic and synchronous: the proxy-wasm glue, the CLI and the tests
//! all call [`Policy::inspect`] with a [`Request`] and a reusable [`Scratch`].
//! The engine finds every string in a JSON body (and JSON documents nested in
//! strings, like tool-call arguments), scans each with the policy's scanner,
//! resolves each finding's action for the request's destination tier and,
//! when masking, rewrites only the matched bytes.

pub mod encoding;
pub mod json;
mod fingerprint;
pub mod multipart;
pub mod normalize;
mod rewrite;
pub mod scanner;
pub mod transcode;
pub mod validators;
mod verdict;

pub use fingerprint::fingerprint_hex;
pub use verdict::{Finding, Uninspectable, Verdict};

use crate::policy::{Action, FailMode, Mode, Policy, TierIndex};
use json::{Outline, SyntaxError};
use rewrite::Splices;
use scanner::{Hit, ScanScratch};

/// How deep JSON documents nested inside JSON strings are followed.
pub const MAX_EMBEDDED_DEPTH: usize = 4;

/// One request as the engine sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub body: &'a [u8],
}

/// Buffers reused across requests so the common path does not allocate.
#[derive(Debug)]
pub struct Scratch {
    scan: ScanScratch,
    outlines: Vec<Outline>,
    decoded: Vec<Vec<u8>>,
    hits: Vec<Hit>,
    /// `key: value` of a member whose key is context for its value.
    joined: Vec<u8>,
}

impl Policy {
    /// Scratch space sized for this policy; keep one per thread (one per VM in the filter).
    pub fn scratch(&self) -> Scratch {
        Scratch {
            scan: self.scanner.scratch(),
            outlines: (0..=MAX_EMBEDDED_DEPTH).map(|_| Outline::default()).collect(),
            decoded: (0..=MAX_EMBEDDED_DEPTH).map(|_| Vec::new()).collect(),
            hits: Vec::new(),
            joined: Vec::new(),
        }
    }

    /// Inspects one request and decides what happens to it.
    pub fn inspect(&self, request: &Request<'_>, scratch: &mut Scratch) -> Verdict {
        let tier = self.tier_for(request.host, request.path);
        if request.body.len() > self.limits.max_body_bytes {
            return self.uninspectable(
                tier,
                Uninspectable::TooLarge {
                    size: request.body.len(),
                    limit: self.limits.max_body_bytes,
                },
            );
        }
        if let Some(encoding) = request.content_encoding {
            let encoding = encoding.trim();
            if !encoding.is_empty() && !encoding.eq_ignore_ascii_case("identity") {
                return self.uninspectable(tier, Uninspectable::Encoding(encoding.to_string()));
            }
        }
        let mut walk = Walk {
            policy: self,
            tier,
            findings: Vec::new(),
            scratch,
        };
        let rewritten = if is_json(request.content_type, request.body) {
            match walk.json(request.body, "$", 0) {
                Ok(rewritten) => rewritten,
                Err(_) => walk.text(request.body, "$"),
            }
        } else {
            walk.text(request.body, "$")
        };
        let findings = walk.findings;
        let planned = findings.iter().map(|f| f.action).max().unwrap_or(Action::Allow);
        let (decision, body) = match self.mode {
            Mode::Monitor if planned > Action::Allow => (Action::Monitor, None),
            Mode::Monitor => (Action::Allow, None),
            Mode::Enforce if planned.rewrites() => (planned, rewritten),
            Mode::Enforce => (planned, None),
        };
        Verdict {
            decision,
            planned,
            tier,
            findings,
            body,
            uninspectable: None,
        }
    }

    /// The verdict for a request that cannot be inspected, following the policy's fail mode.
    pub fn uninspectable(&self, tier: TierIndex, why: Uninspectable) -> Verdict {
        let planned = match self.limits.on_uninspectable {
            FailMode::Block => Action::Block,
            FailMode::Allow => Action::Allow,
        };
        let decision = match (self.mode, planned) {
            (Mode::Monitor, Action::Block) => Action::Monitor,
            _ => planned,
        };
        Verdict {
            decision,
            planned,
            tier,
            findings: Vec::new(),
            body: None,
            uninspectable: Some(why),
        }
    }
}

fn render_path(prefix: &str, outline: &Outline, doc: &[u8], node: u32, redacted: &[u32]) -> String {
    let mut path = String::from(prefix);
    outline.render_path(doc, node, &|n| redacted.contains(&n), &mut path);
    path
}

fn is_json(content_type: Option<&str>, body: &[u8]) -> bool {
    let declared = content_type.is_some_and(|ct| {
        let media = ct.split(';').next().unwrap_or("").trim();
        media.eq_ignore_ascii_case("application/json") || media.to_ascii_lowercase().ends_with("+json")
    });
    declared || json::looks_like_json(body)
}

/// State of one inspection.
struct Walk<'p, 's> {
    policy: &'p Policy,
    tier: TierIndex,
    findings: Vec<Finding>,
    scratch: &'s mut Scratch,
}

impl Walk<'_, '_> {
    /// Inspects a JSON document; returns its rewritten bytes if any finding rewrote something.
    fn json(&mut self, doc: &[u8], prefix: &str, depth: usize) -> Result<Option<Vec<u8>>, SyntaxError> {
        let mut outline = self.scratch.outlines.get_mut(depth).map(std::mem::take).unwrap_or_default();
        let result = outline.parse(doc).map(|()| self.json_strings(doc, &outline, prefix, depth));
        if let Some(slot) = self.scratch.outlines.get_mut(depth) {
            *slot = outline;
        }
        result
    }

    fn json_strings(&mut self, doc: &[u8], outline: &Outline, prefix: &str, depth: usize) -> Option<Vec<u8>> {
        let mut splices = Splices::default();
        let mut redacted_keys: Vec<u32> = Vec::new();
        let mut decoded = self.scratch.decoded.get_mut(depth).map(std::mem::take).unwrap_or_default();
        // A key naming a credential (`"aws_secret_access_key": ...`) is context for its value:
        // the value is then scanned as `key: value` so assignment-style detectors see both.
        let mut context_key: Option<(u32, Vec<u8>)> = None;
        for leaf in &outline.strings {
            let raw_range = leaf.raw.range();
            let Some(raw) = doc.get(raw_range.clone()) else { continue };
            let text: &[u8] = if leaf.has_escapes {
                json::unescape(raw, &mut decoded);
                &decoded
            } else {
                raw
            };
            let path = |redacted: &[u32]| render_path(prefix, outline, doc, leaf.node, redacted);
            if !leaf.is_key && depth < MAX_EMBEDDED_DEPTH && json::looks_like_json(text) {
                let nested_prefix = path(&redacted_keys);
                if let Ok(nested) = self.json(text, &nested_prefix, depth + 1) {
                    if let Some(new_text) = nested {
                        splices.push_json_string(raw_range, &new_text);
                    }
                    continue;
                }
            }
            let context = match &context_key {
                Some((node, key)) if !leaf.is_key && *node == leaf.node => Some(key.as_slice()),
                _ => None,
            };
            let before = self.findings.len();
            let rewrite = self.scan(text, context, &|| path(&redacted_keys));
            if leaf.is_key {
                context_key = self
                    .policy
                    .scanner
                    .arms_any(text)
                    .then(|| (leaf.node, text.to_vec()));
            }
            if leaf.is_key && self.findings.len() > before {
                redacted_keys.push(leaf.node);
                // The key's own findings were rendered before it was known to be secret.
                let hidden = path(&redacted_keys);
                for finding in self.findings.iter_mut().skip(before) {
                    finding.path.clone_from(&hidden);
                }
            }
            if let Some(new_text) = rewrite {
                splices.push_json_string(raw_range, &new_text);
            }
        }
        if let Some(slot) = self.scratch.decoded.get_mut(depth) {
            *slot = decoded;
        }
        splices.apply(doc)
    }

    /// Inspects `text` as one field; returns the rewritten text if a finding rewrote something.
    fn text(&mut self, text: &[u8], path: &str) -> Option<Vec<u8>> {
        self.scan(text, None, &|| path.to_string())
    }

    /// Scans `text`; with `context`, scans `context: text` and keeps only what lies in `text`.
    fn scan(&mut self, text: &[u8], context: Option<&[u8]>, path: &dyn Fn() -> String) -> Option<Vec<u8>> {
        let policy = self.policy;
        let mut hits = std::mem::take(&mut self.scratch.hits);
        hits.clear();
        match context {
            None => policy.scanner.scan(text, &mut self.scratch.scan, &mut |hit| hits.push(hit)),
            Some(key) => {
                let mut joined = std::mem::take(&mut self.scratch.joined);
                joined.clear();
                joined.extend_from_slice(key);
                joined.extend_from_slice(b": ");
                let skip = joined.len();
                joined.extend_from_slice(text);
                policy.scanner.scan(&joined, &mut self.scratch.scan, &mut |hit| {
                    // Findings in the key alone belong to the key's own scan.
                    if hit.end > skip {
                        hits.push(Hit {
                            start: hit.start.max(skip) - skip,
                            end: hit.end - skip,
                            ..hit
                        });
                    }
                });
                self.scratch.joined = joined;
            }
        }
        if hits.is_empty() {
            self.scratch.hits = hits;
            return None;
        }
        hits.sort_unstable_by_key(|h| (h.start, h.end, h.detector));
        hits.dedup();
        let rendered = path();
        let mut rewrites = false;
        for hit in &hits {
            let action = policy.action(hit.detector, self.tier);
            rewrites |= action.rewrites();
            let value = text.get(hit.start..hit.end).unwrap_or_default();
            self.findings.push(Finding {
                detector: hit.detector,
                path: rendered.clone(),
                start: hit.start,
                end: hit.end,
                action,
                fingerprint: fingerprint::fingerprint(&policy.key, value),
            });
        }
        let result = (rewrites && policy.mode == Mode::Enforce)
            .then(|| rewrite::apply_masks(policy, self.tier, text, &hits));
        self.scratch.hits = hits;
        result
    }
}
