//! Walking files and folders for `airlock index documents`: which files are text, which are not.
//!
//! Folders are walked in name order (document numbers are stable across runs), symbolic links
//! are not followed (no loops, nothing outside the tree), and version-control folders (`.git`,
//! `.hg`, `.svn`) are skipped. A file is indexed when it is valid UTF-8 without NUL bytes; every
//! other file is counted under its reason, so the summary accounts for each file.

use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Files above this size are skipped as too large (the index is for text, not dumps).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Compiles `--exclude` globs.
pub fn globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        set.add(Glob::new(p).map_err(|e| format!("--exclude {p:?}: {e}"))?);
    }
    set.build().map_err(|e| format!("--exclude: {e}"))
}

/// One walk's counts.
pub struct Walk<'a> {
    excludes: &'a GlobSet,
    /// Files handed to the callback.
    pub indexed: usize,
    /// Their names, in order.
    pub names: Vec<String>,
    /// Skipped files by reason.
    pub skipped: BTreeMap<&'static str, usize>,
}

impl<'a> Walk<'a> {
    pub fn new(excludes: &'a GlobSet) -> Walk<'a> {
        Walk {
            excludes,
            indexed: 0,
            names: Vec::new(),
            skipped: BTreeMap::new(),
        }
    }

    /// "3 binary, 1 not UTF-8" (or "nothing").
    pub fn skipped_summary(&self) -> String {
        if self.skipped.is_empty() {
            return "nothing".to_owned();
        }
        self.skipped
            .iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn skip(&mut self, why: &'static str) {
        *self.skipped.entry(why).or_default() += 1;
    }

    /// Walks `roots`, calling `each(name, text)` for every text file.
    pub fn run(
        &mut self,
        roots: &[PathBuf],
        each: &mut dyn FnMut(&str, &[u8]),
    ) -> Result<(), String> {
        for root in roots {
            let meta =
                std::fs::symlink_metadata(root).map_err(|e| format!("{}: {e}", root.display()))?;
            let base = root.parent().unwrap_or(Path::new(""));
            if meta.is_dir() {
                self.dir(root, base, each)?;
            } else {
                self.file(root, base, each);
            }
        }
        Ok(())
    }

    fn excluded(&self, path: &Path, base: &Path) -> bool {
        let relative = path.strip_prefix(base).unwrap_or(path);
        self.excludes.is_match(relative)
            || self.excludes.is_match(path)
            || path.file_name().is_some_and(|n| self.excludes.is_match(n))
    }

    fn dir(
        &mut self,
        dir: &Path,
        base: &Path,
        each: &mut dyn FnMut(&str, &[u8]),
    ) -> Result<(), String> {
        let read = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                self.skip("unreadable");
                continue;
            };
            if self.excluded(&path, base) {
                self.skip("excluded");
            } else if meta.file_type().is_symlink() {
                self.skip("symbolic links (not followed)");
            } else if meta.is_dir() {
                let vcs = path
                    .file_name()
                    .is_some_and(|n| n == ".git" || n == ".hg" || n == ".svn");
                if vcs {
                    self.skip("version-control folders");
                } else {
                    self.dir(&path, base, each)?;
                }
            } else {
                self.file(&path, base, each);
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, base: &Path, each: &mut dyn FnMut(&str, &[u8])) {
        if self.excluded(path, base) {
            return self.skip("excluded");
        }
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => return self.skip("not regular files"),
            Ok(m) if m.len() > MAX_FILE_BYTES => return self.skip("too large (over 64 MiB)"),
            Ok(_) => {}
            Err(_) => return self.skip("unreadable"),
        }
        let Ok(bytes) = std::fs::read(path) else {
            return self.skip("unreadable");
        };
        if bytes.is_empty() {
            return self.skip("empty");
        }
        if bytes.contains(&0) {
            return self.skip("binary (NUL bytes)");
        }
        if std::str::from_utf8(&bytes).is_err() {
            return self.skip("not UTF-8");
        }
        let name = path
            .strip_prefix(base)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        each(&name, &bytes);
        self.names.push(name);
        self.indexed += 1;
    }
}
