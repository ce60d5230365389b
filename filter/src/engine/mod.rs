//! The inspection engine: one request in, one verdict out.
//!
//! Host-agnostic and synchronous: the proxy-wasm glue, the CLI and the tests all
//! call [`Policy::inspect`] with a [`Request`] and a reusable [`Scratch`]. The
//! folders are the stages a request flows through, in order:
//!
//! - `body/`: what the bytes are. Content codings undone (`content_coding::decode`),
//!   then JSON, JSON Lines, multipart or text taken apart into fields (`Walk::body`).
//! - `walk/`: which fields, with what path and context (`Walk::json`, `Walk::text`);
//!   `walk/join` matches over the joined text of a message or request.
//! - `layers/`: what a field hides: folded (`fold::Folder::fold`), decoded
//!   (`decode::find_segments`) and respelled (`respell::find`) text, each mapped back.
//! - `scan/`: matching (`Scanner::scan`): keyword automaton, always-on set, validators.
//! - `verdict/`: findings, each finding's action for the tier, the rewritten body.
//!
//! [`limits`](LimitHits) holds every bound of the request path. Nothing here allocates per
//! request what [`Scratch`] can keep.

pub(crate) mod body;
mod byte_set;
mod bytes;
mod cache;
pub(crate) use bytes::lower_hex;
pub(crate) mod layers;
pub(crate) mod limits;
pub mod relay;
pub(crate) mod scan;
mod span;
pub(crate) mod steps;
#[cfg(test)]
pub(crate) mod test_rng;
pub(crate) mod verdict;
pub(crate) mod walk;

/// Engine internals that `benches/` measures directly (the keyword automaton, the scanner's
/// arming, folding, decoding, the JSON outline). Not an API: only with the `bench-hooks` feature.
#[cfg(any(test, feature = "bench-hooks"))]
pub mod bench_hooks {
    pub mod json {
        pub use crate::engine::body::json::{looks_like_json, unescape, Outline};
    }
    pub mod keywords {
        pub use crate::engine::scan::keywords::Keywords;
    }
    pub mod fold {
        pub use crate::engine::layers::fold::{Folded, Folder};
    }
    pub mod respell {
        pub use crate::engine::layers::respell::find;
    }
    /// Calls and bytes per stage of the pass over new bytes.
    pub mod steps {
        pub use crate::engine::steps::Step;
        #[cfg(feature = "bench-hooks")]
        pub use crate::engine::steps::{snapshot, Counts};
    }
    pub mod scanner {
        pub use crate::engine::scan::scanner::{
            compile_regex, set_regex, syntax_config, DetectorIndex, RegexLimits, Scanner,
        };
    }
    /// Bytes handed to the scanner per inspection, by where the text came from.
    pub mod tally {
        pub use crate::engine::walk::tally::{Pass, ScanTally, Source};
    }
    pub mod decode {
        pub use crate::engine::layers::decode::{find_segments, Limits};
        pub use crate::engine::limits::MAX_DECODE_DEPTH;
    }
    /// For `fuzz/`: the parsers and layers its targets drive directly.
    pub mod multipart {
        pub use crate::engine::body::multipart::{boundary, parse, MultipartError, Part};
        pub use crate::engine::limits::MAX_MULTIPART_PARTS;
    }
    pub mod charset {
        pub use crate::engine::body::charset::{decode, detect, encode, Charset};
    }
    pub mod content_coding {
        pub use crate::engine::body::content_coding::{decode, encode, parse, Codings};
        pub use crate::engine::limits::MAX_CODINGS;
    }
    pub mod layers {
        pub use crate::engine::layers::{Unwrapped, Wrapping};
        pub use crate::engine::limits::{
            MAX_DECODED_BYTES, MAX_DECODED_SEGMENTS, MAX_RESPELLED_RUNS,
        };
    }
    pub mod limits {
        pub use crate::engine::limits::MAX_JSON_DEPTH;
    }
}

pub use body::content_coding::{Coding, EncodingError};
pub use cache::{CacheStats, CacheUse, DEFAULT_CACHE_BYTES};
pub use limits::{LimitHits, MAX_EMBEDDED_DEPTH};
pub use scan::protected::Origin;
pub use span::Span;
pub use verdict::fingerprint::fingerprint_hex;
pub use verdict::{Finding, Uninspectable, Verdict};
pub use walk::Via;

use crate::policy::{Action, FailMode, Mode, Policy, TierIndex};
use body::content_coding::{self as encoding, Codings};
use body::json::Outline;
use layers::fold;
use scan::scanner::{self, Hit, ScanScratch};
use std::borrow::Cow;
use walk::{join, Found, Walk};

