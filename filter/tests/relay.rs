//! The relay checks end to end, natively, on the embedded default policy: vendor keys in key
//! headers, the query string and bodies, and the tiers' field rules composed with masking.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // test code

use airlock_filter::engine::relay::key_theft::KeyHeader;
use airlock_filter::policy::{self, Environment, Origins};
use airlock_filter::{reply, Action, Policy, Request, Verdict};
use serde_json::{json, Value};

const RELAY: &str = "api.cheap-relay.example";
const OPENAI: &str = "api.openai.com";

fn default_policy() -> Policy {
    airlock_filter::config::default_policy(&Environment {
        var: &|_| None,
        defer_regexes: true,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const URLSAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A key in a vendor's documented shape, `prefix` + `n` characters + `suffix`, different for
/// every seed (SipHash with fixed keys, so runs repeat). None is a real key.
fn key(seed: u64, prefix: &str, alphabet: &[u8], n: usize, suffix: &str) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hashes = BuildHasherDefault::<DefaultHasher>::default();
    let body: String = (0..n)
        .map(|i| {
            alphabet[(hashes.hash_one((seed, i, prefix)) % alphabet.len() as u64) as usize] as char
        })
        .collect();
    format!("{prefix}{body}{suffix}")
}

fn openai_key(seed: u64) -> String {
    key(seed, "sk-proj-", URLSAFE, 120, "")
}

fn anthropic_key(seed: u64) -> String {
    key(seed, "sk-ant-api03-", URLSAFE, 93, "AA")
}

fn google_key(seed: u64) -> String {
    key(seed, "AIza", URLSAFE, 35, "")
}

fn groq_key(seed: u64) -> String {
    key(seed, "gsk_", ALNUM, 52, "")
}

fn headers_check(
    policy: &Policy,
    host: &str,
    path: &str,
    headers: &[(KeyHeader, &str)],
) -> Option<Verdict> {
    let mut scratch = policy.scratch();
    policy.key_theft_in_headers(host, path, headers, &mut scratch)
}

fn inspect(policy: &Policy, host: &str, path: &str, body: &[u8]) -> Verdict {
    let mut scratch = policy.scratch();
    policy.inspect(
        &Request {
            host,
            path,
            content_type: Some("application/json"),
            content_encoding: None,
            body,
            caller: None,
        },
        &mut scratch,
    )
}

fn assert_theft_reply(policy: &Policy, verdict: &Verdict, key: &str, vendor: &str, host: &str) {
    assert_eq!(verdict.decision, Action::Block);
    let theft = verdict.relay.key_theft.as_ref().expect("a key theft");
    assert_eq!(policy.relay.key_theft.vendor_name(theft.vendor), vendor);
    let message = reply::block_message(policy, verdict);
    assert!(message.contains("key theft"), "{message}");
    assert!(
        message.contains(vendor) && message.contains(host),
        "{message}"
    );
    assert!(!message.contains(key), "the reply holds the key");
    for provider in [
        reply::Provider::OpenAi,
        reply::Provider::Anthropic,
        reply::Provider::Gemini,
    ] {
        let r = reply::block_reply(provider, policy, verdict);
        assert_eq!(r.status, 403);
        assert!(!r.body.contains(key));
    }
    let audit = airlock_filter::telemetry::audit_line(policy, verdict, &Default::default());
    assert!(!audit.contains(key), "the audit line holds the key");
    let line: Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(line["key_theft"]["vendor"], vendor);
}

#[test]
fn vendor_keys_in_key_headers_go_to_their_vendor_only() {
    let policy = default_policy();
    for seed in 1..=5 {
        let cases = [
            (
                KeyHeader::Authorization,
                format!("Bearer {}", openai_key(seed)),
                "OpenAI",
                OPENAI,
            ),
            (
                KeyHeader::XApiKey,
                anthropic_key(seed),
                "Anthropic",
                "api.anthropic.com",
            ),
            (
                KeyHeader::XGoogApiKey,
                google_key(seed),
                "Google",
                "generativelanguage.googleapis.com",
            ),
            (
                KeyHeader::Authorization,
                format!("Bearer {}", groq_key(seed)),
                "Groq",
                "api.groq.com",
            ),
        ];
        for (header, value, vendor, own_host) in &cases {
            let headers = [(*header, value.as_str())];
            let stolen = headers_check(&policy, RELAY, "/v1/chat/completions", &headers)
                .unwrap_or_else(|| panic!("{vendor} key in {header:?} to a relay passed"));
            assert_theft_reply(
                &policy,
                &stolen,
                value.trim_start_matches("Bearer "),
                vendor,
                RELAY,
            );
            assert_eq!(stolen.findings.len(), 1);
            assert_eq!(stolen.findings[0].path, format!("header:{}", header.name()));
            // Ports and case do not change whose host it is.
            let upper = own_host.to_ascii_uppercase() + ":443";
            for host in [*own_host, upper.as_str()] {
                assert_eq!(
                    headers_check(&policy, host, "/v1/chat/completions", &headers),
                    None,
                    "{vendor} key to {host}"
                );
            }
        }
        // A vendor's key to another vendor is theft too.
        let headers = [(KeyHeader::XApiKey, anthropic_key(seed))];
        let headers: Vec<(KeyHeader, &str)> =
            headers.iter().map(|(h, v)| (*h, v.as_str())).collect();
        assert!(headers_check(&policy, OPENAI, "/v1/messages", &headers).is_some());
    }
}

#[test]
fn look_alikes_and_placeholders_are_not_keys() {
    let policy = default_policy();
    for value in [
        "Bearer sk-e2e-not-a-key",
        "Bearer sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "sk-ant-e2e-not-a-key",
        "Bearer eyJub3QiOiJhIGtleSJ9",
        "AIza-too-short",
        "",
    ] {
        for header in KeyHeader::ALL {
            assert_eq!(
                headers_check(&policy, RELAY, "/v1/chat/completions", &[(header, value)]),
                None,
                "{value:?} in {header:?}"
            );
        }
    }
    assert_eq!(headers_check(&policy, RELAY, "/v1/models", &[]), None);
}

#[test]
fn a_google_key_in_the_query_string_is_checked_too() {
    let policy = default_policy();
    let key = google_key(7);
    let path = format!("/v1beta/models/gemini-2.5-flash:generateContent?key={key}");
    let stolen = headers_check(&policy, RELAY, &path, &[]).expect("query key to a relay");
    assert_theft_reply(&policy, &stolen, &key, "Google", RELAY);
    assert_eq!(stolen.findings[0].path, "query");
    assert_eq!(
        headers_check(&policy, "generativelanguage.googleapis.com", &path, &[]),
        None
    );
}

#[test]
fn a_vendor_key_in_the_body_to_a_relay_is_key_theft() {
    let policy = default_policy();
    let key = openai_key(11);
    let body = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": format!("Why does OPENAI_API_KEY={key} give 401?")}
    ]})
    .to_string();
    let verdict = inspect(&policy, RELAY, "/v1/chat/completions", body.as_bytes());
    assert_theft_reply(&policy, &verdict, &key, "OpenAI", RELAY);
    let theft = verdict.relay.key_theft.as_ref().unwrap();
    assert_eq!(theft.place.path(), "$.messages[0].content");
    // To the vendor itself it is no theft; the credential rule still keeps it from leaving.
    let to_vendor = inspect(&policy, OPENAI, "/v1/chat/completions", body.as_bytes());
    assert_eq!(to_vendor.relay.key_theft, None);
    assert_eq!(to_vendor.decision, Action::Block);
}

