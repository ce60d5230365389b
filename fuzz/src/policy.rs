//! The policies the `inspect` target runs: the default policy, and the default's detectors
//! with every finding rewritten (masked for approved vendors, hashed elsewhere), so the
//! fuzzer reaches the rewriting path with any detector, not only personal data.

use airlock_filter::policy::{self, Environment, Origins};
use airlock_filter::Policy;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// A fixed key: the checks compare fingerprints, never the key.
const KEY: &str = "airlock-fuzz-key-0123456789abcdef";

/// Small enough that the fuzzer reaches the body limit with its own inputs (gzip bombs too).
pub const MAX_BODY: u64 = 256 * 1024;

/// `[default, rewrite-all]`.
pub fn policies() -> &'static [Policy; 2] {
    static POLICIES: OnceLock<[Policy; 2]> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let default: Value =
            serde_json::from_str(airlock_filter::DEFAULT_POLICY_JSON).unwrap_or(Value::Null);
        let mut rewrite = default.clone();
        rewrite["rules"] = json!([
            {"tier": "approved-vendor", "action": "mask"},
            {"action": "hash"}
        ]);
        [compile(default), compile(rewrite)]
    })
}

fn compile(mut doc: Value) -> Policy {
    doc["limits"]["max_body_bytes"] = json!(MAX_BODY);
    let origins = Origins::single("fuzz policy");
    let var = |name: &str| (name == "AIRLOCK_HASH_KEY").then(|| KEY.to_string());
    let env = Environment {
        var: &var,
        defer_regexes: false,
    };
    let parsed = policy::parse_document(doc, &origins).unwrap_or_else(|e| panic!("{e}"));
    policy::compile(parsed, origins, &env).unwrap_or_else(|e| panic!("{e}"))
}
