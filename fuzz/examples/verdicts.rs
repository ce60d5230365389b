//! Prints, for each `corpus/inspect` file, the request it makes and the verdict
//! (decision, finding count, rewritten or not, CPU time): a look at what the corpus reaches.
//!   cargo run --release --manifest-path fuzz/Cargo.toml --example verdicts

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/inspect");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for path in files {
        let data = std::fs::read(&path).unwrap_or_default();
        let summary = airlock_fuzz::inspect::summary(&data);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("{name:40} {summary}");
    }
}