/// One request as the engine sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub body: &'a [u8],
    /// Who sent the request (its credential, or an identity the operator names): partitions
    /// the inspection cache, so one caller's history never speeds up another's request. Only
    /// a keyed hash of it is kept. `None`: the request is inspected without the cache.
    pub caller: Option<&'a [u8]>,
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
    keyed_value: Vec<u8>,
    /// A field's folded text and its map back (reused: it is several times the field's size).
    folded: fold::Folded,
    /// Fields already inspected, by caller (one cache per VM, as the scratch is).
    cache: cache::InspectionCache,
    /// The last inspection's body document, if it parsed strictly: where its bytes were and
    /// how many (the outline of depth 0 is its), for [`Scratch::body_outline`].
    body_parsed: Option<(usize, usize)>,
    /// The walk's rewrite of that document, if its root members kept their names: where its
    /// bytes are and how many, for [`Scratch::body_members`].
    body_rewrite: Option<(usize, usize)>,
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

    /// This scratch made fit for another policy, keeping its inspection cache (which the
    /// policy's first request empties, since the cache belongs to one policy).
    pub fn rebind(self, policy: &Policy) -> Scratch {
        Scratch {
            cache: self.cache,
            ..policy.scratch()
        }
    }

    /// Sets the inspection cache's budget in bytes (0 turns it off), evicting down to it.
    pub fn set_cache_budget(&mut self, bytes: usize) {
        self.cache.set_budget(bytes);
    }

    /// Turns the inspection cache's resuming of a caller's re-sent conversation on (the
    /// default) or off, to compare the two.
    pub fn set_cache_resume(&mut self, on: bool) {
        self.cache.set_resumes(on);
    }

    /// The inspection cache's hits, misses, evictions and size so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The outline of `body` if the last inspection parsed exactly these bytes (the same
    /// memory, the same length) as its body's JSON document under the strict grammar: what the
    /// adapter reads the requested model from without parsing the body a second time.
    pub fn body_outline(&self, body: &[u8]) -> Option<&Outline> {
        let parsed = self.body_parsed?;
        (parsed == (body.as_ptr() as usize, body.len()))
            .then(|| self.outlines.first())
            .flatten()
    }

    /// An outline naming the root members of `last` and the bytes it indexes: `last`'s own
    /// ([`Scratch::body_outline`]), or `body`'s when `last` is the walk's rewrite of `body`
    /// and every root member kept its name (`relay::parsed::root_names_kept`).
    fn body_members<'a>(
        &'a self,
        last: &'a [u8],
        body: &'a [u8],
    ) -> Option<(&'a [u8], &'a Outline)> {
        if let Some(outline) = self.body_outline(last) {
            return Some((last, outline));
        }
        let rewrite = self.body_rewrite?;
        (rewrite == (last.as_ptr() as usize, last.len()))
            .then(|| self.body_outline(body).map(|outline| (body, outline)))
            .flatten()
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
            keyed_value: Vec::new(),
            folded: fold::Folded::default(),
            cache: cache::InspectionCache::new(DEFAULT_CACHE_BYTES),
            body_parsed: None,
            body_rewrite: None,
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
        let (body, codings, charset) = match self.readable_body(request) {
            Ok(readable) => readable,
            Err(why) => return self.uninspectable(tier, why),
        };
        let mut walk = Walk {
            policy: self,
            tier,
            findings: Vec::new(),
            limits: LimitHits::default(),
            scratch,
            message: 0,
            documents: 0,
            tokens: crate::response::RestoreMap::default(),
        };
        walk.scratch.joined_fields.clear();
        walk.scratch.body_parsed = None;
        walk.scratch.body_rewrite = None;
        walk.scratch.cache.begin(self, request.caller);
        let rewritten = walk.body(&body, request.content_type);
        scan::fuel_probe::tag("eng:walked");
        walk.join_pass();
        scan::fuel_probe::tag("eng:joined");
        let failed = walk.scratch.take_regex_failure();
        // An inspection that failed is not remembered.
        let cache = walk.scratch.cache.finish(!failed);
        if failed {
            let mut verdict = self.uninspectable(
                tier,
                Uninspectable::Internal(
                    "a detector regex failed to compile; run `airlock check` on the policy".into(),
                ),
            );
            verdict.cache = cache;
            return verdict;
        }
        let (mut findings, limits) = (walk.findings, walk.limits);
        scan::fuel_probe::tag("eng:finish");
        let key_theft = self.key_theft_in_findings(request.host, tier, &mut findings);
        scan::fuel_probe::tag("eng:keytheft");
        let blocked = findings.iter().any(|f| f.action == Action::Block);
        let fields = self.relay.fields_of(tier);
        let (rewritten, fields_applied) = match (blocked, fields.is_empty()) {
            (false, false) => {
                let last = rewritten.as_deref().unwrap_or(&body);
                // The walk's parse of these very bytes (or of the body they rewrite inside its
                // strings) tells most requests apart without parsing them again
                // (`relay::parsed`).
                let members = walk.scratch.body_members(last, &body);
                let untouched = members.is_some_and(|(doc, outline)| {
                    relay::parsed::leaves_alone(fields, request.path, doc, outline)
                });
                let applied = if untouched {
                    Ok(None)
                } else {
                    relay::fields::apply(fields, request.path, last)
                };
                match applied {
                    Ok(Some((edited, applied))) => (Some(edited), applied),
                    Ok(None) => (rewritten, relay::FieldsApplied::default()),
                    Err(e) => {
                        let mut verdict =
                            self.uninspectable(tier, Uninspectable::Internal(e.message()));
                        verdict.cache = cache;
                        return verdict;
                    }
                }
            }
            _ => (rewritten, relay::FieldsApplied::default()),
        };
        scan::fuel_probe::tag("eng:relay");
        let rewritten = rewritten.map(|text| match charset {
            Some(charset) => body::charset::encode(charset, &text),
            None => text,
        });
        let mut verdict = self.decide(tier, findings, limits, &codings, rewritten);
        verdict.cache = cache;
        verdict.relay = relay::RelayOutcome {
            key_theft,
            fields: fields_applied,
        };
        if verdict.body.is_some() {
            // Only a body that goes out carries tokens to restore.
            verdict.tokens = walk.tokens;
        }
        scan::fuel_probe::tag("eng:decided");
        verdict
    }

    /// The findings of this policy's detectors in one piece of model output from `tier`
    /// (response inspection, `crate::response::inspect`), appended to `out`: spans in `text`,
    /// each with its action on the tier. One field: no joined matching, no cache, no rewrite.
    pub fn findings_in_output(
        &self,
        tier: TierIndex,
        text: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<Finding>,
    ) {
        let mut walk = Walk {
            policy: self,
            tier,
            findings: std::mem::take(out),
            limits: LimitHits::default(),
            scratch,
            message: 0,
            documents: 0,
            tokens: crate::response::RestoreMap::default(),
        };
        walk.findings_only(text, "$");
        *out = walk.findings;
    }

    /// The body as the engine reads it (content codings undone, then its character encoding:
    /// `body::charset`), those codings and that encoding, or why it cannot be read: too large,
    /// an unknown or broken coding, an unreadable charset, or binary data.
    fn readable_body<'b>(&self, request: &Request<'b>) -> Result<ReadableBody<'b>, Uninspectable> {
        let limit = self.limits.max_body_bytes;
        if request.body.len() > limit {
            let size = request.body.len();
            return Err(Uninspectable::TooLarge { size, limit });
        }
        let codings = match request.content_encoding {
            Some(header) => encoding::parse(header).map_err(Uninspectable::Encoding)?,
            None => std::iter::empty().collect(),
        };
        let body = if codings.is_empty() {
            Cow::Borrowed(request.body)
        } else {
            match encoding::decode(&codings, request.body, limit) {
                Ok(plain) => Cow::Owned(plain),
                Err(EncodingError::TooLarge) => return Err(Uninspectable::Decompressed { limit }),
                Err(e) => return Err(Uninspectable::Encoding(e)),
            }
        };
        let charset = body::charset::detect(request.content_type, &body)
            .map_err(|e| Uninspectable::Encoding(EncodingError::Charset(e)))?;
        let body = match charset {
            Some(charset) => {
                let text = body::charset::decode(charset, &body);
                if text.len() > limit {
                    let size = text.len();
                    return Err(Uninspectable::TooLarge { size, limit });
                }
                Cow::Owned(text)
            }
            None => body,
        };
        if body::is_opaque(&body, request.content_type) {
            let media = request.content_type.unwrap_or("none");
            return Err(Uninspectable::Opaque(media.to_string()));
        }
        Ok((body, codings, charset))
    }

    /// The verdict from the findings: the most severe action decides, monitor mode only
    /// records, and a rewritten body gets its content codings back.
    fn decide(
        &self,
        tier: TierIndex,
        findings: Vec<Finding>,
        limits: LimitHits,
        codings: &Codings,
        rewritten: Option<Vec<u8>>,
    ) -> Verdict {
        let planned = findings
            .iter()
            .map(|f| f.action)
            .max()
            .unwrap_or(Action::Allow);
        // Field rules rewrite a body whatever the findings (short of a block).
        let rewrites = planned.rewrites() || (planned < Action::Block && rewritten.is_some());
        let (decision, body) = match self.mode {
            Mode::Monitor if planned > Action::Allow => (Action::Monitor, None),
            Mode::Monitor => (Action::Allow, None),
            Mode::Enforce if rewrites => match reencode(codings, rewritten) {
                Ok(body) => (planned, body),
                // A masked body that cannot be re-encoded must not leave in its original form.
                Err(e) => {
                    let mut verdict = self.uninspectable(tier, Uninspectable::Encoding(e));
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
            cache: CacheUse::default(),
            relay: relay::RelayOutcome::default(),
            tokens: crate::response::RestoreMap::default(),
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
            cache: CacheUse::default(),
            relay: relay::RelayOutcome::default(),
            tokens: crate::response::RestoreMap::default(),
        }
    }
}

/// A body as the engine reads it, the content codings undone and its character encoding.
type ReadableBody<'b> = (Cow<'b, [u8]>, Codings, Option<body::charset::Charset>);

fn reencode(codings: &Codings, body: Option<Vec<u8>>) -> Result<Option<Vec<u8>>, EncodingError> {
    match body {
        Some(body) if !codings.is_empty() => encoding::encode(codings, &body).map(Some),
        other => Ok(other),
    }
}
