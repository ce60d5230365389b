//! Loading a policy file or directory (YAML or JSON) into a compiled policy.

use crate::error::CliError;
use airlock_filter::policy::{self, bundle, Environment, Origins, Policy};
use serde_json::Value;
use std::path::Path;

/// Whether a missing HMAC key may be replaced by a throwaway one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The key must be set: outputs depend on it (`scan`).
    Required,
    /// Validation only (`check`, `build`): the filter reads its own key at load time.
    ThrowawayIfUnset,
}

const THROWAWAY_KEY: &str = "airlock-throwaway-validation-key";

/// The process environment, for the policy's HMAC key variable.
pub fn environment(key: Key) -> Environment<'static> {
    match key {
        Key::Required => Environment {
            var: &|name| std::env::var(name).ok(),
            defer_regexes: false,
        },
        Key::ThrowawayIfUnset => Environment {
            var: &|name| Some(std::env::var(name).unwrap_or_else(|_| THROWAWAY_KEY.to_string())),
            defer_regexes: false,
        },
    }
}

/// Parses one policy file's text; YAML unless it ends in `.json`.
pub fn parse_text(path: &Path, text: &str) -> Result<Value, String> {
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))
    } else {
        serde_saphyr::from_str(text).map_err(|e| format!("invalid YAML: {e}"))
    }
}

/// Loads and compiles a policy; every problem is a line of the error.
pub fn policy(path: &Path, key: Key) -> Result<Policy, CliError> {
    let bundle = bundle::load(path, &parse_text)?;
    let show = |p: &Path| p.display().to_string();
    let origins = Origins {
        main: show(&bundle.main),
        detectors: bundle
            .detectors
            .iter()
            .map(|o| o.as_ref().map(|(f, i)| (show(f), *i)))
            .collect(),
        tests: bundle
            .tests
            .iter()
            .map(|o| o.as_ref().map(|(f, i)| (show(f), *i)))
            .collect(),
    };
    let mut document = bundle.document;
    let base = bundle.main.parent().unwrap_or(Path::new("."));
    policy::protected::carry_index_files(&mut document, base, &origins)?;
    let doc = policy::parse_document(document, &origins)?;
    Ok(policy::compile(doc, origins, &environment(key))?)
}

/// The policy at `path`, or the embedded default.
pub fn policy_or_default(path: Option<&Path>, key: Key) -> Result<Policy, CliError> {
    match path {
        Some(p) => policy(p, key),
        None => Ok(airlock_filter::config::default_policy(&environment(key))?),
    }
}
