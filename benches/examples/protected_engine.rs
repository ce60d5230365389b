//! Protected documents and records in the engine (issue 12, second half): what the two new
//! detector kinds cost beside the default policy, and what they find through the layers.
//!
//! - **Cost.** The default policy alone, then the default policy plus a documents detector
//!   (an index of `AIRLOCK_BENCH_MB`, default 20, MB of the cargo registry's crate sources) and
//!   a records detector (`AIRLOCK_ROWS`, default 100 000, synthetic rows of 4 columns), both
//!   inspecting the bench corpus (`corpus::chat_body`, the realistic classes at 8 KiB and
//!   64 KiB). Reports MB/s of each and the ratio (target ≤ 1.3×).
//! - **Recall through the layers.** Fragments of indexed files (200 and 400 characters, from a
//!   line start) sent as a user message as they are, JSON-escaped inside a tool call's
//!   `arguments` (JSON inside a JSON string), and base64-encoded inside a user message; the
//!   share of requests with a documents finding.
//!
//! `cargo run --release -p airlock-benches --example protected_engine`

use airlock_benches::corpus::{chat_body, Class, Rng};
use airlock_benches::protected::b64;
use airlock_benches::{policies, request};
use airlock_filter::Policy;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `.rs` files under `root` in sorted order (at most 1 MiB each), up to `limit` bytes of UTF-8 text.
fn sources(root: &Path, limit: usize) -> Vec<(String, String)> {
    let rust = |path: &Path| path.extension().is_some_and(|e| e == "rs");
    airlock_benches::files::text_files(&[root.to_path_buf()], limit, 1 << 20, &rust)
}

/// The default policy plus the two protected detectors.
fn with_protected(documents: &[u8], records: &[u8]) -> Policy {
    let doc = policies::with_max_body(policies::default_value(), policies::BENCH_MAX_BODY);
    // `AIRLOCK_PROTECTED=documents|records` measures one kind alone.
    let only = std::env::var("AIRLOCK_PROTECTED").unwrap_or_default();
    let doc = airlock_benches::protected::with_protected_detectors(doc, documents, records, &only);
    policies::compile(doc).unwrap_or_else(|e| panic!("bench policy: {e}"))
}

/// Seconds per pass over `bodies`, best of `rounds`.
fn time(policy: &Policy, bodies: &[Vec<u8>], rounds: usize) -> f64 {
    let mut scratch = policy.scratch();
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        for body in bodies {
            std::hint::black_box(policy.inspect(&request(body), &mut scratch));
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    best
}

fn cost(base: &Policy, protected: &Policy) {
    println!("\ncost: default policy alone vs with both protected detectors (best of 5)");
    println!("| class | size | default MB/s | + protected MB/s | ratio |");
    println!("| --- | --- | --- | --- | --- |");
    let (mut all_base, mut all_protected, mut all_bytes) = (0.0, 0.0, 0usize);
    for class in Class::REALISTIC {
        for size in [8 << 10, 64 << 10] {
            let bodies: Vec<Vec<u8>> = (0..(1 << 20) / size)
                .map(|s| chat_body(class, size, s as u64 + 1))
                .collect();
            let bytes: usize = bodies.iter().map(Vec::len).sum();
            let a = time(base, &bodies, 5);
            let b = time(protected, &bodies, 5);
            all_base += a;
            all_protected += b;
            all_bytes += bytes;
            println!(
                "| {} | {} KiB | {:.1} | {:.1} | {:.2}× |",
                class.name(),
                size >> 10,
                bytes as f64 / a / 1e6,
                bytes as f64 / b / 1e6,
                b / a
            );
        }
    }
    println!(
        "| all | | {:.1} | {:.1} | {:.2}× |",
        all_bytes as f64 / all_base / 1e6,
        all_bytes as f64 / all_protected / 1e6,
        all_protected / all_base
    );
}

/// Inspects the cost corpus with `policy` for about `seconds`, or `passes` times over.
fn profile(policy: &Policy, seconds: f64, passes: usize) {
    let bodies: Vec<Vec<u8>> = Class::REALISTIC
        .into_iter()
        .flat_map(|class| {
            [8 << 10, 64 << 10].into_iter().flat_map(move |size| {
                (0..(1 << 20) / size).map(move |s| chat_body(class, size, s as u64 + 1))
            })
        })
        .collect();
    let mut scratch = policy.scratch();
    let start = Instant::now();
    let mut pass = 0;
    while pass < passes || start.elapsed().as_secs_f64() < seconds {
        pass += 1;
        for body in &bodies {
            std::hint::black_box(policy.inspect(&request(body), &mut scratch));
        }
    }
}

/// `AIRLOCK_STEPS=1`: per class of the cost corpus, how many texts each index searched and
/// their bytes, beside the body bytes and the pattern scans (the `bench-hooks` counters).
fn steps(policy: &Policy) {
    use airlock_filter::engine::bench_hooks::steps::{snapshot, Step};
    let mut scratch = policy.scratch();
    let shown = [Step::ScanPatterns, Step::Documents, Step::Records];
    println!(
        "| class | body bytes | {} |",
        shown.map(Step::name).join(" | ")
    );
    for class in Class::REALISTIC {
        let bodies: Vec<Vec<u8>> = (0..16).map(|s| chat_body(class, 64 << 10, s + 1)).collect();
        let before = snapshot();
        for body in &bodies {
            std::hint::black_box(policy.inspect(&request(body), &mut scratch));
        }
        let counts = snapshot().since(&before);
        let cells: Vec<String> = shown
            .iter()
            .map(|&s| {
                let (calls, bytes) = counts.steps.get(s as usize).copied().unwrap_or_default();
                format!("{calls} ({bytes})")
            })
            .collect();
        let total: usize = bodies.iter().map(Vec::len).sum();
        println!("| {} | {total} | {} |", class.name(), cells.join(" | "));
    }
}

/// A fragment of about `chars` bytes of `text` from a line start (cut at a char boundary).
fn fragment(rng: &mut Rng, text: &str, chars: usize) -> Option<String> {
    if text.len() < chars + 1 {
        return None;
    }
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&i| i + chars <= text.len())
        .collect();
    let start = *starts.get(rng.below(starts.len().max(1)))?;
    let mut end = start + chars;
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let piece = text.get(start..end)?;
    // Fragments that are mostly blank or one repeated line say nothing about recall.
    (piece.split_whitespace().count() >= 10).then(|| piece.to_string())
}

