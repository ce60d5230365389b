//! The checks behind Airlock's fuzz targets, one module per target.
//!
//! Each module has one `check(data)` that drives a part of the engine with
//! arbitrary bytes and panics when an invariant breaks. libFuzzer calls it from
//! `fuzz_targets/*.rs` (coverage-guided, instrumented build, see `run.sh`); the
//! replay test (`tests/replay.rs`) calls the same function on every file saved
//! under `corpus/<target>/`, on plain stable `cargo test`, so an input that once
//! broke a check keeps being checked. The checks are invariants and
//! differentials (serde_json as the reference JSON parser, encode/decode round
//! trips), never expected outputs.

pub mod coding;
pub mod inspect;
pub mod json;
pub mod json_tokens;
pub mod layers;
pub mod multipart;
mod policy;
pub mod request_shape;
mod work;

/// Runs the check of `target` (a folder name under `corpus/`) on `data`; `false` if the
/// target is unknown.
pub fn check(target: &str, data: &[u8]) -> bool {
    let run: fn(&[u8]) = match target {
        "json" => json::check,
        "multipart" => multipart::check,
        "coding" => coding::check,
        "layers" => layers::check,
        "inspect" => inspect::check,
        _ => return false,
    };
    run(data);
    true
}

/// The names of every target, as folders of `corpus/` and binaries of `fuzz_targets/`.
pub const TARGETS: [&str; 5] = ["json", "multipart", "coding", "layers", "inspect"];
