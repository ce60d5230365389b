//! Protected documents and records: quality, scale and cost of the indexes (issue 12).
//!
//! Documents: indexes up to 100 MB of the cargo registry's crate sources (`~/.cargo/registry/src`),
//! then measures build time, index size, load time and memory; recall on fragments of indexed
//! files (200 and 400 characters, 10 and 40 lines) pasted as they are, re-indented, with CRLF,
//! without comments, with identifiers renamed and inside a longer prompt; precision on fields cut
//! from unrelated corpora (the Python standard library, `/usr/lib/python3*`, and the Rust
//! sources of registry crates that are not indexed in any version), and the reverse (Python
//! indexed, Rust fields), and Python against Python (every other standard library module
//! indexed, fields of the others). Records: 1 million synthetic rows of 4 columns.
//!
//! `cargo run --release -p airlock-benches --example protected [-- documents|records]`
//! Environment: `AIRLOCK_BENCH_MB` (indexed megabytes, default 100), `AIRLOCK_K_TEXT`,
//! `AIRLOCK_W_TEXT`, `AIRLOCK_K_CODE`, `AIRLOCK_W_CODE` (winnowing parameters to try),
//! `AIRLOCK_FIELDS` (fragments per kind, default 400), `AIRLOCK_MIN_CHARS` (default 200),
//! `AIRLOCK_RUST_BACKGROUND=1` (half of the crates not indexed as the index's background, the
//! other half the negatives; `=0`: the same negatives without the background).
//! `AIRLOCK_EXTRA_BACKGROUND=DIR` adds the `.rs` files under `DIR` to the background (e.g. a
//! standard library's sources, to measure what passing it as `--background` would clear).
//! `AIRLOCK_DIAGNOSE=1` classifies each missed fragment per cell (see `why_missed`: none of its
//! document's fingerprints selected in it, all dropped as common, one unverified fingerprint,
//! or too short), `AIRLOCK_DIAGNOSE_VERBOSE=1` prints each with its run, and
//! `AIRLOCK_SHOW_MISSES=1` / `AIRLOCK_SHOW=1` print missed fragments / false findings.
//! The corpus is `$HOME/.cargo/registry/src`, which changes whenever a build downloads a
//! crate: to compare two builds, run both with `HOME` pointing at one frozen copy of it.
//! `AIRLOCK_RENAMED=0` measures the detector with `renamed: false`; `AIRLOCK_FEATURES=1`
//! prints each run's measures; `AIRLOCK_MIN_COMMON`, `AIRLOCK_COMMON_PER_MILLE` set when a
//! fingerprint is dropped as common; `AIRLOCK_PUBLIC_SHAPES` a public-shapes table (default: the
//! one `airlock index documents` uses, `cli/data/public-shapes.bin`; `none` for no table).
use airlock_filter::protected::documents::{FindScratch, RunMeasure, Settings, View, Wanted};
use airlock_filter::protected::keyed::Key;
use airlock_filter::protected::records::{self, RecordIndex};
use airlock_filter::protected::DocumentIndex;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Text files under `roots` (sorted, UTF-8, no NUL, at most 4 MiB each), up to `limit` bytes in all.
fn collect(roots: &[PathBuf], limit: usize, keep: &dyn Fn(&Path) -> bool) -> Vec<(String, String)> {
    airlock_benches::files::text_files(roots, limit, 4 << 20, keep)
}

/// The detector's `min_chars` (`AIRLOCK_MIN_CHARS`, default 200 as in the issue's example).
fn min_chars() -> usize {
    env_usize("AIRLOCK_MIN_CHARS", 200)
}

/// What the detector reports: `min_chars`, and renamed copies unless `AIRLOCK_RENAMED=0`.
fn wanted() -> Wanted {
    Wanted {
        min_chars: min_chars(),
        renamed: std::env::var("AIRLOCK_RENAMED").map_or(true, |v| v != "0"),
    }
}

