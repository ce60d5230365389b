//! The policy's relay sections as written (`key_theft`, a tier's `fields`) and their checks.
//!
//! ```yaml
//! key_theft:
//!   enabled: true                # default; false turns the check off
//!   allow_hosts: [llm-gateway.corp.example]   # any vendor key may go there
//!   allow_tiers: [internal-model]             # default: tiers whose max_class is the top class
//!   vendors:
//!     - {name: OpenAI, hosts: [api.openai.com], detectors: [openai-project-key, ...]}
//! destinations:
//!   tiers:
//!     - name: approved-vendor
//!       fields:
//!         - {set: store, value: false, when_path: /v1/responses}
//!         - {remove: /metadata/user_id}
//! ```
//!
//! A field path is a top-level member name (`store`) or a JSON pointer (`/metadata/user_id`,
//! RFC 6901 escapes `~0` `~1`). Every mistake is a [`RelayError`] saying what to change; the
//! compiler reports it at the field's path like every other policy error.

use super::{HostPattern, Tier};
use crate::engine::relay::fields::MAX_FIELD_RULES;
use crate::engine::relay::{FieldOp, FieldRule, KeyTheftRules, Relay, Vendor};
use crate::engine::scan::scanner::DetectorIndex;
use std::collections::HashMap;

pub use super::relay_doc::{FieldRuleDoc, KeyTheftDoc, OneOrMany, VendorDoc};

impl OneOrMany {
    fn list(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// What is wrong with a relay section, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayError {
    UnknownDetector(String),
    NotACredential(String),
    DetectorOfTwoVendors { id: String, first: String },
    NoHosts,
    EmptyVendorName,
    UnknownTier(String),
    SetAndRemove,
    NeitherSetNorRemove,
    ValueWithoutSet,
    SetWithoutValue,
    OnlyIfPresentWithoutSet,
    BadPath { path: String, why: &'static str },
    BadWhenPath(String),
    Overlap { path: String, other: String },
    TooManyRules(usize),
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayError::UnknownDetector(id) => write!(f, "no detector has id {id:?}; list the ids of this vendor's credential detectors"),
            RelayError::NotACredential(id) => write!(f, "detector {id:?} is not of kind credential; only key detectors say whose key it is"),
            RelayError::DetectorOfTwoVendors { id, first } => write!(f, "detector {id:?} is already listed for vendor {first:?}; a key belongs to one vendor"),
            RelayError::NoHosts => write!(f, "list the vendor's own API hosts (api.example.com or *.example.com)"),
            RelayError::EmptyVendorName => write!(f, "name the vendor (it appears in block replies), e.g. OpenAI"),
            RelayError::UnknownTier(name) => write!(f, "{name:?} is not one of the tiers defined under destinations.tiers"),
            RelayError::SetAndRemove => write!(f, "a field rule either sets or removes: split it into two rules"),
            RelayError::NeitherSetNorRemove => write!(f, "write `set: <path>` with `value:`, or `remove: <path>`"),
            RelayError::ValueWithoutSet => write!(f, "`value` belongs to a `set` rule; a `remove` rule has none"),
            RelayError::SetWithoutValue => write!(f, "a `set` rule needs `value:` (any JSON value, e.g. false)"),
            RelayError::OnlyIfPresentWithoutSet => write!(f, "`only_if_present` belongs to a `set` rule"),
            RelayError::BadPath { path, why } => write!(f, "{path:?} is not a field path: {why}; write a top-level name (store) or a JSON pointer (/metadata/user_id)"),
            RelayError::BadWhenPath(p) => write!(f, "request path prefix {p:?} must start with '/'"),
            RelayError::Overlap { path, other } => write!(f, "field {path:?} overlaps {other:?} in the same tier; keep one rule per field (a rule on a parent covers its members)"),
            RelayError::TooManyRules(n) => write!(f, "{n} field rules; a tier may have at most {MAX_FIELD_RULES}"),
        }
    }
}

