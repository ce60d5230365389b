//! Clean-traffic benchmark: real text files nobody on the team wrote, sent as user messages
//! through the default policy. Every finding on them is a candidate false positive.
//!
//! `cargo run --release -p airlock-benches --example clean_traffic -- [options] [roots...]`
//!
//! Roots (default): the Python standard library (`/usr/lib/python3*`), the cargo registry's
//! crate sources (`~/.cargo/registry/src`) and `/usr/share/doc`. Files are walked in sorted
//! order; a file is text when its first 8 KiB hold no NUL byte and it is valid UTF-8. Each
//! is cut at line ends into chunks of at most 64 KiB, and each chunk is one request
//! (`{"messages":[{"role":"user","content": chunk}]}`) to an approved vendor.
//!
//! Options:
//! - `--max-mb N`: stop after N MB of text (default: no limit);
//! - `--seed S`: seed of the review sample (default 18);
//! - `--sample N`: size of the review sample (default 150);
//! - `--per-detector K`: the sample first takes up to K findings of each detector (default 10),
//!   then fills up from the rest, so rare detectors are reviewed too;
//! - `--reveal FILE`: also write the sample WITH the matched text to FILE, for a reviewer's
//!   eyes only (never commit it: it may hold whatever secret a file holds).
//!
//! Prints a table of findings per MB per detector, the share of files with a credential
//! finding, and the review sample: file, line, detector, and the matched text's shape
//! (letters as `a`/`A`, digits as `9`, other bytes kept, at most 48 of them).
use airlock_benches::{policies, request};
use airlock_filter::policy::Kind;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const CHUNK: usize = 64 * 1024;

struct Options {
    roots: Vec<PathBuf>,
    max_bytes: u64,
    seed: u64,
    sample: usize,
    per_detector: usize,
    reveal: Option<PathBuf>,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        roots: Vec::new(),
        max_bytes: u64::MAX,
        seed: 18,
        sample: 150,
        per_detector: 10,
        reveal: None,
    };
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--max-mb" => o.max_bytes = value("--max-mb").parse::<u64>().expect("MB") << 20,
            "--seed" => o.seed = value("--seed").parse().expect("seed"),
            "--sample" => o.sample = value("--sample").parse().expect("sample"),
            "--per-detector" => {
                o.per_detector = value("--per-detector").parse().expect("per-detector")
            }
            "--reveal" => o.reveal = Some(PathBuf::from(value("--reveal"))),
            _ => o.roots.push(PathBuf::from(a)),
        }
    }
    if o.roots.is_empty() {
        o.roots = default_roots();
    }
    o
}

fn default_roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("python3"))
                })
                .collect()
        })
        .unwrap_or_default();
    roots.sort();
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        roots.push(home.join("registry/src"));
    }
    roots.push(PathBuf::from("/usr/share/doc"));
    roots
}

/// Every regular file under `root` (symlinks not followed), sorted.
fn walk(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = std::fs::symlink_metadata(root) else {
        return;
    };
    if meta.is_file() {
        out.push(root.to_path_buf());
        return;
    }
    if !meta.is_dir() {
        return;
    }
    let Ok(dir) = std::fs::read_dir(root) else {
        return;
    };
    let mut entries: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    entries.sort();
    for e in entries {
        walk(&e, out);
    }
}

