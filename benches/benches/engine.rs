//! Engine throughput with the default policy, natively.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn chat_body(size: usize) -> Vec<u8> {
    let sentence = "Please review this function and explain why the retry loop never exits when the server returns 503. ";
    let mut text = String::new();
    while text.len() < size {
        text.push_str(sentence);
    }
    serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}

fn bench(c: &mut Criterion) {
    let env = airlock_filter::policy::Environment { var: &|_| None };
    let policy = airlock_filter::config::default_policy(&env).expect("default policy compiles");
    let mut scratch = policy.scratch();
    let mut group = c.benchmark_group("default-policy/prose");
    for size in [8 << 10, 64 << 10, 512 << 10] {
        let body = chat_body(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{size}"), |b| {
            b.iter(|| {
                let request = airlock_filter::Request {
                    host: "api.openai.com",
                    path: "/v1/chat/completions",
                    content_type: Some("application/json"),
                    content_encoding: None,
                    body: &body,
                };
                policy.inspect(&request, &mut scratch)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
