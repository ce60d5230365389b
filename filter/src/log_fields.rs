//! What the filter hands to Envoy's access log: the decision, the detectors, the tier and the
//! policy digest of a request, as Envoy filter state.
//!
//! The proxy adapter writes each pair with `proxy_set_property`, which Envoy stores as the
//! filter state object `wasm.<name>`; an access-log format reads it with
//! `%FILTER_STATE(wasm.airlock_decision:PLAIN)%` (envoy/README.md, "Decisions in the access
//! log"). Filter state rather than dynamic metadata because the proxy-wasm ABI has no call that
//! writes dynamic metadata. Only names leave: detector ids, never a matched value. The detector
//! list is the one allocation, made only when there are findings.

use crate::engine::Verdict;
use crate::policy::Policy;

/// Filter state names (Envoy prefixes them with `wasm.`).
pub const DECISION: &str = "airlock_decision";
pub const DETECTORS: &str = "airlock_detectors";
pub const TIER: &str = "airlock_tier";
pub const POLICY_DIGEST: &str = "airlock_policy_digest";

/// The (name, value) pairs for one verdict; `detectors` receives the comma-separated ids of the
/// detectors that found something, each once, in the order they were found (empty: none).
pub fn access_log_fields<'a>(
    policy: &'a Policy,
    verdict: &Verdict,
    detectors: &'a mut String,
) -> [(&'static str, &'a str); 4] {
    detectors.clear();
    for finding in &verdict.findings {
        let Some(detector) = policy.detector(finding.detector) else {
            continue;
        };
        if !detectors.split(',').any(|id| id == detector.id) {
            if !detectors.is_empty() {
                detectors.push(',');
            }
            detectors.push_str(&detector.id);
        }
    }
    [
        (DECISION, verdict.decision.as_str()),
        (DETECTORS, detectors.as_str()),
        (TIER, policy.tier_name(verdict.tier)),
        (POLICY_DIGEST, policy.info.digest.as_str()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Request;

    fn fields_for(host: &str, text: &str) -> Vec<(String, String)> {
        let env = crate::policy::Environment {
            var: &|_| None,
            defer_regexes: false,
        };
        let policy = crate::config::default_policy(&env).unwrap();
        let body =
            serde_json::json!({"model": "m", "messages": [{"role": "user", "content": text}]})
                .to_string();
        let request = Request {
            host,
            path: "/v1/chat/completions",
            content_type: Some("application/json"),
            content_encoding: None,
            body: body.as_bytes(),
            caller: None,
        };
        let verdict = policy.inspect(&request, &mut policy.scratch());
        let mut buf = String::new();
        access_log_fields(&policy, &verdict, &mut buf)
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_decision_detectors_once_tier_and_digest_never_values() {
        let key = ["AKIA", "Z4Q7XW2MRT5KPLBN"].concat();
        let fields = fields_for("api.openai.com", &format!("{key} and again {key}"));
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).unwrap().1.clone();
        assert_eq!(get(DECISION), "block");
        assert_eq!(get(DETECTORS).matches("aws").count(), 1, "{fields:?}");
        assert!(!get(DETECTORS).contains(','), "{fields:?}");
        assert_eq!(get(TIER), "approved-vendor");
        assert_eq!(get(POLICY_DIGEST).len(), 64, "{fields:?}");
        assert!(fields.iter().all(|(_, v)| !v.contains(&key)));
    }

    #[test]
    fn clean_request_has_no_detectors() {
        let fields = fields_for("api.openai.com", "the weather is fine");
        assert_eq!(fields[0].1, "allow");
        assert_eq!(fields[1].1, "");
    }
}
