//! Native engine throughput with the default policy: every body class at 8 KiB, 64 KiB and 1 MiB;
//! and how throughput scales with 100, 300 and 1000 detectors.
//!
//! `components/<class>/<pass>` times each pass of the engine alone over the JSON strings of a 64 KiB
//! body, to show where `inspect` spends its time.
//!
//! `cargo bench -p airlock-benches --bench engine -- --warm-up-time 1 --measurement-time 3`
use airlock_benches::corpus::{self, Class, SIZES};
use airlock_benches::{policies, request};
use airlock_filter::engine::bench_hooks::fold::{Folded, Folder};
use airlock_filter::engine::bench_hooks::json::{self, Outline};
use airlock_filter::engine::bench_hooks::keywords::Keywords;
use airlock_filter::engine::bench_hooks::scanner::{self, Scanner};
use airlock_filter::engine::bench_hooks::{decode, respell};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use regex_automata::hybrid::dfa::OverlappingState;
use regex_automata::{Input, PatternSet};

const SEED: u64 = 1;

fn classes(c: &mut Criterion) {
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    for class in Class::ALL {
        let mut group = c.benchmark_group(format!("engine/{}", class.name()));
        for size in SIZES {
            let body = corpus::chat_body(class, size, SEED);
            // Sanity: the body is inspected, not refused as too large or malformed.
            let verdict = policy.inspect(&request(&body), &mut scratch);
            assert!(
                verdict.uninspectable.is_none(),
                "{class:?} {size}: {:?}",
                verdict.uninspectable
            );
            group.sample_size(if size >= 1 << 20 { 10 } else { 50 });
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_function(BenchmarkId::from_parameter(corpus::size_label(size)), |b| {
                b.iter(|| policy.inspect(&request(&body), &mut scratch))
            });
        }
        group.finish();
    }
}

/// The realistic classes at 64 KiB, through policies of 100, 300 and 1000 detectors.
fn scaling(c: &mut Criterion) {
    let size = 64 << 10;
    for n in [100usize, 300, 1000] {
        let policy = policies::compile(policies::synthetic(n))
            .unwrap_or_else(|e| panic!("synthetic {n}: {e}"));
        let mut scratch = policy.scratch();
        let mut group = c.benchmark_group(format!("scaling/{n}"));
        group.sample_size(20);
        for class in [
            Class::Prose,
            Class::Code,
            Class::Json,
            Class::Logs,
            Class::Cjk,
        ] {
            let body = corpus::chat_body(class, size, SEED);
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_function(BenchmarkId::from_parameter(class.name()), |b| {
                b.iter(|| policy.inspect(&request(&body), &mut scratch))
            });
        }
        group.finish();
    }
}

/// The JSON strings of `body`, unescaped (nested JSON not followed).
fn leaves(body: &[u8]) -> Vec<Vec<u8>> {
    let mut outline = Outline::default();
    outline.parse(body).expect("corpus bodies are JSON");
    outline
        .strings
        .iter()
        .filter_map(|leaf| {
            let raw = body.get(leaf.raw.range())?;
            let mut text = Vec::new();
            if leaf.has_escapes {
                json::unescape(raw, &mut text);
            } else {
                text.extend_from_slice(raw);
            }
            Some(text)
        })
        .collect()
}

/// Each pass of the engine alone over the strings of a 64 KiB body.
fn components(c: &mut Criterion) {
    let policy = policies::default_policy();
    let scanner = Scanner::of(&policy);
    let doc = &policy.document;
    // The keyword automaton exactly as the compiler builds it: folded keywords and phrases, deduplicated.
    let mut patterns: Vec<Vec<u8>> = doc
        .detectors
        .iter()
        .flat_map(|d| {
            let phrases = d.dictionary.iter().flat_map(|dict| dict.phrases.iter());
            d.keywords
                .iter()
                .chain(phrases)
                .map(|k| k.as_bytes().to_ascii_lowercase())
        })
        .collect();
    patterns.sort();
    patterns.dedup();
    let keywords = Keywords::new(&patterns).expect("keyword automaton");
    let always_on: Vec<&str> = scanner
        .always_on_detectors()
        .iter()
        .filter_map(|&d| doc.detectors.get(usize::from(d))?.regex.as_deref())
        .collect();
    let set = scanner::set_regex(&always_on, scanner::RegexLimits::default()).expect("set regex");
    let folder = Folder::new();
    for class in Class::ALL {
        let body = corpus::chat_body(class, 64 << 10, SEED);
        let texts = leaves(&body);
        let mut group = c.benchmark_group(format!("components/{}", class.name()));
        group.sample_size(20);
        group.throughput(Throughput::Bytes(body.len() as u64));
        let mut scratch = policy.scratch();
        group.bench_function("inspect", |b| {
            b.iter(|| policy.inspect(&request(&body), &mut scratch))
        });
        let mut outline = Outline::default();
        group.bench_function("json-outline", |b| b.iter(|| outline.parse(&body)));
        let mut scan_scratch = scanner.scratch();
        group.bench_function("scanner-scan", |b| {
            b.iter(|| {
                let mut hits = 0usize;
                for t in &texts {
                    scanner.scan(t, &mut scan_scratch, &mut |_| hits += 1);
                }
                hits
            })
        });
        group.bench_function("keyword-automaton", |b| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|t| keywords.find_overlapping(t).count())
                    .sum::<usize>()
            })
        });
        let mut cache = set.create_cache();
        let mut matches = PatternSet::new(always_on.len());
        group.bench_function("always-on-set", |b| {
            b.iter(|| {
                for t in &texts {
                    matches.clear();
                    // As the engine runs it: every match end of every pattern.
                    let mut state = OverlappingState::start();
                    while set
                        .try_search_overlapping_fwd(&mut cache, &Input::new(t), &mut state)
                        .is_ok()
                    {
                        let Some(end) = state.get_match() else { break };
                        matches.insert(end.pattern());
                    }
                }
                matches.len()
            })
        });
        let mut folded = Folded::default();
        group.bench_function("fold", |b| {
            b.iter(|| texts.iter().filter(|t| folder.fold(t, &mut folded)).count())
        });
        group.bench_function("decode-segments", |b| {
            b.iter(|| {
                let mut segments = Vec::new();
                for t in &texts {
                    decode::find_segments(t, &decode::Limits::default(), &mut segments);
                }
                segments.len()
            })
        });
        group.bench_function("respell", |b| {
            b.iter(|| {
                let mut runs = Vec::new();
                for t in &texts {
                    respell::find(t, &mut runs);
                }
                runs.len()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, classes, scaling, components);
criterion_main!(benches);
