//! Key theft: a vendor's API key on its way to a host that is not the vendor's.
//!
//! A relay that receives `Authorization: Bearer sk-proj-…` can spend the key and keep it. The
//! key's format says whose it is; the policy's `key_theft.vendors` say which of its credential
//! detectors are whose and which hosts are the vendor's own. A key of vendor V bound for a host
//! that is not one of V's hosts, not in `allow_hosts` and not in an allowed (internal) tier is
//! blocked, with a reason naming the vendor, where the key was and the host, never the key.
//!
//! Two places are checked:
//! - the key headers (`authorization`, `x-api-key`, `x-goog-api-key`, `api-key`) and the
//!   query string (`?key=` of Google APIs), at request-headers time, before anything goes
//!   upstream, also for a request without a body; [`Policy::key_theft_in_headers`];
//! - the body: a finding of a vendor's detector bound for another host becomes a block
//!   ([`Policy::key_theft_in_findings`]), whatever the rules would have done with it.
//!
//! Trade-off: a header value is scanned with the policy's whole scanner (one short scan per
//! request, no second copy of the key formats), and only hits of vendor detectors count. A
//! detector that needs context words (`DEEPSEEK_API_KEY=`) does not recognise a bare header
//! value, so only vendors with self-describing keys are caught there; in bodies all are.

use crate::engine::scan::scanner::{DetectorIndex, Hit};
use crate::engine::verdict::fingerprint::fingerprint;
use crate::engine::{Finding, Scratch, Uninspectable, Verdict, Via};
use crate::policy::{normalise_host, Action, HostPattern, Mode, Policy, TierIndex};

/// The request headers vendors read API keys from, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer …` (OpenAI and most OpenAI-compatible APIs).
    Authorization,
    /// `x-api-key` (Anthropic).
    XApiKey,
    /// `x-goog-api-key` (Gemini).
    XGoogApiKey,
    /// `api-key` (Azure OpenAI).
    ApiKey,
}

impl KeyHeader {
    pub const ALL: [KeyHeader; 4] = [
        KeyHeader::Authorization,
        KeyHeader::XApiKey,
        KeyHeader::XGoogApiKey,
        KeyHeader::ApiKey,
    ];

    /// The header's name, lowercase as HTTP/2 and proxy-wasm hosts give it.
    pub fn name(self) -> &'static str {
        match self {
            KeyHeader::Authorization => "authorization",
            KeyHeader::XApiKey => "x-api-key",
            KeyHeader::XGoogApiKey => "x-goog-api-key",
            KeyHeader::ApiKey => "api-key",
        }
    }
}

/// Where a stolen key was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlace {
    Header(KeyHeader),
    /// The URL's query string.
    Query,
    /// A field of the body, by its path (`$.messages[0].content`).
    Body(String),
}

impl KeyPlace {
    /// For findings and audit lines: `header:authorization`, `query`, or the body path.
    pub fn path(&self) -> String {
        match self {
            KeyPlace::Header(h) => format!("header:{}", h.name()),
            KeyPlace::Query => "query".to_string(),
            KeyPlace::Body(path) => path.clone(),
        }
    }
}

/// One vendor key bound for a host that is not the vendor's. Holds no key bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTheft {
    /// Index into [`KeyTheftRules::vendors`].
    pub vendor: u8,
    pub detector: DetectorIndex,
    pub place: KeyPlace,
    /// The destination host, normalised (lowercase, no port).
    pub host: String,
}

impl KeyTheft {
    /// A sentence for replies and logs: the vendor, where the key was, and the host.
    pub fn describe(&self, policy: &Policy) -> String {
        let vendor = policy.relay.key_theft.vendor_name(self.vendor);
        let place = match &self.place {
            KeyPlace::Header(h) => format!("in the {} header", h.name()),
            KeyPlace::Query => "in the URL's query string".to_string(),
            KeyPlace::Body(path) => format!("in the body at {path}"),
        };
        let host: String = self
            .host
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(253)
            .collect();
        format!("key theft: the {vendor} API key {place} was bound for {host}, which is not one of {vendor}'s hosts")
    }
}

/// A vendor: its display name and its own API hosts.
#[derive(Debug, Clone)]
pub struct Vendor {
    pub name: String,
    pub hosts: Vec<HostPattern>,
}

/// The compiled `key_theft` section.
#[derive(Debug, Default)]
pub struct KeyTheftRules {
    pub enabled: bool,
    pub vendors: Vec<Vendor>,
    /// The vendor of each detector, by detector index (`None`: not a vendor key).
    pub(crate) by_detector: Vec<Option<u8>>,
    /// Hosts any vendor key may go to (a gateway of the organisation's that holds keys).
    pub(crate) allow_hosts: Vec<HostPattern>,
    /// Tiers any vendor key may go to, by tier index.
    pub(crate) allow_tiers: Vec<bool>,
}

impl KeyTheftRules {
    pub fn vendor_of(&self, detector: DetectorIndex) -> Option<u8> {
        self.by_detector
            .get(usize::from(detector))
            .copied()
            .flatten()
    }

    pub fn vendor_name(&self, vendor: u8) -> &str {
        self.vendors
            .get(usize::from(vendor))
            .map_or("unknown vendor", |v| v.name.as_str())
    }

    /// Whether a key of `vendor` may go to `host` (normalised) on `tier`.
    pub fn allows(&self, vendor: u8, host: &str, tier: TierIndex) -> bool {
        let own = self
            .vendors
            .get(usize::from(vendor))
            .is_some_and(|v| v.hosts.iter().any(|p| p.matches(host)));
        own || self.allow_hosts.iter().any(|p| p.matches(host))
            || self
                .allow_tiers
                .get(usize::from(tier))
                .copied()
                .unwrap_or(false)
    }

