//! A wasm VM for counting what fresh bytes cost: the real `.wasm` under wasmtime, default policy,
//! inspection cache off (`cache.max_bytes: 0`, so every byte is new), every callback metered.
//! Shared by the fuel examples (`fresh_fuel`, `adv_fuel`).

use crate::{headers, policies};
use airlock_host_tests::{filter_wasm, send_request, Host};

/// A VM configured with the default policy and no inspection cache.
pub fn uncached_vm() -> Host {
    let path = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let mut host = Host::load(path).unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    host.set_fuel_per_call(u64::MAX / 4);
    let doc = policies::with_max_body(policies::default_value(), policies::BENCH_MAX_BODY);
    let mut config: serde_json::Value = serde_json::from_slice(&policies::plugin_config(&doc))
        .unwrap_or_else(|e| panic!("plugin configuration: {e}"));
    config["cache"] = serde_json::json!({"max_bytes": 0});
    let config = serde_json::to_vec(&config).unwrap_or_default();
    assert!(host
        .configure(&config)
        .unwrap_or_else(|e| panic!("configure: {e:?}")));
    host
}

/// The instructions of one request carrying `body`, every callback summed.
pub fn request_fuel(host: &mut Host, body: &[u8]) -> u64 {
    let before = host.fuel_used();
    let outcome = send_request(host, &headers(body.len()), &[body], None)
        .unwrap_or_else(|e| panic!("request: {e:?}"));
    assert!(outcome.decision().is_some(), "a body was not inspected");
    host.clear_logs();
    host.fuel_used() - before
}
