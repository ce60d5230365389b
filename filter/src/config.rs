//! The plugin configuration: what `airlock build` writes and the filter reads.
//!
//! `{"airlock_config": 1, "policy": {...}}`. Empty configuration means the
//! embedded default policy, so Airlock protects traffic with zero setup.

use crate::policy::schema::PolicyDoc;
use crate::policy::{self, Environment, Origins, Policy, PolicyError, PolicyErrors};
use serde::{Deserialize, Serialize};

/// The configuration format version this build reads and writes.
pub const CONFIG_VERSION: u32 = 1;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PluginConfig {
    airlock_config: u32,
    policy: serde_json::Value,
}

/// Name used in errors for the configuration Envoy passed.
pub const SOURCE: &str = "plugin configuration";

/// Parses and compiles a plugin configuration; empty selects the default policy.
pub fn load(config: &[u8], env: &Environment<'_>) -> Result<Policy, PolicyErrors> {
    let one = |message: String| PolicyErrors(vec![PolicyError {
        source: SOURCE.to_string(),
        path: String::new(),
        message,
    }]);
    if config.iter().all(u8::is_ascii_whitespace) {
        return default_policy(env);
    }
    let parsed: PluginConfig = serde_json::from_slice(config)
        .map_err(|e| one(format!("not a valid Airlock configuration ({e}); generate it with `airlock build POLICY`")))?;
    if parsed.airlock_config != CONFIG_VERSION {
        return Err(one(format!(
            "airlock_config {} is not supported; this filter reads version {CONFIG_VERSION}",
            parsed.airlock_config
        )));
    }
    let origins = Origins::single(format!("{SOURCE}: policy"));
    let doc = policy::parse_document(parsed.policy, &origins)?;
    policy::compile(doc, origins, env)
}

/// Compiles the embedded default policy.
pub fn default_policy(env: &Environment<'_>) -> Result<Policy, PolicyErrors> {
    let origins = Origins::single("embedded default policy");
    let value: serde_json::Value = serde_json::from_str(crate::DEFAULT_POLICY_JSON).map_err(|e| {
        PolicyErrors(vec![origins.error("", format!("embedded default policy is not JSON: {e}"))])
    })?;
    let doc = policy::parse_document(value, &origins)?;
    policy::compile(doc, origins, env)
}

/// The configuration for `doc`: tests and examples stripped, as the filter needs no more.
pub fn build(doc: &PolicyDoc) -> Result<String, serde_json::Error> {
    let config = PluginConfig {
        airlock_config: CONFIG_VERSION,
        policy: serde_json::to_value(policy::digest::behavioural(doc))?,
    };
    serde_json::to_string(&config)
}
