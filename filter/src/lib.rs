//! Airlock: a data-loss-prevention filter for AI-bound HTTP traffic.
//!
//! The crate is two layers. Everything that decides lives in plain Rust with
//! no proxy-wasm types, so it runs natively in the CLI and in tests:
//! [`policy`] (the schema and its compiler), [`engine`] (inspection),
//! [`config`] (the plugin configuration the filter loads) and [`reply`]
//! (provider-shaped block responses). On `wasm32`, the `proxy` module adapts
//! that to the proxy-wasm ABI and nothing more.

pub mod config;
pub mod engine;
pub mod header_pairs;
pub mod log_fields;
pub mod policy;
pub mod protected;
pub mod reply;
pub mod response;
pub mod signature;
pub mod telemetry;

#[cfg(target_arch = "wasm32")]
mod proxy;

pub use engine::{Finding, Request, Scratch, Uninspectable, Verdict};
pub use policy::{Action, Policy, PolicyInfo};

/// The embedded default policy as JSON (tests and examples removed).
pub const DEFAULT_POLICY_JSON: &str =
    include_str!(concat!(env!("OUT_DIR"), "/default_policy.json"));

/// The digest ([`policy::digest`]) of the embedded default policy, computed by the build script.
pub const DEFAULT_POLICY_DIGEST: &str =
    include_str!(concat!(env!("OUT_DIR"), "/default_policy_digest.txt"));

/// The syntax facts of the embedded default policy's regexes ([`regex_facts`]), by detector id.
pub const DEFAULT_REGEX_FACTS_JSON: &str =
    include_str!(concat!(env!("OUT_DIR"), "/default_regex_facts.json"));