fn text_of(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.is_empty() || bytes.iter().take(8192).any(|&b| b == 0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// Cuts `text` into chunks of at most [`CHUNK`] bytes, at line ends where there is one.
fn chunks(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let mut end = (at + CHUNK).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if end < text.len() {
            if let Some(nl) = text[at..end].rfind('\n') {
                if nl > 0 {
                    end = at + nl + 1;
                }
            }
        }
        out.push((at, &text[at..end]));
        at = end;
    }
    out
}

/// Letters as `a`/`A`, digits as `9`, other bytes kept (non-ASCII as `~`); at most 48.
fn shape(value: &str) -> String {
    let mut s: String = value
        .chars()
        .take(48)
        .map(|c| match c {
            'a'..='z' => 'a',
            'A'..='Z' => 'A',
            '0'..='9' => '9',
            '|' => '¦',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '~',
        })
        .collect();
    if value.chars().count() > 48 {
        s.push('…');
    }
    s
}

struct Hit {
    file: usize,
    line: usize,
    detector: String,
    kind: Kind,
    shape: String,
    value: String,
}

fn main() {
    let o = options();
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    let mut files = Vec::new();
    for root in &o.roots {
        walk(root, &mut files);
    }
    let mut scanned: Vec<&Path> = Vec::new();
    let mut bytes: u64 = 0;
    let mut hits: Vec<Hit> = Vec::new();
    let mut files_with: BTreeMap<&str, usize> = BTreeMap::new();
    let mut credential_files = 0usize;
    let mut any_files = 0usize;
    let started = std::time::Instant::now();
    for path in &files {
        if bytes >= o.max_bytes {
            break;
        }
        let Some(text) = text_of(path) else {
            continue;
        };
        bytes += text.len() as u64;
        let index = scanned.len();
        scanned.push(path);
        let mut credential = false;
        let mut any = false;
        for (offset, chunk) in chunks(&text) {
            let body = serde_json::json!({
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": chunk}],
            })
            .to_string();
            let verdict = policy.inspect(&request(body.as_bytes()), &mut scratch);
            for f in &verdict.findings {
                let Some(d) = policy.detector(f.detector) else {
                    continue;
                };
                any = true;
                credential |= d.kind == Kind::Credential;
                let value = chunk.get(f.span.range()).unwrap_or("?");
                let line = 1 + text
                    .get(..offset + f.span.start.min(chunk.len()))
                    .map_or(0, |t| t.bytes().filter(|&b| b == b'\n').count());
                hits.push(Hit {
                    file: index,
                    line,
                    detector: d.id.clone(),
                    kind: d.kind,
                    shape: shape(value),
                    value: value.chars().take(120).collect(),
                });
            }
        }
        if credential {
            credential_files += 1;
        }
        if any {
            any_files += 1;
        }
        let mut seen: Vec<&str> = hits
            .iter()
            .rev()
            .take_while(|h| h.file == index)
            .map(|h| h.detector.as_str())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for id in seen {
            let id: &str = policy
                .detectors
                .iter()
                .find(|d| d.id == id)
                .map_or("?", |d| d.id.as_str());
            *files_with.entry(id).or_default() += 1;
        }
    }
    let mb = bytes as f64 / 1_048_576.0;
    println!(
        "clean traffic: {} text files, {:.1} MB, {} findings, {:.1} s ({} roots: {})",
        scanned.len(),
        mb,
        hits.len(),
        started.elapsed().as_secs_f64(),
        o.roots.len(),
        o.roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "files with any finding: {} ({:.3} %); with a credential finding: {} ({:.3} %)",
        any_files,
        pct(any_files, scanned.len()),
        credential_files,
        pct(credential_files, scanned.len())
    );
    println!();
    println!("| detector | kind | findings | per MB | files |");
    println!("| --- | --- | ---: | ---: | ---: |");
    let mut by_detector: BTreeMap<&str, (Kind, usize)> = BTreeMap::new();
    for h in &hits {
        by_detector.entry(&h.detector).or_insert((h.kind, 0)).1 += 1;
    }
    let mut rows: Vec<_> = by_detector.into_iter().collect();
    rows.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
    for (id, (kind, n)) in rows {
        println!(
            "| {id} | {} | {n} | {:.3} | {} |",
            kind.as_str(),
            n as f64 / mb.max(1e-9),
            files_with.get(id).copied().unwrap_or(0)
        );
    }
    // The sample: a seeded shuffle of every finding, first `sample` of it, in walk order.
    let mut order: Vec<usize> = (0..hits.len()).collect();
    let mut rng = airlock_host_tests::state::Rng(o.seed);
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    // Stratified: up to `per_detector` of each detector first (so rare detectors are
    // reviewed too), then the rest of the shuffle up to `sample`.
    let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut picked, mut rest): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for i in order {
        let n = taken.entry(hits[i].detector.as_str()).or_default();
        if *n < o.per_detector {
            *n += 1;
            picked.push(i);
        } else {
            rest.push(i);
        }
    }
    picked.truncate(o.sample);
    let room = o.sample - picked.len();
    picked.extend(rest.into_iter().take(room));
    let mut order = picked;
    order.sort_unstable();
    println!();
    println!(
        "review sample (seed {}, up to {} per detector, {} of {}):",
        o.seed,
        o.per_detector,
        order.len(),
        hits.len()
    );
    println!();
    println!("| # | file:line | detector | shape |");
    println!("| ---: | --- | --- | --- |");
    let mut reveal = o
        .reveal
        .as_ref()
        .map(|p| std::fs::File::create(p).expect("reveal file"));
    for (n, &i) in order.iter().enumerate() {
        let h = &hits[i];
        let file = scanned[h.file].display();
        println!(
            "| {} | {file}:{} | {} | `{}` |",
            n + 1,
            h.line,
            h.detector,
            h.shape
        );
        if let Some(f) = reveal.as_mut() {
            let _ = writeln!(
                f,
                "{}\t{file}:{}\t{}\t{}",
                n + 1,
                h.line,
                h.detector,
                h.value
            );
        }
    }
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 100.0 / of as f64
    }
}
