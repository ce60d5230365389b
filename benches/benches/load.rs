//! Policy load: the configurations `airlock build` writes for the default policy and for
//! synthetic policies of 100, 300 and 1000 detectors, loaded natively and inside the wasm VM (`proxy_on_configure` on a fresh VM, which is
//! what Envoy runs once per VM, i.e. per worker thread, and again on every configuration update).
//!
//! `cargo bench -p airlock-benches --bench load -- --warm-up-time 1 --measurement-time 3`
use airlock_benches::{harness_defaults, policies, wasm_path, AIRLOCK_WASM};
use airlock_host_tests::Host;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use serde_json::Value;

fn documents() -> Vec<(String, Value)> {
    let mut docs = vec![("default".to_string(), policies::default_value())];
    for n in [100usize, 300, 1000] {
        docs.push((format!("synthetic-{n}"), policies::synthetic(n)));
    }
    docs
}

/// The configuration `airlock build` writes, loaded as the filter loads it; `parsed` is the
/// same document compiled without the regex facts a built configuration carries.
fn native(c: &mut Criterion) {
    let mut group = c.benchmark_group("load/native");
    group.sample_size(10);
    for (name, doc) in documents() {
        let config = policies::plugin_config(&doc);
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| policies::load(&config).unwrap_or_else(|e| panic!("{name}: {e}")))
        });
    }
    group.bench_function("default-parsed", |b| {
        b.iter_batched(
            policies::default_value,
            |doc| policies::compile(doc).unwrap_or_else(|e| panic!("default: {e}")),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn wasm(c: &mut Criterion) {
    harness_defaults();
    let path = wasm_path(AIRLOCK_WASM);
    let fresh = || {
        let mut host = Host::load(&path).unwrap_or_else(|e| panic!("load: {e:?}"));
        host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
        assert!(host.start().unwrap_or_else(|e| panic!("start: {e:?}")));
        host
    };
    let mut group = c.benchmark_group("load/wasm");
    group.sample_size(10);
    // The empty configuration: the embedded default policy, as most deployments load it.
    let mut configs = vec![("default-embedded".to_string(), Vec::new())];
    for (name, doc) in documents().into_iter().skip(1) {
        configs.push((name, policies::plugin_config(&doc)));
    }
    for (name, config) in configs {
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter_batched(
                fresh,
                |mut host| {
                    assert!(
                        host.configure(&config)
                            .unwrap_or_else(|e| panic!("{name}: {e:?}")),
                        "{name} rejected"
                    );
                    host
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, native, wasm);
criterion_main!(benches);
