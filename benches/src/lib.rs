//! Shared pieces of the Airlock benchmarks: the body corpus, the benchmark
//! policies, and the request shape every benchmark sends.
//!
//! The benchmarks are in `benches/` (`engine`, `wasm`, `load`); the
//! regression guard against slow regex paths is `tests/no_slow_path.rs`;
//! results and how to reproduce them are in `RESULTS.md`.

pub mod conversation;
pub mod corpus;
pub mod files;
pub mod fresh_vm;
pub mod policies;
pub mod probe_pairs;
pub mod protected;

/// The destination every benchmark request goes to (an approved vendor: findings are masked, not blocked,
/// so the whole body is always inspected and rewritten where needed).
pub const HOST: &str = "api.openai.com";
pub const PATH: &str = "/v1/chat/completions";

/// An inspection request for `body` to [`HOST`].
pub fn request(body: &[u8]) -> airlock_filter::Request<'_> {
    airlock_filter::Request {
        host: HOST,
        path: PATH,
        content_type: Some("application/json"),
        content_encoding: None,
        body,
        caller: None,
    }
}

/// Request headers for the wasm harness and Envoy.
pub fn headers(body_len: usize) -> Vec<(String, String)> {
    vec![
        (":method".into(), "POST".into()),
        (":path".into(), PATH.into()),
        (":authority".into(), HOST.into()),
        (":scheme".into(), "https".into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), body_len.to_string()),
    ]
}

/// Where the benchmarks find a compiled module: `$AIRLOCK_BENCH_WASM_DIR`, else
/// `$CARGO_TARGET_DIR/wasm32-wasip1/release`, else the workspace's `target/wasm32-wasip1/release`.
pub fn wasm_path(file: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("AIRLOCK_BENCH_WASM_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(|t| std::path::PathBuf::from(t).join("wasm32-wasip1/release"))
        })
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip1/release")
        });
    let path = dir.join(file);
    assert!(
        path.is_file(),
        "{} is missing: build it first (cargo build --release --target wasm32-wasip1 -p airlock-filter; \
         cargo build --release --target wasm32-wasip1 --manifest-path benches/noop-filter/Cargo.toml)",
        path.display()
    );
    path
}

/// The Airlock module and the no-op buffering module.
pub const AIRLOCK_WASM: &str = "airlock_filter.wasm";
pub const NOOP_WASM: &str = "airlock_bench_noop_filter.wasm";

/// Makes the wasm harness compile with Cranelift (optimising, as a production host would) unless
/// `AIRLOCK_HARNESS_COMPILER` says otherwise, without fuel metering (Envoy meters nothing; fuel
/// costs a counter update in every loop) unless `AIRLOCK_HARNESS_FUEL` is set, and with a
/// compiled-module cache per compiler.
/// Call before the first `Host::load`.
pub fn harness_defaults() -> String {
    let compiler =
        std::env::var("AIRLOCK_HARNESS_COMPILER").unwrap_or_else(|_| "cranelift".to_string());
    std::env::set_var("AIRLOCK_HARNESS_COMPILER", &compiler);
    if std::env::var_os("AIRLOCK_HARNESS_FUEL").is_none() {
        std::env::set_var("AIRLOCK_HARNESS_FUEL", "off");
    }
    if std::env::var_os("AIRLOCK_HARNESS_CACHE").is_none() {
        let dir = std::env::temp_dir().join(format!("airlock-bench-harness-cache-{compiler}"));
        std::env::set_var("AIRLOCK_HARNESS_CACHE", dir);
    }
    compiler
}
