//! Protected documents and records through the compiled filter: a configuration carrying a
//! documents and a records index, built here from synthetic text, as `airlock build` writes it.
//!
//! Build the filter first: `cargo build --release --target wasm32-wasip1 -p airlock-filter`.

use airlock_filter::protected::keyed::Key;
use airlock_filter::protected::{documents, records};
use airlock_host_tests::{filter_wasm, send_request, Host, Outcome};
use base64::Engine as _;
use serde_json::{json, Value};

const RELAY: (&str, &str) = ("cheap-relay.example.net", "/v1/chat/completions");
const VENDOR: (&str, &str) = ("api.openai.com", "/v1/chat/completions");
const INTERNAL: (&str, &str) = ("llm.internal.example", "/v1/chat/completions");

/// A synthetic protected source file: long enough for several fragments.
fn protected_source() -> String {
    let mut s = String::from("pub fn settle_ledger(batches: &[Batch], carry: Money) -> Money {\n");
    for i in 0..30 {
        s.push_str(&format!(
            "    let tranche_{i} = reconcile(&batches[{i}], carry.scale({i}, 7), \"depot-{}\")?;\n",
            i * 13 % 17
        ));
    }
    s.push_str("    carry\n}\n");
    s
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn document_index() -> Vec<u8> {
    let mut builder = documents::Builder::new(Key([7; 16]), documents::Settings::default());
    builder.add_document(
        "ledger.rs",
        protected_source().as_bytes(),
        documents::View::for_name("ledger.rs"),
    );
    builder.finish(true).0
}

fn record_index() -> Vec<u8> {
    let mut builder = records::Builder::new(Key([9; 16]), &["name", "email"], &[]);
    builder.add_row(&["Quentin Aldersgate", "q.aldersgate@fernhollow.example"]);
    builder.add_row(&["Mabel Thorncastle", "mabel@rookspire.example"]);
    builder.finish().0
}

/// The configuration `airlock build` writes for a policy with both detectors.
fn config(documents: &[u8], records: &[u8]) -> Vec<u8> {
    json!({
        "airlock_config": 1,
        "policy": {
            "schema": 1,
            "metadata": {"name": "protected-host-test", "version": "1"},
            "classes": ["public", "internal", "secret"],
            "destinations": {
                "default_tier": "relay",
                "tiers": [
                    {"name": "internal", "max_class": "secret", "hosts": ["llm.internal.example"]},
                    {"name": "vendor", "max_class": "internal", "hosts": ["api.openai.com"]},
                    {"name": "relay", "max_class": "public"}
                ]
            },
            "rules": [
                {"detector": "ledger-source", "tier": "vendor", "action": "mask"},
                {"detector": "ledger-source", "tier": "internal", "action": "allow"}
            ],
            "detectors": [
                {"id": "ledger-source", "class": "secret", "kind": "trade-secret",
                 "documents": {"index": "protected/ledger.idx", "min_chars": 200, "data": b64(documents)}},
                {"id": "people", "class": "secret", "kind": "pii",
                 "records": {"index": "protected/people.idx", "min_fields": 2, "data": b64(records)}}
            ]
        }
    })
    .to_string()
    .into_bytes()
}

fn new_host() -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "host-tests-hash-key");
    host
}

/// The same configuration as a binary envelope (`airlock build --envelope`): the JSON without
/// `data`, the indexes as raw sections named by their detectors.
fn envelope(documents: &[u8], records: &[u8]) -> Vec<u8> {
    let mut json: Value = serde_json::from_slice(&config(documents, records)).unwrap();
    for d in json["policy"]["detectors"].as_array_mut().unwrap() {
        for kind in ["documents", "records"] {
            if let Some(spec) = d.get_mut(kind).and_then(Value::as_object_mut) {
                spec.remove("data");
            }
        }
    }
    airlock_filter::protected::envelope::seal(
        json.to_string().as_bytes(),
        &[("ledger-source", documents), ("people", records)],
    )
}

fn configured() -> Host {
    configured_with(&config(&document_index(), &record_index()))
}

fn configured_with(config: &[u8]) -> Host {
    let mut host = new_host();
    let ok = host.configure(config).unwrap();
    assert!(ok, "configuration rejected: {:#?}", host.logs());
    host
}

fn post(host: &mut Host, to: (&str, &str), content: &str) -> Outcome {
    let body =
        json!({"model": "m", "messages": [{"role": "user", "content": content}]}).to_string();
    let headers = [
        (":method", "POST".to_string()),
        (":scheme", "https".to_string()),
        (":authority", to.0.to_string()),
        (":path", to.1.to_string()),
        ("content-type", "application/json".to_string()),
        ("content-length", body.len().to_string()),
    ];
    let out = send_request(host, &headers, &[body.as_bytes()], None).unwrap();
    assert!(!host.trapped());
    out
}

/// Lines 5 to 20 of the protected file, inside a longer prompt.
fn pasted_fragment() -> String {
    let source = protected_source();
    let lines: Vec<&str> = source.lines().skip(5).take(15).collect();
    format!(
        "Can you spot the bug here?\n```\n{}\n```\nThanks!",
        lines.join("\n")
    )
}

