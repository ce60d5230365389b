//! What fresh bytes cost in the compiled filter, counted in wasm instructions (wasmtime fuel):
//! one request per bench class and size through the real `.wasm`, default policy, the
//! inspection cache off (`cache.max_bytes: 0`, so every byte is new). Fuel does not move with
//! the machine's load, so two builds compare exactly on a shared machine (`AIRLOCK_WASM=path`
//! picks the module); it does not see memory stalls, which the timed `wasm` bench does.
//!
//! Each class gets its own VM and one warm-up request of another seed first, so the count is a
//! warm VM's (lazy DFA states and scratch buffers already grown), as in steady traffic.
//!
//! Usage: build the `.wasm` (`cargo build --release --target wasm32-wasip1 -p airlock-filter`),
//! then `AIRLOCK_HARNESS_FUEL=on cargo run --release -p airlock-benches --example fresh_fuel [KIB...]`
//! (default 64). Prints `class kib instructions instructions-per-byte`. For `perf` on the
//! wasm (`AIRLOCK_HARNESS_FUEL=off AIRLOCK_HARNESS_PROFILER=perfmap`), `FRESH_FUEL_REPEAT=N`
//! sends each measured body N times (and prints the fastest request's time and MB/s, then the
//! first one's time) and
//! `FRESH_FUEL_CLASS=name` keeps one class.
//! `FRESH_FUEL_AGAIN=1` also counts the same body sent a second time (lazy DFAs fully warm).
//! `FRESH_FUEL_FIELDS=N` adds a row `fields-N`: N messages of a few words each, whose
//! instructions per field are what one short field costs beyond its bytes.

use airlock_benches::corpus::{chat_body, Class};
use airlock_benches::fresh_vm::{request_fuel, uncached_vm as vm};

fn main() {
    if std::env::var_os("AIRLOCK_HARNESS_FUEL").is_none() {
        std::env::set_var("AIRLOCK_HARNESS_FUEL", "on");
    }
    airlock_benches::harness_defaults();
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() { vec![64] } else { sizes };
    let repeat: usize = std::env::var("FRESH_FUEL_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let only = std::env::var("FRESH_FUEL_CLASS").ok();
    println!("class kib instructions per-byte");
    if let Some(n) = std::env::var("FRESH_FUEL_FIELDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let body = airlock_benches::corpus::short_fields_body(n);
        let mut host = vm();
        request_fuel(&mut host, &body);
        let fuel = request_fuel(&mut host, &body);
        println!(
            "fields-{n} {} {fuel} {:.1} ({} per field)",
            body.len() >> 10,
            fuel as f64 / body.len() as f64,
            fuel / n.max(1) as u64
        );
    }
    for kib in sizes {
        for class in Class::ALL {
            if only.as_deref().is_some_and(|name| name != class.name()) {
                continue;
            }
            let mut host = vm();
            request_fuel(&mut host, &chat_body(class, kib << 10, 2));
            let body = chat_body(class, kib << 10, 1);
            let first_start = std::time::Instant::now();
            let fuel = request_fuel(&mut host, &body);
            let first = first_start.elapsed();
            // The same body again: what a VM whose lazy DFAs already hold every state it needs
            // pays, so that the first count's share of determinisation shows.
            let again = std::env::var_os("FRESH_FUEL_AGAIN").map_or(String::new(), |_| {
                format!(" again {}", request_fuel(&mut host, &body))
            });
            // The fastest of the repeats, timed (meaningful with `AIRLOCK_HARNESS_FUEL=off`).
            let fastest = (1..repeat)
                .map(|_| {
                    let start = std::time::Instant::now();
                    request_fuel(&mut host, &body);
                    start.elapsed()
                })
                .min();
            // With repeats, also the first request's time: the one the count is of.
            let timed = fastest.map_or(String::new(), |t| {
                let mb_s = body.len() as f64 / t.as_secs_f64() / 1e6;
                let first_us = first.as_secs_f64() * 1e6;
                format!(
                    " {:.0} us {mb_s:.0} MB/s first {first_us:.0} us",
                    t.as_secs_f64() * 1e6
                )
            });
            println!(
                "{} {kib} {fuel} {:.1}{again}{timed}",
                class.name(),
                fuel as f64 / body.len() as f64
            );
        }
    }
}
