//! The same bodies through the compiled filter in wasmtime (the `airlock-host-tests` harness,
//! Cranelift), and through a no-op buffering filter in the same harness.
//!
//! A round trip is one whole request through the harness: headers, the body in one chunk, the
//! upstream response, done. The filter's own `airlock.inspection_time_microseconds` is useless here (the
//! harness clock is a counter), so the engine's time in wasm is estimated as
//! `wasm/<class>/<size>` minus `wasm-noop/<class>/<size>`: the no-op filter pays the same harness
//! cost and the same copy of the body into the VM. `wasm/minimal` and `wasm-noop/minimal` (a
//! 60-byte body) give the fixed per-request cost.
//!
//! Build both modules first (see RESULTS.md), then
//! `cargo bench -p airlock-benches --bench wasm -- --warm-up-time 1 --measurement-time 3`
use airlock_benches::corpus::{self, Class, SIZES};
use airlock_benches::{harness_defaults, headers, policies, wasm_path, AIRLOCK_WASM, NOOP_WASM};
use airlock_host_tests::{send_request, Host};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SEED: u64 = 1;

fn host(file: &str, config: &[u8]) -> Host {
    let mut host = Host::load(wasm_path(file)).unwrap_or_else(|e| panic!("load {file}: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    assert!(
        host.configure(config)
            .unwrap_or_else(|e| panic!("configure {file}: {e:?}")),
        "{file} rejected its configuration"
    );
    host
}

/// One request; checks it went through (masked or allowed) and was not left hanging.
fn round_trip(host: &mut Host, headers: &[(String, String)], body: &[u8]) -> usize {
    let outcome =
        send_request(host, headers, &[body], None).unwrap_or_else(|e| panic!("request: {e:?}"));
    host.clear_logs();
    assert!(!outcome.stalled, "request stalled");
    outcome.egress_body.len()
}

fn bench(c: &mut Criterion) {
    let compiler = harness_defaults();
    eprintln!("wasm harness compiler: {compiler}");
    let config = policies::plugin_config(&policies::with_max_body(
        policies::default_value(),
        policies::BENCH_MAX_BODY,
    ));
    let mut airlock = host(AIRLOCK_WASM, &config);
    let mut noop = host(NOOP_WASM, b"");

    let minimal = corpus::minimal_body();
    let minimal_headers = headers(minimal.len());
    for (name, host) in [("wasm", &mut airlock), ("wasm-noop", &mut noop)] {
        let mut group = c.benchmark_group(format!("{name}/minimal"));
        group.throughput(Throughput::Bytes(minimal.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(minimal.len()), |b| {
            b.iter(|| round_trip(host, &minimal_headers, &minimal))
        });
        group.finish();
    }

    for class in Class::ALL {
        for size in SIZES {
            let body = corpus::chat_body(class, size, SEED);
            let request_headers = headers(body.len());
            // The filter must inspect the body (a decision header), not refuse it.
            let outcome = send_request(&mut airlock, &request_headers, &[&body], None)
                .unwrap_or_else(|e| panic!("{e:?}"));
            assert!(
                outcome.decision().is_some(),
                "{class:?} {size}: not inspected: {:?}",
                outcome.logs
            );
            airlock.clear_logs();
            for (name, host) in [("wasm", &mut airlock), ("wasm-noop", &mut noop)] {
                let mut group = c.benchmark_group(format!("{name}/{}", class.name()));
                group.sample_size(if size >= 1 << 20 { 10 } else { 30 });
                group.throughput(Throughput::Bytes(body.len() as u64));
                group.bench_function(BenchmarkId::from_parameter(corpus::size_label(size)), |b| {
                    b.iter(|| round_trip(host, &request_headers, &body))
                });
                group.finish();
            }
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
