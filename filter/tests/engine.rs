//! The engine end to end, natively: policies built in the test, requests in, verdicts out.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // test code

use airlock_filter::policy::{self, Environment, Origins};
use airlock_filter::{Action, Policy, Request};
use serde_json::{json, Value};

const AWS_KEY: &str = "AKIAQ3EGRTXK7VJ2WZ5P";
const HASH_KEY: &str = "test-hash-key-0123456789";

fn env_with_key(name: &str) -> Option<String> {
    (name == "AIRLOCK_HASH_KEY").then(|| HASH_KEY.to_string())
}

fn compile_with(doc: Value, var: &dyn Fn(&str) -> Option<String>) -> Result<Policy, String> {
    let origins = Origins::single("test.yaml");
    let doc = policy::parse_document(doc, &origins).map_err(|e| e.to_string())?;
    policy::compile(
        doc,
        origins,
        &Environment {
            var,
            defer_regexes: false,
        },
    )
    .map_err(|e| e.to_string())
}

fn compile(doc: Value) -> Policy {
    compile_with(doc, &env_with_key).unwrap_or_else(|e| panic!("policy should compile:\n{e}"))
}

fn errors(doc: Value) -> String {
    match compile_with(doc, &|_| None) {
        Ok(_) => panic!("policy should be rejected"),
        Err(e) => e,
    }
}

/// A small policy with three tiers and detectors of each kind.
fn base() -> Value {
    json!({
        "schema": 1,
        "metadata": {"name": "t", "version": "1"},
        "classes": ["public", "internal", "confidential", "secret"],
        "destinations": {
            "default_tier": "relay",
            "tiers": [
                {"name": "inside", "max_class": "secret", "hosts": ["llm.corp.example", "*.ml.corp.example"]},
                {"name": "vendor", "max_class": "internal", "hosts": ["api.openai.com"], "paths": ["/v1/"]},
                {"name": "relay", "max_class": "public"}
            ]
        },
        "rules": [
            {"kind": "credential", "action": "block"},
            {"kind": "pii", "tier": "vendor", "action": "mask"},
            {"detector": "customer-id", "tier": "vendor", "action": "hash"}
        ],
        "detectors": [
            {"id": "aws-key", "class": "secret", "kind": "credential",
             "regex": "\\b(?:AKIA|ASIA)[A-Z2-7]{16}\\b", "keywords": ["AKIA", "ASIA"],
             "allow": ["AKIAIOSFODNN7EXAMPLE"]},
            {"id": "email", "class": "confidential", "kind": "pii",
             "regex": "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}", "keywords": ["@"]},
            {"id": "card", "class": "confidential", "kind": "pii",
             "regex": "\\b\\d(?:[ -]?\\d){12,18}\\b", "validators": ["payment_card"]},
            {"id": "customer-id", "class": "confidential", "kind": "custom",
             "regex": "\\bCUST-(?P<secret>\\d{6})\\b", "keywords": ["CUST-"]},
            {"id": "internal-marking", "class": "internal", "kind": "trade-secret",
             "dictionary": {"phrases": ["INTERNAL ONLY", "内部资料"], "whole_word": true}},
            {"id": "codename", "class": "secret", "kind": "trade-secret",
             "dictionary": {"phrases": ["Nightjar"], "whole_word": true, "case_sensitive": true}}
        ]
    })
}

fn chat(text: &str) -> Vec<u8> {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}

fn inspect(policy: &Policy, host: &str, body: &[u8]) -> airlock_filter::Verdict {
    let mut scratch = policy.scratch();
    policy.inspect(
        &Request {
            host,
            path: "/v1/chat/completions",
            content_type: Some("application/json"),
            content_encoding: None,
            body,
            caller: None,
        },
        &mut scratch,
    )
}

