//! The compiled Airlock filter, driven through the proxy-wasm ABI by the host
//! harness, checked against docs/CONTRACT.md and the default policy
//! (policies/default).
//!
//! Build the filter first:
//! `cargo build --release --target wasm32-wasip1 -p airlock-filter`
//! The module is found by `airlock_host_tests::filter_wasm`: `$AIRLOCK_WASM`,
//! else under `$CARGO_TARGET_DIR`, else under the workspace's `target/`.

use airlock_host_tests::headers::values_of;
use airlock_host_tests::{
    filter_wasm, send_request, workspace_root, Action, Host, LogLevel, Outcome,
};
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use std::path::PathBuf;

// ---------------------------------------------------------------- fixtures

const HASH_KEY: &str = "host-tests-hash-key";

/// A fresh VM, not yet configured.
fn new_host() -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", HASH_KEY);
    host
}

/// A VM configured with `config`, which must be accepted.
fn host_with(config: &[u8]) -> Host {
    let mut host = new_host();
    let ok = host
        .configure(config)
        .unwrap_or_else(|e| panic!("on_configure trapped: {e}"));
    assert!(ok, "configuration rejected; logs: {:#?}", host.logs());
    host
}

/// A VM running the embedded default policy (empty configuration).
fn default_host() -> Host {
    host_with(b"")
}

/// Tiny deterministic generator (SplitMix64) for keys and chunkings.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// An AWS access key id shaped value (`AKIA` + 16 of [A-Z2-7]) that is not
/// the documented example key.
fn aws_key(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = Rng(seed);
    let mut key = String::from("AKIA");
    for _ in 0..16 {
        key.push(ALPHABET[rng.below(ALPHABET.len())] as char);
    }
    assert!(!key.contains("EXAMPLE"));
    key
}

const EMAIL: &str = "marta.kowalski@northwind-traders.co.uk";

fn openai_body(content: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": content}
        ],
        "temperature": 0.2
    }))
    .unwrap()
}

fn anthropic_body(content: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": content}]
    }))
    .unwrap()
}

fn gemini_body(content: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "contents": [{"role": "user", "parts": [{"text": content}]}]
    }))
    .unwrap()
}

const CLEAN: &str = "Write a short haiku about autumn leaves falling on a quiet pond.";

fn leaky_aws(key: &str) -> String {
    format!("My AWS access key id is {key}; why does the S3 upload fail with AccessDenied?")
}

fn with_email() -> String {
    format!("Please draft a polite reply to {EMAIL} about the late invoice.")
}

