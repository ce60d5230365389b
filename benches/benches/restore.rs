//! Restoring reversible tokens in a 64 KiB SSE stream (issue 13): natively, and through the
//! compiled filter in wasmtime (the `airlock-host-tests` harness).
//!
//! The stream is an OpenAI chat completion cut into 4-character content deltas (one SSE event
//! each, ~180 bytes), in which every tenth delta run carries one of the request's tokens, cut
//! across events. It is fed in 1 KiB chunks, as Envoy hands a stream to the filter.
//!
//! - `restore/native-sse-64k`: `SseRestorer` alone (the engine's cost per byte and per event).
//! - `restore/wasm-sse-64k`: one whole exchange through the `.wasm`: the request (with the
//!   personal data that becomes tokens), then the 64 KiB stream in 1 KiB chunks.
//! - `restore/wasm-request-only`: the same request with a one-event stream: subtracted from
//!   the above, it leaves the filter's cost of restoring the stream in wasm.
//!
//! `cargo bench -p airlock-benches --bench restore -- --warm-up-time 1 --measurement-time 3`
use airlock_benches::{headers, wasm_path, AIRLOCK_WASM};
use airlock_filter::response::{bench_map, SseRestorer};
use airlock_host_tests::Host;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

const STREAM_BYTES: usize = 64 * 1024;
const CHUNK: usize = 1024;
const EMAIL: &str = "marta.kowalski@northwind-traders.co.uk";

/// An OpenAI chat stream of about `bytes` bytes whose content mentions `tokens` now and then.
fn sse_stream(tokens: &[String], bytes: usize) -> (Vec<u8>, usize) {
    let mut text = String::new();
    let mut i = 0;
    while text.len() * 45 < bytes {
        text += "The invoice went out on Friday and ";
        if i % 3 == 0 {
            text += &tokens[i % tokens.len()];
        }
        text += " confirmed it. ";
        i += 1;
    }
    let mut out = String::new();
    let mut events = 0;
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(4) {
        let delta: String = piece.iter().collect();
        let event = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
            "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": null}]});
        out += &format!("data: {event}\n\n");
        events += 1;
        if out.len() >= bytes {
            break;
        }
    }
    out += "data: [DONE]\n\n";
    (out.into_bytes(), events + 1)
}

fn native(c: &mut Criterion) {
    let (map, tokens) = bench_map("EMAIL", &[EMAIL, "jan.de-vries@fernhollow-bakery.nl"]);
    let (stream, events) = sse_stream(&tokens, STREAM_BYTES);
    eprintln!("restore: {} bytes, {events} events", stream.len());
    let mut group = c.benchmark_group("restore");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("native-sse-64k", |b| {
        b.iter(|| {
            let mut restorer = SseRestorer::new(1 << 20);
            let mut out = Vec::with_capacity(stream.len() + 4096);
            for chunk in stream.chunks(CHUNK) {
                restorer.push(&map, chunk, &mut out);
            }
            restorer.finish(&map, &mut out);
            assert!(restorer.restored > 0);
            out.len()
        })
    });
    group.finish();
}

fn host() -> Host {
    let mut host =
        Host::load(wasm_path(AIRLOCK_WASM)).unwrap_or_else(|e| panic!("load the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    assert!(
        host.configure(b"").expect("configure"),
        "default policy rejected"
    );
    host
}

fn request_body() -> Vec<u8> {
    serde_json::to_vec(
        &json!({"model": "gpt-4o-mini", "stream": true, "messages": [
        {"role": "user", "content": format!("Write to {EMAIL} about the invoice.")}]}),
    )
    .unwrap()
}

/// One exchange: the request, then `stream` in 1 KiB chunks; returns the client's bytes.
fn exchange(host: &mut Host, body: &[u8], stream: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut s = host.new_stream().expect("stream");
    s.request_headers(&headers(body.len()), false)
        .expect("headers");
    s.request_body(body, true).expect("body");
    let egress = s.egress_request_body().to_vec();
    s.response_headers(
        &[(":status", "200"), ("content-type", "text/event-stream")],
        false,
    )
    .expect("response headers");
    let chunks: Vec<&[u8]> = stream.chunks(CHUNK).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        s.response_body(chunk, i + 1 == chunks.len())
            .expect("chunk");
    }
    let out = s.egress_response_body().to_vec();
    drop(s);
    host.clear_logs();
    (egress, out)
}

fn wasm(c: &mut Criterion) {
    let mut host = host();
    let body = request_body();
    // The token the filter mints for EMAIL under the bench key, read from what went upstream.
    let (egress, _) = exchange(&mut host, &body, b"data: [DONE]\n\n");
    let egress = String::from_utf8(egress).unwrap();
    let start = egress.find("[EMAIL_").expect("the request was tokenized");
    let token = egress[start..start + egress[start..].find(']').unwrap() + 1].to_string();
    let (stream, events) = sse_stream(std::slice::from_ref(&token), STREAM_BYTES);
    let (_, out) = exchange(&mut host, &body, &stream);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(EMAIL) && !out.contains(&token),
        "the stream was restored"
    );
    eprintln!("restore (wasm): {} bytes, {events} events", stream.len());
    let mut group = c.benchmark_group("restore");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("wasm-sse-64k", |b| {
        b.iter(|| exchange(&mut host, &body, &stream))
    });
    group.bench_function("wasm-request-only", |b| {
        b.iter(|| exchange(&mut host, &body, b"data: [DONE]\n\n"))
    });
    group.finish();
}

criterion_group!(benches, native, wasm);
criterion_main!(benches);