fn ids(policy: &Policy, verdict: &airlock_filter::Verdict) -> Vec<String> {
    verdict
        .detector_ids(policy)
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[test]
fn decisions_follow_class_and_destination_tier() {
    let p = compile(base());
    let email = chat("write to jane.doe@example.org please");
    // pii to the vendor: masked by rule; to a relay: above max_class public, blocked; inside: within max, monitored.
    assert_eq!(inspect(&p, "api.openai.com", &email).decision, Action::Mask);
    assert_eq!(
        inspect(&p, "relay.example.net", &email).decision,
        Action::Block
    );
    assert_eq!(
        inspect(&p, "llm.corp.example", &email).decision,
        Action::Monitor
    );
    assert_eq!(
        inspect(&p, "gpu1.ml.corp.example", &email).decision,
        Action::Monitor
    );
    // A credential is blocked everywhere, even inside.
    let key = chat(&format!("key {AWS_KEY}"));
    for host in ["api.openai.com", "relay.example.net", "llm.corp.example"] {
        assert_eq!(inspect(&p, host, &key).decision, Action::Block, "{host}");
    }
    // An internal marking is within the vendor's max class: monitored; the relay may get only public data.
    let marked = chat("INTERNAL ONLY: roadmap");
    assert_eq!(
        inspect(&p, "api.openai.com", &marked).decision,
        Action::Monitor
    );
    assert_eq!(
        inspect(&p, "relay.example.net", &marked).decision,
        Action::Block
    );
    // Clean text is allowed anywhere.
    let clean = chat("How do I reverse a list in Python?");
    for host in ["api.openai.com", "relay.example.net", "llm.corp.example"] {
        let v = inspect(&p, host, &clean);
        assert_eq!(v.decision, Action::Allow);
        assert!(v.findings.is_empty());
        assert!(v.body.is_none());
    }
}

#[test]
fn path_prefixes_narrow_a_tier() {
    let p = compile(base());
    assert_eq!(
        p.tier_name(p.tier_for("api.openai.com", "/v1/chat/completions")),
        "vendor"
    );
    assert_eq!(
        p.tier_name(p.tier_for("API.OPENAI.COM:443", "/v1/x")),
        "vendor"
    );
    assert_eq!(p.tier_name(p.tier_for("api.openai.com", "/admin")), "relay");
    assert_eq!(
        p.tier_name(p.tier_for("ml.corp.example", "/")),
        "relay",
        "a wildcard needs a label"
    );
}

#[test]
fn the_most_severe_finding_decides() {
    let p = compile(base());
    let v = inspect(
        &p,
        "api.openai.com",
        &chat(&format!("jane@example.org and {AWS_KEY}")),
    );
    assert_eq!(v.decision, Action::Block);
    assert!(v.body.is_none(), "a blocked request has nothing to rewrite");
    assert_eq!(ids(&p, &v), ["aws-key", "email"]);
}

#[test]
fn masking_keeps_valid_json_and_every_other_byte() {
    let p = compile(base());
    // Odd spacing and escapes around the finding must survive byte for byte.
    let body = br#"{ "model" : "gpt-4o",
      "messages": [ {"role":"system","content":"caf\u00e9 \"quoted\""},
                    {"role":"user","content":[{"type":"text","text":"mail jane.doe@example.org\nthanks"}]} ],
      "temperature": 0.70 }"#;
    let v = inspect(&p, "api.openai.com", body);
    assert_eq!(v.decision, Action::Mask);
    let out = v.body.expect("masked body");
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(!text.contains("jane.doe@example.org"));
    assert!(
        text.contains(r#""text":"mail [REDACTED:email]\nthanks""#),
        "{text}"
    );
    assert!(
        text.starts_with("{ \"model\" : \"gpt-4o\",\n"),
        "untouched bytes stay"
    );
    assert!(
        text.contains(r#""content":"caf\u00e9 \"quoted\"""#),
        "other strings keep their escapes"
    );
    assert!(text.ends_with("\"temperature\": 0.70 }"));
    let before: Value = serde_json::from_slice(body).unwrap();
    let after: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(before["messages"][0], after["messages"][0]);
    assert_eq!(
        after["messages"][1]["content"][0]["text"],
        "mail [REDACTED:email]\nthanks"
    );
    let f = &v.findings[0];
    assert_eq!(f.path, "$.messages[1].content[0].text");
    assert_eq!((f.span.start, f.span.end), (5, 25));
}

#[test]
fn tool_call_arguments_are_inspected_as_json_and_masked_in_place() {
    let p = compile(base());
    let args = json!({"to": "jane.doe@example.org", "body": "hi"}).to_string();
    let body = json!({"model": "gpt-4o", "messages": [
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "send_mail", "arguments": args}}]}
    ]})
    .to_string();
    let v = inspect(&p, "api.openai.com", body.as_bytes());
    assert_eq!(v.decision, Action::Mask);
    assert_eq!(
        v.findings[0].path,
        "$.messages[0].tool_calls[0].function.arguments.to"
    );
    let after: Value = serde_json::from_slice(&v.body.unwrap()).unwrap();
    let inner: Value = serde_json::from_str(
        after["messages"][0]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(inner, json!({"to": "[REDACTED:email]", "body": "hi"}));
}

