//! Protected indexes in the compiled filter (issue 12): what loading a documents index of
//! `AIRLOCK_BENCH_MB` (default 100) MB of crate sources and a records index of `AIRLOCK_ROWS`
//! (default 1 000 000) rows of 4 columns costs one VM, through the real `.wasm` under wasmtime.
//!
//! For each configuration (the default policy alone, then with the documents index, then with
//! the records index), a fresh VM is configured `AIRLOCK_ROUNDS` (default 5) times, alternating
//! the configurations, and the best `proxy_on_configure` time is kept; the VM's linear memory
//! after configuring is its peak (it never shrinks). The index's own load time is the
//! difference to the default policy alone; its memory likewise. The configuration carries the
//! index as `airlock build` writes it (base64 in the detector's `data`), so the time includes
//! decoding that JSON string, the SHA-256 check and the copy into the index's arrays; and then
//! as `airlock build --envelope` writes it (the index a raw section after the JSON).
//!
//! `cargo run --release -p airlock-benches --example protected_wasm` (build the `.wasm` first).
//!
//! `AIRLOCK_SHA256_FILES=1` writes the indexes and envelopes as the formats before BLAKE3 (for a
//! module of that time, in an A/B). `AIRLOCK_LOAD_FUEL=1` counts instead of timing: wasm instructions of configuring the default
//! policy alone and with the documents index's envelope, a deterministic figure a loaded
//! machine does not blur; with a module built with the filter's `fuel-probes` feature, also the
//! instructions between each pair of consecutive stage tags of the load.
use airlock_benches::{policies, wasm_path, AIRLOCK_WASM};
use airlock_host_tests::state::TraceEntry;
use airlock_host_tests::Host;
use base64::Engine as _;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn documents_index(mb: usize) -> (Vec<u8>, usize) {
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
    let keep = |p: &std::path::Path| {
        p.extension()
            .is_some_and(|e| e == "rs" || e == "md" || e == "toml")
    };
    let docs = airlock_benches::files::text_files(
        &[home.join(".cargo/registry/src")],
        mb << 20,
        4 << 20,
        &keep,
    );
    let text = docs.iter().map(|(_, t)| t.len()).sum();
    (airlock_benches::protected::documents_index(&docs), text)
}

fn config_with(detector: Option<Value>) -> Vec<u8> {
    let mut doc = policies::default_value();
    if let Some(d) = detector {
        doc["detectors"].as_array_mut().expect("detectors").push(d);
    }
    policies::plugin_config(&doc)
}

/// The configuration of the default policy plus `detector` (without `data`) as a binary
/// envelope carrying `index` raw, as `airlock build --envelope` writes it.
fn envelope_with(detector: Value, index: &[u8]) -> Vec<u8> {
    let id = detector["id"].as_str().expect("id").to_string();
    let json = config_with(Some(detector));
    if std::env::var_os("AIRLOCK_SHA256_FILES").is_some() {
        return sha256_envelope(&json, &id, index);
    }
    airlock_filter::protected::envelope::seal(&json, &[(id.as_str(), index)])
}

/// `index` in the format before BLAKE3 (documents 9, records 3: the same payload, checked by
/// SHA-256), for an A/B against a module that reads only those (`AIRLOCK_SHA256_FILES=1`).
fn sha256_index(index: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let (header, payload) = index.split_at(airlock_filter::protected::container::HEADER_LEN);
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) - 1;
    let mut out = header[..8].to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&header[16..24]);
    out.extend_from_slice(&sha2::Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// An envelope of version 1 (SHA-256) of `json` and one section.
fn sha256_envelope(json: &[u8], id: &str, index: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let mut section = (id.len() as u16).to_le_bytes().to_vec();
    section.extend_from_slice(id.as_bytes());
    section.extend_from_slice(&(index.len() as u64).to_le_bytes());
    let mut digest = sha2::Sha256::new();
    digest.update(json);
    digest.update(&section);
    let mut out = airlock_filter::protected::envelope::MAGIC.to_vec();
    for n in [1, json.len() as u32, 1] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&digest.finalize());
    out.extend_from_slice(json);
    out.extend_from_slice(&section);
    out.extend_from_slice(index);
    out
}

/// `proxy_on_configure` seconds and the linear memory after it, in a fresh VM.
fn configure(wasm: &PathBuf, config: &[u8]) -> (f64, usize) {
    let mut host = Host::load(wasm).expect("load the module");
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    let start = Instant::now();
    let ok = host.configure(config).expect("configure");
    let secs = start.elapsed().as_secs_f64();
    assert!(ok, "configuration rejected: {:?}", host.logs());
    (secs, host.memory_bytes())
}