fn settings() -> Settings {
    let mut s = Settings::default();
    s.text.k = env_usize("AIRLOCK_K_TEXT", s.text.k);
    s.text.w = env_usize("AIRLOCK_W_TEXT", s.text.w);
    s.code.k = env_usize("AIRLOCK_K_CODE", s.code.k);
    s.code.w = env_usize("AIRLOCK_W_CODE", s.code.w);
    s.text.min_distinct = env_usize("AIRLOCK_D_TEXT", s.text.min_distinct);
    s.code.min_distinct = env_usize("AIRLOCK_D_CODE", s.code.min_distinct);
    s.comment.k = env_usize("AIRLOCK_K_COMMENT", s.comment.k);
    s.comment.w = env_usize("AIRLOCK_W_COMMENT", s.comment.w);
    s.comment.min_distinct = env_usize("AIRLOCK_D_COMMENT", s.comment.min_distinct);
    s.min_common = env_usize("AIRLOCK_MIN_COMMON", s.min_common);
    if let Some(per_mille) = std::env::var("AIRLOCK_COMMON_PER_MILLE")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        s.max_document_share = f64::from(per_mille) / 1000.0;
    }
    s
}

/// The index of `docs`, with `background` texts whose fingerprints are never protected.
fn build(docs: &[(String, String)], background: &[(String, String)]) -> (Vec<u8>, f64, u64) {
    let start = Instant::now();
    let mut builder = airlock_benches::protected::documents_builder(settings());
    for (_, text) in background {
        builder.add_background(text.as_bytes());
    }
    for (name, text) in docs {
        builder.add_document(name, text.as_bytes(), View::for_name(name));
    }
    let (file, stats) = builder.finish(false);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "  built {} documents ({} code), {:.1} MB of text ({:.1} M units) in {:.1} s: {} entries ({} marked public), {} dropped as common, {} as public text; index {:.2} MB = {:.2} % of the text",
        stats.documents,
        stats.code_documents,
        stats.text_bytes as f64 / 1e6,
        stats.units as f64 / 1e6,
        secs,
        stats.entries,
        stats.marked_public,
        stats.dropped_common,
        stats.dropped_public_text,
        file.len() as f64 / 1e6,
        100.0 * file.len() as f64 / stats.text_bytes as f64
    );
    (file, secs, stats.text_bytes)
}

/// A fragment of `text` starting at a line start: `chars` characters, or `lines` lines.
fn fragment(rng: &mut Rng, text: &str, size: Size) -> Option<String> {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&i| i < text.len())
        .collect();
    for _ in 0..8 {
        let start = *starts.get(rng.below(starts.len()))?;
        let rest = text.get(start..)?;
        let piece: String = match size {
            Size::Chars(n) => rest.chars().take(n).collect(),
            Size::Lines(n) => rest.split_inclusive('\n').take(n).collect(),
        };
        let enough = match size {
            Size::Chars(n) => piece.chars().count() == n,
            Size::Lines(n) => piece.lines().count() == n,
        };
        // Skip fragments that are mostly blank (nobody protects whitespace).
        if enough
            && piece.chars().filter(|c| !c.is_whitespace()).count() * 2 > piece.chars().count()
        {
            return Some(piece);
        }
    }
    None
}

#[derive(Clone, Copy)]
enum Size {
    Chars(usize),
    Lines(usize),
}

impl Size {
    fn label(self) -> String {
        match self {
            Size::Chars(n) => format!("{n} chars"),
            Size::Lines(n) => format!("{n} lines"),
        }
    }
}

const TRANSFORMS: &[&str] = &[
    "as is",
    "re-indented",
    "CRLF",
    "no comments",
    "no comments, min_chars left",
    "renamed",
    "in a prompt",
];

/// Words a rename leaves alone: keywords and standard names (Rust and Python).
const STANDARD: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "Some", "None", "Ok", "Err", "Option", "Result", "Vec",
    "String", "str", "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
    "bool", "char", "def", "class", "import", "from", "not", "and", "or", "is", "pass", "raise",
    "try", "except", "finally", "with", "yield", "lambda", "del", "global", "nonlocal", "assert",
    "elif", "print", "len", "range", "dict", "list", "int", "float", "map", "new", "default",
    "Default",
];

