//! A VM reconfigured again and again (each ECDS update calls `proxy_on_configure` on the
//! same VM) defines its metrics once: Envoy keeps a new entry for every
//! `proxy_define_metric` call, so definitions per configuration grew Envoy's memory with
//! each update (found by envoy/soak.py; see envoy/README.md, "Soak").

use airlock_host_tests::{filter_wasm, Host};

/// A fresh VM configured with the embedded default policy.
fn default_host() -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "host-tests-hash-key");
    assert!(host
        .configure(b"")
        .unwrap_or_else(|e| panic!("on_configure trapped: {e}")));
    host
}

#[test]
fn reconfiguring_defines_no_metric_twice() {
    let mut host = default_host();
    let first = host.metric_definitions();
    assert!(first > 0, "the filter defined no metric");
    for _ in 0..3 {
        assert!(host
            .configure(b"")
            .unwrap_or_else(|e| panic!("on_configure trapped: {e}")));
    }
    assert_eq!(
        host.metric_definitions(),
        first,
        "a reconfiguration defined metrics again"
    );
}

/// Ticks (each compiling a few regexes) until the VM has nothing left to warm up; returns how
/// many it took and the instructions they ran.
fn warm_up(host: &mut Host) -> (u32, u64) {
    const FUEL: u64 = 1 << 40;
    host.set_fuel_per_call(FUEL);
    let (mut ticks, mut fuel) = (0, 0);
    while host.tick_period_ms() != 0 && ticks < 1000 {
        host.tick()
            .unwrap_or_else(|e| panic!("on_tick trapped: {e}"));
        ticks += 1;
        fuel += FUEL - host.fuel_left().unwrap_or(FUEL);
    }
    (ticks, fuel)
}

#[test]
fn a_new_version_of_the_same_detectors_compiles_no_regex_again() {
    let mut host = default_host();
    let (first_ticks, first_fuel) = warm_up(&mut host);
    assert!(
        first_ticks > 10,
        "the first load compiled its regexes in {first_ticks} ticks"
    );
    // An ECDS update with the same detectors (here: the same policy again): its regexes are the
    // ones the VM compiled for the first version (engine::scan::shared_regexes).
    assert!(host
        .configure(b"")
        .unwrap_or_else(|e| panic!("on_configure trapped: {e}")));
    let (again_ticks, again_fuel) = warm_up(&mut host);
    assert!(
        again_ticks <= 1,
        "the update warmed up for {again_ticks} ticks"
    );
    assert!(
        again_fuel * 100 < first_fuel,
        "the update's warm-up ran {again_fuel} instructions, the first {first_fuel}"
    );
}
