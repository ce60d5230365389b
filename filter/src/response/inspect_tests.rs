//! Response inspection against the embedded default policy with `inspect_responses` set:
//! whole strings, JSON documents, and streams cut at every byte position.

use super::*;
use crate::policy::{Environment, Policy};
use crate::response::map::tests::map_of;
use crate::response::{RestoreMap, Restoring};
use serde_json::{json, Value};

/// A made-up AWS access key id (the format, not a real key).
const KEY: &str = "AKIAQ7RZ4MPL2XW9KD3T";
const KEY_MASK_PREFIX: &str = "[REDACTED:";

/// The default policy, its approved vendors inspecting responses with `action`.
fn policy(action: &str) -> Policy {
    let mut value: Value = serde_json::from_str(crate::DEFAULT_POLICY_JSON).unwrap();
    for tier in value["destinations"]["tiers"].as_array_mut().unwrap() {
        tier["inspect_responses"] = json!(action);
    }
    let origins = crate::policy::Origins::single("test");
    let doc = crate::policy::parse_document(value, &origins).unwrap();
    let env = Environment {
        var: &|_| None,
        defer_regexes: false,
    };
    crate::policy::compile(doc, origins, &env).unwrap()
}

fn approved(policy: &Policy) -> crate::policy::TierIndex {
    policy.tier_for("api.openai.com", "/v1/chat/completions")
}

fn inspection(policy: &Policy) -> OutputInspection {
    OutputInspection::for_tier(policy, approved(policy)).unwrap()
}

#[test]
fn a_tier_without_the_option_inspects_nothing() {
    let mut value: Value = serde_json::from_str(crate::DEFAULT_POLICY_JSON).unwrap();
    value["destinations"]["tiers"][0]["inspect_responses"] = json!("mask");
    let origins = crate::policy::Origins::single("test");
    let doc = crate::policy::parse_document(value, &origins).unwrap();
    let env = Environment {
        var: &|_| None,
        defer_regexes: false,
    };
    let p = crate::policy::compile(doc, origins, &env).unwrap();
    assert!(OutputInspection::for_tier(&p, approved(&p)).is_some());
    let relay = p.tier_for("api.cheap-relay.example", "/v1/chat/completions");
    assert!(OutputInspection::for_tier(&p, relay).is_none());
    let bad: Value = json!("block");
    let mut value: Value = serde_json::from_str(crate::DEFAULT_POLICY_JSON).unwrap();
    value["destinations"]["tiers"][0]["inspect_responses"] = bad;
    assert!(crate::policy::parse_document(value, &crate::policy::Origins::single("t")).is_err());
}

#[test]
fn masks_or_monitors_whole_text() {
    let p = policy("mask");
    let mut scratch = p.scratch();
    let mut state = inspection(&p);
    let text = format!("Use {KEY} for the bucket.");
    let mut out = Vec::new();
    let mut inspector = Inspector {
        policy: &p,
        scratch: &mut scratch,
        state: &mut state,
    };
    assert_eq!(inspector.pass(text.as_bytes(), false, &mut out), text.len());
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains(KEY) && out.contains(KEY_MASK_PREFIX), "{out}");
    assert_eq!((state.findings.len(), state.masked), (1, 1));

    let p = policy("monitor");
    let mut scratch = p.scratch();
    let mut state = inspection(&p);
    let mut out = Vec::new();
    let mut inspector = Inspector {
        policy: &p,
        scratch: &mut scratch,
        state: &mut state,
    };
    inspector.pass(text.as_bytes(), false, &mut out);
    assert_eq!(out, text.as_bytes(), "monitor changes nothing");
    assert_eq!((state.findings.len(), state.masked), (1, 0));
    // Near misses: too short, too short in lower case (a whole key in lower case is read
    // upper-cased: `layers::case_fold`).
    let mut state = inspection(&p);
    let mut inspector = Inspector {
        policy: &p,
        scratch: &mut scratch,
        state: &mut state,
    };
    let near = format!("{} {}", &KEY[..18], KEY[..18].to_ascii_lowercase());
    inspector.pass(near.as_bytes(), false, &mut Vec::new());
    assert!(state.findings.is_empty());
    let mut state = inspection(&p);
    let mut inspector = Inspector {
        policy: &p,
        scratch: &mut scratch,
        state: &mut state,
    };
    inspector.pass(KEY.to_ascii_lowercase().as_bytes(), false, &mut Vec::new());
    assert_eq!(state.findings.len(), 1, "a key typed in lower case");
}

