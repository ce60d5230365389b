//! Regression guard (no wall clock): the corpus never pushes a detector regex off the lazy DFA.
//!
//! regex-automata's `meta::Regex` falls back to the PikeVM or the bounded backtracker — one to
//! three orders of magnitude slower — when its lazy DFA gives up (too many cache clears with too
//! few bytes per state) or quits (a Unicode word boundary on non-ASCII input), and it does not say
//! so. This test rebuilds each detector regex as a `hybrid::regex::Regex` with the engine's syntax
//! (`scanner::syntax_config()`: ASCII, not UTF-8), the engine's cache capacity and the settings the
//! meta engine gives its lazy DFA (`minimum_cache_clear_count(3)`, `minimum_bytes_per_state(10)`),
//! then runs `try_search` exactly where the engine runs the meta regex: every text the engine scans
//! (each JSON string, nested JSON, the folded form, decoded base64/percent/hex runs, a few layers
//! deep), for every regex that text arms. It asserts:
//!
//! - no search returns `MatchError` (gave up or quit), for the forward or the reverse lazy DFA;
//! - per regex, lazy-DFA cache clears over the whole corpus stay under [`MAX_CLEARS_PER_REGEX`];
//! - the hybrid regexes find the same matches as the engine's meta regexes (so the guard checks the
//!   automata the engine really runs);
//! - the always-on set (detectors without keywords), as a multi-pattern lazy DFA with the set's
//!   cache capacity, never gives up, stays under its clear bound, and reports exactly the patterns
//!   whose own regex matches (and what the engine's meta set reports).
//!
//! - the always-on set is gated on rare bytes (it does not read every byte).
//!
//! Runs in a debug build in about a minute on two cores; `--release` is much faster.
use airlock_benches::corpus::{self, Class};
use airlock_benches::policies;
use airlock_filter::engine::bench_hooks::decode;
use airlock_filter::engine::bench_hooks::fold::{Folded, Folder};
use airlock_filter::engine::bench_hooks::json::{self, Outline};
use airlock_filter::engine::bench_hooks::scanner::{self, DetectorIndex, RegexLimits, Scanner};
use airlock_filter::Policy;
use regex_automata::hybrid;
use regex_automata::{Input, MatchKind, PatternSet};
use std::collections::BTreeMap;

/// How deep the engine decodes encoded runs.
const MAX_DECODE_DEPTH: usize = decode::MAX_DECODE_DEPTH;
/// How deep the engine follows JSON nested in strings (`engine::MAX_EMBEDDED_DEPTH`).
const MAX_EMBEDDED_DEPTH: usize = airlock_filter::engine::MAX_EMBEDDED_DEPTH;
/// Lazy-DFA cache clears allowed per regex over the whole corpus (forward + reverse).
const MAX_CLEARS_PER_REGEX: usize = 2;
/// Cache clears allowed for the always-on set over the whole corpus.
const MAX_SET_CLEARS: usize = 2;
/// Body size per class: large enough to fill lazy-DFA caches, small enough for a debug build.
const SIZE: usize = 64 << 10;

/// The lazy-DFA configuration the meta engine uses, with the engine's cache capacity.
fn dfa_config(kind: MatchKind, cache_bytes: usize) -> hybrid::dfa::Config {
    hybrid::dfa::Config::new()
        .match_kind(kind)
        .starts_for_each_pattern(true)
        .unicode_word_boundary(true)
        .cache_capacity(cache_bytes)
        .skip_cache_capacity_check(false)
        .minimum_cache_clear_count(Some(3))
        .minimum_bytes_per_state(Some(10))
}

fn hybrid_regex(pattern: &str, limits: RegexLimits) -> hybrid::regex::Regex {
    hybrid::regex::Builder::new()
        .syntax(scanner::syntax_config())
        .thompson(
            regex_automata::nfa::thompson::Config::new().nfa_size_limit(Some(limits.nfa_bytes)),
        )
        .dfa(dfa_config(MatchKind::LeftmostFirst, limits.cache_bytes))
        .build(pattern)
        .unwrap_or_else(|e| {
            panic!("lazy DFA for {pattern:?} does not build with the engine's cache capacity: {e}")
        })
}