    /// On, with at least one vendor.
    pub fn active(&self) -> bool {
        self.enabled && !self.vendors.is_empty()
    }
}

impl Policy {
    /// Marks every body finding of a vendor key bound for another host as a block, and returns
    /// the first such theft. Costs nothing when no finding is a vendor key.
    pub(crate) fn key_theft_in_findings(
        &self,
        host: &str,
        tier: TierIndex,
        findings: &mut [Finding],
    ) -> Option<KeyTheft> {
        let rules = &self.relay.key_theft;
        if !rules.active() {
            return None;
        }
        let mut normalised: Option<String> = None;
        let mut first = None;
        for finding in findings.iter_mut() {
            let Some(vendor) = rules.vendor_of(finding.detector) else {
                continue;
            };
            let host = normalised.get_or_insert_with(|| normalise_host(host));
            if rules.allows(vendor, host, tier) {
                continue;
            }
            finding.action = Action::Block;
            if first.is_none() {
                first = Some(KeyTheft {
                    vendor,
                    detector: finding.detector,
                    place: KeyPlace::Body(finding.path.clone()),
                    host: host.clone(),
                });
            }
        }
        first
    }

    /// Checks the key headers and the query string of a request before it goes anywhere.
    /// `headers` holds the key headers present (name, value). `None`: nothing to act on;
    /// `Some`: a verdict to carry out (a key theft, or the fail mode when the check failed).
    pub fn key_theft_in_headers(
        &self,
        host: &str,
        path: &str,
        headers: &[(KeyHeader, &str)],
        scratch: &mut Scratch,
    ) -> Option<Verdict> {
        let rules = &self.relay.key_theft;
        if !rules.active() {
            return None;
        }
        let query = path.split_once('?').map(|(_, q)| (KeyPlace::Query, q));
        let places = headers
            .iter()
            .map(|(h, v)| (KeyPlace::Header(*h), *v))
            .chain(query);
        let mut tier_host: Option<(TierIndex, String)> = None;
        for (place, value) in places {
            let text = value.as_bytes();
            let mut vendor_hit: Option<(u8, Hit)> = None;
            self.scanner
                .scan_patterns(text, &mut scratch.scan, &mut |hit: Hit| {
                    if vendor_hit.is_none() {
                        if let Some(vendor) = rules.vendor_of(hit.detector) {
                            vendor_hit = Some((vendor, hit));
                        }
                    }
                });
            if scratch.scan.take_failure() {
                let tier = self.tier_for(host, path);
                return Some(self.uninspectable(
                    tier,
                    Uninspectable::Internal(
                        "a detector regex failed to compile while checking the key headers; run `airlock check` on the policy".into(),
                    ),
                ));
            }
            let Some((vendor, hit)) = vendor_hit else {
                continue;
            };
            let (tier, normalised) =
                tier_host.get_or_insert_with(|| (self.tier_for(host, path), normalise_host(host)));
            if rules.allows(vendor, normalised, *tier) {
                continue;
            }
            let key = text.get(hit.span.start..hit.span.end).unwrap_or_default();
            let finding = Finding {
                detector: hit.detector,
                path: place.path(),
                span: hit.span,
                action: Action::Block,
                fingerprint: fingerprint(&self.key, key),
                via: Via::Plain,
                origin: hit.origin,
            };
            let theft = KeyTheft {
                vendor,
                detector: hit.detector,
                place,
                host: normalised.clone(),
            };
            return Some(self.key_theft_verdict(*tier, finding, theft));
        }
        None
    }

    fn key_theft_verdict(&self, tier: TierIndex, finding: Finding, theft: KeyTheft) -> Verdict {
        let mut verdict = self.uninspectable(tier, Uninspectable::Internal(String::new()));
        verdict.uninspectable = None;
        verdict.planned = Action::Block;
        verdict.decision = match self.mode {
            Mode::Enforce => Action::Block,
            Mode::Monitor => Action::Monitor,
        };
        verdict.findings.push(finding);
        verdict.relay.key_theft = Some(theft);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> KeyTheftRules {
        KeyTheftRules {
            enabled: true,
            vendors: vec![Vendor {
                name: "OpenAI".into(),
                hosts: vec![HostPattern::Exact("api.openai.com".into())],
            }],
            by_detector: vec![None, Some(0)],
            allow_hosts: vec![HostPattern::Suffix(".gateway.example".into())],
            allow_tiers: vec![false, true],
        }
    }

    #[test]
    fn a_vendor_key_may_go_to_its_vendor_an_allowed_host_or_an_allowed_tier_only() {
        let r = rules();
        assert_eq!(r.vendor_of(0), None);
        assert_eq!(r.vendor_of(1), Some(0));
        assert_eq!(r.vendor_of(7), None);
        assert!(r.allows(0, "api.openai.com", 0));
        assert!(r.allows(0, "llm.gateway.example", 0));
        assert!(r.allows(0, "anything.example", 1));
        assert!(!r.allows(0, "api.cheap-relay.example", 0));
        assert!(!r.allows(0, "api.openai.com.evil.example", 0));
        assert!(
            !r.allows(3, "api.openai.com", 0),
            "an unknown vendor has no hosts"
        );
    }

    #[test]
    fn places_name_where_the_key_was() {
        assert_eq!(
            KeyPlace::Header(KeyHeader::XGoogApiKey).path(),
            "header:x-goog-api-key"
        );
        assert_eq!(KeyPlace::Query.path(), "query");
        assert_eq!(KeyPlace::Body("$.a".into()).path(), "$.a");
    }
}
