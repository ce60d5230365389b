//! Fuel between probes: with a module built with the filter's `fuel-probes` feature, each
//! tagged stage boundary is a `proxy_log` call; this sums, per pair of consecutive tags,
//! the wasm instructions spent between them over one warm request (uncached VM, default
//! policy). `AIRLOCK_WASM=probe.wasm cargo run --release -p airlock-benches --example
//! scan_probes [fields|CLASS] [KIB]`.

use airlock_benches::corpus::{chat_body, short_fields_body, Class};
use airlock_benches::fresh_vm::{request_fuel, uncached_vm};
use airlock_benches::probe_pairs;

fn main() {
    std::env::set_var("AIRLOCK_HARNESS_FUEL", "on");
    airlock_benches::harness_defaults();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("fields", String::as_str);
    let kib: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let (warm, body) = match Class::ALL.into_iter().find(|c| c.name() == which) {
        Some(class) => (
            chat_body(class, kib << 10, 2),
            chat_body(class, kib << 10, 1),
        ),
        None => (short_fields_body(1000), short_fields_body(1000)),
    };
    let mut host = uncached_vm();
    request_fuel(&mut host, &warm);
    let extra: u64 = std::env::var("PROBE_WARM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if let Some(class) = Class::ALL.into_iter().find(|c| c.name() == which) {
        for seed in 0..extra {
            request_fuel(&mut host, &chat_body(class, kib << 10, 100 + seed));
        }
    }
    if std::env::var_os("PROBE_AGAIN").is_some() {
        request_fuel(&mut host, &body);
    }
    host.clear_logs();
    host.trace_calls();
    let total = request_fuel_keep_logs(&mut host, &body);
    let mut pairs = probe_pairs::Pairs::new();
    probe_pairs::add(&mut pairs, &mut host, 12);
    println!("{which}: {} bytes, {total} instructions", body.len());
    for ((from, to), (n, fuel)) in pairs {
        println!(
            "{from:>12} -> {to:<12} {n:>7} x {:>9.1} = {fuel:>11}",
            fuel as f64 / n as f64
        );
    }
}

/// [`request_fuel`] without clearing the module's log lines (the tags).
fn request_fuel_keep_logs(host: &mut airlock_host_tests::Host, body: &[u8]) -> u64 {
    let before = host.fuel_used();
    let headers = airlock_benches::headers(body.len());
    airlock_host_tests::send_request(host, &headers, &[body], None)
        .unwrap_or_else(|e| panic!("request: {e:?}"));
    host.fuel_used() - before
}
