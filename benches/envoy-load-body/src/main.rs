//! `envoy-load-body CLASS SIZE [SEED]`: writes `corpus::chat_body(CLASS, SIZE, SEED)` to stdout.
use airlock_benches::corpus;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let body = corpus::body_from_args(&args).unwrap_or_else(|e| panic!("{e}"));
    std::io::stdout().write_all(&body).expect("stdout");
}
