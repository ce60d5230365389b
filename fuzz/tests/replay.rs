//! Replays every saved corpus file (`fuzz/corpus/<target>/*`) through its target's checks,
//! on plain stable `cargo test`: every input the fuzzer once found (crashes included,
//! minimized) stays checked. `AIRLOCK_FUZZ_CORPUS=DIR` replays another corpus root.

use std::path::PathBuf;

fn corpus_root() -> PathBuf {
    std::env::var_os("AIRLOCK_FUZZ_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"))
}

fn replay(target: &str) {
    let dir = corpus_root().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus files under {}", dir.display());
    for path in &files {
        // A file gone since the listing (a fuzzer reducing the corpus meanwhile) is skipped.
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        let run = std::panic::catch_unwind(|| airlock_fuzz::check(target, &data));
        assert!(
            matches!(run, Ok(true)),
            "corpus file {} breaks the {target} checks",
            path.display()
        );
    }
    eprintln!("{target}: {} corpus files replayed", files.len());
}

#[test]
fn json_corpus() {
    replay("json");
}

#[test]
fn multipart_corpus() {
    replay("multipart");
}

#[test]
fn coding_corpus() {
    replay("coding");
}

#[test]
fn layers_corpus() {
    replay("layers");
}

#[test]
fn inspect_corpus() {
    replay("inspect");
}

#[test]
fn every_target_has_a_corpus_folder() {
    for target in airlock_fuzz::TARGETS {
        assert!(
            corpus_root().join(target).is_dir(),
            "corpus/{target} is missing"
        );
    }
}
