//! Profiling aid: one conversation's last request inspected again and again with a warm cache
//! (every field a hit), so `perf record` shows what a re-sent conversation still costs.
use airlock_benches::conversation::{self, Plan, Shape};
use airlock_benches::policies;

fn main() {
    let shape = Shape::OpenAiChat;
    let turns = conversation::session(&Plan::agent(shape, 1));
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    let (host, path) = shape.host_path();
    let body = &turns.last().map(|t| t.body.clone()).unwrap_or_default();
    let request = airlock_filter::Request {
        host,
        path,
        content_type: Some("application/json"),
        content_encoding: None,
        body,
        caller: Some(b"profile"),
    };
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(policy.inspect(&request, &mut scratch));
    }
    let each = started.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "{} bytes, {:.0} µs per inspection ({:.0} MB/s)",
        body.len(),
        each * 1e6,
        body.len() as f64 / each / 1e6
    );
}
