//! Policies: the schema operators write, and the compiled form the engine runs.
//!
//! `schema` mirrors the file; `compile` checks it and produces a [`Policy`],
//! in which every cross-reference is an index, every action is precomputed
//! per (detector, destination tier), and every regex is compiled. Nothing is
//! compiled or looked up by name on the request path.

pub mod bundle;
pub mod cases;
mod compile;
pub mod digest;
mod error;
pub mod protected;
pub mod relay;
mod relay_doc;
pub mod schema;

pub use compile::{
    compile, compile_with_digest, compile_with_facts, parse_document, parse_document_text,
    Environment,
};
pub use error::{Origins, PolicyError, PolicyErrors};

use crate::engine::scan::scanner::{DetectorIndex, Scanner};
use crate::engine::walk::straddle::Straddle;
use schema::{ExamplesDoc, PolicyDoc, TestCaseDoc};

/// What a finding leads to, least severe first; a request's decision is the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Allow,
    Monitor,
    /// Replaced by a reversible token, restored in the response where the tier allows.
    Tokenize,
    Hash,
    Mask,
    Block,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Allow,
        Action::Monitor,
        Action::Tokenize,
        Action::Hash,
        Action::Mask,
        Action::Block,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Monitor => "monitor",
            Action::Tokenize => "tokenize",
            Action::Hash => "hash",
            Action::Mask => "mask",
            Action::Block => "block",
        }
    }

    /// True for the actions that rewrite the matched bytes.
    pub fn rewrites(self) -> bool {
        matches!(self, Action::Tokenize | Action::Hash | Action::Mask)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Credential,
    Pii,
    TradeSecret,
    Custom,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Credential => "credential",
            Kind::Pii => "pii",
            Kind::TradeSecret => "trade-secret",
            Kind::Custom => "custom",
        }
    }
}

/// Position of a class in the policy's ordered `classes`.
pub type ClassIndex = u8;
/// Position of a tier in the policy's `destinations.tiers`.
pub type TierIndex = u8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Monitor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    Block,
    Allow,
}

/// Name, version and digest: how every output says which policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    pub name: String,
    pub version: String,
    /// Hex SHA-256 of the normalised behavioural policy.
    pub digest: String,
}

impl PolicyInfo {
    /// The first 12 hex digits, for replies and logs.
    pub fn short_digest(&self) -> &str {
        self.digest.get(..12).unwrap_or(&self.digest)
    }
}

#[derive(Debug)]
pub struct Detector {
    pub id: String,
    pub class: ClassIndex,
    pub kind: Kind,
    /// The replacement for `mask`, placeholders already substituted.
    pub mask: String,
    /// A catch-all that yields to a more specific detector of the same kind on the same span.
    pub fallback: bool,
    /// The prefix of this detector's `tokenize` tokens.
    pub token_prefix: String,
}

/// A host pattern: exact, or `*.suffix` (which matches any host ending in `.suffix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// Stored with its leading dot: `.openai.azure.com`.
    Suffix(String),
}

impl HostPattern {
    pub(crate) fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
        }
    }
}

#[derive(Debug)]
pub struct Tier {
    pub name: String,
    pub max_class: ClassIndex,
    pub hosts: Vec<HostPattern>,
    pub paths: Vec<String>,
    /// Classes whose tokens this tier's responses get back as the originals.
    pub restore: Vec<ClassIndex>,
    /// `on_model_mismatch: block`: a response from another model becomes an error.
    pub block_model_mismatch: bool,
    /// `inspect_responses`: `Monitor` or `Mask` for findings in this tier's responses.
    pub inspect_responses: Option<Action>,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub on_uninspectable: FailMode,
}

/// A secret key for HMAC fingerprints, never printed, with its HMAC-SHA256 state keyed once
/// (the padded key's inner and outer blocks already hashed), so that each fingerprint or token
/// digest a request makes costs its message's blocks only, not two more for the key.
#[derive(Clone)]
pub struct HmacKey(pub(crate) Vec<u8>, Option<hmac::Hmac<sha2::Sha256>>);

impl HmacKey {
    pub(crate) fn new(key: Vec<u8>) -> HmacKey {
        use hmac::Mac;
        // HMAC accepts keys of any length, so this is always `Some`.
        let keyed = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).ok();
        HmacKey(key, keyed)
    }

    /// A fresh HMAC-SHA256 under this key (`None` only if keying failed, which HMAC's
    /// any-length keys rule out).
    pub(crate) fn mac(&self) -> Option<hmac::Hmac<sha2::Sha256>> {
        self.1.clone()
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

/// Where the fingerprint key came from: shared by all proxies, or random per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    Configured,
    Ephemeral,
}

