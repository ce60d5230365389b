//! Fuel between probes for the protected detectors: with a module built with the filter's
//! `fuel-probes` feature, each tagged stage boundary (`P:` in `engine/scan/protected.rs`, `D:` in
//! `protected/documents/find.rs`, `R:` in `protected/records/find.rs`) is a `proxy_log` call; this sums, per pair of consecutive tags,
//! the wasm instructions spent between them over 1 MiB of the bench corpus's bodies of one class,
//! with the default policy and a documents (or, with `ONLY=records`, a records) detector of
//! `protected_fuel`'s 20 MB crate index. Prints the 40 costliest pairs.
//!
//! `AIRLOCK_BENCH_WASM_DIR=<dir of the probe .wasm> cargo run --release -p airlock-benches
//! --example protected_probes [CLASS] [KIB]` (default `code 64`), `HOME` at a frozen registry.
use airlock_benches::corpus::{chat_body, Class};
use airlock_benches::{headers, policies, probe_pairs, protected, wasm_path, AIRLOCK_WASM};
use airlock_host_tests::{send_request, Host};
use std::path::Path;

fn main() {
    let home = std::env::var("HOME").unwrap();
    let rust = |path: &Path| path.extension().is_some_and(|e| e == "rs");
    let root = Path::new(&home).join(".cargo/registry/src");
    let docs = airlock_benches::files::text_files(&[root], 20 << 20, 1 << 20, &rust);
    let documents = protected::documents_index(&docs);
    let records = protected::customer_records_index(1000, &[]);
    let base = policies::with_max_body(policies::default_value(), policies::BENCH_MAX_BODY);
    let only = std::env::var("ONLY").unwrap_or("documents".into());
    let policy = protected::with_protected_detectors(base, &documents, &records, &only);
    let mut host = Host::load(wasm_path(AIRLOCK_WASM)).unwrap();
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    host.set_fuel_per_call(u64::MAX / 4);
    assert!(host.configure(&policies::plugin_config(&policy)).unwrap());
    let which = std::env::args().nth(1).unwrap_or("code".into());
    let kib: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let class = Class::ALL.into_iter().find(|c| c.name() == which).unwrap();
    let warm = chat_body(class, kib << 10, 99);
    send_request(&mut host, &headers(warm.len()), &[&warm], None).unwrap();
    let mut pairs = probe_pairs::Pairs::new();
    let mut total = 0;
    for seed in 1..=((1 << 20) / (kib << 10)) as u64 {
        let body = chat_body(class, kib << 10, seed);
        host.clear_logs();
        host.trace_calls();
        let before = host.fuel_used();
        send_request(&mut host, &headers(body.len()), &[&body], None).unwrap();
        total += host.fuel_used() - before;
        probe_pairs::add(&mut pairs, &mut host, 14);
    }
    println!(
        "{which} {kib} KiB x {}: {total} instructions",
        (1 << 20) / (kib << 10)
    );
    let mut rows: Vec<_> = pairs.into_iter().collect();
    rows.sort_by_key(|(_, (_, f))| std::cmp::Reverse(*f));
    for ((from, to), (n, fuel)) in rows.into_iter().take(40) {
        println!(
            "{from:>14} -> {to:<14} {n:>7} x {:>9.1} = {fuel:>11}",
            fuel as f64 / n as f64
        );
    }
}
