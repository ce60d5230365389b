//! How many host calls a request costs the compiled filter, counted, not timed.
//!
//! Each proxy-wasm host call is a crossing between the wasm engine and the proxy (in Envoy,
//! V8 ↔ C++), and every value the host hands back is one more call into the module's
//! allocator: at Envoy's saturation they cost more than the filter's own work outside the
//! inspection (benches/RESULTS.md, issue 16, eleventh round). These tests pin the counts, so
//! a change that adds crossings to every request shows up here.
//!
//! Build the filter first: `cargo build --release --target wasm32-wasip1 -p airlock-filter`.

use airlock_host_tests::state::TraceEntry;
use airlock_host_tests::{filter_wasm, send_request_with_response, Host, UpstreamResponse};
use std::collections::BTreeMap;

fn host() -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "host-call-tests-hash-key");
    assert!(
        host.configure(b"").expect("on_configure"),
        "default policy rejected"
    );
    host
}

/// The host calls of one chat request with `content` and its JSON answer, by name.
fn calls(host: &mut Host, content: &str) -> BTreeMap<String, usize> {
    let body = serde_json::json!({"messages": [{"role": "user", "content": content}]}).to_string();
    let headers = [
        (":method", "POST".to_string()),
        (":path", "/v1/chat/completions".to_string()),
        (":authority", "api.openai.com".to_string()),
        ("content-type", "application/json".to_string()),
        ("content-length", body.len().to_string()),
        ("x-request-id", "host-calls-1".to_string()),
    ];
    host.trace_calls();
    let outcome = send_request_with_response(
        host,
        &headers,
        &[body.as_bytes()],
        None,
        &UpstreamResponse::default(),
    )
    .expect("request");
    assert!(outcome.decision().is_some(), "the body was not inspected");
    let mut counts = BTreeMap::new();
    for entry in host.take_call_trace() {
        if let TraceEntry::HostCall { name, .. } = entry {
            *counts.entry(name).or_insert(0) += 1;
        }
    }
    counts
}

fn count(calls: &BTreeMap<String, usize>, name: &str) -> usize {
    calls.get(name).copied().unwrap_or(0)
}

#[test]
fn headers_are_read_in_one_call_per_map() {
    let mut host = host();
    for content in ["the weather is fine", "call me on +14155550123 tomorrow"] {
        let calls = calls(&mut host, content);
        assert_eq!(count(&calls, "proxy_get_header_map_value"), 0, "{calls:?}");
        assert!(
            count(&calls, "proxy_get_header_map_pairs") <= 2,
            "{calls:?}"
        );
    }
}

#[test]
fn a_clean_request_reads_no_property_and_logs_nothing() {
    let mut host = host();
    let calls = calls(&mut host, "the weather is fine");
    assert_eq!(count(&calls, "proxy_get_property"), 0, "{calls:?}");
    assert_eq!(count(&calls, "proxy_log"), 0, "{calls:?}");
    let total: usize = calls.values().sum();
    assert!(total <= 14, "{total} host calls: {calls:?}");
}

#[test]
fn a_tokenized_request_stays_within_its_host_calls() {
    let mut host = host();
    let calls = calls(&mut host, "call me on +14155550123 tomorrow");
    // The request id, for the audit line.
    assert_eq!(count(&calls, "proxy_get_property"), 1, "{calls:?}");
    assert_eq!(count(&calls, "proxy_log"), 1, "{calls:?}");
    let total: usize = calls.values().sum();
    assert!(total <= 25, "{total} host calls: {calls:?}");
}