#[test]
fn hash_replaces_the_secret_group_with_a_keyed_fingerprint() {
    let p = compile(base());
    let v = inspect(&p, "api.openai.com", &chat("order for CUST-123456 shipped"));
    assert_eq!(v.decision, Action::Hash);
    let text = String::from_utf8(v.body.unwrap()).unwrap();
    assert!(!text.contains("123456"));
    assert!(
        text.contains("CUST-[HASH:customer-id:"),
        "only the secret group is replaced: {text}"
    );
    // Same value, same key: same fingerprint; the fingerprint is keyed.
    let again = inspect(&p, "api.openai.com", &chat("CUST-123456"));
    assert_eq!(v.findings[0].fingerprint, again.findings[0].fingerprint);
    let other = compile_with(base(), &|n| {
        (n == "AIRLOCK_HASH_KEY").then(|| "another-key-9876543210".into())
    })
    .unwrap();
    assert_ne!(
        inspect(&other, "api.openai.com", &chat("CUST-123456")).findings[0].fingerprint,
        again.findings[0].fingerprint
    );
}

#[test]
fn hash_without_a_key_is_rejected() {
    let e = errors(base());
    assert!(
        e.contains("hashing.key_env") && e.contains("AIRLOCK_HASH_KEY is not set"),
        "{e}"
    );
}

#[test]
fn validators_allowlists_and_dictionaries_filter_candidates() {
    let p = compile(base());
    let relay = "relay.example.net";
    assert_eq!(
        ids(&p, &inspect(&p, relay, &chat("card 4539 1488 0343 6467"))),
        ["card"]
    );
    assert!(
        inspect(&p, relay, &chat("card 4539 1488 0343 6468"))
            .findings
            .is_empty(),
        "Luhn fails"
    );
    assert!(
        inspect(&p, relay, &chat("AKIAIOSFODNN7EXAMPLE"))
            .findings
            .is_empty(),
        "allowlisted"
    );
    assert!(
        inspect(&p, relay, &chat("xAKIAQ3EGRTXK7VJ2WZ5P"))
            .findings
            .is_empty(),
        "word boundary"
    );
    assert_eq!(
        ids(&p, &inspect(&p, relay, &chat("see 内部资料 attached"))),
        ["internal-marking"]
    );
    assert_eq!(
        ids(&p, &inspect(&p, relay, &chat("internal only, sorry"))),
        ["internal-marking"],
        "case-insensitive"
    );
    assert!(
        inspect(&p, relay, &chat("INTERNAL ONLYX"))
            .findings
            .is_empty(),
        "whole word"
    );
    assert_eq!(
        ids(&p, &inspect(&p, relay, &chat("Project Nightjar kickoff"))),
        ["codename"]
    );
    assert!(
        inspect(&p, relay, &chat("the nightjar is a bird"))
            .findings
            .is_empty(),
        "case-sensitive phrase"
    );
}

