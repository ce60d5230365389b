//! What the protected-data detectors cost in the filter itself, counted rather than timed:
//! the wasm instructions (wasmtime fuel) of each request of the bench corpus through the
//! compiled `.wasm` (headers, body and, unless the body is blocked, the upstream response),
//! with the default policy alone and with a documents or a records
//! detector beside it (issue 12's cost target: ≤ 1.3× the default policy alone).
//!
//! Fuel does not move with the machine's load, so one run settles a ratio that timed runs on
//! a shared machine leave inside their noise; it does not see memory stalls (an index's
//! random lookups cost more in time than in instructions), which `protected_engine` times.
//! The indexes are those of `protected_engine`: `AIRLOCK_BENCH_MB` (default 20) MB of the
//! cargo registry's `.rs` sources and `AIRLOCK_ROWS` (default 100 000) synthetic rows.
//!
//! Build the `.wasm` first (`cargo build --release --target wasm32-wasip1 -p airlock-filter`), then
//! `cargo run --release -p airlock-benches --example protected_fuel`.

use airlock_benches::corpus::{chat_body, Class};
use airlock_benches::{headers, policies, protected, wasm_path, AIRLOCK_WASM};
use airlock_host_tests::{send_request, Host};
use std::path::Path;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh filter VM configured with `policy`, metering every callback.
fn vm(policy: &serde_json::Value) -> Host {
    let mut host =
        Host::load(wasm_path(AIRLOCK_WASM)).unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    host.set_fuel_per_call(u64::MAX / 4);
    let config = policies::plugin_config(policy);
    let accepted = host
        .configure(&config)
        .unwrap_or_else(|e| panic!("configuring the filter: {e:?}"));
    assert!(accepted, "the filter refused the bench policy");
    host
}

/// The instructions the filter runs for one request carrying `body`, every callback summed,
/// and whether a protected detector (`bench-…`) reported it.
fn request_fuel(host: &mut Host, body: &[u8]) -> (u64, bool) {
    let before = host.fuel_used();
    let outcome = send_request(host, &headers(body.len()), &[body], None)
        .unwrap_or_else(|e| panic!("request: {e:?}"));
    assert!(outcome.decision().is_some(), "a body was not inspected");
    let protected = host.audit_lines().iter().any(|line| {
        line["findings"].as_array().is_some_and(|findings| {
            findings.iter().any(|f| {
                f["detector"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("bench-"))
            })
        })
    });
    host.clear_logs();
    (host.fuel_used() - before, protected)
}

fn main() {
    let mb = env_usize("AIRLOCK_BENCH_MB", 20);
    let rows = env_usize("AIRLOCK_ROWS", 100_000);
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let rust = |path: &Path| path.extension().is_some_and(|e| e == "rs");
    let root = Path::new(&home).join(".cargo/registry/src");
    let docs = airlock_benches::files::text_files(&[root], mb << 20, 1 << 20, &rust);
    let documents = protected::documents_index(&docs);
    let records = protected::customer_records_index(rows, &[]);
    let base = policies::with_max_body(policies::default_value(), policies::BENCH_MAX_BODY);
    let mut vms: Vec<(&str, Host)> = ["", "documents", "records"]
        .into_iter()
        .map(|only| {
            let policy = if only.is_empty() {
                base.clone()
            } else {
                protected::with_protected_detectors(base.clone(), &documents, &records, only)
            };
            (only, vm(&policy))
        })
        .collect();
    println!(
        "documents index: {} files, {:.2} MB; records index: {rows} rows, {:.2} MB",
        docs.len(),
        documents.len() as f64 / 1e6,
        records.len() as f64 / 1e6
    );
    println!("Bodies with a finding of the protected detector (none is a copy of the index) in brackets.");
    println!("| class | size | default (M instructions) | + documents | + records |");
    println!("| --- | --- | ---: | ---: | ---: |");
    let mut totals = [0u64; 3];
    for class in Class::REALISTIC {
        for size in [8 << 10, 64 << 10] {
            let bodies: Vec<Vec<u8>> = (0..(1 << 20) / size)
                .map(|s| chat_body(class, size, s as u64 + 1))
                .collect();
            let (mut fuel, mut found) = ([0u64; 3], [0usize; 3]);
            for ((slot, hits), (_, host)) in fuel.iter_mut().zip(&mut found).zip(vms.iter_mut()) {
                for body in &bodies {
                    let (used, protected) = request_fuel(host, body);
                    *slot += used;
                    *hits += usize::from(protected);
                }
            }
            for (total, f) in totals.iter_mut().zip(fuel) {
                *total += f;
            }
            println!(
                "| {} | {} KiB | {:.1} | {:.2}× ({}/{n}) | {:.2}× ({}/{n}) |",
                class.name(),
                size >> 10,
                fuel[0] as f64 / 1e6,
                fuel[1] as f64 / fuel[0] as f64,
                found[1],
                fuel[2] as f64 / fuel[0] as f64,
                found[2],
                n = bodies.len()
            );
        }
    }
    println!(
        "| all | | {:.1} | {:.2}× | {:.2}× |",
        totals[0] as f64 / 1e6,
        totals[1] as f64 / totals[0] as f64,
        totals[2] as f64 / totals[0] as f64
    );
}