#[test]
fn holds_back_a_bounded_tail_and_never_cuts_a_finding() {
    let p = policy("mask");
    let mut scratch = p.scratch();
    let mut state = inspection(&p);
    let mut inspector = Inspector {
        policy: &p,
        scratch: &mut scratch,
        state: &mut state,
    };
    let filler = "é".repeat(200);
    let text = format!("{filler} {KEY}{}", " z".repeat(120));
    let mut out = Vec::new();
    let cut = inspector.pass(text.as_bytes(), true, &mut out);
    assert!(
        text.len() - cut >= OUTPUT_HOLD_BYTES
            && text.len() - cut <= OUTPUT_HOLD_BYTES + KEY.len() + 1
    );
    assert!(text.is_char_boundary(cut));
    let sent = String::from_utf8(out).unwrap();
    assert!(
        !sent.contains(&KEY[..4]),
        "a finding across the cut stays held whole"
    );
}

/// An OpenAI chat stream whose content is `pieces`, one event each.
fn chat_stream(pieces: &[&str]) -> String {
    let mut s = String::new();
    for piece in pieces {
        let event = json!({"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
        s += &format!("data: {event}\n\n");
    }
    s += &format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    );
    s
}

/// What a client joining the deltas reads.
fn client_text(stream: &[u8]) -> String {
    let text = String::from_utf8(stream.to_vec()).unwrap();
    let mut joined = String::new();
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
            joined += c;
        }
    }
    joined
}

fn run(p: &Policy, map: RestoreMap, stream: &[u8], cuts: &[usize]) -> (Vec<u8>, OutputInspection) {
    let mut scratch = p.scratch();
    let mut r = Restoring::start(map, None, Some("text/event-stream"), None, 1 << 20)
        .with_inspection(Some(inspection(p)));
    assert!(r.rewrites());
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        let end = cut == stream.len();
        r.chunk_with(Some((p, &mut scratch)), &stream[at..cut], end, &mut out);
        at = cut;
    }
    (out, r.inspection.take().unwrap())
}

#[test]
fn a_key_cut_at_every_byte_across_events_never_goes_out() {
    let p = policy("mask");
    let (map, t) = map_of("EMAIL_ADDRESS", &["marta.kowalski@northwind.example"]);
    let reply = format!("Write to {} with key {KEY} now.", t[0]);
    for split in 1..reply.len() {
        if !reply.is_char_boundary(split) {
            continue;
        }
        let stream = chat_stream(&[&reply[..split], &reply[split..]]);
        // Chunks cut inside the events as well.
        let (out, seen) = run(
            &p,
            map.clone(),
            stream.as_bytes(),
            &[split.min(stream.len() - 1)],
        );
        let client = client_text(&out);
        assert!(
            !String::from_utf8_lossy(&out).contains(KEY),
            "split {split}"
        );
        assert!(
            client.starts_with("Write to marta.kowalski@northwind.example with key [REDACTED:"),
            "{client}"
        );
        assert!(client.ends_with("] now."), "{client}");
        assert_eq!(seen.findings.len(), 1, "split {split}");
    }
}

