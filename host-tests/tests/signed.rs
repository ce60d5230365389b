//! Signed plugin configurations through the compiled filter: a VM whose VM configuration
//! names a public key loads only configurations signed by it; anything else is rejected
//! with an error line and `airlock.config_rejected_total.reason.<reason>`, and the configuration
//! it had keeps serving (as Envoy keeps the previous one when an ECDS update is NACKed).
//!
//! Build the filter first: `cargo build --release --target wasm32-wasip1 -p airlock-filter`.

use airlock_filter::signature::{self, Envelope};
use airlock_host_tests::{filter_wasm, send_request, Host, LogLevel, Outcome};
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;
use std::time::{Duration, Instant};

const TOKEN: &str = "tok_0123456789abcdef";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public_b64(key: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes())
}

fn vm_configuration(keys: &[&SigningKey]) -> Vec<u8> {
    let keys: Vec<String> = keys.iter().map(|k| public_b64(k)).collect();
    serde_json::to_vec(&json!({ "config_public_keys": keys })).unwrap()
}

/// A fresh VM trusting `keys` (none: no VM configuration).
fn host_trusting(keys: &[&SigningKey]) -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "host-tests-hash-key");
    if !keys.is_empty() {
        host.set_vm_configuration(&vm_configuration(keys));
    }
    host
}

/// A configuration whose one detector blocks `tok_` tokens, naming `version`.
fn config(version: &str) -> String {
    json!({
        "airlock_config": 1,
        "policy": {
            "schema": 1,
            "metadata": {"name": "signed-tests", "version": version},
            "classes": ["public", "secret"],
            "destinations": {"default_tier": "any", "tiers": [{"name": "any", "max_class": "public"}]},
            "rules": [{"kind": "credential", "action": "block"}],
            "detectors": [{"id": "test-token", "class": "secret", "kind": "credential",
                           "regex": "tok_[a-z0-9]{16}", "keywords": ["tok_"]}]
        }
    })
    .to_string()
}

fn sign(key: &SigningKey, config: &str) -> String {
    let signature = key.sign(&signature::signed_message(config.as_bytes()));
    signature::seal(config, signature::key_id(&key.verifying_key()), &signature).unwrap()
}

fn configure(host: &mut Host, config: &str) -> bool {
    let ok = host
        .configure(config.as_bytes())
        .unwrap_or_else(|e| panic!("on_configure trapped: {e}"));
    assert!(!host.trapped());
    ok
}

fn post(host: &mut Host, content: &str) -> Outcome {
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})
        .to_string();
    let headers = [
        (":method", "POST".to_string()),
        (":scheme", "https".to_string()),
        (":authority", "api.openai.com".to_string()),
        (":path", "/v1/chat/completions".to_string()),
        ("content-type", "application/json".to_string()),
        ("content-length", body.len().to_string()),
    ];
    send_request(host, &headers, &[body.as_bytes()], None)
        .unwrap_or_else(|e| panic!("the filter trapped: {e}"))
}

/// The version of the policy that blocked a request with the token (from the block reply).
fn serving_version(host: &mut Host) -> String {
    let out = post(host, &format!("my token is {TOKEN}"));
    let (status, _, body) = out.local_response.expect("the token must be blocked");
    assert_eq!(status, 403);
    let text = String::from_utf8_lossy(&body).to_string();
    assert!(!text.contains(TOKEN));
    ["v1", "v2"]
        .into_iter()
        .find(|v| text.contains(&format!("signed-tests@{v}")))
        .unwrap_or_else(|| panic!("no policy version in the reply: {text}"))
        .to_string()
}

fn error_logs(host: &Host) -> Vec<String> {
    host.logs()
        .into_iter()
        .filter(|(level, _)| *level == LogLevel::Error)
        .map(|(_, line)| line)
        .collect()
}

