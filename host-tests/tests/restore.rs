//! The response path of the compiled filter: tokens out, originals back (issue 13).
//!
//! Drives the real `.wasm` through whole exchanges: the request goes out with tokens (never
//! the original), and the response the "upstream" sends back with those tokens reaches the
//! client with the originals, as JSON (tool-call arguments included, gzip too) and as SSE cut
//! at every byte. Build the filter first:
//! `cargo build --release --target wasm32-wasip1 -p airlock-filter`.

use airlock_host_tests::{filter_wasm, Action, Host};
use serde_json::{json, Value};
use std::io::{Read, Write};

const EMAIL: &str = "marta.kowalski@northwind-traders.co.uk";
const OPENAI: (&str, &str) = ("api.openai.com", "/v1/chat/completions");

fn default_host() -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "host-tests-restore-key");
    assert!(
        host.configure(b"").expect("on_configure"),
        "{:#?}",
        host.logs()
    );
    host
}

fn request_headers(host: &str, path: &str, len: usize) -> Vec<(String, String)> {
    [
        (":method", "POST"),
        (":scheme", "https"),
        (":authority", host),
        (":path", path),
        ("content-type", "application/json"),
        ("accept-encoding", "gzip, deflate, br"),
        ("x-request-id", "restore-test"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([("content-length".to_string(), len.to_string())])
    .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Sends a chat request with `content` to `target`; returns the stream (request done) and
/// the body the upstream received.
fn send<'h>(
    host: &'h mut Host,
    target: (&str, &str),
    content: &str,
) -> (airlock_host_tests::Stream<'h>, String) {
    let body = serde_json::to_vec(&json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
    }))
    .unwrap();
    let mut stream = host.new_stream().expect("stream");
    stream
        .request_headers(&request_headers(target.0, target.1, body.len()), false)
        .expect("request headers");
    stream.request_body(&body, true).expect("request body");
    assert!(
        stream.local_response().is_none(),
        "blocked: {:?}",
        stream.local_response()
    );
    let egress = String::from_utf8(stream.egress_request_body().to_vec()).unwrap();
    (stream, egress)
}

/// The token the upstream received for EMAIL (and that it never received EMAIL).
fn token_in(egress: &str) -> String {
    assert!(
        !egress.contains(EMAIL),
        "the original went upstream: {egress}"
    );
    let start = egress.find("[EMAIL_").expect("a token in the egress body");
    let end = start + egress[start..].find(']').unwrap() + 1;
    egress[start..end].to_string()
}

fn json_response_headers(len: usize, encoding: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        (":status".to_string(), "200".to_string()),
        ("content-type".to_string(), "application/json".to_string()),
        ("content-length".to_string(), len.to_string()),
    ];
    if let Some(e) = encoding {
        h.push(("content-encoding".to_string(), e.to_string()));
    }
    h
}

#[test]
fn json_reply_gets_the_originals_back_and_tokens_are_stable() {
    let mut host = default_host();
    let content = format!("Write to {EMAIL}; cc {EMAIL}.");
    let (mut stream, egress) = send(&mut host, OPENAI, &content);
    let token = token_in(&egress);
    assert_eq!(
        egress.matches(&token).count(),
        2,
        "one value, one token: {egress}"
    );
    let sent_headers = stream.egress_request_headers().unwrap();
    assert_eq!(header(&sent_headers, "accept-encoding"), Some("identity"));
    // The model answers with the token in text and in tool-call arguments (JSON in a string).
    let args = serde_json::to_string(&json!({"to": token, "subject": "invoice"})).unwrap();
    let reply = serde_json::to_vec(&json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": format!("Sending to {token} now. [EMAIL_0000] is not mine."),
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "send_mail", "arguments": args}}]}}],
    }))
    .unwrap();
    stream
        .response_headers(&json_response_headers(reply.len(), None), false)
        .expect("response headers");
    let held = stream
        .response_body(&reply[..40], false)
        .expect("first chunk");
    assert_eq!(held, Action::Pause, "a JSON reply is held to its end");
    stream
        .response_body(&reply[40..], true)
        .expect("last chunk");
    let headers = stream.egress_response_headers().unwrap();
    assert_eq!(
        header(&headers, "content-length"),
        None,
        "the length changes"
    );
    assert_eq!(header(&headers, "x-airlock-decision"), Some("tokenize"));
    let out: Value = serde_json::from_slice(stream.egress_response_body()).unwrap();
    let message = &out["choices"][0]["message"];
    assert_eq!(
        message["content"],
        format!("Sending to {EMAIL} now. [EMAIL_0000] is not mine.")
    );
    let args: Value = serde_json::from_str(
        message["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args, json!({"to": EMAIL, "subject": "invoice"}));
    drop(stream);
    assert_eq!(host.metric("airlock.tokens_restored_total"), 2);
    assert_eq!(host.metric("airlock.tokens_sent_total"), 1);
    // The next turn re-sends the conversation: the same value gets the same token.
    let (_, again) = send(&mut host, OPENAI, &format!("And {EMAIL} again"));
    assert_eq!(token_in(&again), token);
    for (_, line) in host.logs() {
        assert!(
            !line.contains(EMAIL),
            "a log line holds the original: {line}"
        );
    }
}

#[test]
fn gzip_json_reply_is_decoded_restored_and_reencoded() {
    let mut host = default_host();
    let (mut stream, egress) = send(&mut host, OPENAI, &format!("mail {EMAIL}"));
    let token = token_in(&egress);
    let plain = serde_json::to_vec(&json!({"choices": [{"message": {"content": token}}]})).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let packed = gz.finish().unwrap();
    stream
        .response_headers(&json_response_headers(packed.len(), Some("gzip")), false)
        .expect("headers");
    stream.response_body(&packed, true).expect("body");
    let headers = stream.egress_response_headers().unwrap();
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(stream.egress_response_body())
        .read_to_string(&mut text)
        .unwrap();
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out["choices"][0]["message"]["content"], EMAIL);
}

