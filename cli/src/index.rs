//! `airlock index`: build the protected documents and records indexes.
//!
//! Both write a file the filter loads (`documents:` and `records:` detectors, issue 12). The
//! file holds keyed hashes under a key drawn here at random, never the indexed text; it is
//! written next to its final name and renamed, so a failed run never leaves half a file.

use crate::index_records;
use crate::index_walk::{self, Walk};
use airlock_filter::protected::documents::{Builder, Settings, View};
use airlock_filter::protected::keyed::Key;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum IndexCommand {
    /// Fingerprint protected text (source trees, documents, exports) into a documents index.
    Documents {
        /// The index file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Skip files and folders matching this glob (against the path below each PATH, and the name).
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// Store document paths in the index (default: numbers only; paths can be sensitive).
        #[arg(long)]
        names: bool,
        /// Text whose fingerprints are never protected (public code, dependencies); repeatable.
        #[arg(long, value_name = "PATH")]
        background: Vec<PathBuf>,
        /// Files and folders to index.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Hash the rows of a CSV or JSON Lines table into a records (exact data match) index.
    Records {
        /// The index file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The columns to index, comma-separated (at most 16).
        #[arg(
            long,
            value_name = "NAME[,NAME...]",
            value_delimiter = ',',
            required = true
        )]
        columns: Vec<String>,
        /// A column whose value alone identifies a row (an account number); repeatable.
        #[arg(long, value_name = "NAME")]
        unique: Vec<String>,
        /// The table: `.csv` (with a header line) or `.jsonl` (one object per line).
        input: PathBuf,
    },
}

pub fn run(command: IndexCommand) -> Result<ExitCode, String> {
    match command {
        IndexCommand::Documents {
            out,
            exclude,
            names,
            background,
            paths,
        } => documents(&out, &exclude, names, &background, &paths),
        IndexCommand::Records {
            out,
            columns,
            unique,
            input,
        } => index_records::run(&out, &columns, &unique, &input),
    }
}

/// A fresh random 128-bit key.
pub fn random_key() -> Result<Key, String> {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).map_err(|e| format!("cannot draw a random key: {e}"))?;
    Ok(Key(key))
}

/// Writes `bytes` to `out` through a temporary file in the same folder.
pub fn write_atomically(out: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = out.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: cannot write: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: cannot write: {e}", out.display())
    })
}

fn documents(
    out: &Path,
    exclude: &[String],
    names: bool,
    background: &[PathBuf],
    paths: &[PathBuf],
) -> Result<ExitCode, String> {
    let excludes = index_walk::globs(exclude)?;
    let mut builder = Builder::new(random_key()?, Settings::default());
    let mut walk = Walk::new(&excludes);
    walk.run(paths, &mut |name, text| {
        builder.add_document(name, text, View::for_name(name));
    })?;
    let mut back = Walk::new(&excludes);
    back.run(background, &mut |_, text| builder.add_background(text))?;
    if walk.indexed == 0 {
        return Err(format!(
            "no text file to index under {} ({}); nothing written",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            walk.skipped_summary()
        ));
    }
    let (file, stats) = builder.finish(names);
    write_atomically(out, &file)?;
    println!(
        "airlock: wrote {} ({} bytes, {:.2} % of the text): {} documents ({} as code, {} as prose), {} bytes of text, {} fingerprints{}",
        out.display(),
        file.len(),
        100.0 * file.len() as f64 / stats.text_bytes.max(1) as f64,
        stats.documents,
        stats.code_documents,
        stats.documents - stats.code_documents,
        stats.text_bytes,
        stats.entries,
        if names { "; document paths stored (--names)" } else { "; documents numbered in the order listed below" },
    );
    println!(
        "airlock: dropped {} fingerprints common to many documents, {} found in the background ({} background files)",
        stats.dropped_common, stats.dropped_background, back.indexed
    );
    println!("airlock: skipped {}", walk.skipped_summary());
    for (number, name) in walk.names.iter().enumerate() {
        println!("  document {number}: {name}");
    }
    Ok(ExitCode::SUCCESS)
}
