//! Prints one corpus body, or (with `--stats`) a table of every class: size, findings, which
//! detectors fired, how many regexes the text arms.
//!
//! `cargo run --release -p airlock-benches --example corpus -- prose 8192 [seed]`
//! `cargo run --release -p airlock-benches --example corpus -- --stats`
use airlock_benches::corpus::{self, Class, SIZES};
use airlock_benches::{policies, request};
use airlock_filter::engine::bench_hooks::scanner::Scanner;
use std::collections::BTreeMap;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--stats") {
        return stats();
    }
    let body = corpus::body_from_args(&args).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::io::stdout().write_all(&body);
}

fn stats() {
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    let scanner = Scanner::of(&policy);
    println!(
        "default policy: {} detectors, {} keyword-automaton patterns ({:?}), {} regexes anchored at their keywords, {} always-on regexes, automata {} KiB",
        policy.detectors.len(),
        scanner.keyword_count(),
        scanner.keyword_automaton_kind(),
        scanner.anchored_detector_count(),
        scanner.always_on_detectors().len(),
        scanner.automata_heap_bytes() >> 10
    );
    println!();
    println!("| class | size | bytes | findings | per 64 KiB | regexes armed (whole body) | decision | detectors found |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |");
    for class in Class::ALL {
        for size in SIZES {
            let body = corpus::chat_body(class, size, 1);
            let verdict = policy.inspect(&request(&body), &mut scratch);
            let mut by_detector: BTreeMap<&str, usize> = BTreeMap::new();
            for f in &verdict.findings {
                let id = policy.detector(f.detector).map_or("?", |d| d.id.as_str());
                *by_detector.entry(id).or_default() += 1;
            }
            let found: Vec<String> = by_detector
                .iter()
                .map(|(id, n)| format!("{id}×{n}"))
                .collect();
            let armed = scanner.armed_detectors(&body).len();
            println!(
                "| {} | {} | {} | {} | {:.1} | {} | {} | {} |",
                class.name(),
                corpus::size_label(size),
                body.len(),
                verdict.findings.len(),
                verdict.findings.len() as f64 * 65536.0 / body.len() as f64,
                armed,
                verdict.decision.as_str(),
                found.join(", ")
            );
        }
    }
    println!();
    println!(
        "scratch lazy-DFA caches after the corpus: {} KiB",
        Scanner::scratch_heap_bytes(&scratch) >> 10
    );
}