/// Errors as (field path, message) for the compiler to report.
pub(super) type Errors = Vec<(String, String)>;

/// Compiles the relay sections. `detector_kinds` gives each detector id its index and whether
/// it is a credential; `parse_host` is the compiler's host pattern check.
pub(super) fn compile(
    doc: &super::schema::PolicyDoc,
    tiers: &[Tier],
    detector_ids: &HashMap<&str, DetectorIndex>,
    is_credential: &dyn Fn(DetectorIndex) -> bool,
    parse_host: &dyn Fn(&str) -> Result<HostPattern, String>,
) -> (Relay, Errors) {
    let mut errors = Errors::new();
    let key_theft = match &doc.key_theft {
        Some(kt) => key_theft(
            kt,
            doc,
            tiers,
            detector_ids,
            is_credential,
            parse_host,
            &mut errors,
        ),
        None => KeyTheftRules::default(),
    };
    let fields = doc
        .destinations
        .tiers
        .iter()
        .enumerate()
        .map(|(i, tier)| {
            tier_fields(
                &format!("destinations.tiers[{i}].fields"),
                &tier.fields,
                &mut errors,
            )
        })
        .collect();
    (Relay { key_theft, fields }, errors)
}

fn key_theft(
    kt: &KeyTheftDoc,
    doc: &super::schema::PolicyDoc,
    tiers: &[Tier],
    detector_ids: &HashMap<&str, DetectorIndex>,
    is_credential: &dyn Fn(DetectorIndex) -> bool,
    parse_host: &dyn Fn(&str) -> Result<HostPattern, String>,
    errors: &mut Errors,
) -> KeyTheftRules {
    let hosts = |path: String, list: &[String], errors: &mut Errors| -> Vec<HostPattern> {
        list.iter()
            .enumerate()
            .filter_map(|(j, h)| match parse_host(h) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push((format!("{path}[{j}]"), e));
                    None
                }
            })
            .collect()
    };
    let mut by_detector = vec![None; detector_ids.len()];
    let mut vendors = Vec::new();
    for (v, vendor) in kt.vendors.iter().enumerate() {
        let path = format!("key_theft.vendors[{v}]");
        if vendor.name.trim().is_empty() {
            errors.push((
                format!("{path}.name"),
                RelayError::EmptyVendorName.to_string(),
            ));
        }
        if vendor.hosts.is_empty() {
            errors.push((format!("{path}.hosts"), RelayError::NoHosts.to_string()));
        }
        let index = u8::try_from(v).unwrap_or(u8::MAX);
        for (d, id) in vendor.detectors.iter().enumerate() {
            let at = format!("{path}.detectors[{d}]");
            let Some(&detector) = detector_ids.get(id.as_str()) else {
                errors.push((at, RelayError::UnknownDetector(id.clone()).to_string()));
                continue;
            };
            if !is_credential(detector) {
                errors.push((
                    at.clone(),
                    RelayError::NotACredential(id.clone()).to_string(),
                ));
            }
            match by_detector.get_mut(usize::from(detector)) {
                Some(Some(first)) => {
                    let first = kt
                        .vendors
                        .get(usize::from(*first))
                        .map_or_else(String::new, |f| f.name.clone());
                    let e = RelayError::DetectorOfTwoVendors {
                        id: id.clone(),
                        first,
                    };
                    errors.push((at, e.to_string()));
                }
                Some(slot) => *slot = Some(index),
                None => {}
            }
        }
        vendors.push(Vendor {
            name: vendor.name.clone(),
            hosts: hosts(format!("{path}.hosts"), &vendor.hosts, errors),
        });
    }
    if kt.vendors.len() > usize::from(u8::MAX) {
        errors.push(("key_theft.vendors".into(), "at most 255 vendors".into()));
    }
    let allow_hosts = hosts("key_theft.allow_hosts".into(), &kt.allow_hosts, errors);
    let top_class = doc.classes.len().saturating_sub(1);
    let allow_tiers = match &kt.allow_tiers {
        None => tiers
            .iter()
            .map(|t| usize::from(t.max_class) == top_class)
            .collect(),
        Some(names) => {
            let mut allowed = vec![false; tiers.len()];
            for (i, name) in names.iter().enumerate() {
                match tiers.iter().position(|t| &t.name == name) {
                    Some(t) => {
                        if let Some(slot) = allowed.get_mut(t) {
                            *slot = true;
                        }
                    }
                    None => errors.push((
                        format!("key_theft.allow_tiers[{i}]"),
                        RelayError::UnknownTier(name.clone()).to_string(),
                    )),
                }
            }
            allowed
        }
    };
    KeyTheftRules {
        enabled: kt.enabled,
        vendors,
        by_detector,
        allow_hosts,
        allow_tiers,
    }
}

