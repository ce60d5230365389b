//! `envoy-load-body CLASS SIZE [SEED]`: writes `corpus::chat_body(CLASS, SIZE, SEED)` to stdout.
use airlock_benches::corpus::{self, Class};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let class = args
        .first()
        .and_then(|name| Class::ALL.into_iter().find(|c| c.name() == name))
        .unwrap_or_else(|| panic!("first argument: one of {:?}", Class::ALL.map(Class::name)));
    let size = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8192);
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let body = corpus::chat_body(class, size, seed);
    std::io::stdout().write_all(&body).expect("stdout");
}
