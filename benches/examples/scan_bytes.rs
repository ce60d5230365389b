//! Bytes handed to the scanner by one inspection of each 64 KiB bench body (default policy), by
//! where the text came from: the field as written, its fold, each layer's runs, deciphered runs,
//! joined windows. Shows where the rescans are; deterministic, so two commits' outputs diff.
//!
//! `cargo run --release -p airlock-benches --example scan_bytes [SIZE_KIB]`
use airlock_benches::corpus::{self, Class};
use airlock_benches::{policies, request};
use airlock_filter::engine::bench_hooks::tally::{Pass, ScanTally};

fn main() {
    let kib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    for class in Class::ALL {
        let body = corpus::chat_body(class, kib << 10, 1);
        let before = scratch.scan_tally();
        policy.inspect(&request(&body), &mut scratch);
        let tally = scratch.scan_tally().since(&before);
        println!(
            "{} ({} bytes of body): {} bytes scanned, {:.2} per body byte",
            class.name(),
            body.len(),
            tally.total_bytes(),
            tally.total_bytes() as f64 / body.len() as f64
        );
        for source in ScanTally::sources() {
            for pass in [Pass::Plain, Pass::Folded] {
                let (calls, bytes) = tally.get(source, pass);
                if calls > 0 {
                    let pass = if pass == Pass::Plain { "" } else { " (folded)" };
                    println!(
                        "  {:<24} {calls:>7} scans {bytes:>9} bytes",
                        format!("{}{pass}", source.as_str())
                    );
                }
            }
        }
    }
}