fn tier_fields(path: &str, docs: &[FieldRuleDoc], errors: &mut Errors) -> Vec<FieldRule> {
    if docs.len() > MAX_FIELD_RULES {
        errors.push((
            path.to_string(),
            RelayError::TooManyRules(docs.len()).to_string(),
        ));
    }
    let mut rules: Vec<FieldRule> = Vec::new();
    for (i, rule) in docs.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match field_rule(rule) {
            Ok(compiled) => {
                if let Some(other) = rules
                    .iter()
                    .find(|r| overlaps(&r.path, &compiled.path))
                    .filter(|r| !same_field_different_requests(r, &compiled))
                {
                    let e = RelayError::Overlap {
                        path: compiled.shown.clone(),
                        other: other.shown.clone(),
                    };
                    errors.push((at, e.to_string()));
                }
                rules.push(compiled);
            }
            Err((field, e)) => errors.push((format!("{at}{field}"), e.to_string())),
        }
    }
    rules
}

/// One path is the other or lies inside it.
fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Two rules on the same field for disjoint request paths (`/v1/responses` and
/// `/v1/chat/completions`) never meet on one request.
fn same_field_different_requests(a: &FieldRule, b: &FieldRule) -> bool {
    a.path == b.path
        && !a.when_path.is_empty()
        && !b.when_path.is_empty()
        && !a.when_path.iter().any(|p| {
            b.when_path
                .iter()
                .any(|q| p.starts_with(q.as_str()) || q.starts_with(p.as_str()))
        })
}

fn field_rule(doc: &FieldRuleDoc) -> Result<FieldRule, (&'static str, RelayError)> {
    let (op, written) = match (&doc.set, &doc.remove, &doc.value) {
        (Some(_), Some(_), _) => return Err(("", RelayError::SetAndRemove)),
        (None, None, _) => return Err(("", RelayError::NeitherSetNorRemove)),
        (None, Some(_), Some(_)) => return Err((".value", RelayError::ValueWithoutSet)),
        (Some(_), None, None) => return Err((".value", RelayError::SetWithoutValue)),
        (Some(p), None, Some(v)) => (FieldOp::Set(v.to_string().into_bytes().into()), p),
        (None, Some(p), None) => (FieldOp::Remove, p),
    };
    let field = if doc.set.is_some() { ".set" } else { ".remove" };
    if doc.only_if_present && doc.set.is_none() {
        return Err((".only_if_present", RelayError::OnlyIfPresentWithoutSet));
    }
    let path = field_path(written).map_err(|why| {
        (
            field,
            RelayError::BadPath {
                path: written.clone(),
                why,
            },
        )
    })?;
    let when_path = doc
        .when_path
        .as_ref()
        .map(OneOrMany::list)
        .unwrap_or_default();
    if let Some(bad) = when_path.iter().find(|p| !p.starts_with('/')) {
        return Err((".when_path", RelayError::BadWhenPath(bad.clone())));
    }
    Ok(FieldRule {
        op,
        path,
        shown: written.clone(),
        when_path,
        only_if_present: doc.only_if_present,
    })
}

/// Deepest field path accepted.
const MAX_FIELD_DEPTH: usize = 8;

/// `store` or `/metadata/user_id` as member names.
fn field_path(written: &str) -> Result<Vec<String>, &'static str> {
    let names: Vec<String> = match written.strip_prefix('/') {
        None if written.is_empty() => return Err("it is empty"),
        None => vec![written.to_string()],
        Some(pointer) => pointer
            .split('/')
            .map(unescape_pointer)
            .collect::<Result<_, _>>()?,
    };
    if names.iter().any(String::is_empty) {
        return Err("a member name is empty");
    }
    if names.len() > MAX_FIELD_DEPTH {
        return Err("it is deeper than 8 members");
    }
    Ok(names)
}