fn transform(rng: &mut Rng, piece: &str, which: &str) -> String {
    match which {
        "re-indented" => piece
            .lines()
            .map(|l| format!("\t  {}", l.trim_start()))
            .collect::<Vec<_>>()
            .join("\n"),
        "CRLF" => piece.replace('\n', "\r\n"),
        "no comments" | "no comments, min_chars left" => piece
            .lines()
            .filter_map(|l| {
                let cut = &l[..comment_start(l).unwrap_or(l.len())];
                (!cut.trim().is_empty() || l.trim().is_empty()).then(|| cut.to_owned())
            })
            .collect::<Vec<_>>()
            .join("\n"),
        "renamed" => rename(piece),
        "in a prompt" => {
            let before = ["Hi! I get a borrow checker error in the code below, can you explain what is wrong and how to fix it?\n\n```\n", "Please review this for bugs and suggest better names:\n"];
            let after = [
                "\n```\nThanks, it is for a demo tomorrow morning.",
                "\nAlso, add unit tests for the edge cases and explain them briefly.",
            ];
            format!("{}{}{}", before[rng.below(2)], piece, after[rng.below(2)])
        }
        _ => piece.to_owned(),
    }
}

/// Where a line's comment starts: `//`, or `#` at the line start or after a space that opens no
/// attribute (`#[`, `#!`), outside string literals. A rough lexer of one line, as an editor's
/// "remove comments" would do it (the first rounds cut at any `//` and ` #`, so they also cut
/// URLs in strings and removed indented Rust attributes).
fn comment_start(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == b'"' => quote = Some(c),
            None if c == b'/' && b.get(i + 1) == Some(&b'/') => return Some(i),
            None if c == b'#'
                && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t')
                && !matches!(b.get(i + 1), Some(b'[' | b'!')) =>
            {
                return Some(i)
            }
            None => {}
        }
        i += 1;
    }
    None
}

/// Calls `each(start, end, in_comment)` for every identifier-like word of `piece` outside
/// double-quoted strings. Words after `//` or `#` and inside `/* */` block comments (followed
/// across lines) are comment words: the rename renames them only where they name an identifier
/// of the code (the rounds up to the ninth renamed every word of a block comment's text).
fn words(piece: &str, mut each: impl FnMut(usize, usize, bool)) {
    let mut offset = 0;
    let mut in_block = false;
    for line in piece.split_inclusive('\n') {
        let comment = comment_start(line).unwrap_or(line.len());
        let b = line.as_bytes();
        let mut in_string = false;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if in_block {
                if c == b'*' && b.get(i + 1) == Some(&b'/') {
                    in_block = false;
                    i += 2;
                    continue;
                }
                if c.is_ascii_alphabetic() || c == b'_' {
                    let mut j = i;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    each(offset + i, offset + j, true);
                    i = j;
                } else {
                    i += 1;
                }
                continue;
            }
            if !in_string && i < comment && c == b'/' && b.get(i + 1) == Some(&b'*') {
                in_block = true;
                i += 2;
            } else if c == b'"' && i < comment {
                in_string = !in_string;
                i += 1;
            } else if c == b'\\' && in_string {
                i += 2;
            } else if (c.is_ascii_alphabetic() || c == b'_') && !in_string {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if i == 0 || !b[i - 1].is_ascii_digit() {
                    each(offset + i, offset + j, i >= comment);
                }
                i = j;
            } else {
                i += 1;
            }
        }
        offset += line.len();
    }
}

/// Renames consistently every identifier of the code that is not a keyword or standard name,
/// as a refactoring tool does: in the code, and in comments where a comment names one of them.
/// The other words of comments stay (the first rounds renamed every word of every comment
/// too, which is not renaming identifiers but destroying the comments).
fn rename(piece: &str) -> String {
    let mut names: Vec<String> = Vec::new();
    words(piece, |s, e, in_comment| {
        let word = &piece[s..e];
        if !in_comment && !STANDARD.contains(&word) && !names.iter().any(|n| n == word) {
            names.push(word.to_owned());
        }
    });
    let mut out = String::with_capacity(piece.len() + piece.len() / 4);
    let mut last = 0;
    words(piece, |s, e, _| {
        if let Some(n) = names.iter().position(|w| w == &piece[s..e]) {
            out.push_str(&piece[last..s]);
            out.push_str(&format!("renamed{n}"));
            last = e;
        }
    });
    out.push_str(&piece[last..]);
    out
}

