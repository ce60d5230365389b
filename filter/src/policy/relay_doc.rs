//! The policy's relay sections as written (`key_theft`, a tier's `fields`): their shape only.
//! [`super::relay`] checks them and turns them into the engine's rules.
//!
//! Like [`super::schema`], this file depends on nothing but serde, so that the filter's
//! build script can read the embedded default policy with these very types (to compute its
//! digest at build time, [`super::digest`]).

use serde::{Deserialize, Serialize};

/// `key_theft`: which credential detectors find whose keys, and where those keys may go.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyTheftDoc {
    /// On unless set to false.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Hosts (or `*.suffix` patterns) any vendor key may be sent to: the organisation's own gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
    /// Tiers any vendor key may be sent to. Default: every tier whose `max_class` is the
    /// policy's highest class (a destination trusted with everything is the organisation's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_tiers: Option<Vec<String>>,
    #[serde(default)]
    pub vendors: Vec<VendorDoc>,
}

fn yes() -> bool {
    true
}

/// One vendor: its name (in replies), its own API hosts and the detectors of its keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VendorDoc {
    pub name: String,
    pub hosts: Vec<String>,
    pub detectors: Vec<String>,
}

/// One field rule of a tier: exactly one of `set` (with `value`) or `remove`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldRuleDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<String>,
    /// Request path prefix(es) the rule is limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_path: Option<OneOrMany>,
    /// For `set`: replace the member only when the request has it (never add it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only_if_present: bool,
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}