/// The wasm instructions of configuring `config` in a fresh VM, and per pair of consecutive
/// fuel-probe tags, the instructions between them (empty without the `fuel-probes` feature).
fn configure_fuel(wasm: &PathBuf, config: &[u8]) -> (u64, Vec<(String, u64)>) {
    let mut host = Host::load(wasm).expect("load the module");
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    host.trace_calls();
    let before = host.fuel_used();
    assert!(
        host.configure(config).expect("configure"),
        "configuration rejected"
    );
    let total = host.fuel_used() - before;
    let logs: Vec<String> = host
        .log_entries()
        .iter()
        .map(|e| e.message.clone())
        .collect();
    let mut tags = logs
        .into_iter()
        .map(|m| m.chars().take(24).collect::<String>());
    let mut stages = Vec::new();
    let mut last: Option<(String, u64)> = None;
    for entry in host.take_call_trace() {
        if let TraceEntry::HostCall { name, fuel_left } = entry {
            if name != "proxy_log" {
                continue;
            }
            let tag = tags.next().unwrap_or_default();
            if let Some((prev, prev_fuel)) = last.take() {
                stages.push((
                    format!("{prev} -> {tag}"),
                    prev_fuel.saturating_sub(fuel_left),
                ));
            }
            last = Some((tag, fuel_left));
        }
    }
    (total, stages)
}

fn main() {
    let fuel = std::env::var_os("AIRLOCK_LOAD_FUEL").is_some();
    if fuel {
        std::env::set_var("AIRLOCK_HARNESS_FUEL", "on");
    }
    airlock_benches::harness_defaults();
    let wasm = wasm_path(AIRLOCK_WASM);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mb = env_usize("AIRLOCK_BENCH_MB", 100);
    let rows = env_usize("AIRLOCK_ROWS", 1_000_000);
    let rounds = env_usize("AIRLOCK_ROUNDS", 5);
    let (doc_index, text) = documents_index(mb);
    let rec_index = airlock_benches::protected::customer_records_index(rows, &["account"]);
    let (doc_index, rec_index) = match std::env::var_os("AIRLOCK_SHA256_FILES") {
        Some(_) => (sha256_index(&doc_index), sha256_index(&rec_index)),
        None => (doc_index, rec_index),
    };
    println!(
        "documents index: {:.1} MB of text, {:.2} MB; records index: {rows} rows, {:.2} MB",
        text as f64 / 1e6,
        doc_index.len() as f64 / 1e6,
        rec_index.len() as f64 / 1e6
    );
    let configs = [
        ("default policy alone", config_with(None)),
        (
            "+ documents index",
            config_with(Some(
                json!({"id": "bench-source", "class": "secret", "kind": "trade-secret",
                "documents": {"index": "bench-source.idx", "min_chars": 200, "data": b64(&doc_index)}}),
            )),
        ),
        (
            "+ records index",
            config_with(Some(
                json!({"id": "bench-records", "class": "confidential", "kind": "pii",
                "records": {"index": "bench-records.idx", "min_fields": 2, "data": b64(&rec_index)}}),
            )),
        ),
        (
            "+ documents index, envelope",
            envelope_with(
                json!({"id": "bench-source", "class": "secret", "kind": "trade-secret",
                "documents": {"index": "bench-source.idx", "min_chars": 200}}),
                &doc_index,
            ),
        ),
        (
            "+ records index, envelope",
            envelope_with(
                json!({"id": "bench-records", "class": "confidential", "kind": "pii",
                "records": {"index": "bench-records.idx", "min_fields": 2}}),
                &rec_index,
            ),
        ),
    ];
    if fuel {
        let (alone, _) = configure_fuel(&wasm, &configs[0].1);
        println!("configure, default policy alone: {alone} instructions");
        for (name, config) in [&configs[1], &configs[3]] {
            let (with, stages) = configure_fuel(&wasm, config);
            let more = with.saturating_sub(alone);
            println!("configure, {name}: {with} instructions (+{more})");
            for (stage, n) in stages {
                println!("  {stage:<40} {n:>12}");
            }
        }
        return;
    }
    let mut best = [(f64::MAX, 0usize); 5];
    for _ in 0..rounds {
        for (i, (_, config)) in configs.iter().enumerate() {
            let (secs, memory) = configure(&wasm, config);
            if let Some(b) = best.get_mut(i) {
                b.0 = b.0.min(secs);
                b.1 = b.1.max(memory);
            }
        }
    }
    println!("| configuration | configure ms (best of {rounds}) | linear memory MiB | index: + ms | index: + MiB |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    for (i, (name, config)) in configs.iter().enumerate() {
        let (secs, memory) = best[i];
        let (extra_ms, extra_mib) = if i == 0 {
            ("".to_string(), "".to_string())
        } else {
            (
                format!("{:.1}", (secs - best[0].0) * 1e3),
                format!("{:.1}", mib(memory) - mib(best[0].1)),
            )
        };
        println!(
            "| {name} ({:.1} MB configuration) | {:.1} | {:.1} | {extra_ms} | {extra_mib} |",
            config.len() as f64 / 1e6,
            secs * 1e3,
            mib(memory)
        );
    }
}