/// With `AIRLOCK_FEATURES=1`, one line of a run's measures (for choosing a rule offline).
fn features(tag: &str, m: Option<&RunMeasure>) {
    if std::env::var_os("AIRLOCK_FEATURES").is_none() {
        return;
    }
    match m {
        Some(m) => println!(
            "F\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            m.distinct,
            m.per_stream[0],
            m.per_stream[1],
            m.per_stream[2],
            m.verified_distinct,
            m.sole_distinct,
            m.code_units,
            m.extent,
            m.slack_chars,
            m.document_chars,
            m.copied_chars(),
            m.fewest_holders,
            m.public_distinct
        ),
        None => println!("F\t{tag}\tnone"),
    }
}

fn recall(index: &DocumentIndex, docs: &[(String, String)], fields: usize) {
    let mut rng = Rng(0x1234_5678);
    let mut scratch = FindScratch::default();
    println!(
        "  recall (min_chars {}), {fields} fragments per cell:",
        min_chars()
    );
    println!("  | fragment | {} |", TRANSFORMS.join(" | "));
    println!("  | --- |{}", " ---: |".repeat(TRANSFORMS.len()));
    let mut slowest = 0f64;
    for size in [
        Size::Chars(200),
        Size::Chars(400),
        Size::Lines(10),
        Size::Lines(40),
    ] {
        let mut row = format!("  | {} |", size.label());
        for which in TRANSFORMS {
            let (mut hit, mut total) = (0, 0);
            let diagnose = std::env::var_os("AIRLOCK_DIAGNOSE").is_some();
            let mut classes = std::collections::BTreeMap::<String, usize>::new();
            while total < fields {
                let doc = rng.below(docs.len());
                // Removing comments and renaming identifiers are edits of source code: a
                // Markdown heading is no comment and the words of a README are no identifiers
                // (the first rounds applied them to every file, prose included).
                let code_only = which.starts_with("no comments") || *which == "renamed";
                if code_only && View::for_name(&docs[doc].0) != View::Code {
                    continue;
                }
                let Some(piece) = fragment(&mut rng, &docs[doc].1, size) else {
                    continue;
                };
                let pasted = transform(&mut rng, &piece, which);
                // The stripped paste must still be long enough to be a finding by definition.
                if *which == "no comments, min_chars left" && pasted.chars().count() < min_chars() {
                    continue;
                }
                total += 1;
                let start = Instant::now();
                let found = index.find_with(pasted.as_bytes(), wanted(), &mut scratch);
                slowest = slowest.max(start.elapsed().as_secs_f64());
                // Right when the found document holds the fragment (crate versions repeat files).
                let right = found.iter().any(|m| {
                    m.document as usize == doc
                        || docs
                            .get(m.document as usize)
                            .is_some_and(|d| d.1.contains(piece.as_str()))
                });
                if !right && diagnose {
                    let class = why_missed(index, docs, doc, &pasted, &mut scratch);
                    *classes.entry(class).or_insert(0usize) += 1;
                }
                if !right && std::env::var_os("AIRLOCK_SHOW_MISSES").is_some() {
                    println!(
                        "----- miss {} {} {}: {found:?}\n{pasted}",
                        size.label(),
                        which,
                        docs[doc].0
                    );
                }
                hit += usize::from(right);
                if std::env::var_os("AIRLOCK_FEATURES").is_some() {
                    let which_doc = found
                        .iter()
                        .find(|m| {
                            m.document as usize == doc
                                || docs
                                    .get(m.document as usize)
                                    .is_some_and(|d| d.1.contains(piece.as_str()))
                        })
                        .map_or(doc as u32, |m| m.document);
                    let m = index.explain(pasted.as_bytes(), which_doc, &mut scratch);
                    features(
                        &format!("P\t{}\t{which}\t{}\t{total}", size.label(), u8::from(right)),
                        m.as_ref(),
                    );
                }
            }
            row.push_str(&format!(" {:.3} |", hit as f64 / total as f64));
            if diagnose {
                println!("    misses, {} {which}: {classes:?}", size.label());
                classes.clear();
            }
        }
        println!("{row}");
    }
    println!("  slowest single find: {:.2} ms", slowest * 1e3);
}