#[test]
fn monitor_mode_records_but_never_blocks_or_rewrites() {
    let mut doc = base();
    doc["mode"] = json!("monitor");
    let p = compile(doc);
    let v = inspect(
        &p,
        "relay.example.net",
        &chat(&format!("{AWS_KEY} jane@example.org")),
    );
    assert_eq!(v.decision, Action::Monitor);
    assert_eq!(v.planned, Action::Block);
    assert_eq!(v.findings.len(), 2);
    assert!(v.body.is_none());
    let masked = inspect(&p, "api.openai.com", &chat("jane@example.org"));
    assert_eq!(
        (masked.decision, masked.planned),
        (Action::Monitor, Action::Mask)
    );
    assert!(masked.body.is_none());
}

#[test]
fn uninspectable_bodies_follow_the_fail_mode() {
    let mut doc = base();
    doc["limits"] = json!({"max_body_bytes": 64});
    let p = compile(doc.clone());
    let big = chat(&"a".repeat(100));
    let v = inspect(&p, "api.openai.com", &big);
    assert_eq!(v.decision, Action::Block);
    assert_eq!(
        v.uninspectable.as_ref().map(|u| u.reason()),
        Some("too_large")
    );
    let mut scratch = p.scratch();
    let gz = p.inspect(
        &Request {
            host: "api.openai.com",
            path: "/",
            content_type: None,
            content_encoding: Some("x-custom"),
            body: b"{}",
            caller: None,
        },
        &mut scratch,
    );
    assert_eq!(
        (gz.decision, gz.uninspectable.map(|u| u.reason())),
        (Action::Block, Some("bad_encoding"))
    );
    let identity = p.inspect(
        &Request {
            host: "api.openai.com",
            path: "/",
            content_type: None,
            content_encoding: Some("identity"),
            body: b"{}",
            caller: None,
        },
        &mut scratch,
    );
    assert_eq!(identity.decision, Action::Allow);

    doc["limits"]["on_uninspectable"] = json!("allow");
    let open = compile(doc);
    let v = inspect(&open, "api.openai.com", &big);
    assert_eq!(v.decision, Action::Allow);
    assert!(
        v.uninspectable.is_some(),
        "allowed, but still recorded as uninspected"
    );
}