/// Every text the engine scans in `body`: JSON strings (nested JSON followed), the concatenation of
/// all of them (joined matching across fields), and for each, its folded form and its decoded runs.
fn scanned_texts(body: &[u8], folder: &Folder) -> Vec<Vec<u8>> {
    let mut leaves = Vec::new();
    json_leaves(body, 0, &mut leaves);
    let joined: Vec<u8> = leaves.join(&b"\n"[..]);
    leaves.push(joined);
    let mut out = Vec::new();
    for leaf in leaves {
        layers(leaf, 0, folder, &mut out);
    }
    out
}

fn json_leaves(doc: &[u8], depth: usize, out: &mut Vec<Vec<u8>>) {
    let mut outline = Outline::default();
    if outline.parse(doc).is_err() {
        out.push(doc.to_vec());
        return;
    }
    for leaf in &outline.strings {
        let Some(raw) = doc.get(leaf.raw.range()) else {
            continue;
        };
        let mut text = Vec::new();
        if leaf.has_escapes {
            json::unescape(raw, &mut text);
        } else {
            text.extend_from_slice(raw);
        }
        if !leaf.is_key && depth < MAX_EMBEDDED_DEPTH && json::looks_like_json(&text) {
            let mut nested = Outline::default();
            if nested.parse(&text).is_ok() {
                json_leaves(&text, depth + 1, out);
                continue;
            }
        }
        out.push(text);
    }
}

fn layers(text: Vec<u8>, depth: usize, folder: &Folder, out: &mut Vec<Vec<u8>>) {
    if text.is_empty() {
        return;
    }
    let mut folded = Folded::default();
    if folder.fold(&text, &mut folded) {
        out.push(folded.text().to_vec());
    }
    if depth < MAX_DECODE_DEPTH {
        let mut segments = Vec::new();
        decode::find_segments(&text, &decode::Limits::default(), &mut segments);
        for segment in segments {
            layers(segment.text, depth + 1, folder, out);
        }
    }
    out.push(text);
}

struct Guarded {
    id: String,
    pattern: String,
    meta: regex_automata::meta::Regex,
    hybrid: hybrid::regex::Regex,
    cache: hybrid::regex::Cache,
    meta_cache: regex_automata::meta::Cache,
    searches: usize,
    bytes: usize,
}

/// Non-overlapping matches the way `Scanner::run_regex` walks them; `Err` if the lazy DFA failed.
fn hybrid_matches(
    g: &mut Guarded,
    text: &[u8],
) -> Result<Vec<(usize, usize)>, regex_automata::MatchError> {
    let mut at = 0;
    let mut out = Vec::new();
    while at <= text.len() {
        g.searches += 1;
        g.bytes += text.len() - at;
        let input = Input::new(text).range(at..);
        let Some(m) = g.hybrid.try_search(&mut g.cache, &input)? else {
            break;
        };
        out.push((m.start(), m.end()));
        at = m.end().max(m.start() + 1);
    }
    Ok(out)
}

fn meta_matches(g: &mut Guarded, text: &[u8]) -> Vec<(usize, usize)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at <= text.len() {
        let input = Input::new(text).range(at..);
        let Some(m) = g.meta.search_with(&mut g.meta_cache, &input) else {
            break;
        };
        out.push((m.start(), m.end()));
        at = m.end().max(m.start() + 1);
    }
    out
}

fn corpus_texts(policy_normalizer: &Folder) -> Vec<(Class, Vec<Vec<u8>>)> {
    Class::ALL
        .iter()
        .map(|&class| {
            (
                class,
                scanned_texts(&corpus::chat_body(class, SIZE, 3), policy_normalizer),
            )
        })
        .collect()
}

fn regex_detectors(policy: &Policy, limits: RegexLimits) -> BTreeMap<DetectorIndex, Guarded> {
    let mut out = BTreeMap::new();
    for (i, d) in policy.document.detectors.iter().enumerate() {
        let Some(pattern) = &d.regex else { continue };
        let index = DetectorIndex::try_from(i).expect("detector index");
        let hybrid = hybrid_regex(pattern, limits);
        let meta = scanner::compile_regex(pattern, limits).expect("engine regex compiles");
        out.insert(
            index,
            Guarded {
                id: d.id.clone(),
                pattern: pattern.clone(),
                cache: hybrid.create_cache(),
                meta_cache: meta.create_cache(),
                hybrid,
                meta,
                searches: 0,
                bytes: 0,
            },
        );
    }
    out
}

