//! What one request costs outside the inspection: every host call the filter makes, and the wasm
//! instructions (wasmtime fuel) between them, for the request `benches/envoy-load.sh` sends (the
//! 8 KiB prose chat body, tokenized and rewritten) and its upstream answer.
//!
//! In Envoy each host call is a V8 → C++ crossing, far dearer than in wasmtime, so the count of
//! calls matters as much as the instructions. The instructions between two calls name a phase:
//! after `proxy_get_buffer_bytes` of the request body and before the next call is the inspection
//! with the rewrite; the metric calls that follow are the stats; and so on.
//!
//! Usage: build the `.wasm`, then
//! `cargo run --release -p airlock-benches --example request_calls [CLASS [BYTES [SEED]]]`
//! (default `prose 8192 1`, the body of `envoy-load.sh`). `AIRLOCK_WASM=path` picks the module.
//! Prints each callback with its instructions, each host call with the instructions spent
//! before it, then the host calls counted by name.

use airlock_benches::corpus;
use airlock_host_tests::state::TraceEntry;
use airlock_host_tests::{filter_wasm, send_request_with_response, Host, UpstreamResponse};
use std::collections::BTreeMap;

/// The upstream's answer in `envoy-load.sh` (a fixed chat completion).
const ANSWER: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}"#;

fn vm() -> Host {
    let path = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let mut host = Host::load(path).unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    host.set_fuel_per_call(u64::MAX / 4);
    // The plugin configuration of `envoy-load.sh`: empty, the embedded default policy.
    assert!(host
        .configure(b"")
        .unwrap_or_else(|e| panic!("configure: {e:?}")));
    host
}

fn request(host: &mut Host, body: &[u8]) {
    let headers = [
        (":method", "POST".to_string()),
        (":path", "/v1/chat/completions".to_string()),
        (":authority", "api.openai.com".to_string()),
        (":scheme", "http".to_string()),
        ("content-type", "application/json".to_string()),
        ("content-length", body.len().to_string()),
        ("user-agent", "wrk".to_string()),
    ];
    let answer = UpstreamResponse {
        headers: vec![
            (":status".into(), "200".into()),
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), ANSWER.len().to_string()),
        ],
        body: ANSWER.as_bytes().to_vec(),
    };
    let outcome = send_request_with_response(host, &headers, &[body], None, &answer)
        .unwrap_or_else(|e| panic!("request: {e:?}"));
    assert!(outcome.decision().is_some(), "the body was not inspected");
    host.clear_logs();
}

fn main() {
    if std::env::var_os("AIRLOCK_HARNESS_FUEL").is_none() {
        std::env::set_var("AIRLOCK_HARNESS_FUEL", "on");
    }
    airlock_benches::harness_defaults();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = if args.is_empty() {
        vec!["prose".to_string(), "8192".to_string(), "1".to_string()]
    } else {
        args
    };
    let body = corpus::body_from_args(&args).unwrap_or_else(|e| panic!("{e}"));
    let mut host = vm();
    // Warm: regexes compiled, lazy DFA states and buffers grown, as in steady traffic.
    for _ in 0..3 {
        request(&mut host, &body);
    }
    host.trace_calls();
    request(&mut host, &body);
    let trace = host.take_call_trace();
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut total, mut calls, mut last) = (0u64, 0u64, 0u64);
    let mut budget = 0u64;
    for entry in &trace {
        match entry {
            TraceEntry::Callback { name, fuel } => {
                println!("{name}");
                budget = *fuel;
                last = *fuel;
            }
            TraceEntry::HostCall { name, fuel_left } => {
                println!("  {:>9}  {name}", last.saturating_sub(*fuel_left));
                last = *fuel_left;
                *counts.entry(name.as_str()).or_default() += 1;
                calls += 1;
            }
            TraceEntry::Return { fuel_left } => {
                println!("  {:>9}  (return)", last.saturating_sub(*fuel_left));
                println!("  = {}", budget.saturating_sub(*fuel_left));
                total += budget.saturating_sub(*fuel_left);
            }
        }
    }
    println!("\ntotal instructions {total}, host calls {calls}");
    for (name, n) in counts {
        println!("{n:>5}  {name}");
    }
}
