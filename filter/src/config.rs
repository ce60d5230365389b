//! The plugin configuration: what `airlock build` writes and the filter reads.
//!
//! `{"airlock_config": 1, "hold_headers": true, "policy": {...}}`. Empty
//! configuration (or no `policy`) means the embedded default policy, so
//! Airlock protects traffic with zero setup.
//!
//! `hold_headers` keeps request headers from reaching the upstream until the
//! body is judged. It needs the host's cooperation: Envoy ≥ 1.35 with
//! `allow_on_headers_stop_iteration: true` in the Wasm plugin config. Hosts
//! without it (Istio's WasmPlugin today) convert a paused header callback into
//! "stop everything" and never deliver the body, so the default is off: the
//! headers go ahead and only the body is held until judged.
//!
//! `cache` sets the per-VM inspection cache (see `engine::cache`):
//! `{"max_bytes": 8388608, "identity_header": "x-user-id"}`. `max_bytes` is the
//! budget of each VM's cache (default 8 MiB; 0 turns it off). The cache is
//! partitioned by caller: by default the request's credential (`authorization`,
//! `x-api-key`, `x-goog-api-key`, `api-key`, or a `key` query parameter);
//! with `identity_header`, that header's value instead (for gateways that
//! inject the credential, so every caller would otherwise look the same). A
//! request with neither is inspected without the cache.

use crate::policy::schema::PolicyDoc;
use crate::policy::{self, Environment, Origins, Policy, PolicyError, PolicyErrors};
use regex_facts::FactsById;
use serde::{Deserialize, Serialize};

/// The configuration format version this build reads and writes.
pub const CONFIG_VERSION: u32 = 1;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PluginConfig {
    airlock_config: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    hold_headers: bool,
    /// Kept as text, then parsed straight into the schema: through a `serde_json::Value` it
    /// cost as much again as the parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<Box<serde_json::value::RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache: Option<CacheConfig>,
    /// What each regex's syntax tree says, read by `airlock build` so that a VM need not parse
    /// the regexes at load ([`regex_facts`]).
    #[serde(default, skip_serializing_if = "FactsById::is_empty")]
    regex_facts: FactsById,
}

/// The inspection cache's settings in the plugin configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Budget of each VM's cache in bytes (0: no cache).
    #[serde(default = "default_cache_bytes")]
    pub max_bytes: usize,
    /// A request header naming the caller, used instead of the credential headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_header: Option<String>,
}

fn default_cache_bytes() -> usize {
    crate::engine::DEFAULT_CACHE_BYTES
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            max_bytes: default_cache_bytes(),
            identity_header: None,
        }
    }
}

/// Request headers that carry a caller's credential, in the order they are looked for.
pub const CREDENTIAL_HEADERS: [&str; 4] =
    ["authorization", "x-api-key", "x-goog-api-key", "api-key"];

impl CacheConfig {
    /// The caller of a request: the identity header if one is named, else the first
    /// credential header present, else a `key` query parameter (Gemini); `None` if none.
    pub fn caller(&self, header: &dyn Fn(&str) -> Option<String>, path: &str) -> Option<String> {
        if let Some(name) = &self.identity_header {
            return header(name).filter(|v| !v.is_empty());
        }
        CREDENTIAL_HEADERS
            .iter()
            .find_map(|name| header(name).filter(|v| !v.is_empty()))
            .or_else(|| {
                let query = path.split_once('?')?.1;
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("key="))
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            })
    }
}

/// A loaded plugin configuration.
#[derive(Debug)]
pub struct FilterConfig {
    pub policy: Policy,
    pub hold_headers: bool,
    pub cache: CacheConfig,
}

/// Name used in errors for the configuration Envoy passed.
pub const SOURCE: &str = "plugin configuration";

/// [`load`] of a configuration the caller hands over, so that an envelope's records index can
/// keep the buffer as its storage instead of copying it (see `protected::envelope::load_owned`).
pub fn load_owned(config: Vec<u8>, env: &Environment<'_>) -> Result<FilterConfig, PolicyErrors> {
    if crate::protected::envelope::is_envelope(&config) {
        return crate::protected::envelope::load_owned(config, env);
    }
    load(&config, env)
}

