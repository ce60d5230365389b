//! Prints what the engine decides for a fixed set of requests, one line each, so that a
//! refactor can show its behaviour is byte-identical: run it before and after, and diff.
//!
//! The set: every bench corpus class at every size (three seeds), every test case and
//! detector example of `policies/default` and `policies/examples/acme`, and the whole
//! evasion corpus. Each line holds the decision, the findings (detector, path, span, action,
//! fingerprint, how reached), the limits hit and a SHA-256 of the body that would leave. It
//! never prints a body or a matched value.
//!
//! `cargo run --release -p airlock-benches --example behaviour > before.txt`

use airlock_benches::corpus::{self, Class, SIZES};
use airlock_filter::policy::{self, Policy};
use airlock_filter::{Request, Scratch, Verdict};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;

const KEY: &str = "airlock-behaviour-snapshot-key";

/// The compiled policy and its test cases.
fn load(dir: &Path) -> (Policy, Vec<policy::cases::Case>) {
    let (compiled, doc) = airlock_benches::policies::load_dir(dir, KEY);
    (compiled, policy::cases::cases(&doc))
}

fn describe(policy: &Policy, verdict: &Verdict, sent: &[u8]) -> String {
    let mut line = format!(
        "{} planned={} tier={}",
        verdict.decision.as_str(),
        verdict.planned.as_str(),
        policy.tier_name(verdict.tier)
    );
    if let Some(why) = &verdict.uninspectable {
        let _ = write!(line, " uninspectable={}", why.message());
    }
    for (name, n) in verdict.limits.counts() {
        if n > 0 {
            let _ = write!(line, " limit.{name}={n}");
        }
    }
    for f in &verdict.findings {
        let id = policy.detector(f.detector).map_or("?", |d| d.id.as_str());
        let fp: String = f.fingerprint.iter().map(|b| format!("{b:02x}")).collect();
        let _ = write!(
            line,
            " [{id} {} {}..{} {} {fp} {:?}]",
            f.path,
            f.span.start,
            f.span.end,
            f.action.as_str(),
            f.via
        );
    }
    let body = verdict.body.as_deref().unwrap_or(sent);
    let digest = Sha256::digest(body);
    let _ = write!(line, " body={:x}", digest);
    line
}

fn run(policy: &Policy, scratch: &mut Scratch, label: &str, request: &Request<'_>) {
    let verdict = policy.inspect(request, scratch);
    println!("{label}: {}", describe(policy, &verdict, request.body));
}

fn main() {
    // With `AIRLOCK_BEHAVIOUR_CALLER` set, every request names that caller, so the inspection
    // cache serves whatever repeats: the output must not change.
    let caller = std::env::var("AIRLOCK_BEHAVIOUR_CALLER").ok();
    let caller = caller.as_deref().map(str::as_bytes);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["policies/default", "policies/examples/acme"] {
        let (policy, cases) = load(&root.join(dir));
        let mut scratch = policy.scratch();
        for case in &cases {
            let request = Request {
                host: &case.host,
                path: &case.path,
                content_type: case.content_type.as_deref(),
                content_encoding: None,
                body: &case.body,
                caller,
            };
            run(
                &policy,
                &mut scratch,
                &format!("{dir} {}", case.name),
                &request,
            );
        }
        for class in Class::ALL {
            for size in SIZES {
                for seed in 1..=3 {
                    let body = corpus::chat_body(class, size, seed);
                    let label = format!("{dir} corpus {} {size} {seed}", class.name());
                    run(
                        &policy,
                        &mut scratch,
                        &label,
                        &Request {
                            caller,
                            ..airlock_benches::request(&body)
                        },
                    );
                }
            }
        }
        for (i, case) in airlock_host_tests::evasions::corpus().iter().enumerate() {
            let header = |name: &str| {
                case.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            let request = Request {
                host: &case.host,
                path: &case.path,
                content_type: header("content-type"),
                content_encoding: header("content-encoding"),
                body: &case.body,
                caller,
            };
            let label = format!("{dir} evasion {i} {}", case.technique);
            run(&policy, &mut scratch, &label, &request);
        }
        if caller.is_some() {
            eprintln!("{dir}: {:?}", scratch.cache_stats());
        }
    }
}