fn bodies_for(piece: &str) -> [(&'static str, Vec<u8>); 3] {
    let user = |content: String| {
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]})
            .to_string()
            .into_bytes()
    };
    let arguments = json!({"path": "src/lib.rs", "content": piece}).to_string();
    let tool = json!({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Apply the edit."},
        {"role": "assistant", "content": Value::Null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "write_file", "arguments": arguments}}
        ]}
    ]})
    .to_string()
    .into_bytes();
    [
        ("plain", user(format!("Review this:\n{piece}"))),
        ("json-escaped tool-call arguments", tool),
        (
            "base64",
            user(format!("Decode and review: {}", b64(piece.as_bytes()))),
        ),
    ]
}

fn recall(policy: &Policy, docs: &[(String, String)]) {
    let detector = policy
        .detectors
        .iter()
        .position(|d| d.id == "bench-source")
        .expect("bench-source") as u16;
    let fields = env_usize("AIRLOCK_FIELDS", 300);
    let mut scratch = policy.scratch();
    println!("\nrecall through the engine ({fields} fragments per size, min_chars 200)");
    println!("| fragment | plain | JSON-escaped tool-call arguments | base64 |");
    println!("| --- | --- | --- | --- |");
    for chars in [200, 400] {
        let mut rng = Rng::new(chars as u64);
        let mut found = [0usize; 3];
        let mut tried = 0;
        while tried < fields {
            let (_, text) = rng.pick(docs);
            let Some(piece) = fragment(&mut rng, text, chars) else {
                continue;
            };
            tried += 1;
            for (i, (_, body)) in bodies_for(&piece).iter().enumerate() {
                let verdict = policy.inspect(&request(body), &mut scratch);
                if verdict.findings.iter().any(|f| f.detector == detector) {
                    found[i] += 1;
                }
            }
        }
        let share = |n: usize| n as f64 / tried as f64;
        println!(
            "| {chars} characters | {:.2} | {:.2} | {:.2} |",
            share(found[0]),
            share(found[1]),
            share(found[2])
        );
    }
}

fn main() {
    let mb = env_usize("AIRLOCK_BENCH_MB", 20);
    let rows = env_usize("AIRLOCK_ROWS", 100_000);
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let docs = sources(&Path::new(&home).join(".cargo/registry/src"), mb << 20);
    let text: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let documents = airlock_benches::protected::documents_index(&docs);
    let records = airlock_benches::protected::customer_records_index(rows, &[]);
    println!(
        "documents index: {} files, {:.1} MB of text, {:.2} MB; records index: {rows} rows, {:.2} MB",
        docs.len(),
        text as f64 / 1e6,
        documents.len() as f64 / 1e6,
        records.len() as f64 / 1e6
    );
    let base = policies::default_policy();
    let protected = with_protected(&documents, &records);
    // `AIRLOCK_PROFILE=SECONDS`: only inspections with the protected policy, for a profiler
    // (the index build above is a second or two of the run). `AIRLOCK_PASSES=N`: N passes over
    // the cost corpus instead, with the default policy alone when `AIRLOCK_BASE` is set: fixed
    // work, for CPU time or, where the machine has hardware counters, `perf stat -e instructions`.
    let passes = env_usize("AIRLOCK_PASSES", 0);
    if std::env::var_os("AIRLOCK_STEPS").is_some() {
        steps(&protected);
        return;
    }
    if let Ok(seconds) = std::env::var("AIRLOCK_PROFILE").map(|v| v.parse::<f64>().unwrap_or(0.0)) {
        profile(&protected, seconds, 0);
        return;
    }
    if passes > 0 || std::env::var_os("AIRLOCK_PASSES").is_some() {
        let policy = if std::env::var_os("AIRLOCK_BASE").is_some() {
            &base
        } else {
            &protected
        };
        profile(policy, 0.0, passes);
        return;
    }
    cost(&base, &protected);
    if protected.detectors.iter().any(|d| d.id == "bench-source") {
        recall(&protected, &docs);
    }
}
