//! A native loop over one bench body, for `perf record`: inspects the 64 KiB body of one class
//! (default policy, no cache) again and again, so a profile shows where fresh bytes' time goes.
//!
//! `cargo build --release -p airlock-benches --example fresh_loop`, then
//! `perf record -g ./target/release/examples/fresh_loop CLASS [ROUNDS] [KIB]` (`CLASS` `fields`:
//! 1000 short messages).
use airlock_benches::corpus::{self, Class};
use airlock_benches::{policies, request};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("prose", String::as_str);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let kib: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(64);
    // `fields`: 1000 short messages, for what a field costs beyond its bytes.
    let body = match Class::ALL.into_iter().find(|c| c.name() == name) {
        Some(class) => corpus::chat_body(class, kib << 10, 1),
        None if name == "fields" => corpus::short_fields_body(1000),
        None => panic!("no class {name}"),
    };
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(policy.inspect(&request(&body), &mut scratch));
    }
    let per = start.elapsed() / rounds as u32;
    println!("{name} {kib} KiB: {per:?} per inspection");
}
