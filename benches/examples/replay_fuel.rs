//! What a re-sent conversation costs in the compiled filter, counted in wasm instructions.
//!
//! Replays the agent sessions of `benches/src/conversation.rs` through the real `.wasm` in the
//! host-tests harness (wasmtime with fuel metering), one caller per session as in
//! `benches/envoy-replay.sh`, with the cache at its default budget and with `cache.max_bytes: 0`,
//! and prints the fuel (instructions) the request-body callbacks took: per session, the total
//! and the last turn, uncached ÷ cached. Fuel counts the work inside the VM, not the host's
//! copies of the body in and out, and it does not move with the machine's load, so two builds
//! compare exactly (`AIRLOCK_WASM=path` picks the module).
//!
//! Usage: `cargo run --release -p airlock-benches --example replay_fuel [SESSIONS]`
//! (`SESSIONS`: `agent` (default) or `chat`). `REPLAY_FUEL_TURNS=1` prints every turn's fuel,
//! `REPLAY_FUEL_CACHED_ONLY=1` runs only the cached replays (for `perf` with
//! `AIRLOCK_HARNESS_PROFILER=perfmap`), `REPLAY_FUEL_DEBUG=1` prints each request's actions.

use airlock_benches::conversation::{self, Plan, Shape};
use airlock_host_tests::{filter_wasm, Host};

/// Fuel each callback may take (far more than any request needs).
const BUDGET: u64 = u64::MAX / 4;

fn host(config: &[u8]) -> Host {
    let path = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let mut host = Host::load(path).unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    host.set_fuel_per_call(BUDGET);
    // A block reply's own callbacks would be the last call counted: keep them out.
    host.set_local_reply_through_filter(false);
    assert!(host
        .configure(config)
        .unwrap_or_else(|e| panic!("configure: {e:?}")));
    host
}

/// The fuel of each turn's request-body callback (the inspection and what surrounds it).
fn replay(config: &[u8], shape: Shape, plan: &Plan) -> Vec<u64> {
    let mut host = host(config);
    let (authority, path) = shape.host_path();
    let caller = format!("Bearer sk-replay-{}", plan.seed);
    let mut fuel = Vec::new();
    for (i, turn) in conversation::session(plan).iter().enumerate() {
        let headers = [
            (":method", "POST".to_string()),
            (":path", path.to_string()),
            (":authority", authority.to_string()),
            ("content-type", "application/json".to_string()),
            ("content-length", turn.body.len().to_string()),
            ("x-request-id", format!("replay-{i}")),
            ("authorization", caller.clone()),
        ];
        let mut stream = host.new_stream().unwrap_or_else(|e| panic!("{e:?}"));
        let a = stream
            .request_headers(&headers, false)
            .unwrap_or_else(|e| panic!("{e:?}"));
        let b = stream
            .request_body(&turn.body, true)
            .unwrap_or_else(|e| panic!("the filter trapped: {e:?}"));
        if std::env::var_os("REPLAY_FUEL_DEBUG").is_some() {
            eprintln!(
                "{i} {} {a:?} {b:?} {:?}",
                turn.body.len(),
                stream.local_response().map(|r| r.status)
            );
        }
        drop(stream);
        fuel.push(BUDGET - host.fuel_left().unwrap_or(BUDGET));
    }
    fuel
}

fn main() {
    let chat = std::env::args().nth(1).as_deref() == Some("chat");
    let uncached = br#"{"airlock_config": 1, "cache": {"max_bytes": 0}}"#;
    println!("session | uncached total | cached total | uncached / cached | last turn uncached / cached (fuel)");
    for (seed, shape) in (1..).zip(Shape::ALL) {
        let plan = if chat {
            Plan::chat(shape, seed)
        } else {
            Plan::agent(shape, seed)
        };
        // `REPLAY_FUEL_CACHED_ONLY=1`: the cached replays alone (for `perf`).
        let cold = match std::env::var_os("REPLAY_FUEL_CACHED_ONLY") {
            Some(_) => Vec::new(),
            None => replay(uncached, shape, &plan),
        };
        let warm = replay(b"", shape, &plan);
        let (a, b): (u64, u64) = (cold.iter().sum(), warm.iter().sum());
        println!(
            "{} | {a} | {b} | {:.2}x | {} / {}",
            shape.name(),
            a as f64 / b as f64,
            cold.last().unwrap_or(&0),
            warm.last().unwrap_or(&0),
        );
        if std::env::var_os("REPLAY_FUEL_TURNS").is_some() {
            for (i, (c, w)) in cold.iter().zip(&warm).enumerate() {
                println!("  turn {i}: {c} / {w}");
            }
        }
    }
}
