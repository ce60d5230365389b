//! Recall and wrong-kind rate of the default policy on the labeled sets `benches/labeled/*.yaml`.
//!
//! Each file is a YAML list of `{text, family, expect: [detector-id, ...]}`. `expect: []` marks a
//! near-miss that must produce no credential or personal-data finding. Every text is sent as the
//! one user message of an OpenAI chat request to `api.openai.com` through `Policy::inspect` of
//! `policies/default` (read from its directory, so an edited policy is measured without a rebuild).
//!
//! Per family it prints: positives, recall (a positive counts when a finding's detector is in
//! `expect`), negatives, false positives (negatives with a credential or pii finding), and the
//! wrong-kind rate: positives where a detector outside `expect`, of the expected detectors' kind
//! (credential, or pii), also fires, plus negatives that fire, over all items. With `-v` it lists
//! each miss and misfire by file, item number and detector ids. It never prints a text or a
//! matched value.
//!
//! `cargo run --release -p airlock-benches --example labeled [-- -v] [DIR]`

use airlock_filter::policy::Kind;
use airlock_filter::Request;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Item {
    text: String,
    family: String,
    #[serde(default)]
    expect: Vec<String>,
}

#[derive(Default)]
struct Tally {
    positives: usize,
    found: usize,
    negatives: usize,
    false_positives: usize,
    wrong_kind: usize,
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut verbose = false;
    let mut dir = root.join("benches/labeled");
    for arg in std::env::args().skip(1) {
        if arg == "-v" {
            verbose = true;
        } else {
            dir = PathBuf::from(arg);
        }
    }
    let (policy, _) = airlock_benches::policies::load_dir(
        &root.join("policies/default"),
        "airlock-labeled-evaluation-key",
    );
    let mut scratch = policy.scratch();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yaml"))
        .collect();
    files.sort();
    let kinds: BTreeMap<&str, Kind> = (0..)
        .map_while(|i: usize| policy.detector(i.try_into().ok()?))
        .map(|d| (d.id.as_str(), d.kind))
        .collect();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let items: Vec<Item> =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (i, item) in items.iter().enumerate() {
            let body = serde_json::json!({
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": item.text}],
            });
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let request = Request {
                host: "api.openai.com",
                path: "/v1/chat/completions",
                content_type: Some("application/json"),
                content_encoding: None,
                body: &body,
                caller: None,
            };
            let verdict = policy.inspect(&request, &mut scratch);
            let fired: BTreeSet<&str> = verdict
                .findings
                .iter()
                .filter_map(|f| policy.detector(f.detector))
                .filter(|d| matches!(d.kind, Kind::Credential | Kind::Pii))
                .map(|d| d.id.as_str())
                .collect();
            let tally = tallies.entry(item.family.clone()).or_default();
            if item.expect.is_empty() {
                tally.negatives += 1;
                if !fired.is_empty() {
                    tally.false_positives += 1;
                    tally.wrong_kind += 1;
                    if verbose {
                        println!("  misfire {name}#{i} [{}]: {fired:?}", item.family);
                    }
                }
            } else {
                tally.positives += 1;
                let hit = fired.iter().any(|id| item.expect.iter().any(|e| e == id));
                if hit {
                    tally.found += 1;
                } else if verbose {
                    println!("  miss    {name}#{i} [{}]: fired {fired:?}", item.family);
                }
                // Another detector of the expected kind (credential for a credential family).
                let expected_kind = item
                    .expect
                    .iter()
                    .find_map(|e| kinds.get(e.as_str()).copied());
                let wrong: Vec<&&str> = fired
                    .iter()
                    .filter(|id| !item.expect.iter().any(|e| e == **id))
                    .filter(|id| expected_kind.is_none_or(|k| kinds.get(**id) == Some(&k)))
                    .collect();
                if !wrong.is_empty() {
                    tally.wrong_kind += 1;
                    if verbose {
                        println!("  wrong   {name}#{i} [{}]: also {wrong:?}", item.family);
                    }
                }
            }
        }
    }
    println!(
        "{:<28} {:>5} {:>7} {:>5} {:>4} {:>10}",
        "family", "pos", "recall", "neg", "fp", "wrong-kind"
    );
    let mut total = Tally::default();
    for (family, t) in &tallies {
        print_row(family, t);
        total.positives += t.positives;
        total.found += t.found;
        total.negatives += t.negatives;
        total.false_positives += t.false_positives;
        total.wrong_kind += t.wrong_kind;
    }
    print_row("TOTAL", &total);
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

fn print_row(family: &str, t: &Tally) {
    println!(
        "{:<28} {:>5} {:>7.3} {:>5} {:>4} {:>9.1}%",
        family,
        t.positives,
        ratio(t.found, t.positives),
        t.negatives,
        t.false_positives,
        100.0 * ratio(t.wrong_kind, t.positives + t.negatives),
    );
}