/// Why a paste of document `doc` was not found: how many fingerprints its own document selected
/// inside it (an index of that document alone: nothing dropped as common), how many of them the
/// full index still holds, and whether the hit count, the verification or `min_chars` decided.
fn why_missed(
    index: &DocumentIndex,
    docs: &[(String, String)],
    doc: usize,
    pasted: &str,
    scratch: &mut FindScratch,
) -> String {
    let mut alone = airlock_benches::protected::documents_builder(settings());
    alone.add_document(
        &docs[doc].0,
        docs[doc].1.as_bytes(),
        View::for_name(&docs[doc].0),
    );
    let (file, _) = alone.finish(false);
    let alone = DocumentIndex::from_bytes(&file).expect("index loads");
    let own = alone.explain(pasted.as_bytes(), 0, scratch);
    let kept = index.explain(pasted.as_bytes(), doc as u32, scratch);
    let own_n = own.as_ref().map_or(0, |m| m.distinct);
    let kept_n = kept.as_ref().map_or(0, |m| m.distinct);
    let class = match &kept {
        _ if own_n == 0 => "none selected".to_owned(),
        None => "all dropped as common".to_owned(),
        Some(m) if m.distinct < 2 && !m.verified => {
            format!("one fingerprint, unverified (own {own_n})")
        }
        Some(m) if m.copied_chars() < min_chars() => {
            format!("short: copied {}", m.copied_chars() / 20 * 20)
        }
        Some(_) => "qualifies?".to_owned(),
    };
    if std::env::var_os("AIRLOCK_DIAGNOSE_VERBOSE").is_some() {
        println!(
            "----- {class} own {own_n} kept {kept_n} {:?} {kept:?}\n{pasted}",
            docs[doc].0
        );
    }
    class
}