#[test]
fn detector_regexes_stay_on_the_lazy_dfa() {
    let policy = policies::default_policy();
    let scanner = Scanner::of(&policy);
    let limits = RegexLimits::default();
    let mut guarded = regex_detectors(&policy, limits);
    let folder = Folder::new();
    let mut failures = Vec::new();
    let mut runs = 0usize;
    for (class, texts) in corpus_texts(&folder) {
        for text in &texts {
            for detector in scanner.armed_detectors(text) {
                let Some(g) = guarded.get_mut(&detector) else {
                    continue;
                };
                runs += 1;
                match hybrid_matches(g, text) {
                    Err(e) => failures.push(format!("{} on {class:?}: lazy DFA failed: {e}", g.id)),
                    Ok(found) => {
                        let expected = meta_matches(g, text);
                        assert_eq!(
                            found, expected,
                            "{}: hybrid and meta disagree on {class:?}",
                            g.id
                        );
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} searches left the lazy DFA:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(runs > 1000, "the corpus armed only {runs} regex runs");
    let mut worst: Vec<(usize, &Guarded)> = guarded
        .values_mut()
        .map(|g| {
            let (fwd, rev) = g.cache.as_parts();
            (fwd.clear_count() + rev.clear_count(), &*g)
        })
        .collect();
    worst.sort_by_key(|(clears, _)| std::cmp::Reverse(*clears));
    for (clears, g) in worst.iter().take(5) {
        eprintln!(
            "{clears} clears: {} ({} searches, {} KiB) {}",
            g.id,
            g.searches,
            g.bytes >> 10,
            g.pattern
        );
    }
    let over: Vec<String> = worst
        .iter()
        .filter(|(clears, _)| *clears > MAX_CLEARS_PER_REGEX)
        .map(|(clears, g)| format!("{}: {clears} cache clears", g.id))
        .collect();
    assert!(
        over.is_empty(),
        "lazy-DFA caches thrash (limit {MAX_CLEARS_PER_REGEX}):\n{}",
        over.join("\n")
    );
}

#[test]
fn always_on_set_stays_on_the_lazy_dfa_and_agrees() {
    let policy = policies::default_policy();
    let scanner = Scanner::of(&policy);
    let limits = RegexLimits::default();
    let always_on = scanner.always_on_detectors();
    assert!(
        always_on.len() > 1,
        "expected an always-on set, got {always_on:?}"
    );
    let patterns: Vec<&str> = always_on
        .iter()
        .map(|&d| {
            policy.document.detectors[usize::from(d)]
                .regex
                .as_deref()
                .expect("regex detector")
        })
        .collect();
    // The set exactly as the engine builds it (since the engine runs the lazy DFA directly).
    let set = scanner::set_regex(&patterns, limits).unwrap_or_else(|e| {
        panic!("the always-on set does not build with the set's cache capacity: {e}")
    });
    let mut cache = set.create_cache();
    let mut singles: Vec<(hybrid::regex::Regex, hybrid::regex::Cache)> = patterns
        .iter()
        .map(|p| {
            let r = hybrid_regex(p, limits);
            let c = r.create_cache();
            (r, c)
        })
        .collect();
    let folder = Folder::new();
    let mut matches = PatternSet::new(patterns.len());
    let mut texts_with_hits = 0;
    for (class, texts) in corpus_texts(&folder) {
        for text in &texts {
            matches.clear();
            set.try_which_overlapping_matches(&mut cache, &Input::new(text), &mut matches)
                .unwrap_or_else(|e| {
                    panic!("the always-on set left the lazy DFA on {class:?}: {e}")
                });
            let from_set: Vec<DetectorIndex> =
                matches.iter().map(|p| always_on[p.as_usize()]).collect();
            let mut from_singles: Vec<DetectorIndex> = Vec::new();
            for ((regex, single_cache), &d) in singles.iter_mut().zip(&always_on) {
                if regex
                    .try_search(single_cache, &Input::new(text))
                    .expect("single regex")
                    .is_some()
                {
                    from_singles.push(d);
                }
            }
            assert_eq!(
                from_set, from_singles,
                "the set and its patterns disagree on a {class:?} text"
            );
            let from_engine: Vec<DetectorIndex> = scanner
                .armed_detectors(text)
                .into_iter()
                .filter(|d| always_on.contains(d))
                .collect();
            let mut sorted = from_set.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted, from_engine,
                "the engine's set and the guard's disagree on a {class:?} text"
            );
            texts_with_hits += usize::from(!from_set.is_empty());
        }
    }
    assert!(
        texts_with_hits > 10,
        "the corpus hardly exercises the always-on set ({texts_with_hits} texts)"
    );
    eprintln!(
        "always-on set: {} patterns, {} cache clears, cache {} KiB",
        patterns.len(),
        cache.clear_count(),
        cache.memory_usage() >> 10
    );
    assert!(
        cache.clear_count() <= MAX_SET_CLEARS,
        "the always-on set's cache was cleared {} times",
        cache.clear_count()
    );
}

/// The engine's own always-on set, through whole inspections of the corpus: its lazy-DFA cache
/// (regex-automata's counter) stays under the bound, so it never gives up and arms every
/// always-on regex over the whole text.
#[test]
fn the_engines_always_on_set_does_not_thrash_on_the_corpus() {
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    for class in Class::ALL {
        for size in [8 << 10, SIZE] {
            let body = corpus::chat_body(class, size, 1);
            let verdict = policy.inspect(&airlock_benches::request(&body), &mut scratch);
            assert!(verdict.uninspectable.is_none(), "{class:?}");
        }
    }
    let clears = Scanner::set_cache_clears(&scratch);
    eprintln!("engine always-on set: {clears} cache clears over the corpus");
    assert!(
        clears <= MAX_SET_CLEARS,
        "the engine's always-on set cache was cleared {clears} times"
    );
}

/// Every regex of the default policy and of a 1000-detector policy has a lazy DFA within the engine's
/// cache capacity (otherwise the meta engine silently never uses one), and so does each always-on set.
#[test]
fn lazy_dfas_build_within_capacity() {
    let limits = RegexLimits::default();
    for doc in [policies::default_value(), policies::synthetic(1000)] {
        let policy = policies::compile(doc).expect("policy compiles");
        let mut always_on = Vec::new();
        for d in &policy.document.detectors {
            let Some(pattern) = &d.regex else { continue };
            hybrid_regex(pattern, limits);
            if d.keywords.is_empty() {
                always_on.push(pattern.as_str());
            }
        }
        scanner::set_regex(&always_on, limits).unwrap_or_else(|e| {
            panic!(
                "{}: always-on set of {}: {e}",
                policy.info.name,
                always_on.len()
            )
        });
    }
}

/// The default policy's always-on set reads only around rare bytes (digits, `+`, `:` ...), never
/// every byte: a keyword-less detector whose matches need no rare byte would silently make the
/// set read all text again.
#[test]
fn the_always_on_set_is_gated_on_rare_bytes() {
    let policy = policies::default_policy();
    let gate = Scanner::of(&policy)
        .always_on_gate()
        .expect("every always-on detector of the default policy has required bytes");
    let gated: String = gate.iter().map(|&(b, _)| char::from(b)).collect();
    eprintln!("always-on gate: {gate:?}");
    assert!(
        !gate
            .iter()
            .any(|&(b, _)| b.is_ascii_lowercase() || b == b' '),
        "the gate opens on common bytes: {gated:?}"
    );
}

/// A re-sent conversation pays for its new fields only, as counts (not timing): with the
/// cache, every field a turn shares with the previous request is a hit, and the fields the
/// turn inspects (misses) are no more than its new items hold on their own. Resumed after the
/// items it shares with the previous request (the default), a turn skips every item the
/// previous one held (`resumed_items` grows each turn) and inspects the same new fields.
#[test]
fn a_re_sent_conversation_inspects_only_its_new_fields() {
    use airlock_benches::conversation::{self, Plan, Shape};
    let policy = policies::default_policy();
    for shape in Shape::ALL {
        let plan = Plan {
            turns: 12,
            turn_bytes: 4 << 10,
            ..Plan::agent(shape, 3)
        };
        let mut scratch = policy.scratch();
        scratch.set_cache_resume(false);
        let mut resuming = policy.scratch();
        let (mut previous, mut previous_windows, mut spliced) = (0, 0, 0);
        let mut previous_items = 0;
        for (t, turn) in conversation::session(&plan).iter().enumerate() {
            let (host, path) = shape.host_path();
            let request = |body| airlock_filter::Request {
                host,
                path,
                content_type: Some("application/json"),
                content_encoding: None,
                body,
                caller: Some(b"caller".as_slice()),
            };
            let used = policy.inspect(&request(&turn.body), &mut scratch).cache;
            let resumed = policy.inspect(&request(&turn.body), &mut resuming).cache;
            let alone = policy
                .inspect(&request(&turn.fresh), &mut policy.scratch())
                .cache;
            let what = format!(
                "{} turn {t}: {used:?}, new items alone {alone:?}",
                shape.name()
            );
            assert!(
                used.hits >= previous,
                "{what}: a field of the previous request was inspected again"
            );
            assert!(
                used.misses <= alone.misses,
                "{what}: more fields inspected than the turn added"
            );
            assert!(t == 0 || used.hits > 0, "{what}");
            // Joined matching too: every window of the previous request is a hit but those
            // across the edge where the new items went in (at most 3 per scope, with a field
            // such as `instructions` after the conversation); the new ones are the new items'.
            assert!(used.window_hits + 6 >= previous_windows, "{what}");
            assert!(used.window_misses <= alone.window_misses + 6, "{what}");
            assert!(
                t < 2 || used.window_hits > 0,
                "{what}: no joined windows were cached"
            );
            previous = used.hits + used.misses;
            previous_windows = used.window_hits + used.window_misses;
            // A cached string's masks are spliced into it as written (no escape pass) only
            // when it was served from the cache.
            assert!(used.spliced <= used.hits, "{what}");
            spliced += used.spliced;
            let what = format!("{what}, resumed {resumed:?}");
            assert_eq!(
                (resumed.misses, resumed.window_misses),
                (used.misses, used.window_misses),
                "{what}"
            );
            assert!(
                t == 0 || resumed.resumed_items > previous_items,
                "{what}: the previous request's items were not all resumed past"
            );
            assert!(resumed.hits < used.hits || t == 0, "{what}");
            previous_items = resumed.resumed_items;
        }
        assert!(
            spliced > 0,
            "{}: no cached string had its masks spliced as written",
            shape.name()
        );
    }
}

/// The layers do not rescan the text they came from, as counts (not timing): the bytes an
/// inspection of each 64 KiB corpus body hands to the scanner (the field, its fold, every run a
/// layer emits, deciphered runs, joined windows; `engine::walk::tally`) stay within a few times
/// the body. Realistic text (prose, code, logs) is read about once; JSON adds its joined
/// windows, CJK and the adversarial classes their folds and runs (figures of 2026-12-06:
/// prose 1.07, code 1.03, logs 1.14, json 1.68, cjk 2.07, adv-keywords 2.27 per body byte).
#[test]
fn the_layers_do_not_rescan_what_they_came_from() {
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    for class in Class::ALL {
        let body = corpus::chat_body(class, 64 << 10, 1);
        let before = scratch.scan_tally();
        policy.inspect(&airlock_benches::request(&body), &mut scratch);
        let scanned = scratch.scan_tally().since(&before).total_bytes() as f64;
        let per_byte = scanned / body.len() as f64;
        let bound = match class {
            Class::Prose | Class::Code | Class::Logs => 1.3,
            _ => 2.6,
        };
        assert!(
            per_byte <= bound,
            "{}: {per_byte:.2} bytes scanned per body byte (bound {bound})",
            class.name()
        );
        assert!(
            per_byte >= 0.5,
            "{}: the body was not scanned",
            class.name()
        );
    }
}
