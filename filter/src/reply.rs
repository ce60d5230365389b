//! Block replies in each provider's own error shape.
//!
//! A developer whose request is blocked sees the error through their SDK. A
//! reply in the provider's native shape with status 403 makes the official
//! OpenAI, Anthropic and Gemini clients raise their permission error with our
//! message intact, instead of a confusing parse failure. The message names
//! the policy and the detectors, never a matched value.

use crate::engine::Verdict;
use crate::policy::Policy;
use serde_json::json;

/// The API family a request is addressed to, judged by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Provider {
    pub fn from_path(path: &str) -> Provider {
        let path = path.split('?').next().unwrap_or(path);
        let gemini_method = [
            ":generateContent",
            ":streamGenerateContent",
            ":embedContent",
            ":batchEmbedContents",
            ":countTokens",
        ]
        .iter()
        .any(|m| path.ends_with(m));
        if gemini_method || path.starts_with("/v1beta/") {
            Provider::Gemini
        } else if path.starts_with("/v1/messages") || path.starts_with("/v1/complete") {
            Provider::Anthropic
        } else {
            Provider::OpenAi
        }
    }
}

/// Status of every block reply: the SDKs map it to their permission-denied error.
pub const BLOCK_STATUS: u32 = 403;

/// A local reply: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub body: String,
}

/// The human-readable reason for a blocked request.
pub fn block_message(policy: &Policy, verdict: &Verdict) -> String {
    let info = &policy.info;
    let policy_name = format!("{}@{} ({})", info.name, info.version, info.short_digest());
    if let Some(why) = &verdict.uninspectable {
        return format!(
            "Airlock blocked this request: {}. Policy {policy_name} blocks requests it cannot inspect.",
            why.message()
        );
    }
    if let Some(theft) = &verdict.relay.key_theft {
        return format!(
            "Airlock blocked this request (destination tier {}): {}. A relay that receives a vendor key can spend it and keep it. Policy {policy_name}; if this host is your own gateway, list it under key_theft.allow_hosts.",
            policy.tier_name(verdict.tier),
            theft.describe(policy),
        );
    }
    let mut reasons: Vec<String> = Vec::new();
    for finding in verdict.deciding_findings() {
        let Some(detector) = policy.detector(finding.detector) else {
            continue;
        };
        let reason = format!(
            "{} ({}, {}) at {}",
            detector.id,
            detector.kind.as_str(),
            policy.class_name(detector.class),
            finding.path
        );
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    const SHOWN: usize = 5;
    let more = reasons.len().saturating_sub(SHOWN);
    reasons.truncate(SHOWN);
    let mut list = reasons.join("; ");
    if more > 0 {
        list.push_str(&format!("; and {more} more"));
    }
    format!(
        "Airlock blocked this request (destination tier {}): policy {policy_name} found {list}. Remove that data or ask your security team.",
        policy.tier_name(verdict.tier),
    )
}

/// The 403 reply for a blocked request, shaped for `provider`.
pub fn block_reply(provider: Provider, policy: &Policy, verdict: &Verdict) -> Reply {
    let message = block_message(policy, verdict);
    let body = match provider {
        Provider::OpenAi => json!({
            "error": {"message": message, "type": "permission_error", "code": "airlock_policy_violation", "param": null}
        }),
        Provider::Anthropic => json!({
            "type": "error",
            "error": {"type": "permission_error", "message": message}
        }),
        Provider::Gemini => json!({
            "error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}
        }),
    };
    Reply {
        status: BLOCK_STATUS,
        body: body.to_string(),
    }
}

/// Status of the error that replaces a response from another model than the one requested.
pub const MODEL_MISMATCH_STATUS: u32 = 502;

/// The error that replaces a response from another model (`on_model_mismatch: block`),
/// shaped for `provider`. Model names are plain identifiers (see `response::model`).
pub fn model_mismatch_reply(
    provider: Provider,
    tier: &str,
    requested: &str,
    reported: &str,
) -> Reply {
    let message = format!(
        "Airlock withheld this response: the request asked for model {requested} but the response \
         came from {reported} (destination tier {tier} blocks model substitution)."
    );
    let body = match provider {
        Provider::OpenAi => json!({
            "error": {"message": message, "type": "server_error", "code": "airlock_model_mismatch", "param": null}
        }),
        Provider::Anthropic => json!({
            "type": "error",
            "error": {"type": "api_error", "message": message}
        }),
        Provider::Gemini => json!({
            "error": {"code": MODEL_MISMATCH_STATUS, "message": message, "status": "UNAVAILABLE"}
        }),
    };
    Reply {
        status: MODEL_MISMATCH_STATUS,
        body: body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_by_path() {
        assert_eq!(
            Provider::from_path("/v1/chat/completions"),
            Provider::OpenAi
        );
        assert_eq!(Provider::from_path("/v1/messages"), Provider::Anthropic);
        assert_eq!(
            Provider::from_path("/v1beta/models/gemini-2.0-flash:generateContent"),
            Provider::Gemini
        );
        assert_eq!(
            Provider::from_path("/v1/projects/p/locations/l/publishers/google/models/g:streamGenerateContent?alt=sse"),
            Provider::Gemini
        );
        assert_eq!(Provider::from_path("/relay/anything"), Provider::OpenAi);
    }
}