#[test]
fn broken_json_and_text_bodies_are_scanned_as_text() {
    let p = compile(base());
    let broken = format!(r#"{{"messages": [{{"content": "key {AWS_KEY}"}}"#);
    let v = inspect(&p, "api.openai.com", broken.as_bytes());
    assert_eq!(v.decision, Action::Block);
    assert_eq!(v.findings[0].path, "$");
    let mut scratch = p.scratch();
    let text = p.inspect(
        &Request {
            host: "api.openai.com",
            path: "/v1/x",
            content_type: Some("text/plain"),
            content_encoding: None,
            body: b"mail jane@example.org",
            caller: None,
        },
        &mut scratch,
    );
    assert_eq!(
        text.body.as_deref(),
        Some(b"mail [REDACTED:email]".as_slice())
    );
    // Deeply nested JSON that the walker refuses is still scanned.
    let deep = format!("{}\"{AWS_KEY}\"{}", "[".repeat(500), "]".repeat(500));
    assert_eq!(
        inspect(&p, "api.openai.com", deep.as_bytes()).decision,
        Action::Block
    );
}

#[test]
fn keys_with_secrets_are_found_and_hidden_in_paths() {
    let p = compile(base());
    let body =
        json!({"metadata": {"jane@example.org": {"note": "x jane@example.org"}}}).to_string();
    let v = inspect(&p, "relay.example.net", body.as_bytes());
    assert_eq!(v.findings.len(), 2);
    for f in &v.findings {
        assert!(!f.path.contains('@'), "path leaks the key: {}", f.path);
    }
    assert_eq!(v.findings[1].path, "$.metadata[*].note");
}

#[test]
fn schema_errors_name_the_field_and_say_what_to_do() {
    let mut doc = base();
    doc["detectors"][0]["regexp"] = json!("x");
    let e = errors(doc);
    assert!(
        e.starts_with("test.yaml: detectors[0].regexp: unknown field `regexp`, expected one of"),
        "{e}"
    );

    let mut doc = base();
    doc["schema"] = json!(2);
    assert!(errors(doc).contains("schema: schema 2 is not supported"));

    let mut doc = base();
    doc["detectors"][1]["regex"] = json!("[a-z");
    doc["detectors"][2]["class"] = json!("top-secret");
    doc["detectors"][3]["id"] = json!("aws-key");
    doc["detectors"][4] =
        json!({"id": "cjk", "class": "secret", "kind": "custom", "regex": "机密"});
    doc["detectors"][5] =
        json!({"id": "empty", "class": "secret", "kind": "custom", "regex": "a*"});
    doc["rules"][1]["tier"] = json!("nowhere");
    doc["detectors"][0]["keywords"] = json!(["AKIA", "."]);
    doc["destinations"]["tiers"][0]["hosts"][0] = json!("https://llm.corp.example/");
    let e = errors(doc);
    for expected in [
        "detectors[1].regex: invalid regex",
        "unclosed character class",
        "detectors[2].class: unknown class \"top-secret\"",
        "detectors[3].id: duplicate detector id \"aws-key\"",
        "detectors[4].regex: non-ASCII character '机' at byte 0",
        "detectors[5].regex: the regex can match the empty string",
        "rules[1].tier: no tier is named \"nowhere\"",
        "detectors[0].keywords[1]: keyword \".\" occurs in almost every text",
        "destinations.tiers[0].hosts[0]: \"https://llm.corp.example/\" is not a host pattern",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }

    let mut doc = base();
    doc["detectors"][0]["regex"] = json!("(?:AKIA[A-Z2-7]{16}){1,2000}");
    let e = errors(doc);
    assert!(
        e.contains("detectors[0].regex: the regex compiles to more than"),
        "{e}"
    );
}

#[test]
fn the_digest_ignores_tests_and_examples_but_not_rules() {
    let a = compile(base());
    let mut with_tests = base();
    with_tests["tests"] = json!([{"name": "n", "body": "x", "expect": {"decision": "allow"}}]);
    with_tests["detectors"][0]["examples"] = json!({"match": ["AKIAQ3EGRTXK7VJ2WZ5P"]});
    assert_eq!(a.info.digest, compile(with_tests).info.digest);
    let mut changed = base();
    changed["rules"][1]["action"] = json!("block");
    assert_ne!(a.info.digest, compile(changed).info.digest);
    assert_eq!(a.info.digest.len(), 64);
}

#[test]
fn findings_never_carry_the_matched_value() {
    let p = compile(base());
    let v = inspect(&p, "api.openai.com", &chat(AWS_KEY));
    let debug = format!("{v:?}");
    assert!(!debug.contains(AWS_KEY), "{debug}");
    let message = airlock_filter::reply::block_message(&p, &v);
    assert!(
        message.contains("aws-key") && !message.contains(AWS_KEY),
        "{message}"
    );
}

#[test]
fn a_json_key_is_context_for_its_value() {
    let mut doc = base();
    doc["detectors"].as_array_mut().unwrap().push(json!({"id": "assigned-password", "class": "secret", "kind": "credential",
        "regex": "(?i)password\\W{1,4}(?P<secret>[A-Za-z0-9!@#%^&*]{8,32})", "keywords": ["password"]}));
    let p = compile(doc);
    // As prose, and as a pasted JSON document whose key carries the context.
    let prose = inspect(&p, "api.openai.com", &chat("db password: Hunter2isMyPass"));
    assert_eq!(ids(&p, &prose), ["assigned-password"]);
    let pasted = json!({"db": {"host": "x", "password": "Hunter2isMyPass"}}).to_string();
    let v = inspect(&p, "api.openai.com", &chat(&pasted));
    assert_eq!(ids(&p, &v), ["assigned-password"]);
    let f = &v.findings[0];
    assert_eq!(f.path, "$.messages[0].content.db.password");
    assert_eq!(
        (f.span.start, f.span.end),
        (0, 15),
        "the span is the value's own bytes"
    );
    // The same value under an innocent key is not a finding.
    let innocent = json!({"db": {"host": "x", "motto": "Hunter2isMyPass"}}).to_string();
    assert!(inspect(&p, "api.openai.com", &chat(&innocent))
        .findings
        .is_empty());
}

#[test]
fn safety_limits_are_counted_and_the_content_still_scanned() {
    let p = compile(base());
    let deep = format!("{}\"{AWS_KEY}\"{}", "[".repeat(500), "]".repeat(500));
    let v = inspect(&p, "api.openai.com", deep.as_bytes());
    assert_eq!(v.decision, Action::Block, "scanned as text");
    assert_eq!(v.limits.json_depth, 1);
    let png = format!("see data:image/png;base64,{}", "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==");
    let v = inspect(&p, "api.openai.com", &chat(&png));
    assert_eq!(v.decision, Action::Allow);
    assert_eq!(
        v.limits.binary, 1,
        "a binary payload is counted, not scanned as text"
    );
    let clean = inspect(&p, "api.openai.com", &chat("hello"));
    assert!(!clean.limits.any());
}

#[test]
fn secrets_cut_across_fields_are_found_by_joining_detectors() {
    let (head, tail) = AWS_KEY.split_at(8);
    let split = json!({"model": "gpt-4o", "messages": [
        {"role": "user", "content": format!("first half {head}")},
        {"role": "user", "content": format!("{tail} second half")}
    ]})
    .to_string();
    let without = compile(base());
    assert_eq!(
        inspect(&without, "api.openai.com", split.as_bytes()).decision,
        Action::Allow
    );

    let mut doc = base();
    doc["detectors"][0]["join"] = json!("request");
    let p = compile(doc);
    let v = inspect(&p, "api.openai.com", split.as_bytes());
    assert_eq!(v.decision, Action::Block);
    assert_eq!(v.findings.len(), 1);
    assert_eq!(v.findings[0].path, "(joined request, 2 fields)");
    assert_eq!(v.findings[0].via.as_str(), "joined");
    // A key in one field is reported once, by the per-field scan.
    let whole = inspect(&p, "api.openai.com", &chat(&format!("key {AWS_KEY}")));
    assert_eq!(whole.findings.len(), 1);
    assert_eq!(whole.findings[0].via.as_str(), "plain");

    // Message scope joins the parts of one message, not different messages.
    let mut doc = base();
    doc["detectors"][1]["join"] = json!("message");
    let p = compile(doc);
    let parts = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "write to jane.doe@exa"}, {"type": "text", "text": "mple.org"}]}]})
    .to_string();
    let v = inspect(&p, "api.openai.com", parts.as_bytes());
    assert_eq!(
        v.decision,
        Action::Block,
        "a joined mask cannot be placed, so it blocks"
    );
    assert_eq!(v.findings[0].path, "(joined message, 2 fields)");
    let two_messages = json!({"messages": [{"role": "user", "content": "write to jane.doe@exa"},
        {"role": "user", "content": "mple.org"}]})
    .to_string();
    assert_eq!(
        inspect(&p, "api.openai.com", two_messages.as_bytes()).decision,
        Action::Allow
    );
}

