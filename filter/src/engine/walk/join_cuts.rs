//! Joined matching's edge test is a necessary condition: every example secret of the default
//! policy's joining detectors, cut at every place into two fields (and into three), is still
//! found. The test (`straddle.rs`, `keyword_gate.rs`) passes over windows; a window it wrongly
//! closed would lose the finding.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)] // test code

use crate::engine::Request;
use crate::policy::{Environment, Policy};

/// The `examples.match` texts of the default policy's detectors that join, by detector id.
fn joining_examples() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/default/detectors");
    let mut out = Vec::new();
    for file in std::fs::read_dir(dir).unwrap() {
        let yaml = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let detectors: Vec<serde_json::Value> = serde_saphyr::from_str(&yaml).unwrap();
        for d in detectors.iter().filter(|d| d.get("join").is_some()) {
            let id = d["id"].as_str().unwrap();
            let examples = d.pointer("/examples/match").and_then(|v| v.as_array());
            for example in examples.into_iter().flatten().filter_map(|v| v.as_str()) {
                out.push((id.to_string(), example.to_string()));
            }
        }
    }
    out
}

/// The ids of the detectors found in a chat request of one user message per part.
fn found(policy: &Policy, scratch: &mut crate::Scratch, parts: &[&str]) -> Vec<String> {
    let messages: Vec<_> = parts
        .iter()
        .map(|p| serde_json::json!({"role": "user", "content": p}))
        .collect();
    let body = serde_json::json!({"model": "gpt-4o", "messages": messages}).to_string();
    let request = Request {
        host: "api.openai.com",
        path: "/v1/chat/completions",
        content_type: Some("application/json"),
        content_encoding: None,
        body: body.as_bytes(),
        caller: None,
    };
    let verdict = policy.inspect(&request, scratch);
    let ids = verdict
        .findings
        .iter()
        .filter_map(|f| policy.detector(f.detector));
    ids.map(|d| d.id.clone()).collect()
}

#[test]
fn every_cut_of_a_joining_example_is_found() {
    let env = Environment {
        var: &|_| Some("airlock-test-key-0123456789abcdef".to_string()),
        defer_regexes: true,
    };
    let policy = crate::config::default_policy(&env).unwrap();
    let mut scratch = policy.scratch();
    let examples = joining_examples();
    let mut ids: Vec<&str> = examples.iter().map(|(id, _)| id.as_str()).collect();
    ids.dedup();
    assert!(ids.len() >= 15, "{ids:?}");
    let mut cuts = 0;
    for (id, example) in &examples {
        let has = |parts: &[&str], scratch: &mut crate::Scratch| {
            found(&policy, scratch, parts).iter().any(|f| f == id)
        };
        if !has(&[example], &mut scratch) {
            // Found only with context the messages do not give (none in the default policy).
            panic!("{id}: {example:?} is not found whole");
        }
        let places: Vec<usize> = (1..example.len())
            .filter(|&i| example.is_char_boundary(i))
            .collect();
        for &cut in &places {
            let (head, tail) = example.split_at(cut);
            assert!(
                has(&[head, tail], &mut scratch),
                "{id}: {head:?} | {tail:?}"
            );
            let framed = ["see the note", head, tail, "thanks"];
            assert!(
                has(&framed, &mut scratch),
                "{id}: {head:?} | {tail:?}, framed"
            );
            // A middle field of five bytes: the three-field windows.
            let end = (cut + 5..example.len()).find(|&i| example.is_char_boundary(i));
            if let Some(end) = end {
                let (middle, rest) = tail.split_at(end - cut);
                let parts = [head, middle, rest];
                assert!(has(&parts, &mut scratch), "{id}: {parts:?}");
            }
            cuts += 1;
        }
    }
    assert!(cuts > 1000, "{cuts} cuts tried");
}