#[test]
fn a_value_the_client_sent_is_restored_not_masked() {
    // The model writes an address of its own: personal data is `tokenize` on this tier, so
    // it counts and is masked; the client's own address comes back through its token.
    let p = policy("mask");
    let (map, t) = map_of("EMAIL_ADDRESS", &["marta.kowalski@northwind.example"]);
    let doc = json!({"model": "gpt-4o", "choices": [{"message": {"content": format!("{} or jan.nowak@southwind.example", t[0]),
        "tool_calls": [{"id": "call_1", "function": {"name": "send", "arguments": json!({"to": t[0], "key": KEY}).to_string()}}]}}]});
    let body = serde_json::to_vec(&doc).unwrap();
    let mut scratch = p.scratch();
    let mut r = Restoring::start(map, None, Some("application/json"), None, 1 << 20)
        .with_inspection(Some(inspection(&p)));
    let out = r.finish_json_with(Some((&p, &mut scratch)), &body).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        content.starts_with("marta.kowalski@northwind.example or [REDACTED:"),
        "{content}"
    );
    let args: Value = serde_json::from_str(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args["to"], "marta.kowalski@northwind.example");
    assert!(args["key"].as_str().unwrap().starts_with(KEY_MASK_PREFIX));
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["id"], "call_1");
    let seen = r.inspection.unwrap();
    assert_eq!(seen.findings.len(), 2);
}

#[test]
fn ids_and_model_names_are_not_model_output() {
    let doc = br#"{"id":"x","model":"m","choices":[{"message":{"role":"assistant","content":"c"}}],"content":[{"type":"tool_use","name":"n","input":{"deep":{"k":"v"}}}]}"#;
    let mut outline = crate::engine::body::json::Outline::default();
    outline.parse(doc).unwrap();
    let inspected: Vec<&str> = outline
        .strings
        .iter()
        .filter(|l| !l.is_key && is_output(doc, &outline, l.node))
        .map(|l| std::str::from_utf8(&doc[l.raw.range()]).unwrap())
        .collect();
    assert_eq!(inspected, ["c", "v"]);
}

#[test]
fn several_data_lines_and_text_events_are_inspected() {
    let p = policy("mask");
    let json_multi = format!(
        "data: {{\"choices\":[{{\"index\":0,\n data: \"delta\":{{\"content\":\"key {KEY}\"}},\"finish_reason\":\"stop\"}}]}}\n\n"
    )
    .replace("\n data", "\ndata");
    let text_multi = format!("data: the key\ndata: {KEY} here\n\n: comment {KEY}\n\n");
    for stream in [json_multi, text_multi] {
        for cut in 0..stream.len() {
            let (out, seen) = run(&p, RestoreMap::default(), stream.as_bytes(), &[cut]);
            let out = String::from_utf8(out).unwrap();
            assert!(
                !out.contains(KEY) && out.contains(KEY_MASK_PREFIX),
                "cut {cut}: {out}"
            );
            assert_eq!(seen.findings.len(), 1);
        }
    }
}

#[test]
fn a_truncated_json_reply_is_still_masked_as_text() {
    let p = policy("mask");
    let (map, t) = map_of("EMAIL_ADDRESS", &["marta.kowalski@northwind.example"]);
    let body = format!(
        r#"{{"choices":[{{"message":{{"content":"{} key {KEY} and"#,
        t[0]
    );
    let mut scratch = p.scratch();
    let mut r = Restoring::start(map, None, Some("application/json"), None, 1 << 20)
        .with_inspection(Some(inspection(&p)));
    let out = String::from_utf8(
        r.finish_json_with(Some((&p, &mut scratch)), body.as_bytes())
            .unwrap(),
    )
    .unwrap();
    assert!(!out.contains(KEY) && out.contains(KEY_MASK_PREFIX), "{out}");
    assert!(out.contains(&t[0]), "not JSON: tokens are not restored");
    assert_eq!(r.skipped, Some(crate::response::Skip::NotJson));
}

#[test]
fn an_inspected_stream_may_change_length_even_in_monitor() {
    // Held text moves to later events: the adapter must drop content-length.
    let p = policy("monitor");
    let r = Restoring::start(
        RestoreMap::default(),
        None,
        Some("text/event-stream"),
        None,
        1 << 20,
    )
    .with_inspection(Some(inspection(&p)));
    assert!(r.rewrites() && r.streams());
    let r = Restoring::start(
        RestoreMap::default(),
        None,
        Some("text/event-stream"),
        None,
        1 << 20,
    );
    assert!(!r.rewrites());
}