/// RFC 6901: `~1` is `/`, `~0` is `~`, any other `~` is an error.
fn unescape_pointer(token: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return Err("`~` must be followed by 0 or 1 (JSON pointer escapes)"),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: serde_json::Value) -> Result<FieldRule, (&'static str, RelayError)> {
        field_rule(&serde_json::from_value(yaml).unwrap())
    }

    #[test]
    fn field_paths_are_names_or_pointers() {
        assert_eq!(field_path("store"), Ok(vec!["store".to_string()]));
        assert_eq!(
            field_path("a.b"),
            Ok(vec!["a.b".to_string()]),
            "a name may hold dots"
        );
        assert_eq!(
            field_path("/metadata/user~1id~0x"),
            Ok(vec!["metadata".to_string(), "user/id~x".to_string()])
        );
        assert!(field_path("").is_err());
        assert!(field_path("/").is_err());
        assert!(field_path("/a//b").is_err());
        assert!(field_path("/a~2").is_err());
        assert!(field_path(&"/a".repeat(9)).is_err());
    }

    #[test]
    fn rules_say_what_is_wrong() {
        use serde_json::json;
        let cases = [
            (
                json!({"set": "a", "remove": "b", "value": 1}),
                RelayError::SetAndRemove,
            ),
            (json!({"value": 1}), RelayError::NeitherSetNorRemove),
            (
                json!({"remove": "a", "value": 1}),
                RelayError::ValueWithoutSet,
            ),
            (json!({"set": "a"}), RelayError::SetWithoutValue),
            (
                json!({"remove": "a", "only_if_present": true}),
                RelayError::OnlyIfPresentWithoutSet,
            ),
            (
                json!({"remove": "a", "when_path": "v1"}),
                RelayError::BadWhenPath("v1".into()),
            ),
        ];
        for (doc, want) in cases {
            assert_eq!(
                rule(doc.clone()).map(|_| ()).map_err(|e| e.1),
                Err(want),
                "{doc}"
            );
        }
        let ok =
            rule(json!({"set": "store", "value": false, "when_path": ["/v1/responses"]})).unwrap();
        assert_eq!(ok.op, FieldOp::Set(b"false".to_vec().into()));
        assert_eq!(ok.when_path, ["/v1/responses"]);
        assert!(RelayError::Overlap {
            path: "/a/b".into(),
            other: "a".into()
        }
        .to_string()
        .contains("one rule per field"));
    }

    #[test]
    fn overlapping_rules_in_a_tier_are_rejected_unless_their_requests_differ() {
        use serde_json::json;
        let docs: Vec<FieldRuleDoc> = serde_json::from_value(json!([
            {"remove": "metadata"},
            {"remove": "/metadata/user_id"},
            {"set": "store", "value": false, "when_path": "/v1/responses"},
            {"set": "store", "value": false, "when_path": "/v1/chat/completions", "only_if_present": true},
            {"remove": "store"}
        ]))
        .unwrap();
        let mut errors = Errors::new();
        let rules = tier_fields("t", &docs, &mut errors);
        assert_eq!(rules.len(), 5);
        let at: Vec<&str> = errors.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(at, ["t[1]", "t[4]"]);
    }
}