#[test]
fn a_configuration_signed_by_a_trusted_key_loads_and_serves() {
    let ci = key(1);
    let mut host = host_trusting(&[&ci]);
    assert!(
        configure(&mut host, &sign(&ci, &config("v1"))),
        "{:#?}",
        host.logs()
    );
    assert_eq!(serving_version(&mut host), "v1");
    assert!(post(&mut host, "hello").reached_upstream);
    let id = signature::key_id(&ci.verifying_key());
    let logs: Vec<String> = host.logs().into_iter().map(|(_, l)| l).collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("must be signed by") && l.contains(&id)),
        "{logs:#?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("signature verified") && l.contains(&id)),
        "{logs:#?}"
    );
    assert_eq!(host.metric("airlock.policy_load_failures_total"), 0);
}

#[test]
fn unsigned_wrongly_signed_and_tampered_configurations_are_rejected_and_counted() {
    let ci = key(1);
    let intruder = key(2);
    let signed = sign(&ci, &config("v1"));
    let mut tampered: Envelope = serde_json::from_str(&signed).unwrap();
    tampered.config = tampered.config.replace("tok_", "tik_");
    let tampered = serde_json::to_string(&tampered).unwrap();
    let cases = [
        ("unsigned", config("v1")),
        ("unsigned", String::new()),
        ("unknown_key", sign(&intruder, &config("v1"))),
        ("bad_signature", tampered),
        (
            "malformed",
            r#"{"airlock_signed": 1, "config": "{}"}"#.to_string(),
        ),
    ];
    for (reason, bad) in cases {
        let mut host = host_trusting(&[&ci]);
        assert!(!configure(&mut host, &bad), "{reason}: accepted");
        assert_eq!(
            host.metric(&format!("airlock.config_rejected_total.reason.{reason}")),
            1,
            "{reason}"
        );
        assert_eq!(
            host.metric("airlock.policy_load_failures_total"),
            1,
            "{reason}"
        );
        let errors = error_logs(&host);
        assert!(
            errors
                .iter()
                .any(|l| l.contains("configuration rejected") && l.contains(reason)),
            "{reason}: {errors:#?}"
        );
        // Not even the embedded default policy serves: nothing was loaded.
        let out = post(&mut host, &format!("my token is {TOKEN}"));
        assert!(
            !out.reached_upstream || out.local_response.is_some(),
            "{reason}"
        );
    }
}

#[test]
fn a_rejected_update_keeps_the_previous_configuration() {
    let ci = key(1);
    let mut host = host_trusting(&[&ci]);
    assert!(configure(&mut host, &sign(&ci, &config("v1"))));
    assert_eq!(serving_version(&mut host), "v1");
    let mut tampered: Envelope = serde_json::from_str(&sign(&ci, &config("v2"))).unwrap();
    tampered.config = config("v2").replace("\"block\"", "\"allow\"");
    let updates = [
        config("v2"),
        sign(&key(3), &config("v2")),
        serde_json::to_string(&tampered).unwrap(),
    ];
    for update in &updates {
        assert!(!configure(&mut host, update));
        assert_eq!(
            serving_version(&mut host),
            "v1",
            "a rejected update took effect"
        );
    }
    assert_eq!(host.metric("airlock.policy_load_failures_total"), 3);
    // A signed update applies.
    assert!(configure(&mut host, &sign(&ci, &config("v2"))));
    assert_eq!(serving_version(&mut host), "v2");
}