fn headers(
    method: &str,
    host: &str,
    path: &str,
    body_len: usize,
    request_id: &str,
) -> Vec<(String, String)> {
    [
        (":method", method.to_string()),
        (":scheme", "https".to_string()),
        (":authority", host.to_string()),
        (":path", path.to_string()),
        ("content-type", "application/json".to_string()),
        ("content-length", body_len.to_string()),
        ("x-request-id", request_id.to_string()),
        ("user-agent", "airlock-host-tests/1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

const OPENAI: (&str, &str) = ("api.openai.com", "/v1/chat/completions");
const ANTHROPIC: (&str, &str) = ("api.anthropic.com", "/v1/messages");
const GEMINI: (&str, &str) = (
    "generativelanguage.googleapis.com",
    "/v1beta/models/gemini-2.0-flash:generateContent",
);

/// POSTs `body` in one chunk.
fn post(host: &mut Host, to: (&str, &str), body: &[u8], request_id: &str) -> Outcome {
    post_chunks(host, to, &[body], request_id)
}

fn post_chunks(host: &mut Host, to: (&str, &str), chunks: &[&[u8]], request_id: &str) -> Outcome {
    let len = chunks.iter().map(|c| c.len()).sum();
    let out = send_request(
        host,
        &headers("POST", to.0, to.1, len, request_id),
        chunks,
        None,
    )
    .unwrap_or_else(|e| panic!("the filter trapped: {e}"));
    assert!(!host.trapped());
    out
}

/// Detector ids declared in policies/default/detectors/*.yaml (empty if none yet).
fn default_detector_ids() -> Vec<String> {
    let dir = workspace_root().join("policies/default/detectors");
    let mut ids = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return ids;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for file in files {
        if file.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines() {
            let line = line.trim_start();
            if let Some(id) = line.strip_prefix("- id:") {
                ids.push(id.trim().trim_matches(['"', '\'']).to_string());
            }
        }
    }
    ids
}

/// The default policy's AWS access key detector ids, if its files exist yet.
fn aws_detector_ids() -> Vec<String> {
    default_detector_ids()
        .into_iter()
        .filter(|id| id.contains("aws") && (id.contains("access") || id.contains("key")))
        .collect()
}

/// The default policy's email detector id (`email-address` today).
fn email_detector_id() -> String {
    default_detector_ids()
        .into_iter()
        .find(|id| id.contains("email"))
        .expect("policies/default/detectors declares no email detector")
}

/// metadata.name and metadata.version of policies/default/policy.yaml.
fn default_policy_name_version() -> (String, String) {
    let text = std::fs::read_to_string(workspace_root().join("policies/default/policy.yaml"))
        .expect("policies/default/policy.yaml");
    let field = |name: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
            .unwrap_or_else(|| panic!("policy.yaml has no {name}"))
    };
    (field("name"), field("version"))
}

/// Asserts a block and returns the reply JSON.
fn assert_blocked(out: &Outcome) -> Value {
    let (status, headers, body) = out
        .local_response
        .clone()
        .unwrap_or_else(|| panic!("expected a local 403 reply, got {out:#?}"));
    assert_eq!(status, 403);
    let header = |k: &str| -> Vec<&str> { values_of(&headers, k).collect() };
    assert_eq!(header("content-type"), ["application/json"], "{headers:?}");
    assert_eq!(
        header("x-airlock-decision"),
        ["block"],
        "the client must see exactly one decision header: {headers:?}"
    );
    assert!(!out.reached_upstream);
    assert!(
        out.egress_body.is_empty(),
        "body bytes went upstream despite the block: {:?}",
        out.egress_body_str()
    );
    serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "reply body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    })
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// The checks every block message must pass: names the detector (and the
/// policy), never the value.
fn assert_block_message(message: &str, secret: &str, detector_ids: &[String], fallback: &str) {
    assert!(
        !message.contains(secret),
        "the reply leaks the matched value: {message}"
    );
    if detector_ids.is_empty() {
        assert!(
            message.to_lowercase().contains(fallback),
            "message names no {fallback} detector: {message}"
        );
    } else {
        assert!(
            detector_ids.iter().any(|id| message.contains(id.as_str())),
            "message names none of {detector_ids:?}: {message}"
        );
    }
    let (name, version) = default_policy_name_version();
    assert!(
        message.contains(&name),
        "message does not name policy {name}: {message}"
    );
    assert!(
        message.contains(&version),
        "message does not name version {version}: {message}"
    );
}

fn assert_no_log_contains(host: &Host, needle: &str) {
    for (level, message) in host.logs() {
        assert!(
            !message.contains(needle),
            "a {level:?} log line contains the matched value: {message}"
        );
    }
    assert!(
        !host.stdout().contains(needle),
        "stdout contains the matched value"
    );
    assert!(
        !host.stderr().contains(needle),
        "stderr contains the matched value"
    );
}

// ---------------------------------------------------------------- configuration

#[test]
fn empty_configuration_loads_the_embedded_default_policy() {
    for config in [&b""[..], b"  \n\t"] {
        let mut host = host_with(config);
        assert!(
            !host.logs().iter().any(|(l, _)| *l >= LogLevel::Error),
            "errors logged: {:#?}",
            host.logs()
        );
        // The default policy is in force: a credential is blocked, and the
        // reply names the default policy.
        let key = aws_key(1);
        let reply = leak_aws_key(&mut host, OPENAI, openai_body, &key, "req-default");
        let message = reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (name, _) = default_policy_name_version();
        assert!(message.contains(&name), "{message}");
    }
}

#[test]
fn ticks_warm_the_regexes_up_then_stop() {
    let mut host = default_host();
    assert!(
        host.tick_period_ms() > 0,
        "a loaded VM asks for ticks to compile its regexes between requests"
    );
    let mut ticks = 0;
    while host.tick_period_ms() > 0 {
        host.tick().unwrap_or_else(|e| panic!("tick: {e:?}"));
        ticks += 1;
        assert!(ticks < 1000, "the warm-up never ends");
    }
    // A few regexes per tick: the default policy's ~300 take many ticks, none of them long.
    assert!(ticks > 10, "{ticks} ticks");
    let key = aws_key(2);
    let out = post(
        &mut host,
        OPENAI,
        &openai_body(&leaky_aws(&key)),
        "req-warm",
    );
    assert_blocked(&out);
}

#[test]
fn invalid_configurations_are_rejected_and_logged_at_error() {
    let invalid: [&[u8]; 6] = [
        br#"{"airlock_config":1,"policy":{"schema":99}}"#,
        b"garbage",
        b"{",
        br#"{"airlock_config":2}"#,
        br#"{"airlock_config":1,"policy":{"schema":1}}"#,
        br#"{"airlock_config":1,"no_such_field":true}"#,
    ];
    for config in invalid {
        let mut host = new_host();
        let ok = host.configure(config).unwrap_or_else(|e| {
            panic!(
                "on_configure trapped on {:?}: {e}",
                String::from_utf8_lossy(config)
            )
        });
        assert!(
            !ok,
            "accepted invalid configuration {:?}",
            String::from_utf8_lossy(config)
        );
        assert!(
            host.logs().iter().any(|(l, _)| *l == LogLevel::Error),
            "no error-level log for {:?}: {:#?}",
            String::from_utf8_lossy(config),
            host.logs()
        );
        assert_eq!(host.metric("airlock.policy_load_failures_total"), 1);
        assert!(!host.trapped());
    }
}

// ---------------------------------------------------------------- decisions

#[test]
fn clean_chat_request_passes_byte_identical() {
    let mut host = default_host();
    let body = openai_body(CLEAN);
    let out = post(&mut host, OPENAI, &body, "req-clean");
    assert!(out.local_response.is_none(), "{out:#?}");
    assert!(
        out.reached_upstream,
        "request did not reach the upstream: {out:#?}"
    );
    assert_eq!(out.egress_body, body, "clean body was changed");
    assert_eq!(
        out.decision(),
        Some("allow"),
        "decision headers: {:?}",
        out.decisions
    );
    assert_eq!(out.status(), Some(200));
    let egress = |k: &str| out.egress_header(k).map(str::to_string);
    assert_eq!(egress(":authority").as_deref(), Some(OPENAI.0));
    assert_eq!(egress(":path").as_deref(), Some(OPENAI.1));
    assert_eq!(egress("x-request-id").as_deref(), Some("req-clean"));
    assert_eq!(
        egress("content-length"),
        None,
        "content-length must be removed in the headers callback"
    );
    assert_eq!(
        out.late_header_changes, 0,
        "request headers edited after they went upstream"
    );
    assert!(
        host.audit_lines().is_empty(),
        "allow decisions write no audit line"
    );
}

/// Posts a request leaking AWS key `key` to `to` (its body built by `body`)
/// and asserts the block; returns the reply JSON.
fn leak_aws_key(
    host: &mut Host,
    to: (&str, &str),
    body: fn(&str) -> Vec<u8>,
    key: &str,
    request_id: &str,
) -> Value {
    let out = post(host, to, &body(&leaky_aws(key)), request_id);
    assert_blocked(&out)
}

/// Asserts `error.message` of a block reply names the AWS detectors, not the key.
fn assert_aws_block_message(error: &Value, key: &str) {
    let message = error["message"].as_str().expect("message is a string");
    assert_block_message(message, key, &aws_detector_ids(), "aws");
}

#[test]
fn aws_key_to_openai_gets_openai_shaped_403() {
    let mut host = default_host();
    let key = aws_key(2);
    let reply = leak_aws_key(&mut host, OPENAI, openai_body, &key, "req-openai");
    assert_eq!(keys(&reply), ["error"], "{reply}");
    let error = &reply["error"];
    assert_eq!(keys(error), ["code", "message", "param", "type"], "{reply}");
    assert_eq!(error["type"], "permission_error");
    assert_eq!(error["code"], "airlock_policy_violation");
    assert_eq!(error["param"], Value::Null);
    assert_aws_block_message(error, &key);
    assert_no_log_contains(&host, &key);
}

#[test]
fn aws_key_to_anthropic_gets_anthropic_shaped_403() {
    let mut host = default_host();
    let key = aws_key(3);
    let reply = leak_aws_key(&mut host, ANTHROPIC, anthropic_body, &key, "req-anthropic");
    assert_eq!(keys(&reply), ["error", "type"], "{reply}");
    assert_eq!(reply["type"], "error");
    let error = &reply["error"];
    assert_eq!(keys(error), ["message", "type"], "{reply}");
    assert_eq!(error["type"], "permission_error");
    assert_aws_block_message(error, &key);
}

#[test]
fn aws_key_to_gemini_gets_gemini_shaped_403() {
    let mut host = default_host();
    let key = aws_key(4);
    let reply = leak_aws_key(&mut host, GEMINI, gemini_body, &key, "req-gemini");
    assert_eq!(keys(&reply), ["error"], "{reply}");
    let error = &reply["error"];
    assert_eq!(keys(error), ["code", "message", "status"], "{reply}");
    assert_eq!(error["code"], 403);
    assert_eq!(error["status"], "PERMISSION_DENIED");
    assert_aws_block_message(error, &key);
}

#[test]
fn aws_key_is_blocked_on_every_destination() {
    let key = aws_key(5);
    for to in [
        OPENAI,
        ("relay.example.net", "/v1/chat/completions"),
        ("api.mistral.ai", "/v1/chat/completions"),
    ] {
        let mut host = default_host();
        let reply = leak_aws_key(&mut host, to, openai_body, &key, "req-everywhere");
        assert_eq!(
            reply["error"]["type"], "permission_error",
            "{to:?}: {reply}"
        );
    }
}

#[test]
fn email_to_approved_vendor_is_masked_and_stays_valid_json() {
    let mut host = default_host();
    let id = email_detector_id();
    let body = openai_body(&with_email());
    let out = post(&mut host, OPENAI, &body, "req-mask");
    assert!(out.local_response.is_none(), "{out:#?}");
    assert!(out.reached_upstream, "{out:#?}");
    assert_eq!(
        out.decision(),
        Some("tokenize"),
        "decision headers: {:?}",
        out.decisions
    );
    let egress = out.egress_body_str();
    assert!(!egress.contains(EMAIL), "email went upstream: {egress}");
    let sent: Value = serde_json::from_str(&egress)
        .unwrap_or_else(|e| panic!("masked body is not JSON ({e}): {egress}"));
    let mut expected: Value = serde_json::from_slice(&body).unwrap();
    // The default policy tokenizes personal data for the vendor: `[EMAIL_XXXX]`.
    let _ = id;
    let start = egress.find("[EMAIL_").expect("a token in the egress body");
    let token = &egress[start..start + egress[start..].find(']').expect("token end") + 1];
    expected["messages"][1]["content"] = Value::String(with_email().replace(EMAIL, token));
    assert_eq!(sent, expected, "only the email may change");
    assert_eq!(
        out.egress_header("content-length"),
        None,
        "a rewritten body needs content-length removed"
    );
    assert_no_log_contains(&host, EMAIL);
}

#[test]
fn email_to_unknown_relay_is_blocked() {
    let mut host = default_host();
    let out = post(
        &mut host,
        ("relay.example.net", "/v1/chat/completions"),
        &openai_body(&with_email()),
        "req-relay",
    );
    let reply = assert_blocked(&out);
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.contains(EMAIL), "{message}");
    assert!(message.contains(&email_detector_id()), "{message}");
}

// ---------------------------------------------------------------- chunking

/// What must not depend on how the body was cut: decision, reply, egress body.
fn signature(out: &Outcome) -> (Option<u32>, Vec<String>, Vec<u8>, Vec<u8>) {
    (
        out.status(),
        out.decisions.clone(),
        out.egress_body.clone(),
        out.local_response
            .as_ref()
            .map(|r| r.2.clone())
            .unwrap_or_default(),
    )
}

fn chunked(body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts = cuts.to_vec();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut at = 0;
    for cut in cuts {
        chunks.push(body[at..cut].to_vec());
        at = cut;
    }
    chunks.push(body[at..].to_vec());
    chunks
}

fn send_chunked(host: &mut Host, body: &[u8], cuts: &[usize], trailers: bool) -> Outcome {
    let chunks = chunked(body, cuts);
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let t: &[(&str, &str)] = &[("x-trailer", "1")];
    let out = send_request(
        host,
        &headers("POST", OPENAI.0, OPENAI.1, body.len(), "req-chunks"),
        &refs,
        trailers.then_some(t),
    )
    .unwrap_or_else(|e| panic!("trap with cuts {cuts:?}: {e}"));
    let held: usize = out.body_sizes.last().copied().unwrap_or(0);
    assert!(held <= body.len());
    out
}

fn chunking_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("clean", openai_body(CLEAN)),
        ("aws", openai_body(&leaky_aws(&aws_key(6)))),
        ("email", openai_body(&with_email())),
    ]
}

