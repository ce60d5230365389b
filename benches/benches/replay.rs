//! Conversation replay: what a re-sent conversation costs with and without the inspection cache.
//!
//! For each session (50-turn coding-agent sessions growing to about 400 KB in the OpenAI chat,
//! OpenAI Responses and Anthropic shapes, and a chat of 50 short turns), natively, default policy:
//!
//! - **cached**: each turn's whole request, inspected with the cache the earlier turns filled;
//! - **new bytes alone**: a request holding only that turn's new items (plus system prompt and
//!   tools), inspected without the cache: what the turn would cost if only its new text were read;
//! - **uncached**: each turn's whole request without the cache (today's cost).
//!
//! Every figure is the median of `REPLAYS` replays within this run (the cache emptied between
//! replays, the regex caches kept warm), so the ratios compare like with like on a noisy machine.
//! `cargo bench -p airlock-benches --bench replay` prints a Markdown table for `RESULTS.md`.
//! With `REPLAY_CACHED_ONLY=1` only the cached replays run (a profile of the warm requests:
//! `perf record` the bench binary); with `REPLAY_NO_RESUME=1` the cache does not resume
//! re-sent conversations (`Scratch::set_cache_resume`), to compare.

use airlock_benches::conversation::{self, Plan, Shape, Turn};
use airlock_benches::policies;
use airlock_filter::{Policy, Request, Scratch};
use std::hint::black_box;
use std::time::Instant;

const REPLAYS: usize = 5;

fn request<'a>(shape: Shape, body: &'a [u8], caller: Option<&'a [u8]>) -> Request<'a> {
    shape.request(body, caller)
}

fn time(
    policy: &Policy,
    scratch: &mut Scratch,
    shape: Shape,
    body: &[u8],
    caller: Option<&[u8]>,
) -> f64 {
    let started = Instant::now();
    let verdict = policy.inspect(&request(shape, body, caller), scratch);
    let elapsed = started.elapsed().as_secs_f64() * 1e6;
    black_box(verdict);
    elapsed
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or(0.0)
}

struct Figures {
    name: String,
    last_kb: f64,
    /// Per turn (from the second on): cached time / new-bytes-alone time.
    per_turn: Vec<f64>,
    cached_total: f64,
    uncached_total: f64,
    fresh_total: f64,
    cache_bytes: usize,
    entries: usize,
    hit_rate: f64,
}

fn replay(policy: &Policy, name: &str, shape: Shape, turns: &[Turn]) -> Figures {
    let n = turns.len();
    let mut cached = vec![Vec::new(); n];
    let mut fresh = vec![Vec::new(); n];
    let mut uncached = vec![Vec::new(); n];
    let mut scratch = policy.scratch();
    scratch.set_cache_resume(std::env::var_os("REPLAY_NO_RESUME").is_none());
    let cached_only = std::env::var_os("REPLAY_CACHED_ONLY").is_some();
    let caller: &[u8] = b"Bearer bench-caller";
    let (mut hits, mut misses) = (0u64, 0u64);
    let mut memory = (0, 0);
    for _ in 0..REPLAYS {
        // Empty the cache, keep the regex caches warm.
        scratch.set_cache_budget(0);
        scratch.set_cache_budget(airlock_filter::engine::DEFAULT_CACHE_BYTES);
        let before = scratch.cache_stats();
        for (t, turn) in turns.iter().enumerate() {
            cached[t].push(time(policy, &mut scratch, shape, &turn.body, Some(caller)));
        }
        let after = scratch.cache_stats();
        hits = after.hits - before.hits;
        misses = after.misses - before.misses;
        memory = (after.bytes, after.entries);
        if cached_only {
            continue;
        }
        for (t, turn) in turns.iter().enumerate() {
            fresh[t].push(time(policy, &mut scratch, shape, &turn.fresh, None));
            uncached[t].push(time(policy, &mut scratch, shape, &turn.body, None));
        }
    }
    let cached: Vec<f64> = cached.into_iter().map(median).collect();
    let fresh: Vec<f64> = fresh.into_iter().map(median).collect();
    let uncached: Vec<f64> = uncached.into_iter().map(median).collect();
    Figures {
        name: name.to_string(),
        last_kb: turns.last().map_or(0, |t| t.body.len()) as f64 / 1000.0,
        per_turn: cached
            .iter()
            .zip(&fresh)
            .skip(1)
            .map(|(c, f)| c / f)
            .collect(),
        cached_total: cached.iter().sum(),
        uncached_total: uncached.iter().sum(),
        fresh_total: fresh.iter().sum(),
        cache_bytes: memory.0,
        entries: memory.1,
        hit_rate: hits as f64 / (hits + misses).max(1) as f64,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a name filters sessions.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let policy = policies::default_policy();
    let mut sessions: Vec<(String, Shape, Plan)> = Vec::new();
    for shape in Shape::ALL {
        sessions.push((
            format!("agent {}", shape.name()),
            shape,
            Plan::agent(shape, 1),
        ));
    }
    sessions.push((
        "chat openai-chat".to_string(),
        Shape::OpenAiChat,
        Plan::chat(Shape::OpenAiChat, 2),
    ));
    println!("| session | last request | per turn: cached ÷ new bytes alone (median / p90 / max) | total cached | total uncached | uncached ÷ cached | total new bytes alone | cache hit rate | cache memory |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, shape, plan) in sessions {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let turns = conversation::session(&plan);
        let f = replay(&policy, &name, shape, &turns);
        println!(
            "| {} | {:.0} KB | {:.2}× / {:.2}× / {:.2}× | {:.1} ms | {:.1} ms | {:.1}× | {:.1} ms | {:.1}% | {:.0} KiB in {} entries |",
            f.name,
            f.last_kb,
            median(f.per_turn.clone()),
            percentile(&f.per_turn, 0.9),
            f.per_turn.iter().copied().fold(0.0, f64::max),
            f.cached_total / 1000.0,
            f.uncached_total / 1000.0,
            f.uncached_total / f.cached_total,
            f.fresh_total / 1000.0,
            f.hit_rate * 100.0,
            f.cache_bytes as f64 / 1024.0,
            f.entries,
        );
    }
}