/// Parses and compiles a plugin configuration; empty selects the default policy.
pub fn load(config: &[u8], env: &Environment<'_>) -> Result<FilterConfig, PolicyErrors> {
    let one = |message: String| {
        PolicyErrors(vec![PolicyError {
            source: SOURCE.to_string(),
            path: String::new(),
            message,
        }])
    };
    // The binary envelope: the JSON below plus the protected indexes as raw sections.
    if crate::protected::envelope::is_envelope(config) {
        return crate::protected::envelope::load(config, env);
    }
    if config.iter().all(u8::is_ascii_whitespace) {
        return Ok(FilterConfig {
            policy: default_policy(env)?,
            hold_headers: false,
            cache: CacheConfig::default(),
        });
    }
    crate::engine::scan::fuel_probe::tag("cfg:parse");
    let parsed: PluginConfig = serde_json::from_slice(config).map_err(|e| {
        one(format!(
            "not a valid Airlock configuration ({e}); generate it with `airlock build POLICY`"
        ))
    })?;
    if let Some(Some(name)) = parsed.cache.as_ref().map(|c| &c.identity_header) {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(one(format!(
                "cache.identity_header {name:?} is not a header name (letters, digits, '-' and '_')"
            )));
        }
    }
    if parsed.airlock_config != CONFIG_VERSION {
        return Err(one(format!(
            "airlock_config {} is not supported; this filter reads version {CONFIG_VERSION}",
            parsed.airlock_config
        )));
    }
    let policy = match parsed.policy {
        None => default_policy(env)?,
        Some(document) => {
            let origins = Origins::single(format!("{SOURCE}: policy"));
            crate::engine::scan::fuel_probe::tag("cfg:policy");
            let doc = policy::parse_document_text(document.get(), &origins)?;
            crate::engine::scan::fuel_probe::tag("cfg:compile");
            policy::compile_with_facts(doc, origins, env, &parsed.regex_facts)?
        }
    };
    let mut policy = policy;
    drop_carried_indexes(&mut policy);
    Ok(FilterConfig {
        policy,
        hold_headers: parsed.hold_headers,
        cache: parsed.cache.unwrap_or_default(),
    })
}

/// Drops the base64 copies of the protected-data indexes from the kept policy document: they
/// are open in the scanner, and a VM need not hold each index twice.
fn drop_carried_indexes(policy: &mut Policy) {
    for d in &mut policy.document.detectors {
        if let Some(documents) = d.documents.as_mut() {
            documents.data = None;
        }
        if let Some(records) = d.records.as_mut() {
            records.data = None;
        }
    }
}

/// Compiles the embedded default policy.
pub fn default_policy(env: &Environment<'_>) -> Result<Policy, PolicyErrors> {
    let origins = Origins::single("embedded default policy");
    let doc = policy::parse_document_text(crate::DEFAULT_POLICY_JSON, &origins)?;
    // Facts that fail to parse are not needed: every regex is then parsed instead.
    let carried: FactsById =
        serde_json::from_str(crate::DEFAULT_REGEX_FACTS_JSON).unwrap_or_default();
    let digest = Some(crate::DEFAULT_POLICY_DIGEST);
    policy::compile_with_digest(doc, origins, env, &carried, digest)
}

/// The configuration for `doc`: tests and examples stripped, as the filter needs no more.
pub fn build(doc: &PolicyDoc, hold_headers: bool) -> Result<String, serde_json::Error> {
    let regexes = doc.detectors.iter().filter_map(|d| {
        let pattern = d.regex.as_deref()?;
        Some((
            d.id.as_str(),
            pattern,
            d.keywords.as_slice(),
            d.join.is_some(),
        ))
    });
    let config = PluginConfig {
        airlock_config: CONFIG_VERSION,
        hold_headers,
        policy: Some(serde_json::value::to_raw_value(
            &policy::digest::behavioural(doc),
        )?),
        cache: None,
        regex_facts: regex_facts::read_all(regexes),
    };
    serde_json::to_string(&config)
}

