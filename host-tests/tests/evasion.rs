//! The evasion corpus (`airlock_host_tests::evasions`) through the compiled
//! filter, running the embedded default policy.
//!
//! Every technique carries a credential, a card number, a Chinese resident id
//! and a classification marking to an approved vendor: credentials and
//! markings must be blocked, personal data masked with no form of the secret
//! left in what goes upstream; the same request without a secret must pass
//! byte-identical. Cases in `KNOWN_GAPS` must still be missed (allowed), so
//! that fixing one makes this test ask for the entry to be removed.
//!
//! Build the filter first:
//! `cargo build --release --target wasm32-wasip1 -p airlock-filter`
//! The module is found by `airlock_host_tests::filter_wasm`: `$AIRLOCK_WASM`,
//! else under `$CARGO_TARGET_DIR`, else under the workspace's `target/`.
//! Failure messages name cases as `technique/payload` and never contain a
//! secret.

use airlock_host_tests::evasions::{
    corpus, decode_content, gb11643_check, luhn_valid, techniques, Delivery, EvasionCase, CARD,
    CN_ID, CREDENTIAL, KNOWN_GAPS, PAYLOADS,
};
use airlock_host_tests::{filter_wasm, send_request, Host, Outcome};
use std::collections::{BTreeMap, BTreeSet};

/// A VM running the embedded default policy (empty configuration).
fn default_host() -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "evasion-tests-hash-key");
    let ok = host
        .configure(b"")
        .unwrap_or_else(|e| panic!("on_configure trapped: {e}"));
    assert!(ok, "the empty configuration (default policy) was rejected");
    host
}

const TRAILERS: &[(&str, &str)] = &[("x-client-checksum", "abc123")];

fn send(host: &mut Host, case: &EvasionCase, n: usize) -> Outcome {
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), "POST".into()),
        (":scheme".into(), "https".into()),
        (":authority".into(), case.host.clone()),
        (":path".into(), case.path.clone()),
    ];
    headers.extend(case.headers.iter().cloned());
    headers.push(("content-length".into(), case.body.len().to_string()));
    headers.push(("x-request-id".into(), format!("evasion-{n}")));
    let trailers = (case.delivery == Delivery::Trailers).then_some(TRAILERS);
    send_request(host, &headers, &case.chunks(), trailers)
        .unwrap_or_else(|e| panic!("{}: the filter trapped: {e}", case.name()))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok()
}

/// Checks one outcome against the case; the error names what went wrong, never the secret.
fn check(case: &EvasionCase, out: &Outcome) -> Result<(), String> {
    let want = case.expected_now();
    if out.stalled {
        return Err("the request stalled (neither forwarded nor answered)".into());
    }
    let got = out.decision().unwrap_or("<none or several>");
    if got != want {
        let hint = match case.known_gap {
            Some(_) if got != "allow" => {
                " - this KNOWN_GAPS case is caught now: remove it from KNOWN_GAPS"
            }
            Some(_) => "",
            None if got == "allow" => " - the secret got through",
            None => "",
        };
        return Err(format!(
            "decision {got:?} (status {:?}), expected {want:?}{hint}",
            out.status()
        ));
    }
    for entry in &out.logs {
        if case.leak_in(entry.message.as_bytes()).is_some() {
            return Err("a log line contains the secret".into());
        }
    }
    match want {
        "block" => {
            if out.status() != Some(403) || out.reached_upstream || !out.egress_body.is_empty() {
                return Err(format!(
                    "a block must be a local 403 with nothing upstream (status {:?}, reached upstream: {}, {} body bytes upstream)",
                    out.status(),
                    out.reached_upstream,
                    out.egress_body.len()
                ));
            }
            if let Some(leak) = case.leak_in(&out.response_body) {
                return Err(format!("the block reply contains {leak}"));
            }
            if let Some(id) = case.detector {
                if !contains(&out.response_body, id.as_bytes()) {
                    return Err(format!("the block reply does not name detector {id}"));
                }
            }
        }
        "mask" | "tokenize" => {
            if !out.reached_upstream || out.local_response.is_some() {
                return Err("a masked request must go upstream".into());
            }
            let coding = out.egress_header("content-encoding");
            if coding != case.header("content-encoding") {
                return Err(format!(
                    "content-encoding changed from {:?} to {coding:?}",
                    case.header("content-encoding")
                ));
            }
            let egress = decode_content(coding, &out.egress_body)
                .map_err(|e| format!("the masked body does not decode as {coding:?}: {e}"))?;
            if let Some(leak) = case.leak_in(&egress) {
                return Err(format!("the upstream received {leak}"));
            }
            let original = decode_content(case.header("content-encoding"), &case.body)
                .map_err(|e| format!("the corpus body does not decode: {e}"))?;
            if egress == original {
                return Err("the body went upstream unchanged".into());
            }
            if is_json(&original) && !is_json(&egress) {
                return Err("the masked body is no longer valid JSON".into());
            }
            if let Some(id) = case.detector {
                let marked = if case.expect == "tokenize" {
                    has_token(&egress)
                } else {
                    contains(&egress, format!("[REDACTED:{id}]").as_bytes())
                };
                if !marked {
                    return Err(format!(
                        "the rewritten body has no {} for {id}",
                        case.expect
                    ));
                }
            }
        }
        _ => {
            if !out.reached_upstream {
                return Err("an allowed request must reach the upstream".into());
            }
            if out.egress_body != case.body {
                return Err(format!(
                    "an allowed body must pass byte-identical ({} bytes sent, {} upstream)",
                    case.body.len(),
                    out.egress_body.len()
                ));
            }
            if case.delivery == Delivery::Trailers && out.egress_trailers.is_none() {
                return Err("the trailers did not go upstream".into());
            }
        }
    }
    Ok(())
}