#[test]
fn a_pasted_fragment_is_blocked_for_a_relay_masked_for_a_vendor_allowed_internally() {
    for config in [
        config(&document_index(), &record_index()),
        envelope(&document_index(), &record_index()),
    ] {
        fragment_cases(configured_with(&config));
    }
}

fn fragment_cases(mut host: Host) {
    let fragment = pasted_fragment();

    let out = post(&mut host, RELAY, &fragment);
    assert!(out.blocked(), "not blocked");
    assert!(String::from_utf8_lossy(&out.response_body).contains("ledger-source"));
    let audit = host.audit_lines();
    let finding = &audit.last().unwrap()["findings"][0];
    assert_eq!(finding["detector"], "ledger-source");
    assert_eq!(finding["document"], "ledger.rs");
    assert!(
        finding["matched_chars"].as_u64().unwrap() >= 200,
        "{finding}"
    );
    let fraction = finding["fraction"].as_f64().unwrap();
    assert!(fraction > 0.0 && fraction < 1.0, "{finding}");
    for (_, line) in host.logs() {
        assert!(
            !line.contains("reconcile(&batches"),
            "a log line holds the text: {line}"
        );
    }

    let out = post(&mut host, VENDOR, &fragment);
    assert!(!out.blocked());
    assert_eq!(out.decision(), Some("mask"));
    let egress = out.egress_body_str();
    assert!(egress.contains("[REDACTED:ledger-source]"), "{egress}");
    assert!(egress.contains("Can you spot the bug here?"), "{egress}");
    assert!(!egress.contains("let tranche_10 = reconcile"), "{egress}");

    let out = post(&mut host, INTERNAL, &fragment);
    assert!(!out.blocked());
    assert!(out.egress_body_str().contains("let tranche_10 = reconcile"));
    assert_eq!(
        host.metric("airlock.findings_total.detector.ledger-source"),
        3
    );
}

#[test]
fn an_encoded_paste_is_found_through_the_layers() {
    let mut host = configured();
    let encoded = base64::engine::general_purpose::STANDARD.encode(pasted_fragment());
    let out = post(
        &mut host,
        RELAY,
        &format!("decode this and review it: {encoded}"),
    );
    assert!(out.blocked(), "base64 paste not blocked");
    let audit = host.audit_lines();
    assert_eq!(audit.last().unwrap()["findings"][0]["via"], "base64");
}

#[test]
fn two_fields_of_one_row_match_two_fields_of_different_rows_do_not() {
    let mut host = configured();
    let out = post(
        &mut host,
        RELAY,
        "Remind Quentin Aldersgate at q.aldersgate@fernhollow.example.",
    );
    assert!(out.blocked(), "a record was not found");
    let audit = host.audit_lines();
    let finding = &audit.last().unwrap()["findings"][0];
    assert_eq!(finding["detector"], "people");
    assert_eq!(finding["fields"], 2);
    assert!(finding["row"].is_u64());

    let out = post(
        &mut host,
        RELAY,
        "Remind Quentin Aldersgate at mabel@rookspire.example.",
    );
    assert!(!out.blocked(), "fields of two rows made a finding");
    let out = post(&mut host, RELAY, "Remind Quentin Aldersgate.");
    assert!(!out.blocked(), "one field made a finding");
}

#[test]
fn a_configuration_with_a_bad_index_is_rejected_and_the_old_one_stays() {
    let mut host = configured();
    let mut tampered = document_index();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let mut truncated = record_index();
    truncated.truncate(truncated.len() - 3);
    for bad in [
        config(&tampered, &record_index()),
        config(&document_index(), &truncated),
    ] {
        let ok = host.configure(&bad).unwrap();
        assert!(!ok, "a bad index was accepted");
        assert!(!host.trapped());
        // The previous configuration still inspects.
        let out = post(&mut host, RELAY, &pasted_fragment());
        assert!(out.blocked(), "the old configuration was dropped");
    }
    let errors: Vec<_> = host.logs().iter().map(|(_, m)| m.clone()).collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("protected/ledger.idx") && m.contains("checksum")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|m| m.contains("protected/people.idx")),
        "{errors:#?}"
    );
}

#[test]
fn a_damaged_envelope_is_rejected_and_the_old_configuration_stays() {
    let mut host = configured_with(&envelope(&document_index(), &record_index()));
    let good = envelope(&document_index(), &record_index());
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    let mut tampered_index = document_index();
    let last = tampered_index.len() - 1;
    tampered_index[last] ^= 1;
    let wrong_kind = envelope(&record_index(), &document_index());
    for bad in [
        flipped,
        good[..good.len() - 5].to_vec(),
        envelope(&tampered_index, &record_index()),
        wrong_kind,
    ] {
        let ok = host.configure(&bad).unwrap();
        assert!(!ok, "a bad envelope was accepted");
        assert!(!host.trapped());
        let out = post(&mut host, RELAY, &pasted_fragment());
        assert!(out.blocked(), "the old configuration was dropped");
    }
    let errors: Vec<_> = host.logs().iter().map(|(_, m)| m.clone()).collect();
    for needle in ["checksum", "\"ledger-source\"", "other kind"] {
        assert!(
            errors.iter().any(|m| m.contains(needle)),
            "no error mentions {needle}: {errors:#?}"
        );
    }
}