#[test]
fn every_two_way_split_gives_the_same_result() {
    let mut host = default_host();
    for (name, body) in chunking_bodies() {
        let whole = send_chunked(&mut host, &body, &[], false);
        for cut in 0..=body.len() {
            let out = send_chunked(&mut host, &body, &[cut], false);
            assert_eq!(
                signature(&out),
                signature(&whole),
                "{name}: split at {cut} changed the result"
            );
        }
    }
}

#[test]
fn random_k_way_splits_give_the_same_result() {
    // TestRunner::run takes a Fn closure: share the host through a RefCell.
    let host = std::cell::RefCell::new(default_host());
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    for (name, body) in chunking_bodies() {
        let whole = send_chunked(&mut host.borrow_mut(), &body, &[], false);
        // A fixed seed: the same cuttings on every run.
        let mut runner = TestRunner::new_with_rng(
            config.clone(),
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        );
        let cuts = proptest::collection::vec(0..=body.len(), 1..12);
        let result = runner.run(&cuts, |cuts| {
            let out = send_chunked(&mut host.borrow_mut(), &body, &cuts, false);
            proptest::prop_assert_eq!(
                signature(&out),
                signature(&whole),
                "{}: cuts {:?}",
                name,
                cuts
            );
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

#[test]
fn body_sizes_passed_to_the_filter_are_cumulative_while_paused() {
    let mut host = default_host();
    let body = openai_body(CLEAN);
    let out = send_chunked(&mut host, &body, &[10, 40, 41], false);
    // Envoy-style: while the filter pauses, each call reports everything held so far.
    assert_eq!(
        out.body_sizes,
        vec![10, 40, 41, body.len()],
        "the filter continued before the end of the body"
    );
}

// ---------------------------------------------------------------- trailers

#[test]
fn trailers_finalise_the_inspection() {
    let mut host = default_host();
    // Block: body chunks without end_of_stream, then trailers.
    let key = aws_key(7);
    let body = openai_body(&leaky_aws(&key));
    let mut stream = host.new_stream().expect("stream");
    stream
        .request_headers(
            &headers("POST", OPENAI.0, OPENAI.1, body.len(), "req-trailers"),
            false,
        )
        .expect("headers");
    let (a, b) = body.split_at(body.len() / 2);
    stream.request_body(a, false).expect("chunk 1");
    stream.request_body(b, false).expect("chunk 2");
    let action = stream
        .request_trailers(&[("x-checksum", "abc")])
        .expect("trailers");
    assert_eq!(action, Action::Pause);
    let reply = stream
        .local_response()
        .cloned()
        .expect("blocked at the trailers");
    assert_eq!(reply.status, 403);
    assert!(
        stream.egress_request_body().is_empty(),
        "body went upstream"
    );
    assert!(!reply.body_str().contains(&key));
    drop(stream);

    // Mask: the rewritten body and the trailers go upstream.
    let chunks = chunked(&openai_body(&with_email()), &[7, 50]);
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let body_len = chunks.iter().map(Vec::len).sum();
    let out = send_request(
        &mut host,
        &headers("POST", OPENAI.0, OPENAI.1, body_len, "req-trailers-2"),
        &refs,
        Some(&[("x-checksum", "abc")]),
    )
    .expect("no trap");
    assert!(out.reached_upstream, "{out:#?}");
    assert!(!out.egress_body_str().contains(EMAIL));
    assert!(out.egress_body_str().contains("[EMAIL_"));
    assert_eq!(
        out.egress_trailers,
        Some(vec![("x-checksum".to_string(), "abc".to_string())])
    );
}

#[test]
fn trailers_and_chunking_agree_with_end_of_stream() {
    let mut host = default_host();
    for (name, body) in chunking_bodies() {
        let plain = send_chunked(&mut host, &body, &[body.len() / 3], false);
        let with_trailers = send_chunked(&mut host, &body, &[body.len() / 3], true);
        assert_eq!(signature(&with_trailers), signature(&plain), "{name}");
    }
}

// ---------------------------------------------------------------- metrics

#[test]
fn metrics_count_requests_and_decisions() {
    let mut host = default_host();
    let bodies = [
        openai_body(CLEAN),
        openai_body(&leaky_aws(&aws_key(8))),
        openai_body(&with_email()),
        openai_body(CLEAN),
        openai_body(&leaky_aws(&aws_key(9))),
    ];
    for (i, body) in bodies.iter().enumerate() {
        post(&mut host, OPENAI, body, &format!("req-m{i}"));
    }
    // A GET carries no body and is not inspected.
    let out = send_request(
        &mut host,
        &headers("GET", OPENAI.0, "/v1/models", 0, "req-get")[..4],
        &[],
        None,
    )
    .expect("no trap");
    assert!(out.reached_upstream);

    assert_eq!(
        host.metric("airlock.requests_inspected_total"),
        bodies.len() as u64
    );
    let total: usize = bodies.iter().map(Vec::len).sum();
    assert_eq!(host.metric("airlock.inspected_bytes_total"), total as u64);
    assert_eq!(host.metric("airlock.decisions_total.action.allow"), 2);
    assert_eq!(host.metric("airlock.decisions_total.action.block"), 2);
    assert_eq!(host.metric("airlock.decisions_total.action.tokenize"), 1);
    assert_eq!(host.metric("airlock.decisions_total.action.mask"), 0);
    assert_eq!(host.metric("airlock.decisions_total.action.monitor"), 0);
    assert_eq!(host.metric("airlock.decisions_total.action.hash"), 0);
    assert_eq!(
        host.metric(&format!(
            "airlock.findings_total.detector.{}",
            email_detector_id()
        )),
        1
    );
    let aws = aws_detector_ids();
    if !aws.is_empty() {
        let found: u64 = aws
            .iter()
            .map(|id| host.metric(&format!("airlock.findings_total.detector.{id}")))
            .sum();
        assert_eq!(found, 2, "findings of {aws:?}");
    }
    assert_eq!(
        host.histogram("airlock.inspection_time_microseconds").len(),
        bodies.len()
    );
    let metrics = host.metrics();
    for name in [
        "airlock.requests_inspected_total",
        "airlock.inspected_bytes_total",
        "airlock.decisions_total.action.block",
    ] {
        assert_eq!(
            metrics[name].kind,
            airlock_host_tests::MetricType::Counter,
            "{name}"
        );
    }
    assert_eq!(
        metrics["airlock.inspection_time_microseconds"].kind,
        airlock_host_tests::MetricType::Histogram
    );
}

// ---------------------------------------------------------------- audit log

#[test]
fn audit_lines_name_findings_never_values() {
    let mut host = default_host();
    let key = aws_key(10);
    post(&mut host, OPENAI, &openai_body(CLEAN), "req-a0");
    post(&mut host, OPENAI, &openai_body(&leaky_aws(&key)), "req-a1");
    post(&mut host, OPENAI, &openai_body(&with_email()), "req-a2");

    let lines = host.audit_lines();
    assert_eq!(
        lines.len(),
        2,
        "one audit line per non-allow decision: {lines:#?}"
    );
    let (name, version) = default_policy_name_version();
    for (line, (request_id, decision)) in lines
        .iter()
        .zip([("req-a1", "block"), ("req-a2", "tokenize")])
    {
        assert_eq!(line["request_id"], request_id, "{line}");
        assert_eq!(line["decision"], decision, "{line}");
        assert_eq!(line["host"], OPENAI.0, "{line}");
        assert_eq!(line["path"], OPENAI.1, "{line}");
        assert_eq!(line["tier"], "approved-vendor", "{line}");
        assert_eq!(line["policy"]["name"], name.as_str(), "{line}");
        assert_eq!(line["policy"]["version"], version.as_str(), "{line}");
        assert!(
            line["policy"]["digest"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{line}"
        );
        let findings = line["findings"].as_array().expect("findings array");
        assert!(!findings.is_empty(), "{line}");
        for f in findings {
            for field in ["detector", "class", "kind", "path", "action", "fingerprint"] {
                assert!(f.get(field).is_some(), "finding without {field}: {f}");
            }
            let fp = f["fingerprint"].as_str().unwrap_or_default();
            let hex = fp
                .strip_prefix("hmac-sha256:")
                .unwrap_or_else(|| panic!("fingerprint {fp}"));
            assert!(
                hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                "fingerprint {fp}"
            );
        }
        let text = line.to_string();
        assert!(
            !text.contains(&key) && !text.contains(EMAIL),
            "audit line leaks: {text}"
        );
    }
    assert!(lines[1]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["detector"] == email_detector_id().as_str() && f["action"] == "tokenize"));
    for (_, m) in host
        .logs()
        .iter()
        .filter(|(_, m)| m.contains("airlock.audit"))
    {
        assert!(
            host.logs()
                .iter()
                .any(|(l, mm)| mm == m && *l == LogLevel::Info),
            "audit lines are info level"
        );
    }
    assert_no_log_contains(&host, &key);
    assert_no_log_contains(&host, EMAIL);
}

#[test]
fn fingerprints_are_keyed_by_the_configured_key() {
    let fingerprint = |key_value: &str| -> String {
        let mut host = new_host();
        host.set_env("AIRLOCK_HASH_KEY", key_value);
        assert!(host.configure(b"").expect("no trap"));
        post(&mut host, OPENAI, &openai_body(&with_email()), "req-fp");
        let lines = host.audit_lines();
        lines[0]["findings"][0]["fingerprint"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // Keys of at least 16 bytes, as the policy compiler requires.
    let a = fingerprint("host-tests-key-number-one");
    assert!(a.starts_with("hmac-sha256:"), "{a}");
    assert_eq!(
        a,
        fingerprint("host-tests-key-number-one"),
        "same key, same value: same fingerprint"
    );
    assert_ne!(
        a,
        fingerprint("host-tests-key-number-two"),
        "another key must give another fingerprint"
    );
}

// ---------------------------------------------------------------- limits

/// A plugin configuration with a small policy of its own.
fn small_policy_config(on_uninspectable: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "airlock_config": 1,
        "policy": {
            "schema": 1,
            "metadata": {"name": "host-tests-small", "version": "1"},
            "classes": ["public", "internal", "confidential", "secret"],
            "destinations": {
                "default_tier": "unknown-relay",
                "tiers": [
                    {"name": "approved-vendor", "max_class": "internal", "hosts": ["api.openai.com"]},
                    {"name": "unknown-relay", "max_class": "public"}
                ]
            },
            "rules": [{"kind": "credential", "action": "block"}],
            "limits": {"max_body_bytes": 1024, "on_uninspectable": on_uninspectable},
            "detectors": [{
                "id": "test-token",
                "class": "secret",
                "kind": "credential",
                "regex": "tok_[a-z0-9]{16}",
                "keywords": ["tok_"]
            }]
        }
    }))
    .unwrap()
}

/// A valid OpenAI body of exactly `size` bytes with no findings.
fn clean_body_of(size: usize) -> Vec<u8> {
    let empty = openai_body("");
    assert!(size >= empty.len());
    let body = openai_body(&"a".repeat(size - empty.len()));
    assert_eq!(body.len(), size);
    body
}

#[test]
fn over_limit_body_blocks_when_fail_mode_is_block() {
    let mut host = host_with(&small_policy_config("block"));
    // The small policy itself works.
    let token = "tok_0123456789abcdef";
    let reply = assert_blocked(&post(
        &mut host,
        OPENAI,
        &openai_body(&format!("use {token}")),
        "req-l0",
    ));
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("test-token"));

    let at_limit = post(&mut host, OPENAI, &clean_body_of(1024), "req-l1");
    assert!(
        at_limit.local_response.is_none(),
        "a body of exactly max_body_bytes is inspected: {at_limit:#?}"
    );
    assert_eq!(at_limit.egress_body, clean_body_of(1024));

    let over = clean_body_of(1025);
    let out = post(&mut host, OPENAI, &over, "req-l2");
    assert_blocked(&out);
    // Chunked, too: the limit applies to the cumulative body.
    let chunks = chunked(&clean_body_of(4000), &[500, 1000, 2500]);
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    assert_blocked(&post_chunks(&mut host, OPENAI, &refs, "req-l3"));
    assert_eq!(
        host.metric("airlock.inspection_errors_total.reason.too_large"),
        2
    );
    assert_eq!(host.metric("airlock.fail_mode_total.outcome.block"), 2);
    assert_eq!(host.metric("airlock.fail_mode_total.outcome.allow"), 0);
}

#[test]
fn over_limit_body_passes_unchanged_when_fail_mode_is_allow() {
    let mut host = host_with(&small_policy_config("allow"));
    let over = clean_body_of(3000);
    let out = post(&mut host, OPENAI, &over, "req-l4");
    assert!(out.local_response.is_none(), "{out:#?}");
    assert!(out.reached_upstream, "{out:#?}");
    assert_eq!(out.egress_body, over);
    // Over the limit even with a credential inside: not inspected, so it passes.
    let token_body = openai_body(&format!("{} tok_0123456789abcdef", "b".repeat(2000)));
    let out = post_chunks(
        &mut host,
        OPENAI,
        &[&token_body[..700], &token_body[700..]],
        "req-l5",
    );
    assert!(out.reached_upstream, "{out:#?}");
    assert_eq!(out.egress_body, token_body);
    assert_eq!(
        host.metric("airlock.inspection_errors_total.reason.too_large"),
        2
    );
    assert_eq!(host.metric("airlock.fail_mode_total.outcome.allow"), 2);
    assert_eq!(host.metric("airlock.fail_mode_total.outcome.block"), 0);
}

// ---------------------------------------------------------------- inspection cache

/// The compiled filter remembers fields per caller: the same conversation re-sent with the
/// same credential is served from the cache (counted in stats) and rewritten byte for byte as
/// the first time; another credential, or none, is served nothing from it.
#[test]
fn a_re_sent_conversation_is_served_from_the_callers_cache() {
    let mut host = default_host();
    let body = openai_body(&with_email());
    let send = |host: &mut Host, credential: Option<&str>, id: &str| {
        let mut headers = headers("POST", OPENAI.0, OPENAI.1, body.len(), id);
        if let Some(credential) = credential {
            headers.push(("authorization".to_string(), credential.to_string()));
        }
        let out = send_request(host, &headers, &[body.as_slice()], None)
            .unwrap_or_else(|e| panic!("the filter trapped: {e}"));
        assert!(!host.trapped());
        out
    };
    let anonymous = send(&mut host, None, "req-c0");
    assert_eq!(
        host.metric("airlock.cache_misses_total"),
        0,
        "no caller, no cache"
    );
    let first = send(&mut host, Some("Bearer sk-alice"), "req-c1");
    let fields = host.metric("airlock.cache_misses_total");
    assert!(fields > 0);
    assert_eq!(host.metric("airlock.cache_hits_total"), 0);
    let again = send(&mut host, Some("Bearer sk-alice"), "req-c2");
    assert_eq!(
        host.metric("airlock.cache_misses_total"),
        fields,
        "nothing inspected twice"
    );
    assert!(host.metric("airlock.cache_hits_total") >= fields);
    let hits = host.metric("airlock.cache_hits_total");
    let bob = send(&mut host, Some("Bearer sk-bob"), "req-c3");
    assert_eq!(
        host.metric("airlock.cache_hits_total"),
        hits,
        "bob is served nothing of alice's"
    );
    assert_eq!(host.metric("airlock.cache_misses_total"), 2 * fields);
    assert!(
        !first
            .egress_body
            .windows(EMAIL.len())
            .any(|w| w == EMAIL.as_bytes()),
        "masked"
    );
    for out in [&anonymous, &again, &bob] {
        assert_eq!(out.egress_body, first.egress_body);
    }
}
