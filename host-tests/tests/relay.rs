//! The relay checks through the compiled filter (the embedded default policy): a vendor key in
//! a key header is answered at request-headers time, before the headers leave, with or without
//! a body; a key in the body is key theft; the tiers' field rules rewrite the body that leaves.
//! Stats and audit lines name the tier, the vendor and the fields, never the key or a value.
//!
//! Build the filter first: `cargo build --release --target wasm32-wasip1 -p airlock-filter`.

use airlock_host_tests::{filter_wasm, send_request, Host, Outcome};
use serde_json::{json, Value};

const RELAY: &str = "api.cheap-relay.example";
const OPENAI: &str = "api.openai.com";

fn default_host() -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "host-tests-relay-hash-key");
    assert!(
        host.configure(b"").expect("on_configure"),
        "{:#?}",
        host.logs()
    );
    host
}

/// A key of OpenAI's project-key shape, different per seed (not a real key).
fn openai_key(seed: u64) -> String {
    const URLSAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let tail: String = (0..120)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            URLSAFE[(state % URLSAFE.len() as u64) as usize] as char
        })
        .collect();
    format!("sk-proj-{tail}")
}

fn request(
    host: &mut Host,
    method: &str,
    authority: &str,
    path: &str,
    key: Option<&str>,
    body: &[u8],
) -> Outcome {
    let mut headers = vec![
        (":method", method.to_string()),
        (":scheme", "https".to_string()),
        (":authority", authority.to_string()),
        (":path", path.to_string()),
        ("x-request-id", "relay-1".to_string()),
    ];
    if !body.is_empty() {
        headers.push(("content-type", "application/json".to_string()));
        headers.push(("content-length", body.len().to_string()));
    }
    if let Some(key) = key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    let chunks: Vec<&[u8]> = if body.is_empty() { vec![] } else { vec![body] };
    let out = send_request(host, &headers, &chunks, None).unwrap_or_else(|e| panic!("trap: {e}"));
    assert!(!host.trapped());
    out
}

fn assert_no_log_holds(host: &Host, needle: &str) {
    for (_, message) in host.logs() {
        assert!(
            !message.contains(needle),
            "a log line holds a secret: {message}"
        );
    }
}

fn chat(extra: Value) -> Vec<u8> {
    let mut doc =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Explain TCP."}]});
    if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
        doc.extend(extra.clone());
    }
    serde_json::to_vec(&doc).unwrap()
}

#[test]
fn a_vendor_key_header_to_a_relay_is_answered_before_the_headers_leave() {
    let mut host = default_host();
    let key = openai_key(1);
    for (method, body) in [("POST", chat(json!({}))), ("GET", Vec::new())] {
        let path = if body.is_empty() {
            "/v1/models"
        } else {
            "/v1/chat/completions"
        };
        let out = request(&mut host, method, RELAY, path, Some(&key), &body);
        let (status, _, reply) = out.local_response.clone().expect("a local reply");
        assert_eq!(status, 403, "{method}");
        assert_eq!(
            out.egress_headers, None,
            "{method}: the headers went upstream"
        );
        assert!(out.egress_body.is_empty() && !out.reached_upstream);
        assert_eq!(out.decisions, ["block"]);
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("key theft") && message.contains("OpenAI"),
            "{message}"
        );
        assert!(
            message.contains(RELAY) && !message.contains(&key),
            "{message}"
        );
    }
    assert_eq!(host.metric("airlock.key_theft_total.tier.unknown-relay"), 2);
    assert_eq!(
        host.metric("airlock.key_theft_total.tier.approved-vendor"),
        0
    );
    let audits = host.audit_lines();
    assert_eq!(audits.len(), 2);
    for line in &audits {
        assert_eq!(line["key_theft"]["vendor"], "OpenAI");
        assert_eq!(line["key_theft"]["place"], "header:authorization");
        assert_eq!(line["decision"], "block");
    }
    assert_no_log_holds(&host, &key);
}

#[test]
fn the_same_key_to_its_vendor_passes_untouched() {
    let mut host = default_host();
    let key = openai_key(2);
    let body = chat(json!({}));
    let out = request(
        &mut host,
        "POST",
        OPENAI,
        "/v1/chat/completions",
        Some(&key),
        &body,
    );
    assert!(out.reached_upstream, "{out:#?}");
    assert_eq!(out.egress_body, body, "byte-identical");
    assert_eq!(out.decisions, ["allow"]);
    let out = request(&mut host, "GET", OPENAI, "/v1/models", Some(&key), b"");
    assert!(out.reached_upstream);
    assert_eq!(
        host.metric("airlock.key_theft_total.tier.approved-vendor"),
        0
    );
    assert!(host.audit_lines().is_empty());
}

#[test]
fn a_vendor_key_in_the_body_to_a_relay_is_key_theft() {
    let mut host = default_host();
    let key = openai_key(3);
    let body = serde_json::to_vec(&json!({"model": "m", "messages": [
        {"role": "user", "content": format!("my key is {key}, is it valid?")}]}))
    .unwrap();
    let out = request(
        &mut host,
        "POST",
        RELAY,
        "/v1/chat/completions",
        None,
        &body,
    );
    let (status, _, reply) = out.local_response.clone().expect("blocked");
    assert_eq!(status, 403);
    assert!(out.egress_body.is_empty());
    let reply = String::from_utf8(reply).unwrap();
    assert!(
        reply.contains("key theft") && !reply.contains(&key),
        "{reply}"
    );
    assert_eq!(host.metric("airlock.key_theft_total.tier.unknown-relay"), 1);
    assert_eq!(
        host.audit_lines()[0]["key_theft"]["place"],
        "$.messages[0].content"
    );
    assert_no_log_holds(&host, &key);
}

#[test]
fn field_rules_rewrite_the_body_that_leaves_and_are_audited_by_name() {
    let mut host = default_host();
    let body = serde_json::to_vec(&json!({"model": "gpt-4o-mini", "input": "Hi"})).unwrap();
    let out = request(&mut host, "POST", OPENAI, "/v1/responses", None, &body);
    assert!(out.reached_upstream);
    let sent: Value = serde_json::from_slice(&out.egress_body).unwrap();
    assert_eq!(
        sent,
        json!({"model": "gpt-4o-mini", "input": "Hi", "store": false})
    );
    assert_eq!(out.decisions, ["allow"]);
    assert_eq!(
        host.metric("airlock.fields_enforced_total.tier.approved-vendor"),
        1
    );

    let body = chat(json!({"user": "user-4471", "metadata": {"user_id": "acct-9"}}));
    let out = request(
        &mut host,
        "POST",
        RELAY,
        "/v1/chat/completions",
        None,
        &body,
    );
    assert!(out.reached_upstream);
    let sent: Value = serde_json::from_slice(&out.egress_body).unwrap();
    assert_eq!(
        sent,
        serde_json::from_slice::<Value>(&chat(json!({}))).unwrap()
    );
    assert_eq!(
        host.metric("airlock.fields_enforced_total.tier.unknown-relay"),
        1
    );
    let audits = host.audit_lines();
    assert_eq!(audits[0]["fields"], json!(["set store"]));
    assert_eq!(
        audits[1]["fields"],
        json!(["remove metadata", "remove user"])
    );
    assert_no_log_holds(&host, "user-4471");
    assert_no_log_holds(&host, "acct-9");
}