/// A request whose messages are `parts`, one user message each.
fn messages(parts: &[&str]) -> Vec<u8> {
    let messages: Vec<Value> = parts
        .iter()
        .map(|p| json!({"role": "user", "content": p}))
        .collect();
    json!({"model": "gpt-4o", "messages": messages})
        .to_string()
        .into_bytes()
}

#[test]
fn every_cut_of_a_joined_secret_is_found_and_near_misses_are_not() {
    // Joined windows are scanned only at edges a finding could cross (`walk/straddle.rs`):
    // every place a key or card is cut, in two or three fields, must still be one.
    let mut doc = base();
    doc["detectors"][0]["join"] = json!("request");
    doc["detectors"][2]["join"] = json!("request");
    let p = compile(doc);
    let joined = |parts: &[&str]| {
        let v = inspect(&p, "api.openai.com", &messages(parts));
        let paths: Vec<String> = v.findings.iter().map(|f| f.path.clone()).collect();
        (v.decision, paths)
    };
    for cut in 1..AWS_KEY.len() {
        let (head, tail) = AWS_KEY.split_at(cut);
        let (decision, paths) =
            joined(&["intro words", &format!("see {head}"), &format!("{tail} ok")]);
        assert_eq!(decision, Action::Block, "cut at {cut}");
        assert_eq!(paths, ["(joined request, 2 fields)"], "cut at {cut}");
        // The key's middle in a field of its own.
        if cut + 4 < AWS_KEY.len() {
            let (middle, rest) = tail.split_at(4);
            let (decision, paths) = joined(&[&format!("a {head}"), middle, &format!("{rest} b")]);
            assert_eq!(decision, Action::Block, "cut at {cut} and {}", cut + 4);
            assert_eq!(paths, ["(joined request, 3 fields)"]);
        }
    }
    let card = "4111 1111 1111 1111";
    for cut in 1..card.len() {
        let (head, tail) = card.split_at(cut);
        let (decision, paths) = joined(&[&format!("pay {head}"), &format!("{tail} now")]);
        assert_eq!(decision, Action::Block, "card cut at {cut}");
        assert_eq!(paths, ["(joined request, 2 fields)"], "card cut at {cut}");
    }
    // Near misses: a space or a lower-case letter at the edge, a run too short, prose.
    let (head, tail) = AWS_KEY.split_at(8);
    for parts in [
        [format!("{head} "), tail.to_string()],
        [head.to_string(), format!(" {tail}")],
        [format!("{head}a"), tail.to_string()],
        [head.to_string(), tail[1..].to_string()],
        ["pay 4111 1111".to_string(), "1111 now".to_string()],
        [
            "hello there my frien".to_string(),
            "d of many years".to_string(),
        ],
    ] {
        let (decision, paths) = joined(&[&parts[0], &parts[1]]);
        assert_eq!((decision, paths.len()), (Action::Allow, 0), "{parts:?}");
    }
}

