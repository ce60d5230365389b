//! Real text files for the benchmarks that read other people's text (clean traffic, protected
//! documents): a walk in sorted order, so a run reads the same files every time.

use std::path::{Path, PathBuf};

/// Text files under `roots` that `keep` accepts: sorted, not behind a link, not empty, at most
/// `max_file` bytes, UTF-8 without NUL bytes; `(path, text)`, until `limit` bytes in all.
pub fn text_files(
    roots: &[PathBuf],
    limit: usize,
    max_file: usize,
    keep: &dyn Fn(&Path) -> bool,
) -> Vec<(String, String)> {
    let mut stack: Vec<PathBuf> = roots.to_vec();
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries.into_iter().rev() {
            if path.is_symlink() {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if keep(&path) {
                files.push(path);
            }
        }
    }
    let mut out = Vec::new();
    let mut total = 0;
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if bytes.is_empty() || bytes.len() > max_file || bytes.contains(&0) {
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        total += text.len();
        out.push((path.display().to_string(), text));
        if total >= limit {
            break;
        }
    }
    out
}
