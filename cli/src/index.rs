//! `airlock index`: build the protected documents and records indexes.
//!
//! Both write a file the filter loads (`documents:` and `records:` detectors, issue 12). The
//! file holds keyed hashes under a key drawn here at random, never the indexed text; it is
//! written next to its final name and renamed, so a failed run never leaves half a file.

use crate::index_records;
use crate::index_walk::{self, Walk};
use airlock_filter::protected::documents::{Builder, Settings, View};
use airlock_filter::protected::keyed::Key;
use airlock_filter::protected::public_shapes::{PublicShapes, ShapeCounter};
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
        /// Code shapes common across public projects, from `airlock index shapes` (default: the
        /// built-in table). A code k-gram of such a shape is found only as written, not renamed.
        #[arg(long, value_name = "FILE", conflicts_with = "no_public_shapes")]
        public_shapes: Option<PathBuf>,
        /// Use no public-shapes table: every code k-gram may match renamed.
        #[arg(long)]
        no_public_shapes: bool,
        /// Files and folders to index.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Collect the code shapes (blinded k-grams) common across public projects into a table
    /// for `index documents --public-shapes`.
    Shapes {
        /// The table file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Keep the shapes found in at least this many of the projects.
        #[arg(long, value_name = "N", default_value_t = 3)]
        min_projects: u32,
        /// An identifier name used in at least this many projects is a common name: a list
        /// (imports, derives, fields) of common names alone is found only beside other evidence.
        #[arg(long, value_name = "N", default_value_t = 5)]
        min_name_projects: u32,
        /// Skip files and folders whose path matches GLOB (vendored or generated code that is
        /// another project's); repeatable.
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
        /// A tree that projects everywhere copy from (a language's standard library): its code
        /// as written and its comments are public text by themselves; repeatable.
        #[arg(long, value_name = "PATH")]
        reference: Vec<PathBuf>,
        /// Each PATH is one project (a source tree of public code).
        #[arg(required = true)]
        projects: Vec<PathBuf>,
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
            public_shapes,
            no_public_shapes,
            paths,
        } => {
            let shapes = if no_public_shapes {
                None
            } else {
                Some(read_public_shapes(public_shapes.as_deref())?)
            };
            documents(&out, &exclude, names, &background, shapes, &paths)
        }
        IndexCommand::Shapes {
            out,
            min_projects,
            min_name_projects,
            exclude,
            reference,
            projects,
        } => shapes(
            &out,
            (min_projects, min_name_projects),
            &exclude,
            &reference,
            &projects,
        ),
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

/// The built-in public-shapes table (see `cli/data/README.md` for the projects it was taken
/// from and the command that builds it).
const BUILT_IN_PUBLIC_SHAPES: &[u8] = include_bytes!("../data/public-shapes.bin");

/// The public-shapes table at `path`, or the built-in one.
fn read_public_shapes(path: Option<&Path>) -> Result<PublicShapes, String> {
    let Some(path) = path else {
        return PublicShapes::from_bytes(BUILT_IN_PUBLIC_SHAPES).map_err(|e| {
            format!("the built-in public-shapes table is damaged ({e}); rebuild airlock")
        });
    };
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table = PublicShapes::from_bytes(&bytes).map_err(|e| {
        format!(
            "{}: not a public-shapes table ({e}); build one with `airlock index shapes`",
            path.display()
        )
    })?;
    let k = Settings::default().code.k;
    if table.k() != k {
        return Err(format!(
            "{}: its shapes are {}-token k-grams, this airlock's are {k}; rebuild it with `airlock index shapes`",
            path.display(),
            table.k()
        ));
    }
    Ok(table)
}

fn documents(
    out: &Path,
    exclude: &[String],
    names: bool,
    background: &[PathBuf],
    public_shapes: Option<PublicShapes>,
    paths: &[PathBuf],
) -> Result<ExitCode, String> {
    let excludes = index_walk::globs(exclude)?;
    let mut builder = Builder::new(random_key()?, Settings::default());
    // The table's shape count, when it is used (a table of public text alone has none).
    let shapes = public_shapes.and_then(|table| {
        let n = table.len();
        builder.mark_public_shapes(table).then_some(n)
    });
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
    if let Some(shapes) = shapes {
        println!(
            "airlock: {} code fingerprints have a public shape or are lists of common names ({shapes} shapes known): found only as written, never alone; {} more dropped (as written they could never be confirmed)",
            stats.marked_public, stats.dropped_public
        );
        println!(
            "airlock: dropped {} fingerprints of text public projects share as written (license notices, derive lists, common imports, standard-library code)",
            stats.dropped_public_text
        );
    } else {
        println!("airlock: no public-shapes table: every code fingerprint may match renamed");
    }
    println!("airlock: skipped {}", walk.skipped_summary());
    for (number, name) in walk.names.iter().enumerate() {
        println!("  document {number}: {name}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `airlock index shapes`: the code shapes found in at least `min_projects` of `projects`.
fn shapes(
    out: &Path,
    (min_projects, min_name_projects): (u32, u32),
    exclude: &[String],
    references: &[PathBuf],
    projects: &[PathBuf],
) -> Result<ExitCode, String> {
    if min_projects < 2 {
        return Err(format!(
            "--min-projects {min_projects}: a shape is public when at least 2 projects share it; use 2 or more"
        ));
    }
    let excludes = index_walk::globs(exclude)?;
    let mut counter = ShapeCounter::new(Settings::default().code, Settings::default().comment);
    let mut files = 0;
    let trees = references.iter().map(|r| (r, true));
    for (project, reference) in trees.chain(projects.iter().map(|p| (p, false))) {
        let mut walk = Walk::new(&excludes);
        if reference {
            counter.next_reference();
        } else {
            counter.next_project();
        }
        walk.run(std::slice::from_ref(project), &mut |name, text| {
            if View::for_name(name) == View::Code {
                counter.add_file(text);
            }
        })?;
        files += walk.indexed;
    }
    let table = counter.finish(min_projects, min_name_projects.max(min_projects));
    if table.is_empty() && table.written_len() == (0, 0) {
        return Err(format!(
            "no code shape is shared by {min_projects} of the {} projects ({files} files); nothing written",
            projects.len()
        ));
    }
    let bytes = table.to_bytes();
    write_atomically(out, &bytes)?;
    let (code, comments) = table.written_len();
    println!(
        "airlock: wrote {} ({} bytes): {} shapes, {code} code and {comments} comment k-grams as written, each shared by at least {min_projects} of {} projects or in one of {} reference trees; {} names used by at least {} projects ({files} files read)",
        out.display(),
        bytes.len(),
        table.len(),
        projects.len(),
        references.len(),
        table.names_len(),
        min_name_projects.max(min_projects)
    );
    Ok(ExitCode::SUCCESS)
}