/// A compiled policy: immutable, shared by every request.
#[derive(Debug)]
pub struct Policy {
    pub info: PolicyInfo,
    pub mode: Mode,
    pub classes: Vec<String>,
    pub tiers: Vec<Tier>,
    pub default_tier: TierIndex,
    pub detectors: Vec<Detector>,
    /// `actions[detector * tiers.len() + tier]`: every rule resolved ahead of time.
    actions: Vec<Action>,
    pub limits: Limits,
    pub(crate) scanner: Scanner,
    /// Detectors that also match over each message's joined text.
    pub(crate) message_join: Option<Scanner>,
    /// Detectors that also match over the whole request's joined text.
    pub(crate) request_join: Option<Scanner>,
    /// Which edges between fields each scope's joining detectors could cross (`None`: any,
    /// a protected or dictionary detector joins).
    pub(crate) message_straddle: Option<Straddle>,
    pub(crate) request_straddle: Option<Straddle>,
    pub(crate) key: HmacKey,
    /// Folding tables for evasion-resistant matching, built once.
    pub(crate) folder: crate::engine::layers::fold::Folder,
    pub key_scope: KeyScope,
    /// Key theft and per-tier field rules (`key_theft`, a tier's `fields`).
    pub relay: crate::engine::relay::Relay,
    /// The normalised document, with tests and examples, for `airlock check` and `airlock build`.
    pub document: PolicyDoc,
    pub origins: Origins,
}

impl Policy {
    /// The action for a finding of `detector` bound for `tier`, before monitor mode.
    pub fn action(&self, detector: DetectorIndex, tier: TierIndex) -> Action {
        let index = usize::from(detector) * self.tiers.len() + usize::from(tier);
        self.actions.get(index).copied().unwrap_or(Action::Block)
    }

    /// The tier of a request: the first tier listing its host (and path prefix), else the default.
    pub fn tier_for(&self, host: &str, path: &str) -> TierIndex {
        let host = normalise_host(host);
        let found = self.tiers.iter().position(|tier| {
            tier.hosts.iter().any(|p| p.matches(&host))
                && (tier.paths.is_empty()
                    || tier
                        .paths
                        .iter()
                        .any(|prefix| path.starts_with(prefix.as_str())))
        });
        found
            .and_then(|i| TierIndex::try_from(i).ok())
            .unwrap_or(self.default_tier)
    }

    /// Whether responses from `tier` get the originals of `class`'s tokens back.
    pub fn restores(&self, tier: TierIndex, class: ClassIndex) -> bool {
        self.tiers
            .get(usize::from(tier))
            .is_some_and(|t| t.restore.contains(&class))
    }

    pub fn detector(&self, index: DetectorIndex) -> Option<&Detector> {
        self.detectors.get(usize::from(index))
    }

    pub fn class_name(&self, class: ClassIndex) -> &str {
        self.classes
            .get(usize::from(class))
            .map_or("?", String::as_str)
    }

    pub fn tier_name(&self, tier: TierIndex) -> &str {
        self.tiers
            .get(usize::from(tier))
            .map_or("?", |t| t.name.as_str())
    }

    /// The stored name of a protected document (indexes built with `--names`).
    pub fn protected_document_name(&self, detector: DetectorIndex, document: u32) -> Option<&str> {
        self.scanner
            .protected
            .as_ref()?
            .document_name(detector, document)
    }

    pub fn tests(&self) -> &[TestCaseDoc] {
        &self.document.tests
    }

    /// Each detector's examples, with its index.
    pub fn examples(&self) -> impl Iterator<Item = (DetectorIndex, &ExamplesDoc)> {
        self.document
            .detectors
            .iter()
            .enumerate()
            .filter_map(|(i, d)| Some((DetectorIndex::try_from(i).ok()?, d.examples.as_ref()?)))
    }
}

/// Lowercase, without port or trailing dot; `[::1]:8080` becomes `::1`.
pub fn normalise_host(host: &str) -> String {
    let host = host.trim();
    let without_port = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or(host)
    } else {
        host
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(normalise_host("API.OpenAI.com:443"), "api.openai.com");
        assert_eq!(normalise_host("api.openai.com."), "api.openai.com");
        assert_eq!(normalise_host("[::1]:8080"), "::1");
        assert_eq!(normalise_host("::1"), "::1");
    }

    #[test]
    fn suffix_patterns_need_a_label_before_them() {
        let p = HostPattern::Suffix(".openai.azure.com".into());
        assert!(p.matches("acme.openai.azure.com"));
        assert!(!p.matches("openai.azure.com"));
        assert!(!p.matches("evilopenai.azure.com"));
    }

    /// A valid document parses without tracking; a failing one is parsed again to name the field.
    #[test]
    fn a_document_that_fails_to_parse_names_the_field() {
        let origins = Origins::single("test");
        assert!(parse_document_text(crate::DEFAULT_POLICY_JSON, &origins).is_ok());
        let mut value: serde_json::Value = serde_json::from_str(crate::DEFAULT_POLICY_JSON)
            .unwrap_or_else(|e| panic!("default policy: {e}"));
        value["detectors"][2]["keywords"] = serde_json::json!(7);
        let shape = parse_document_text(&value.to_string(), &origins)
            .err()
            .unwrap_or_else(|| panic!("a number for keywords parsed"));
        assert_eq!(shape.0.len(), 1);
        assert_eq!(shape.0[0].path, "detectors[2].keywords");
        assert!(shape.0[0].message.contains("invalid type"), "{shape}");
        for (text, says) in [
            (
                format!("{} trailing", crate::DEFAULT_POLICY_JSON),
                "trailing characters",
            ),
            ("{\"schema\": ".to_string(), "EOF"),
        ] {
            let syntax = parse_document_text(&text, &origins)
                .err()
                .unwrap_or_else(|| panic!("{says}: parsed"));
            assert!(syntax.0[0].message.contains(says), "{syntax}");
        }
    }
}
