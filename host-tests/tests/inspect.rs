//! Response inspection in the compiled filter (issue 13, `inspect_responses`): a credential
//! the model writes is masked before the client reads it, in a JSON reply and in an SSE stream
//! cut at every byte, while the client's own (tokenized) values come back restored. Build the
//! filter first: `cargo build --release --target wasm32-wasip1 -p airlock-filter`.

use airlock_host_tests::{filter_wasm, Host};
use serde_json::{json, Value};

const EMAIL: &str = "marta.kowalski@northwind-traders.co.uk";
/// A made-up AWS access key id (the format, not a key).
const KEY: &str = "AKIAQ7RZ4MPL2XW9KD3T";

/// The filter with the default policy, its approved vendors inspecting responses (`action`).
fn inspecting_host(action: &str) -> Host {
    let mut policy: Value = serde_json::from_str(airlock_filter::DEFAULT_POLICY_JSON).unwrap();
    policy["destinations"]["tiers"][0]["inspect_responses"] = json!(action);
    let config = serde_json::to_vec(&json!({"airlock_config": 1, "policy": policy})).unwrap();
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "host-tests-inspect-key");
    assert!(
        host.configure(&config).expect("on_configure"),
        "{:#?}",
        host.logs()
    );
    host
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sends a chat request mailing EMAIL; returns the stream and the token EMAIL went out as.
fn send(host: &mut Host) -> (airlock_host_tests::Stream<'_>, String) {
    let body = serde_json::to_vec(&json!({"model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": format!("mail {EMAIL}")}]}))
    .unwrap();
    let mut stream = host.new_stream().expect("stream");
    let len = body.len().to_string();
    let headers = pairs(&[
        (":method", "POST"),
        (":authority", "api.openai.com"),
        (":path", "/v1/chat/completions"),
        ("content-type", "application/json"),
        ("content-length", &len),
    ]);
    stream
        .request_headers(&headers, false)
        .expect("request headers");
    stream.request_body(&body, true).expect("request body");
    let egress = String::from_utf8(stream.egress_request_body().to_vec()).unwrap();
    assert!(!egress.contains(EMAIL));
    let start = egress.find("[EMAIL").expect("a token");
    let token = egress[start..start + egress[start..].find(']').unwrap() + 1].to_string();
    (stream, token)
}

#[test]
fn json_reply_is_masked_and_restored() {
    for (action, masked) in [("mask", true), ("monitor", false)] {
        let mut host = inspecting_host(action);
        let (mut stream, token) = send(&mut host);
        let reply = serde_json::to_vec(&json!({"model": "gpt-4o-mini", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": format!("{token}: use {KEY}"),
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f",
                    "arguments": json!({"to": token, "key": KEY}).to_string()}}]}}]}))
        .unwrap();
        let len = reply.len().to_string();
        let headers = pairs(&[
            (":status", "200"),
            ("content-type", "application/json"),
            ("content-length", &len),
        ]);
        stream.response_headers(&headers, false).expect("headers");
        stream.response_body(&reply, true).expect("body");
        let out: Value = serde_json::from_slice(stream.egress_response_body()).unwrap();
        let message = &out["choices"][0]["message"];
        let content = message["content"].as_str().unwrap();
        let args: Value = serde_json::from_str(
            message["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert!(content.starts_with(&format!("{EMAIL}: use ")), "{content}");
        assert_eq!(args["to"], EMAIL);
        assert_eq!(content.contains(KEY), !masked, "{action}: {content}");
        assert_eq!(args["key"] == KEY, !masked, "{action}");
        drop(stream);
        let logs: Vec<String> = host.logs().into_iter().map(|(_, line)| line).collect();
        let logs = logs.join("\n");
        assert!(
            logs.contains("\"event\":\"response_findings\""),
            "{action}: audited"
        );
        let audit = logs
            .lines()
            .find(|l| l.contains("response_findings"))
            .unwrap();
        assert!(!audit.contains(KEY), "the audit line never holds the value");
    }
}

#[test]
fn sse_reply_is_masked_whatever_the_chunking() {
    let mut host = inspecting_host("mask");
    let (_, token) = send(&mut host);
    let text = format!("Dear {token}, the key is {KEY}.");
    let mut sse = String::new();
    for c in text.chars() {
        let event = json!({"id": "c", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": c.to_string()}, "finish_reason": null}]});
        sse += &format!("data: {event}\n\n");
    }
    sse += "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let sse = sse.into_bytes();
    for cut in (0..=sse.len()).step_by(7) {
        let (mut stream, _) = send(&mut host);
        let headers = pairs(&[(":status", "200"), ("content-type", "text/event-stream")]);
        stream.response_headers(&headers, false).expect("headers");
        let (a, b) = sse.split_at(cut);
        stream.response_body(a, false).expect("a");
        stream.response_body(b, true).expect("b");
        let out = String::from_utf8(stream.egress_response_body().to_vec()).unwrap();
        assert!(!out.contains(KEY), "cut {cut}");
        let mut content = String::new();
        for data in out.split("\n\n").filter_map(|e| e.strip_prefix("data: ")) {
            if let Ok(v) = serde_json::from_str::<Value>(data) {
                content += v["choices"][0]["delta"]["content"].as_str().unwrap_or("");
            }
        }
        assert!(
            content.starts_with(&format!("Dear {EMAIL}, the key is [REDACTED")),
            "{content}"
        );
        assert!(content.ends_with("]."), "{content}");
    }
}
