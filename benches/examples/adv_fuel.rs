//! Wasm instructions of adversarial bodies generated unlike the bench corpus's, so that a cut
//! tuned to `adv-digits` or `adv-keywords` can be checked on other digit-heavy and
//! keyword-dense text: phone numbers, dotted and dashed ids, timestamps, card-like groups of
//! other widths, and keywords followed by values in other shapes.
//!
//! `AIRLOCK_HARNESS_FUEL=on cargo run --release -p airlock-benches --example adv_fuel [KIB]`
//! (`AIRLOCK_WASM=path` picks the module). Prints `class kib first again`: a warm VM's first
//! request of the body (after one of another seed), then the same body again.

use airlock_benches::corpus::policy_keywords;
use airlock_benches::fresh_vm::{request_fuel as fuel, uncached_vm as vm};

/// A small deterministic generator (xorshift), independent of the corpus's.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    fn digits(&mut self, s: &mut String, n: usize) {
        for _ in 0..n {
            s.push(char::from(b'0' + self.below(10) as u8));
        }
    }
}

/// Numbers in many shapes, a few words apart.
fn digit_text(rng: &mut Rng, len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        match rng.below(7) {
            0 => {
                s.push('(');
                rng.digits(&mut s, 3);
                s.push_str(") ");
                rng.digits(&mut s, 3);
                s.push('-');
                rng.digits(&mut s, 4);
            }
            1 => {
                for i in 0..4 {
                    if i > 0 {
                        s.push('.');
                    }
                    let n = 1 + rng.below(3);
                    rng.digits(&mut s, n);
                }
            }
            2 => {
                s.push_str("20");
                rng.digits(&mut s, 2);
                s.push('-');
                rng.digits(&mut s, 2);
                s.push('-');
                rng.digits(&mut s, 2);
                s.push('T');
                rng.digits(&mut s, 2);
                s.push(':');
                rng.digits(&mut s, 2);
            }
            3 => {
                // Groups of 3 to 6 digits, as account and order numbers are written.
                let sep = [" ", "-", "/"][rng.below(3)];
                for i in 0..2 + rng.below(5) {
                    if i > 0 {
                        s.push_str(sep);
                    }
                    let n = 3 + rng.below(4);
                    rng.digits(&mut s, n);
                }
            }
            4 => {
                s.push('+');
                let n = 8 + rng.below(8);
                rng.digits(&mut s, n);
            }
            5 => {
                let n = 10 + rng.below(30);
                rng.digits(&mut s, n);
            }
            _ => s.push_str(["qty", "ref", "no.", "id", "#"][rng.below(5)]),
        }
        s.push_str([" ", ", ", "\n", "; ", " | "][rng.below(5)]);
    }
    s
}

/// Policy keywords, each followed by a value of some other shape.
fn keyword_text(rng: &mut Rng, keywords: &[String], len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        if let Some(k) = keywords.get(rng.below(keywords.len())) {
            s.push_str(k);
        }
        s.push_str([" = ", "\": \"", ":", " -> ", "\t"][rng.below(5)]);
        match rng.below(4) {
            0 => {
                let n = 6 + rng.below(40);
                for _ in 0..n {
                    s.push(char::from(b"abcdefXYZ0123456789_-"[rng.below(21)]));
                }
            }
            1 => {
                for i in 0..4 {
                    if i > 0 {
                        s.push(' ');
                    }
                    rng.digits(&mut s, 4);
                }
            }
            2 => s.push_str("see the docs"),
            _ => {
                let n = 16 + rng.below(48);
                for _ in 0..n {
                    s.push(char::from(
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                            [rng.below(64)],
                    ));
                }
            }
        }
        s.push_str([" ", "\n", "\", ", "; "][rng.below(4)]);
    }
    s
}

fn body(text: &str) -> Vec<u8> {
    let doc =
        serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]});
    serde_json::to_vec(&doc).unwrap_or_default()
}

fn main() {
    if std::env::var_os("AIRLOCK_HARNESS_FUEL").is_none() {
        std::env::set_var("AIRLOCK_HARNESS_FUEL", "on");
    }
    airlock_benches::harness_defaults();
    let kib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let keywords = policy_keywords();
    println!("class kib first again");
    for class in ["digits-2", "keywords-2"] {
        let text = |seed: u64| {
            let rng = &mut Rng(seed);
            match class {
                "digits-2" => digit_text(rng, kib << 10),
                _ => keyword_text(rng, &keywords, kib << 10),
            }
        };
        let mut host = vm();
        fuel(&mut host, &body(&text(0x9e37_79b9)));
        let measured = body(&text(0x2545_f491));
        let first = fuel(&mut host, &measured);
        let again = fuel(&mut host, &measured);
        println!("{class} {kib} {first} {again}");
    }
}