/// The default policy with credentials allowed to the relay: key theft alone must block.
#[test]
fn key_theft_blocks_even_where_the_rules_would_let_a_credential_through() {
    let policy = custom_default(|doc| {
        doc["rules"] = json!([{"kind": "credential", "action": "monitor"}]);
        doc["destinations"]["tiers"][1]["max_class"] = json!("secret");
        doc["key_theft"]["allow_tiers"] = json!([]);
    });
    let key = openai_key(12);
    let body = json!({"input": format!("key {key}")}).to_string();
    let verdict = inspect(&policy, RELAY, "/v1/responses", body.as_bytes());
    assert_eq!(verdict.decision, Action::Block);
    assert!(verdict.relay.key_theft.is_some());
    let to_vendor = inspect(&policy, OPENAI, "/v1/responses", body.as_bytes());
    assert_eq!(to_vendor.relay.key_theft, None);
    assert_ne!(to_vendor.decision, Action::Block);
}

/// The default policy document, edited, compiled.
fn custom_default(edit: impl FnOnce(&mut Value)) -> Policy {
    let mut doc: Value = serde_json::from_str(airlock_filter::DEFAULT_POLICY_JSON).unwrap();
    edit(&mut doc);
    let origins = Origins::single("test");
    let parsed = policy::parse_document(doc, &origins).unwrap_or_else(|e| panic!("{e}"));
    policy::compile(
        parsed,
        origins,
        &Environment {
            var: &|_| None,
            defer_regexes: true,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_switch_and_the_allow_lists_work() {
    let key = openai_key(13);
    let value = format!("Bearer {key}");
    let headers = [(KeyHeader::Authorization, value.as_str())];
    let off = custom_default(|doc| doc["key_theft"]["enabled"] = json!(false));
    assert_eq!(
        headers_check(&off, RELAY, "/v1/chat/completions", &headers),
        None
    );
    let gateway = custom_default(|doc| {
        doc["key_theft"]["allow_hosts"] = json!(["*.gateway.corp.example"]);
    });
    assert_eq!(
        headers_check(
            &gateway,
            "llm.gateway.corp.example",
            "/v1/chat/completions",
            &headers
        ),
        None
    );
    assert!(headers_check(&gateway, RELAY, "/v1/chat/completions", &headers).is_some());
    // A tier trusted with the top class is the organisation's own: keys may go there.
    let inside = custom_default(|doc| {
        doc["destinations"]["tiers"][1]["max_class"] = json!("secret");
    });
    assert_eq!(
        headers_check(&inside, RELAY, "/v1/chat/completions", &headers),
        None
    );
    let monitor = custom_default(|doc| doc["mode"] = json!("monitor"));
    let seen = headers_check(&monitor, RELAY, "/v1/chat/completions", &headers).unwrap();
    assert_eq!(
        (seen.decision, seen.planned),
        (Action::Monitor, Action::Block)
    );
}

#[test]
fn policy_errors_say_what_to_fix() {
    let doc = |edit: &dyn Fn(&mut Value)| {
        let mut doc: Value = serde_json::from_str(airlock_filter::DEFAULT_POLICY_JSON).unwrap();
        edit(&mut doc);
        let origins = Origins::single("p.yaml");
        let parsed = policy::parse_document(doc, &origins).unwrap();
        match policy::compile(
            parsed,
            origins,
            &Environment {
                var: &|_| None,
                defer_regexes: true,
            },
        ) {
            Ok(_) => panic!("should be rejected"),
            Err(e) => e.to_string(),
        }
    };
    let e = doc(&|d| d["key_theft"]["vendors"][0]["detectors"] = json!(["no-such-detector"]));
    assert!(
        e.contains("key_theft.vendors[0].detectors[0]") && e.contains("no detector has id"),
        "{e}"
    );
    let e = doc(&|d| d["key_theft"]["vendors"][0]["detectors"] = json!(["email-address"]));
    assert!(e.contains("not of kind credential"), "{e}");
    let e = doc(&|d| d["key_theft"]["vendors"][1]["detectors"] = json!(["openai-project-key"]));
    assert!(e.contains("already listed for vendor \"OpenAI\""), "{e}");
    let e = doc(&|d| d["key_theft"]["allow_hosts"] = json!(["https://gw.example/"]));
    assert!(
        e.contains("key_theft.allow_hosts[0]") && e.contains("not a host pattern"),
        "{e}"
    );
    let e = doc(&|d| d["key_theft"]["allow_tiers"] = json!(["nope"]));
    assert!(e.contains("key_theft.allow_tiers[0]"), "{e}");
    let e = doc(&|d| d["destinations"]["tiers"][1]["fields"] = json!([{"remove": "/a~9"}]));
    assert!(
        e.contains("destinations.tiers[1].fields[0].remove") && e.contains("JSON pointer"),
        "{e}"
    );
    let e = doc(&|d| d["destinations"]["tiers"][1]["fields"] = json!([{"set": "store"}]));
    assert!(
        e.contains("fields[0].value") && e.contains("needs `value:`"),
        "{e}"
    );
}

fn edited_body(verdict: &Verdict) -> Value {
    serde_json::from_slice(verdict.body.as_ref().expect("a rewritten body")).unwrap()
}

#[test]
fn store_false_is_forced_for_the_approved_vendor() {
    let policy = default_policy();
    let responses = json!({"model": "gpt-4o-mini", "input": "Hello"}).to_string();
    let v = inspect(&policy, OPENAI, "/v1/responses", responses.as_bytes());
    assert_eq!(v.decision, Action::Allow);
    assert_eq!(
        edited_body(&v),
        json!({"model": "gpt-4o-mini", "input": "Hello", "store": false})
    );
    assert_eq!(
        airlock_filter::telemetry::field_edits(&policy, &v),
        ["set store"]
    );
    // Chat Completions: only an explicit store:true is overruled; otherwise untouched.
    let asked = json!({"model": "m", "store": true, "messages": []}).to_string();
    let v = inspect(&policy, OPENAI, "/v1/chat/completions", asked.as_bytes());
    assert_eq!(edited_body(&v)["store"], json!(false));
    let plain = json!({"model": "m", "messages": []}).to_string();
    let v = inspect(&policy, OPENAI, "/v1/chat/completions", plain.as_bytes());
    assert_eq!((v.body, v.relay.fields.any()), (None, false));
    // The relay tier has no store rule.
    let v = inspect(&policy, RELAY, "/v1/responses", responses.as_bytes());
    assert_eq!(v.body, None);
}

#[test]
fn field_edits_compose_with_tokenizing() {
    let policy = default_policy();
    let email = "marta.kowalski@northwind-traders.co.uk";
    let body = json!({"model": "m", "store": true,
        "messages": [{"role": "user", "content": format!("Write to {email}")}]})
    .to_string();
    let v = inspect(&policy, OPENAI, "/v1/chat/completions", body.as_bytes());
    assert_eq!(v.decision, Action::Tokenize);
    let out = edited_body(&v);
    assert_eq!(out["store"], json!(false));
    let text = out["messages"][0]["content"].as_str().unwrap();
    assert!(
        !text.contains(email) && text.starts_with("Write to "),
        "{text}"
    );
    // A block wins: nothing is edited.
    let key = openai_key(14);
    let body = json!({"store": true, "input": key}).to_string();
    let v = inspect(&policy, OPENAI, "/v1/responses", body.as_bytes());
    assert_eq!((v.decision, v.body.is_none()), (Action::Block, true));
}

#[test]
fn identifiers_are_removed_before_a_relay() {
    let policy = default_policy();
    let body = json!({"model": "m", "user": "user-8812", "safety_identifier": "h-77",
        "metadata": {"user_id": "u-1", "team": "finance"},
        "messages": [{"role": "user", "content": "Explain TCP."}]})
    .to_string();
    let v = inspect(&policy, RELAY, "/v1/chat/completions", body.as_bytes());
    assert_eq!(v.decision, Action::Allow);
    assert_eq!(
        edited_body(&v),
        json!({"model": "m", "messages": [{"role": "user", "content": "Explain TCP."}]})
    );
    let mut edits = airlock_filter::telemetry::field_edits(&policy, &v);
    edits.sort();
    assert_eq!(
        edits,
        ["remove metadata", "remove safety_identifier", "remove user"]
    );
    let audit = airlock_filter::telemetry::audit_line(&policy, &v, &Default::default());
    assert!(
        !audit.contains("user-8812") && !audit.contains("u-1"),
        "{audit}"
    );
    // The approved vendor keeps them.
    let v = inspect(&policy, OPENAI, "/v1/chat/completions", body.as_bytes());
    assert_eq!(v.body, None);
}

#[test]
fn a_body_that_looks_like_json_but_is_not_follows_the_fail_mode() {
    let policy = default_policy();
    let v = inspect(
        &policy,
        RELAY,
        "/v1/chat/completions",
        br#"{"user":"u1","model":"m",}"#,
    );
    assert_eq!(v.decision, Action::Block);
    assert!(v.uninspectable.unwrap().message().contains("field rules"));
    // Not JSON at all: nothing to enforce.
    let v = inspect(&policy, RELAY, "/v1/audio/transcriptions", b"plain words");
    assert_eq!(v.decision, Action::Allow);
}