/// Fields cut from `corpus` that `index` (built from `indexed`) flags: its precision.
fn precision(
    index: &DocumentIndex,
    indexed: &[(String, String)],
    corpus: &[(String, String)],
    fields: usize,
    label: &str,
) {
    if corpus.is_empty() {
        println!("  precision on {label}: no files");
        return;
    }
    let mut rng = Rng(0x9e37_79b9);
    let mut scratch = FindScratch::default();
    let (mut flagged, mut total, mut bytes) = (0, 0, 0usize);
    let start = Instant::now();
    while total < fields {
        let doc = rng.below(corpus.len());
        let size = [
            Size::Chars(200),
            Size::Chars(1000),
            Size::Lines(40),
            Size::Chars(4000),
        ][total % 4];
        let Some(piece) = fragment(&mut rng, &corpus[doc].1, size) else {
            continue;
        };
        total += 1;
        bytes += piece.len();
        let found = index.find_with(piece.as_bytes(), wanted(), &mut scratch);
        if !found.is_empty() {
            flagged += 1;
            for m in &found {
                if std::env::var_os("AIRLOCK_FEATURES").is_some() {
                    let run = index.explain(piece.as_bytes(), m.document, &mut scratch);
                    features(
                        &format!("N\t{label}\t{}\t1\t{total}", size.label()),
                        run.as_ref(),
                    );
                }
            }
            if std::env::var_os("AIRLOCK_SHOW").is_some() {
                for m in &found {
                    let source = indexed
                        .get(m.document as usize)
                        .map_or("?", |d| d.0.as_str());
                    println!(
                        "----- {} matches {source} {:?}\n{}",
                        corpus[doc].0,
                        m,
                        &piece[m.span.range()]
                    );
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "  precision on {label}: {flagged} of {total} fields flagged, {:.3} % clean; find speed {:.1} MB/s",
        100.0 * (total - flagged) as f64 / total as f64,
        bytes as f64 / 1e6 / secs
    );
}

fn load(file: &[u8]) -> DocumentIndex {
    let mut best = f64::MAX;
    let mut index = None;
    for _ in 0..5 {
        let start = Instant::now();
        let loaded = DocumentIndex::from_bytes(file).expect("index loads");
        best = best.min(start.elapsed().as_secs_f64());
        index = Some(loaded);
    }
    let index = index.expect("loaded");
    println!(
        "  load: {:.1} ms (best of 5), {} entries, {:.1} MiB in memory",
        best * 1e3,
        index.entries(),
        index.heap_bytes() as f64 / (1 << 20) as f64
    );
    index
}

/// The crate name of a registry path (`…/index.crates.io-…/serde-1.0.210/src/de.rs` gives
/// `serde`): the directory after the registry index's, without its version.
fn crate_name(path: &str) -> Option<&str> {
    let dir = path
        .split('/')
        .skip_while(|part| !part.starts_with("index."))
        .nth(1)?;
    let version = dir.rfind('-')?;
    dir.get(..version)
}

/// Rust sources of the registry's crates none of whose versions is in `indexed` (up to
/// `limit` bytes): code in the indexed language that is not a copy of it, the harder negative
/// corpus (another version of an indexed crate would be a copy).
fn other_crates(
    registry: &Path,
    indexed: &[(String, String)],
    limit: usize,
) -> Vec<(String, String)> {
    let names: std::collections::HashSet<&str> = indexed
        .iter()
        .filter_map(|(path, _)| crate_name(path))
        .collect();
    let all = collect(&[registry.to_path_buf()], usize::MAX, &|p| {
        p.extension().is_some_and(|e| e == "rs")
    });
    let mut left = limit;
    all.into_iter()
        .filter(|(path, _)| crate_name(path).is_some_and(|name| !names.contains(name)))
        .take_while(|(_, text)| {
            left = left.saturating_sub(text.len());
            left > 0
        })
        .collect()
}

/// Files as (path, text).
type Files = Vec<(String, String)>;

/// The crate directory of a registry path (`serde-1.0.210`), the part after the index's.
fn crate_dir(path: &str) -> Option<&str> {
    path.split('/')
        .skip_while(|part| !part.starts_with("index."))
        .nth(1)
}

/// Where each registry crate's source lives, by crate directory: its manifest's `repository`
/// as `host/owner/name` (lowercased, no scheme, no `.git`, no path inside the repository), or
/// `owner` alone when `by_owner`. A crate whose manifest names none takes the repository of a
/// crate sharing its name's first word (`wasmtime-internal-core` that of `wasmtime`), else its
/// own name: sibling crates of one workspace are one project.
fn crate_origins(registry: &Path, by_owner: bool) -> std::collections::HashMap<String, String> {
    let dirs: Vec<PathBuf> = std::fs::read_dir(registry)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .flat_map(|index| std::fs::read_dir(index.path()).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let first_word = |dir: &str| dir.split(['-', '_']).next().unwrap_or(dir).to_owned();
    let mut named = std::collections::HashMap::new();
    let mut by_word = std::collections::HashMap::new();
    for dir in &dirs {
        let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let url = manifest.lines().find_map(|line| {
            let value = line
                .strip_prefix("repository")?
                .trim_start()
                .strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_ascii_lowercase())
        });
        let Some(url) = url else { continue };
        let url = url
            .split("://")
            .last()
            .unwrap_or(&url)
            .trim_start_matches("www.");
        let parts: Vec<&str> = url.split('/').filter(|p| !p.is_empty()).collect();
        let origin = if by_owner {
            parts.get(..2).map(|p| p.join("/"))
        } else {
            parts
                .get(..3)
                .map(|p| p.join("/").trim_end_matches(".git").to_owned())
        };
        if let Some(origin) = origin {
            by_word
                .entry(first_word(&name))
                .or_insert_with(|| origin.clone());
            named.insert(name, origin);
        }
    }
    for dir in &dirs {
        let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let origin = by_word
            .get(&first_word(&name))
            .cloned()
            .unwrap_or_else(|| name.clone());
        named.entry(name).or_insert(origin);
    }
    named
}

/// `unindexed` without the crates whose repository (or owner, `by_owner`) is also that of an
/// indexed crate: code unrelated to the index by project, not only by crate name. Sibling
/// crates of one workspace share code word for word (`winch-codegen` and `cranelift-codegen`),
/// which a copy detector rightly finds.
fn other_projects(registry: &Path, indexed: &Files, unindexed: &Files, by_owner: bool) -> Files {
    let origins = crate_origins(registry, by_owner);
    let origin = |path: &str| crate_dir(path).and_then(|dir| origins.get(dir));
    let taken: std::collections::HashSet<&String> = indexed
        .iter()
        .filter_map(|(path, _)| origin(path))
        .collect();
    unindexed
        .iter()
        .filter(|(path, _)| origin(path).is_some_and(|o| !taken.contains(o)))
        .cloned()
        .collect()
}

/// `files` in two halves by crate, every other crate name in each.
fn split_by_crate(files: Files) -> (Files, Files) {
    let mut names: Vec<String> = files
        .iter()
        .filter_map(|(path, _)| crate_name(path).map(str::to_owned))
        .collect();
    names.sort_unstable();
    names.dedup();
    files.into_iter().partition(|(path, _)| {
        crate_name(path)
            .and_then(|name| names.binary_search_by(|n| n.as_str().cmp(name)).ok())
            .is_some_and(|i| i % 2 == 0)
    })
}

fn documents() {
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
    let mb = env_usize("AIRLOCK_BENCH_MB", 100);
    let fields = env_usize("AIRLOCK_FIELDS", 400);
    let registry = home.join(".cargo/registry/src");
    let python: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python3"))
        })
        .collect();
    let s = settings();
    println!(
        "documents: text view k={} w={} min_distinct={}, code view k={} w={} min_distinct={}, comments k={} w={} min_distinct={}",
        s.text.k, s.text.w, s.text.min_distinct, s.code.k, s.code.w, s.code.min_distinct, s.comment.k, s.comment.w, s.comment.min_distinct
    );
    let rust = collect(std::slice::from_ref(&registry), mb << 20, &|p| {
        p.extension()
            .is_some_and(|e| e == "rs" || e == "md" || e == "toml")
    });
    let py = collect(&python, mb << 20, &|p| {
        p.extension()
            .is_some_and(|e| e == "py" || e == "txt" || e == "rst")
    });
    // `AIRLOCK_RUST_BACKGROUND=1`: half of the crates not indexed (every other crate name)
    // is the index's background, as an operator passes other projects' sources with
    // `--background`; the other half is the same-language negative corpus.
    let unindexed = other_crates(&registry, &rust, mb << 20);
    // `=0` splits the same way without using the background: the baseline on the same half.
    let (background, unindexed) = match std::env::var("AIRLOCK_RUST_BACKGROUND").as_deref() {
        Ok("0") => (Vec::new(), split_by_crate(unindexed).1),
        Ok(_) => split_by_crate(unindexed),
        Err(_) => (Vec::new(), unindexed),
    };
    let mut background = background;
    if let Some(dir) = std::env::var_os("AIRLOCK_EXTRA_BACKGROUND") {
        background.extend(collect(&[PathBuf::from(dir)], usize::MAX, &|p| {
            p.extension().is_some_and(|e| e == "rs")
        }));
    }
    println!(
        " index: crate sources ({} files), background {} files",
        rust.len(),
        background.len()
    );
    let (file, _, _) = build(&rust, &background);
    let index = load(&file);
    if std::env::var_os("AIRLOCK_SKIP_RECALL").is_none() {
        recall(&index, &rust, fields);
    }
    precision(
        &index,
        &rust,
        &py,
        fields * 25,
        "the Python standard library",
    );
    precision(
        &index,
        &rust,
        &unindexed,
        fields * 25,
        &format!("crates not indexed ({} files)", unindexed.len()),
    );
    for (by_owner, what) in [(false, "repositories"), (true, "owners")] {
        let unrelated = other_projects(&registry, &rust, &unindexed, by_owner);
        let crates: std::collections::HashSet<&str> = unrelated
            .iter()
            .filter_map(|(path, _)| crate_dir(path))
            .collect();
        precision(
            &index,
            &rust,
            &unrelated,
            fields * 25,
            &format!(
                "crates of other {what} ({} files, {} crates)",
                unrelated.len(),
                crates.len()
            ),
        );
    }
    println!(" index: Python standard library ({} files)", py.len());
    let (file, _, _) = build(&py, &[]);
    let index = load(&file);
    precision(&index, &py, &rust, fields * 25, "crate sources");
    // The same language on both sides, as an operator protecting a Python tree sees pastes of
    // other Python: half of the standard library's modules indexed, the other half pasted.
    let (half, other_half) = split_python_modules(py);
    println!(
        " index: every other module of the Python standard library ({} files)",
        half.len()
    );
    let (file, _, _) = build(&half, &[]);
    let index = load(&file);
    precision(
        &index,
        &half,
        &other_half,
        fields * 25,
        &format!("the other modules ({} files)", other_half.len()),
    );
}

/// `files` of the Python standard library in two halves by top-level module (the path part
/// after `python3.X/`), every other module in each: a module's files share code.
fn split_python_modules(files: Files) -> (Files, Files) {
    let module = |path: &str| -> String {
        path.split('/')
            .skip_while(|part| !part.starts_with("python3"))
            .nth(1)
            .map(|m| m.trim_end_matches(".py").to_owned())
            .unwrap_or_default()
    };
    let mut names: Vec<String> = files.iter().map(|(path, _)| module(path)).collect();
    names.sort_unstable();
    names.dedup();
    files
        .into_iter()
        .partition(|(path, _)| names.binary_search(&module(path)).is_ok_and(|i| i % 2 == 0))
}

fn records_bench() {
    let rows = env_usize("AIRLOCK_ROWS", 1_000_000);
    let mut rng = Rng(0xfeed);
    let first = [
        "anna", "bruno", "chen", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jonas",
        "kemal", "lucia", "mateo", "nadia", "oskar", "priya",
    ];
    let last = [
        "novak", "okafor", "schmidt", "tanaka", "silva", "kowalski", "haddad", "larsen", "moreau",
        "ivanova", "fischer", "rossi",
    ];
    let start = Instant::now();
    let mut builder = records::Builder::new(
        Key([0x33; 16]),
        &["name", "email", "phone", "account"],
        &["account"],
    );
    let mut sample = Vec::new();
    for row in 0..rows {
        let name = format!(
            "{} {} {}",
            first[rng.below(first.len())],
            (b'a' + rng.below(26) as u8) as char,
            last[rng.below(last.len())]
        );
        let email = format!("user{}.{}@example.com", rng.below(1 << 30), row);
        let phone = format!("+1 555 {:03} {:04}", rng.below(1000), rng.below(10000));
        let account = format!("AC-{:010}", rng.next() % 10_000_000_000);
        if row % (rows / 100).max(1) == 0 {
            sample.push([name.clone(), email.clone(), phone.clone(), account.clone()]);
        }
        builder.add_row(&[
            name.as_str(),
            email.as_str(),
            phone.as_str(),
            account.as_str(),
        ]);
    }
    let (file, stats) = builder.finish();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "records: {} rows x 4 columns built in {:.1} s ({} duplicate rows), index {:.1} MB",
        stats.rows,
        secs,
        stats.duplicate_rows,
        file.len() as f64 / 1e6
    );
    let mut best = f64::MAX;
    let mut index = None;
    for _ in 0..3 {
        let t = Instant::now();
        let loaded = RecordIndex::from_bytes(&file).expect("records load");
        best = best.min(t.elapsed().as_secs_f64());
        index = Some(loaded);
    }
    let index = index.expect("loaded");
    println!(
        "  load: {:.1} ms (best of 3), {:.1} MiB in memory",
        best * 1e3,
        index.heap_bytes() as f64 / (1 << 20) as f64
    );
    let mut scratch = records::FindScratch::default();
    let (mut found, mut t_total, mut bytes) = (0, 0f64, 0usize);
    for row in &sample {
        let text = format!(
            "Customer {} called from {} about the invoice; please reply to {} today.",
            row[0].to_uppercase(),
            row[2].replace(' ', "-"),
            row[1]
        );
        let t = Instant::now();
        let matches = index.find(text.as_bytes(), 2, &mut scratch);
        t_total += t.elapsed().as_secs_f64();
        bytes += text.len();
        found += usize::from(!matches.is_empty());
    }
    println!(
        "  two or more fields of a row in a sentence: found {found} of {}; {:.1} us per text",
        sample.len(),
        t_total * 1e6 / sample.len() as f64
    );
    let mut prose = String::new();
    for i in 0..2000 {
        prose.push_str(&format!(
            "Meeting {i} with {} {} moved to room {}; call +1 555 {:03} {:04} if late. ",
            first[i % first.len()],
            last[(i * 7) % last.len()],
            i % 50,
            i % 1000,
            (i * 37) % 10000
        ));
    }
    let t = Instant::now();
    let matches = index.find(prose.as_bytes(), 2, &mut scratch);
    let secs = t.elapsed().as_secs_f64();
    let _ = bytes;
    println!(
        "  {:.0} KB of names and phone numbers from no single row: {} record findings, {:.1} MB/s",
        prose.len() as f64 / 1e3,
        matches.len(),
        prose.len() as f64 / 1e6 / secs
    );
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if which != "records" {
        documents();
    }
    if which != "documents" {
        records_bench();
    }
}
