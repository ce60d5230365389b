//! The inspection engine: one request in, one verdict out.
//!
//! Host-agnostic and synchronous: the proxy-wasm glue, the CLI and the tests
//! all call [`Policy::inspect`] with a [`Request`] and a reusable [`Scratch`].
//! The engine finds every string in a JSON body (and JSON documents nested in
//! strings, like tool-call arguments), scans each with the policy's scanner,
//! resolves each finding's action for the request's destination tier and,
//! when masking, rewrites only the matched bytes.

pub mod anchors;
mod body;
mod bytes;
mod cred_checks;
pub mod encoding;
mod fallback;
mod fingerprint;
mod join;
pub mod json;
pub mod keywords;
pub mod match_parts;
pub mod multipart;
pub mod normalize;
pub mod required;
pub mod respell;
mod rewrite;
pub mod scanner;
#[cfg(test)]
mod test_rng;
pub mod transcode;
pub mod validators;
mod verdict;
mod walk;
mod word_gate;

pub use fingerprint::fingerprint_hex;
pub use verdict::{Finding, LimitHits, Uninspectable, Verdict};
pub use walk::Via;

use crate::policy::{Action, FailMode, Mode, Policy, TierIndex};
use encoding::{Codings, EncodingError};
use json::Outline;
use scanner::{Hit, ScanScratch};
use walk::{Found, Walk};

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
    found: Vec<Found>,
    joined_fields: join::Joined,
    /// Caches belong to one scanner's regexes: one scratch per joined-text scanner.
    scan_message_join: Option<ScanScratch>,
    scan_request_join: Option<ScanScratch>,
    /// `key: value` of a member whose key is context for its value.
    joined: Vec<u8>,
    /// A field's folded text and its map back (reused: it is several times the field's size).
    folded: normalize::Normalized,
}

impl Scratch {
    /// Whether a scan since the last call met a regex that failed to compile (and resets it).
    fn take_regex_failure(&mut self) -> bool {
        let joins = [
            self.scan_message_join.as_mut(),
            self.scan_request_join.as_mut(),
        ];
        let mut failed = self.scan.take_failure();
        for scan in joins.into_iter().flatten() {
            failed |= scan.take_failure();
        }
        failed
    }
}

impl Policy {
    /// Scratch space sized for this policy; keep one per thread (one per VM in the filter).
    pub fn scratch(&self) -> Scratch {
        Scratch {
            scan: self.scanner.scratch(),
            outlines: (0..=MAX_EMBEDDED_DEPTH)
                .map(|_| Outline::default())
                .collect(),
            decoded: (0..=MAX_EMBEDDED_DEPTH).map(|_| Vec::new()).collect(),
            hits: Vec::new(),
            found: Vec::new(),
            joined_fields: join::Joined::default(),
            scan_message_join: self.message_join.as_ref().map(scanner::Scanner::scratch),
            scan_request_join: self.request_join.as_ref().map(scanner::Scanner::scratch),
            joined: Vec::new(),
            folded: normalize::Normalized::default(),
        }
    }

    /// Compiles up to `budget` detector regexes not compiled yet; returns how many still wait.
    pub fn compile_pending(&self, mut budget: usize) -> usize {
        let joins = [self.message_join.as_ref(), self.request_join.as_ref()];
        std::iter::once(&self.scanner)
            .chain(joins.into_iter().flatten())
            .map(|scanner| scanner.compile_pending(&mut budget))
            .sum()
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
        let codings = match request.content_encoding.map(encoding::parse).transpose() {
            Ok(codings) => codings.unwrap_or_else(|| std::iter::empty().collect()),
            Err(e) => return self.uninspectable(tier, Uninspectable::Encoding(e.to_string())),
        };
        let decoded;
        let body = if codings.is_empty() {
            request.body
        } else {
            match encoding::decode(&codings, request.body, self.limits.max_body_bytes) {
                Ok(plain) => {
                    decoded = plain;
                    decoded.as_slice()
                }
                Err(EncodingError::TooLarge) => {
                    return self.uninspectable(
                        tier,
                        Uninspectable::Decompressed {
                            limit: self.limits.max_body_bytes,
                        },
                    )
                }
                Err(e) => return self.uninspectable(tier, Uninspectable::Encoding(e.to_string())),
            }
        };
        if body::is_opaque(body, request.content_type) {
            let media = request.content_type.unwrap_or("none");
            return self.uninspectable(tier, Uninspectable::Opaque(media.to_string()));
        }
        let mut walk = Walk {
            policy: self,
            tier,
            findings: Vec::new(),
            limits: LimitHits::default(),
            scratch,
            message: 0,
            documents: 0,
        };
        walk.scratch.joined_fields.clear();
        let rewritten = walk.body(body, request.content_type);
        walk.join_pass();
        if walk.scratch.take_regex_failure() {
            return self.uninspectable(
                tier,
                Uninspectable::Internal(
                    "a detector regex failed to compile; run `airlock check` on the policy".into(),
                ),
            );
        }
        let findings = walk.findings;
        let limits = walk.limits;
        let planned = findings
            .iter()
            .map(|f| f.action)
            .max()
            .unwrap_or(Action::Allow);
        let (decision, body) = match self.mode {
            Mode::Monitor if planned > Action::Allow => (Action::Monitor, None),
            Mode::Monitor => (Action::Allow, None),
            Mode::Enforce if planned.rewrites() => match reencode(&codings, rewritten) {
                Ok(body) => (planned, body),
                // A masked body that cannot be re-encoded must not leave in its original form.
                Err(e) => {
                    let mut verdict =
                        self.uninspectable(tier, Uninspectable::Encoding(e.to_string()));
                    verdict.decision = Action::Block;
                    verdict.planned = Action::Block;
                    return verdict;
                }
            },
            Mode::Enforce => (planned, None),
        };
        Verdict {
            decision,
            planned,
            tier,
            findings,
            body,
            uninspectable: None,
            limits,
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
            limits: LimitHits::default(),
        }
    }
}

fn reencode(codings: &Codings, body: Option<Vec<u8>>) -> Result<Option<Vec<u8>>, EncodingError> {
    match body {
        Some(body) if !codings.is_empty() => encoding::encode(codings, &body).map(Some),
        other => Ok(other),
    }
}
