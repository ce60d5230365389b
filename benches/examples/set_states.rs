//! Where the always-on set's determinisation goes, natively: the set's lazy-DFA cache growth
//! (regex-automata's own `memory_usage`) over a warm body then a fresh one of each class, with
//! the whole set, with each pattern left out and each alone; with `blind`, the same for the
//! set blind to digit values (as the filter runs it); with `dense`, what a fully determinised
//! set would weigh (`dfa::dense` and `dfa::sparse`, built and serialized). The set reads whole
//! bodies here, not the gate's windows of each unescaped text, so its figures are relative,
//! not the filter's.
//!
//! `cargo run --release -p airlock-benches --example set_states [KIB] [blind] [dense]`

use airlock_benches::corpus::{chat_body, Class};
use airlock_filter::engine::bench_hooks::scanner::{set_regex, RegexLimits, Scanner};
use regex_automata::dfa::{dense, Automaton, OverlappingState as DfaState};
use regex_automata::hybrid::dfa::{Cache, OverlappingState, DFA};
use regex_automata::{Input, MatchKind};

/// Bytes the lazy DFA's cache grew by over `body`, and the match ends it reported.
fn grow(dfa: &DFA, cache: &mut Cache, body: &[u8]) -> (usize, usize) {
    let before = cache.memory_usage();
    let input = Input::new(body);
    let mut state = OverlappingState::start();
    let mut ends = 0;
    while dfa
        .try_search_overlapping_fwd(cache, &input, &mut state)
        .is_ok()
    {
        if state.get_match().is_none() {
            break;
        }
        ends += 1;
    }
    (cache.memory_usage() - before, ends)
}

fn lazy_growth(patterns: &[&str], kib: usize) -> Vec<(usize, usize)> {
    let dfa = set_regex(patterns, RegexLimits::default()).expect("set");
    Class::ALL
        .into_iter()
        .map(|class| {
            let mut cache = dfa.create_cache();
            grow(&dfa, &mut cache, &chat_body(class, kib << 10, 2));
            grow(&dfa, &mut cache, &chat_body(class, kib << 10, 1))
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kib: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(64);
    let policy = airlock_benches::policies::default_policy();
    let patterns = Scanner::of(&policy).always_on_patterns();
    let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
    for (i, p) in patterns.iter().enumerate() {
        println!("{i:>2} {p}");
    }
    let names: Vec<&str> = Class::ALL.into_iter().map(Class::name).collect();
    println!("cache growth on the fresh body (bytes), by class: {names:?}");
    let all = lazy_growth(&patterns, kib);
    println!("all      {:?}", all.iter().map(|g| g.0).collect::<Vec<_>>());
    for i in 0..patterns.len() {
        let rest: Vec<&str> = (patterns.iter().enumerate())
            .filter(|&(j, _)| j != i)
            .map(|(_, p)| *p)
            .collect();
        let without = lazy_growth(&rest, kib);
        println!(
            "- {i:>2}     {:?}",
            without.iter().map(|g| g.0).collect::<Vec<_>>()
        );
    }
    for (i, p) in patterns.iter().enumerate() {
        let alone = lazy_growth(&[p], kib);
        println!(
            "only {i:>2}  {:?}",
            alone.iter().map(|g| g.0).collect::<Vec<_>>()
        );
    }
    if args.iter().any(|a| a == "blind") {
        let blinded = Scanner::of(&policy).always_on_blind_patterns();
        for (i, p) in blinded.iter().enumerate() {
            println!("blind {i:>2} {p}");
        }
        let all = lazy_growth(&blinded.iter().map(String::as_str).collect::<Vec<_>>(), kib);
        println!("blind    {:?}", all.iter().map(|g| g.0).collect::<Vec<_>>());
        // Match ends per pattern on each class's fresh body: exact, then blind (the blind
        // ones beyond the exact are the checks the scanner pays, before the gate's windows).
        let blind: Vec<&str> = blinded.iter().map(String::as_str).collect();
        for class in Class::ALL {
            let body = chat_body(class, kib << 10, 1);
            let exact = ends_by_pattern(&patterns, &body);
            let wide = ends_by_pattern(&blind, &body);
            println!(
                "{:>12} ends exact {exact:?}\n{:>12} ends blind {wide:?}",
                class.name(),
                ""
            );
        }
    }
    if args.iter().any(|a| a == "dense") {
        let start = std::time::Instant::now();
        let built = dense::Builder::new()
            .syntax(airlock_filter::engine::bench_hooks::scanner::syntax_config())
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .dfa_size_limit(Some(256 << 20))
                    .determinize_size_limit(Some(512 << 20)),
            )
            .build_many(&patterns);
        match built {
            Ok(dfa) => {
                let took = start.elapsed();
                let (bytes, _) = dfa.to_bytes_little_endian();
                let sparse = dfa.to_sparse().expect("sparse");
                let sbytes = sparse.to_bytes_little_endian();
                println!(
                    "dense: built in {took:?}, {} bytes in memory, {} serialized, sparse {} serialized",
                    dfa.memory_usage(),
                    bytes.len(),
                    sbytes.len()
                );
                for class in Class::ALL {
                    let body = chat_body(class, kib << 10, 1);
                    let start = std::time::Instant::now();
                    let ends = dense_ends(&dfa, &body);
                    let dt = start.elapsed();
                    let start = std::time::Instant::now();
                    let sends = dense_ends(&sparse, &body);
                    let st = start.elapsed();
                    println!(
                        "{:>12} dense {ends} ends {dt:?} sparse {sends} {st:?}",
                        class.name()
                    );
                }
            }
            Err(e) => println!("dense: failed after {:?}: {e}", start.elapsed()),
        }
    }
}

fn dense_ends<A: Automaton>(dfa: &A, body: &[u8]) -> usize {
    let input = Input::new(body);
    let mut state = DfaState::start();
    let mut ends = 0;
    while dfa.try_search_overlapping_fwd(&input, &mut state).is_ok() {
        if state.get_match().is_none() {
            break;
        }
        ends += 1;
    }
    ends
}

/// Match ends of each pattern over `body` (all patterns in one set, overlapping).
fn ends_by_pattern(patterns: &[&str], body: &[u8]) -> Vec<usize> {
    let dfa = set_regex(patterns, RegexLimits::default()).expect("set");
    let mut cache = dfa.create_cache();
    let input = Input::new(body);
    let mut state = OverlappingState::start();
    let mut ends = vec![0; patterns.len()];
    while dfa
        .try_search_overlapping_fwd(&mut cache, &input, &mut state)
        .is_ok()
    {
        let Some(m) = state.get_match() else { break };
        ends[m.pattern().as_usize()] += 1;
    }
    ends
}