#[test]
fn binary_bodies_follow_the_fail_mode_and_text_bodies_are_read() {
    let p = compile(base());
    let mut scratch = p.scratch();
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    png.extend((0..4000u32).map(|i| (i * 7 % 251) as u8));
    let request = |body: &'static [u8], ct| Request {
        host: "api.openai.com",
        path: "/v1/x",
        content_type: ct,
        content_encoding: None,
        body,
        caller: None,
    };
    let png: &'static [u8] = Box::leak(png.into_boxed_slice());
    let v = p.inspect(&request(png, Some("image/png")), &mut scratch);
    assert_eq!(
        (v.decision, v.uninspectable.map(|u| u.reason())),
        (Action::Block, Some("unsupported_body"))
    );
    let text = p.inspect(
        &request(
            "plain words, caf\u{e9}".as_bytes(),
            Some("application/octet-stream"),
        ),
        &mut scratch,
    );
    assert_eq!(
        text.decision,
        Action::Allow,
        "text-like bytes are read whatever the declared type"
    );
    assert!(text.uninspectable.is_none());
}

fn compile_deferred(doc: Value) -> Policy {
    let origins = Origins::single("test.yaml");
    let doc = policy::parse_document(doc, &origins).unwrap();
    let env = Environment {
        var: &env_with_key,
        defer_regexes: true,
    };
    policy::compile(doc, origins, &env).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn deferred_regexes_compile_on_first_use_or_when_warmed_up() {
    // Compiled regexes are shared by pattern across every policy alive in the process
    // (engine/scan/shared_regexes.rs), and the other tests run beside this one: a pattern one
    // of them compiled would not wait here. Patterns no other test uses keep the count exact;
    // an empty repeated group matches nothing, so each detector's meaning is unchanged.
    let mut doc = base();
    for detector in doc["detectors"].as_array_mut().unwrap() {
        if let Some(pattern) = detector["regex"].as_str() {
            detector["regex"] = json!(format!("{pattern}(?:deferred-test){{0}}"));
        }
    }
    let policy = compile_deferred(doc);
    let waiting = policy.compile_pending(0);
    assert_eq!(
        waiting, 5,
        "every regex detector and the always-on set wait before any request"
    );
    let verdict = inspect(&policy, "api.openai.com", &chat(&format!("key {AWS_KEY}")));
    assert_eq!(verdict.decision, Action::Block);
    assert_eq!(ids(&policy, &verdict), ["aws-key"]);
    assert!(verdict.uninspectable.is_none());
    // The scan compiled what it ran: the keyword-armed AWS regex, the always-on set if its
    // gate opened, and the always-on card regex (armed when the set matches; here it does
    // not, so it may still wait).
    let after_request = policy.compile_pending(0);
    assert!(after_request < waiting, "{after_request} still waiting");
    assert_eq!(policy.compile_pending(2), after_request.saturating_sub(2));
    assert_eq!(policy.compile_pending(usize::MAX), 0);
}

#[test]
fn a_deferred_regex_that_cannot_compile_fails_closed() {
    let mut doc = base();
    doc["detectors"].as_array_mut().unwrap().push(json!({
        "id": "huge", "class": "secret", "kind": "credential",
        "regex": "\\bKEYX[A-Za-z0-9]{60000}", "keywords": ["KEYX"]
    }));
    assert!(
        errors(doc.clone()).contains("bytes of automaton"),
        "an eager compile rejects it"
    );
    let policy = compile_deferred(doc);
    let clean = inspect(&policy, "api.openai.com", &chat("nothing to see"));
    assert_eq!(
        clean.decision,
        Action::Allow,
        "texts that do not arm it pass"
    );
    let armed = inspect(&policy, "api.openai.com", &chat("here is KEYX and more"));
    assert_eq!(
        armed.decision,
        Action::Block,
        "the default fail mode blocks"
    );
    let why = armed.uninspectable.expect("uninspectable").message();
    assert!(why.contains("failed to compile"), "{why}");
}

#[test]
fn not_after_words_rule_out_a_match_only_just_before_it() {
    let mut doc = base();
    let extra = json!([
        {"id": "quad", "class": "confidential", "kind": "pii",
         "regex": "\\b\\d{1,3}(?:\\.\\d{1,3}){3}\\b", "validators": ["ipv4_public"],
         "context": {"not_after": ["version", "oid"], "window": 12}},
        {"id": "near-phone", "class": "confidential", "kind": "pii",
         "regex": "\\b0\\d{2,4} \\d{6,8}\\b", "validators": ["phone_number"],
         "context": {"hotwords": ["phone"], "not_after": ["+"], "not_after_window": 5}}
    ]);
    let detectors = doc["detectors"].as_array_mut().unwrap();
    detectors.extend(extra.as_array().unwrap().iter().cloned());
    let p = compile(doc);
    let relay = "relay.example.net";
    let found = |text: &str| ids(&p, &inspect(&p, relay, &chat(text)));
    assert_eq!(found("login from 52.14.203.9 failed"), ["quad"]);
    assert!(found("agent version 52.14.203.9 installed").is_empty());
    assert!(found("OID: 52.14.203.9").is_empty(), "case-insensitive");
    // Farther back than the window: the word does not count.
    assert_eq!(
        found("version notes say the login from 52.14.203.9 failed"),
        ["quad"]
    );
    // Hotwords and not_after together, each with its own window.
    assert_eq!(found("phone: 030 1234567"), ["near-phone"]);
    assert!(found("phone: +49 030 1234567").is_empty());
    assert!(found("call 030 1234567").is_empty(), "no hotword");
    // A context with neither hotwords nor not_after words is an error.
    let mut bad = base();
    bad["detectors"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "x", "class": "confidential",
        "kind": "pii", "regex": "\\d{9}", "context": {"window": 12}}));
    assert!(errors(bad).contains("context.hotwords"));
}
