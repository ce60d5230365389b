//! A VM reconfigured again and again (each ECDS update calls `proxy_on_configure` on the
//! same VM) defines its metrics once: Envoy keeps a new entry for every
//! `proxy_define_metric` call, so definitions per configuration grew Envoy's memory with
//! each update (found by envoy/soak.py; see envoy/README.md, "Soak").

use airlock_host_tests::{filter_wasm, Host};

#[test]
fn reconfiguring_defines_no_metric_twice() {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "host-tests-hash-key");
    assert!(host
        .configure(b"")
        .unwrap_or_else(|e| panic!("on_configure trapped: {e}")));
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