#[test]
fn a_vm_without_keys_loads_both_formats_and_a_bad_key_stops_the_vm() {
    let mut host = host_trusting(&[]);
    assert!(configure(&mut host, &config("v1")));
    assert_eq!(serving_version(&mut host), "v1");
    assert!(configure(&mut host, &sign(&key(1), &config("v2"))));
    assert_eq!(serving_version(&mut host), "v2");
    assert!(host
        .logs()
        .iter()
        .any(|(_, l)| l.contains("loaded unverified")));

    // A key that is not one must not leave a VM that trusts nothing.
    let mut host = host_trusting(&[]);
    host.set_vm_configuration(br#"{"config_public_keys": ["AAAA"]}"#);
    assert!(!host.start().unwrap());
    assert!(error_logs(&host)
        .iter()
        .any(|l| l.contains("config_public_keys[0]")));
    let mut host = host_trusting(&[]);
    host.set_vm_configuration(br#"{"config_public_key": "typo"}"#);
    assert!(!host.start().unwrap());
}

#[test]
fn keys_can_come_from_the_vm_environment() {
    let ci = key(1);
    let mut host = host_trusting(&[]);
    host.set_env(
        signature::KEYS_ENV,
        &format!("{} {}", public_b64(&key(9)), public_b64(&ci)),
    );
    assert!(!configure(&mut host, &config("v1")));
    assert_eq!(
        host.metric("airlock.config_rejected_total.reason.unsigned"),
        1
    );
    assert!(configure(&mut host, &sign(&ci, &config("v1"))));
    assert_eq!(serving_version(&mut host), "v1");
}

/// What verification adds to a configuration load, with the embedded default policy's
/// configuration (the largest shipped): printed for the record, bounded loosely.
#[test]
fn verification_adds_little_to_a_load() {
    let env = airlock_filter::policy::Environment {
        var: &|_| Some("host-tests-hash-key".to_string()),
        defer_regexes: true,
    };
    let policy = airlock_filter::config::default_policy(&env).unwrap();
    let built = airlock_filter::config::build(&policy.document, false).unwrap();
    let ci = key(1);
    let signed = sign(&ci, &built);
    let trusted = [&ci];
    let time = |trusting: bool, config: &str| -> Duration {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let mut host = host_trusting(if trusting { &trusted } else { &[] });
            host.start().unwrap();
            let start = Instant::now();
            assert!(configure(&mut host, config));
            best = best.min(start.elapsed());
        }
        best
    };
    let unsigned = time(false, &built);
    let verified = time(true, &signed);
    eprintln!(
        "configuration of {} bytes: unsigned load {unsigned:?}, signed and verified {verified:?}",
        built.len()
    );
    assert!(
        verified < unsigned + Duration::from_millis(250),
        "{verified:?} vs {unsigned:?}"
    );
}

/// Verification alone, in the .wasm: the same signed configuration (a small policy carrying
/// a 160 KB description, so hashing has the default configuration's size to cover) loaded by
/// a VM that trusts no key (opened unchecked) and by one that verifies it. Measured on the
/// build machine: 6.2 ms with Cranelift and no fuel (`AIRLOCK_HARNESS_COMPILER=cranelift
/// AIRLOCK_HARNESS_FUEL=off`, closest to V8's optimizing tier), 23 ms with the default Winch and
/// fuel metering.
#[test]
fn verification_alone_costs_milliseconds_once_per_load() {
    let mut config: serde_json::Value = serde_json::from_str(&config("v1")).unwrap();
    config["policy"]["metadata"]["description"] = json!("policy text ".repeat(13_500));
    let ci = key(1);
    let signed = sign(&ci, &config.to_string());
    let trusted = [&ci];
    let time = |trusting: bool| -> Duration {
        let mut host = host_trusting(if trusting { &trusted } else { &[] });
        let mut runs: Vec<Duration> = (0..7)
            .map(|_| {
                let start = Instant::now();
                assert!(configure(&mut host, &signed));
                start.elapsed()
            })
            .collect();
        runs.sort();
        runs[runs.len() / 2]
    };
    let (unchecked, verified) = (time(false), time(true));
    eprintln!(
        "{} bytes signed: load unchecked {unchecked:?}, verified {verified:?} (median of 7)",
        signed.len()
    );
    assert!(
        verified < unchecked + Duration::from_millis(50),
        "{verified:?} vs {unchecked:?}"
    );
}