#[cfg(test)]
mod tests {
    //! The regex facts a configuration carries change nothing: a policy loaded with them
    //! compiles to the scanner that parsing every regex gives.
    fn deferred_env() -> crate::policy::Environment<'static> {
        crate::policy::Environment {
            var: &|_| Some("airlock-test-key-0123456789abcdef".to_string()),
            defer_regexes: true,
        }
    }

    /// The scanner a document compiles to, as text (every table, gate and arming rule).
    fn scanner_of(policy: &crate::Policy) -> String {
        format!("{:?}", policy.scanner)
    }

    #[test]
    fn the_embedded_default_policys_digest_from_the_build_is_the_one_loading_computes() {
        let origins = crate::policy::Origins::single("embedded default policy");
        let doc = crate::policy::parse_document_text(crate::DEFAULT_POLICY_JSON, &origins)
            .unwrap_or_else(|e| panic!("{e}"));
        let computed = crate::policy::digest::digest(&doc);
        assert_eq!(crate::DEFAULT_POLICY_DIGEST, computed);
        assert_eq!(computed.len(), 64);
        let policy = super::default_policy(&deferred_env()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(policy.info.digest, computed);
    }

    #[test]
    fn the_embedded_default_policy_carries_facts_for_every_regex_and_they_change_nothing() {
        let carried: regex_facts::FactsById =
            serde_json::from_str(crate::DEFAULT_REGEX_FACTS_JSON).unwrap();
        let with_facts = super::default_policy(&deferred_env()).unwrap();
        let mut regexes = 0;
        for d in &with_facts.document.detectors {
            if let Some(pattern) = &d.regex {
                let facts = carried
                    .get(&d.id)
                    .and_then(|c| c.facts_for(pattern, &d.keywords));
                assert!(facts.is_some(), "no usable facts for {}", d.id);
                regexes += 1;
            }
        }
        assert!(regexes > 250);
        let origins = crate::policy::Origins::single("test");
        let value = serde_json::from_str(crate::DEFAULT_POLICY_JSON).unwrap();
        let doc = crate::policy::parse_document(value, &origins).unwrap();
        let parsed = crate::policy::compile(doc, origins, &deferred_env()).unwrap();
        assert_eq!(scanner_of(&with_facts), scanner_of(&parsed));
    }

    #[test]
    fn the_cache_settings_load_and_name_the_caller() {
        let loaded = super::load(br#"{"airlock_config": 1}"#, &deferred_env()).unwrap();
        assert_eq!(loaded.cache, super::CacheConfig::default());
        let config =
            br#"{"airlock_config": 1, "cache": {"max_bytes": 1024, "identity_header": "x-user"}}"#;
        let loaded = super::load(config, &deferred_env()).unwrap();
        assert_eq!(loaded.cache.max_bytes, 1024);
        let headers = |name: &str| match name {
            "x-user" => Some("alice".to_string()),
            "authorization" => Some("Bearer sk-one".to_string()),
            _ => None,
        };
        assert_eq!(loaded.cache.caller(&headers, "/v1"), Some("alice".into()));
        let default = super::CacheConfig::default();
        assert_eq!(
            default.caller(&headers, "/v1"),
            Some("Bearer sk-one".into())
        );
        let none = |_: &str| None;
        assert_eq!(
            default.caller(&none, "/v1beta/x?alt=sse&key=AIzaKEY"),
            Some("AIzaKEY".into())
        );
        assert_eq!(default.caller(&none, "/v1beta/x?alt=sse"), None);
        for bad in ["", "x user", "x:y"] {
            let config =
                serde_json::json!({"airlock_config": 1, "cache": {"identity_header": bad}});
            assert!(
                super::load(config.to_string().as_bytes(), &deferred_env()).is_err(),
                "{bad}"
            );
        }
        let unknown = br#"{"airlock_config": 1, "cache": {"bytes": 1}}"#;
        assert!(super::load(unknown, &deferred_env()).is_err());
    }

    #[test]
    fn a_built_configuration_carries_facts_that_load_as_parsing_would() {
        let policy = super::default_policy(&deferred_env()).unwrap();
        let mut doc = policy.document.clone();
        let built = super::build(&doc, false).unwrap();
        assert!(built.contains("\"regex_facts\""));
        let loaded = super::load(built.as_bytes(), &deferred_env()).unwrap();
        assert_eq!(scanner_of(&loaded.policy), scanner_of(&policy));
        // A pattern edited after the build is parsed, not read from stale facts.
        let twilio = doc
            .detectors
            .iter_mut()
            .find(|d| d.id == "twilio-credentials-pair")
            .unwrap();
        twilio.regex = Some(r"\bAC[a-f0-9]{32}:(?P<secret>[A-Za-z0-9]{32})\b".to_string());
        let mut config: serde_json::Value = serde_json::from_str(&built).unwrap();
        let edited = super::build(&doc, false).unwrap();
        let edited: serde_json::Value = serde_json::from_str(&edited).unwrap();
        config["policy"] = edited["policy"].clone();
        let stale = super::load(config.to_string().as_bytes(), &deferred_env()).unwrap();
        let fresh = super::load(edited.to_string().as_bytes(), &deferred_env()).unwrap();
        assert_eq!(scanner_of(&stale.policy), scanner_of(&fresh.policy));
        assert_ne!(scanner_of(&stale.policy), scanner_of(&policy));
    }
}