#[test]
fn the_corpus_is_complete_and_its_secrets_are_valid() {
    // The secrets are what the default policy's detectors validate.
    assert!(CREDENTIAL.starts_with("AKIA") && CREDENTIAL.len() == 20);
    assert!(CREDENTIAL[4..]
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    assert_ne!(CREDENTIAL, "AKIAIOSFODNN7EXAMPLE");
    assert!(CARD.starts_with('4') && CARD.len() == 16 && luhn_valid(CARD));
    assert_ne!(
        CARD, "4111111111111111",
        "allowlisted in the default policy"
    );
    assert_eq!(CN_ID.len(), 18);
    assert_eq!(
        gb11643_check(&CN_ID[..17]),
        CN_ID.chars().last(),
        "GB 11643 check digit"
    );

    let cases = corpus();
    let ids: Vec<&str> = techniques().iter().map(|t| t.id).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "technique ids must be unique");
    assert!(
        ids.len() >= 30,
        "the issue asks for at least 30 techniques, got {}",
        ids.len()
    );
    for id in &ids {
        let payloads: Vec<&str> = cases
            .iter()
            .filter(|c| c.technique == *id)
            .map(|c| c.payload)
            .collect();
        assert_eq!(payloads, PAYLOADS, "{id}: every payload once, in order");
    }
    for case in &cases {
        let name = case.name();
        assert_eq!(case.secret.is_none(), case.payload == "clean", "{name}");
        assert_eq!(
            case.expect_blocked_or_masked,
            case.expect != "allow",
            "{name}"
        );
        assert!(
            case.header("content-type").is_some(),
            "{name}: no content-type"
        );
        if let Some(secret) = &case.secret {
            // The secret must be in the request in some form the runner can look for.
            let decoded = decode_content(case.header("content-encoding"), &case.body)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                case.leak_in(&decoded).is_some(),
                "{name}: neither the secret nor any of its forms is in the request"
            );
            assert!(!secret.is_empty());
        }
    }
    // base64url cases must really use the url-safe alphabet.
    for case in cases.iter().filter(|c| c.technique == "base64url") {
        let body = String::from_utf8_lossy(&case.body);
        let blob = body.split("(base64url): ").nth(1).unwrap_or_default();
        let blob: String = blob
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(
            blob.contains('-') || blob.contains('_'),
            "{}: the base64url blob has no url-safe character",
            case.name()
        );
    }
    for (technique, payloads, why) in KNOWN_GAPS {
        assert!(
            ids.contains(technique),
            "KNOWN_GAPS names unknown technique {technique}"
        );
        assert!(!why.is_empty());
        for p in *payloads {
            assert!(
                PAYLOADS.contains(p) && *p != "clean",
                "KNOWN_GAPS: bad payload {p} for {technique}"
            );
        }
    }
}

#[test]
fn every_evasion_is_caught_and_every_clean_variant_passes() {
    let mut host = default_host();
    let cases = corpus();
    let mut failures = Vec::new();
    let mut by_decision: BTreeMap<&str, usize> = BTreeMap::new();
    for (n, case) in cases.iter().enumerate() {
        let out = send(&mut host, case, n);
        assert!(
            !host.trapped(),
            "{}: the VM trapped: {:?}",
            case.name(),
            host.trap_message()
        );
        match check(case, &out) {
            Ok(()) => *by_decision.entry(case.expected_now()).or_default() += 1,
            Err(e) => failures.push(format!("{} ({}): {e}", case.name(), case.delivery.as_str())),
        }
    }
    let techniques = cases
        .iter()
        .map(|c| c.technique)
        .collect::<BTreeSet<_>>()
        .len();
    let gaps = cases.iter().filter(|c| c.known_gap.is_some()).count();
    eprintln!(
        "evasion corpus through the harness: {} of {} cases as expected ({techniques} techniques x {} payloads; {by_decision:?}; {gaps} known gaps still missed)",
        cases.len() - failures.len(),
        cases.len(),
        PAYLOADS.len(),
    );
    assert!(
        failures.is_empty(),
        "{} of {} evasion cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Whether `body` holds a reversible token: `[`, a capital, capitals/digits/`_`, `_`, 4-12
/// Crockford base32 characters, `]` (the form `airlock_filter::response::token` writes).
fn has_token(body: &[u8]) -> bool {
    body.split(|&b| b == b'[').skip(1).any(|rest| {
        let Some(end) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let inner = &rest[..end];
        let Some(cut) = inner.iter().rposition(|&b| b == b'_') else {
            return false;
        };
        let (prefix, code) = (&inner[..cut], &inner[cut + 1..]);
        prefix.first().is_some_and(u8::is_ascii_uppercase)
            && prefix
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            && (4..=12).contains(&code.len())
            && code
                .iter()
                .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(b))
    })
}