/// An OpenAI chat stream whose content carries `text` cut into `pieces`-byte deltas.
fn openai_stream(text: &str, piece: usize) -> Vec<u8> {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    for part in chars.chunks(piece) {
        let delta: String = part.iter().collect();
        let event = json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": null}]});
        out += &format!("data: {event}\n\n");
    }
    out += "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    out.into_bytes()
}

/// The content a client assembles from a chat stream.
fn assembled(stream: &[u8]) -> String {
    let text = String::from_utf8(stream.to_vec()).unwrap();
    let mut content = String::new();
    for event in text.split("\n\n") {
        let Some(data) = event.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
        if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
            content += c;
        }
    }
    content
}

#[test]
fn sse_reply_is_restored_whatever_the_chunking() {
    let mut host = default_host();
    let (_, egress) = send(&mut host, OPENAI, &format!("mail {EMAIL}"));
    let token = token_in(&egress);
    let text = format!("Dear {token}, see [EMAIL_0000] and {token}.");
    let expected = format!("Dear {EMAIL}, see [EMAIL_0000] and {EMAIL}.");
    let sse = openai_stream(&text, 3);
    for cut in 0..=sse.len() {
        let (mut stream, _) = send(&mut host, OPENAI, &format!("mail {EMAIL}"));
        let headers = vec![
            (":status".to_string(), "200".to_string()),
            ("content-type".to_string(), "text/event-stream".to_string()),
        ];
        stream.response_headers(&headers, false).expect("headers");
        let (a, b) = sse.split_at(cut);
        assert_eq!(
            stream.response_body(a, false).expect("a"),
            Action::Continue,
            "streams"
        );
        stream.response_body(b, true).expect("b");
        let out = stream.egress_response_body();
        assert_eq!(assembled(out), expected, "cut at {cut}");
    }
}

#[test]
fn responses_without_tokens_and_bad_replies_pass_as_they_are() {
    let mut host = default_host();
    // A request that sent no token: a token-shaped string in its reply is left alone.
    let (mut stream, egress) = send(&mut host, OPENAI, "What is the capital of Poland?");
    assert!(!egress.contains("[EMAIL_"));
    let reply = br#"{"choices":[{"message":{"content":"[EMAIL_7Q2F]"}}]}"#;
    stream
        .response_headers(&json_response_headers(reply.len(), None), false)
        .unwrap();
    stream.response_body(reply, true).unwrap();
    assert_eq!(stream.egress_response_body(), reply);
    let headers = stream.egress_response_headers().unwrap();
    assert_eq!(
        header(&headers, "content-length"),
        Some(reply.len().to_string().as_str())
    );
    drop(stream);
    // A truncated JSON reply to a request with tokens: passed on, tokens unrestored, counted.
    let (mut stream, egress) = send(&mut host, OPENAI, &format!("mail {EMAIL}"));
    let token = token_in(&egress);
    let truncated = format!(r#"{{"choices":[{{"message":{{"content":"{token}"#);
    stream
        .response_headers(&json_response_headers(truncated.len(), None), false)
        .unwrap();
    stream.response_body(truncated.as_bytes(), true).unwrap();
    assert_eq!(stream.egress_response_body(), truncated.as_bytes());
    drop(stream);
    assert_eq!(
        host.metric("airlock.restore_skipped_total.reason.not_json"),
        1
    );
    // Malformed SSE passes byte for byte.
    let (mut stream, _) = send(&mut host, OPENAI, &format!("mail {EMAIL}"));
    let bad = format!("data: {{\"choices\": [{token}\n\n: comment\n\ndata: [DONE]\n\n");
    stream
        .response_headers(
            &[(":status", "200"), ("content-type", "text/event-stream")],
            false,
        )
        .unwrap();
    stream.response_body(bad.as_bytes(), true).unwrap();
    assert_eq!(stream.egress_response_body(), bad.as_bytes());
}
