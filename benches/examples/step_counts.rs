//! Work per stage of one inspection of each bench body (default policy, no cache): calls and
//! bytes read by each layer and scanner stage (`engine::steps`), and the armed regexes that
//! read the most. Deterministic, so two commits' outputs diff; the counts are the same in wasm.
//!
//! `cargo run --release -p airlock-benches --example step_counts [KIB] [CLASS...]` (`fields`:
//! 1000 short messages).
use airlock_benches::corpus::{self, Class};
use airlock_benches::{policies, request};
use airlock_filter::engine::bench_hooks::scanner::Scanner;
use airlock_filter::engine::bench_hooks::steps::{snapshot, Step};

/// How many regexes to list per class.
const TOP_REGEXES: usize = 8;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kib: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(64);
    let only: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let policy = policies::default_policy();
    let scanner = Scanner::of(&policy);
    let mut scratch = policy.scratch();
    if std::env::var_os("STEP_COUNTS_GATE").is_some() {
        println!(
            "always-on gate (byte, reach): {:?}",
            scanner.always_on_gate()
        );
    }
    let mut bodies: Vec<(String, Vec<u8>)> = Class::ALL
        .into_iter()
        .map(|c| (c.name().to_string(), corpus::chat_body(c, kib << 10, 1)))
        .collect();
    bodies.push(("fields".into(), corpus::short_fields_body(1000)));
    for (name, body) in bodies {
        if !only.is_empty() && !only.contains(&name.as_str()) {
            continue;
        }
        // A warm-up request of the same body compiles the regexes it needs.
        policy.inspect(&request(&body), &mut scratch);
        let before = snapshot();
        policy.inspect(&request(&body), &mut scratch);
        let counts = snapshot().since(&before);
        println!("{name} ({} bytes of body)", body.len());
        for (step, (calls, bytes)) in Step::ALL.iter().zip(&counts.steps) {
            if *calls > 0 {
                println!("  {:<18} {calls:>8} calls {bytes:>9} bytes", step.name());
            }
        }
        let mut regexes: Vec<(usize, (u64, u64))> = counts
            .regexes
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, (calls, _))| *calls > 0)
            .collect();
        regexes.sort_unstable_by_key(|&(_, (calls, bytes))| std::cmp::Reverse((bytes, calls)));
        for (index, (calls, bytes)) in regexes.into_iter().take(TOP_REGEXES) {
            let id = scanner
                .regex_detector(index)
                .and_then(|d| policy.detector(d))
                .map_or("?", |d| d.id.as_str());
            println!("    regex {id:<34} {calls:>6} searches {bytes:>9} bytes");
        }
    }
}
