//! Public shapes: the blinded code k-grams that many public projects share, known before any
//! index is built.
//!
//! With identifiers blinded, code in one language shares stretches of shape with any large tree
//! (argument parsing, `match` arms, test scaffolding, builder chains). An index sees only its own
//! documents, so it cannot tell such an idiom from its own code: a paste of other code in the
//! same language then matches as a "renamed copy" (measured: 8–12 % of same-language fields
//! flagged by 2–10 MB indexes, `benches/RESULTS.md`, "Issue 12, thirteenth round"). This table
//! is that knowledge from outside the index: the shapes found in at least a few *different*
//! public projects. A document fingerprint whose shape is in the table is stored *marked*: a hit
//! of it counts only when verified (the names as written agree), never as blinded evidence. So
//! a copy that kept its names is still found through such a k-gram; only the renamed reading of
//! it is given up, and that reading is what other code shares.
//!
//! The table holds 32-bit keys of unkeyed shape hashes (token values and the links between
//! repeated names, never names or text) for one k-gram length: shapes depend on `k`, so an
//! index built with another `k` does not use it. Keys are sorted and stored as LEB128 gaps
//! (about two bytes per key), framed like the index files (magic, version, SHA-256).
//!
//! It also holds the identifier names many public projects use (`Ordering`, `Debug`, `Arc`). A
//! list k-gram (names alone once blinded: imports, derive lists) made only of such names is an
//! idiom as written, so it is marked as a public shape is: never a finding alone.
//!
//! Trade-off: a key collision marks an unrelated fingerprint public, which costs only that
//! fingerprint's renamed reading; a shape the table lacks is judged as before.

use super::code_view;
use super::container::{self, IndexError, Reader};
use super::fold::Folder;
use super::units::Units;
use super::winnow::{self, Params};
use std::collections::HashMap;

const MAGIC: &[u8; 8] = b"ALSHAPE\0";
/// Version 2 adds the public text (code as written and comments); a version 1 table holds
/// shapes only and still reads.
/// Version 3 the common identifier names.
/// Version 4 is version 3 checked by BLAKE3 instead of SHA-256 (see `container`).
const VERSION: u32 = 4;

/// The 32-bit key of an unkeyed shape hash (a fixed finalizer: the table is the same for
/// every index key).
fn key_of(shape: u64) -> u32 {
    let mut z = shape.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 32) as u32
}

/// Shapes of code k-grams common across public projects, for one k-gram length, and the
/// k-grams public projects share as written (code and comments).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicShapes {
    k: usize,
    keys: Vec<u32>,
    /// Code k-grams as written ([`winnow::Scratch::written`]), under the same `k`.
    written: Vec<u32>,
    /// The comment k-gram length (in words) of `comments`; 0 for none.
    comment_k: usize,
    /// Comment k-grams as written.
    comments: Vec<u32>,
    /// Identifier names many public projects use ([`code_view`]'s name hashes).
    names: Vec<u32>,
}

impl PublicShapes {
    /// The k-gram length (in code tokens) the shapes were taken with.
    pub fn k(&self) -> usize {
        self.k
    }

    /// How many shapes the table holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// How many code and comment k-grams as written it holds.
    pub fn written_len(&self) -> (usize, usize) {
        (self.written.len(), self.comments.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether the shape hash `shape` (see [`winnow::Scratch::shape`]) is public.
    pub fn contains(&self, shape: u64) -> bool {
        self.keys.binary_search(&key_of(shape)).is_ok()
    }

    /// Whether the code k-gram written `written` ([`winnow::Scratch::written`]) is public text.
    pub fn code_is_public(&self, written: u64) -> bool {
        self.written.binary_search(&key_of(written)).is_ok()
    }

    /// Whether the comment k-gram written `written` is public text, for comment k-grams of
    /// `comment_k` words (another length never is).
    pub fn comment_is_public(&self, comment_k: usize, written: u64) -> bool {
        comment_k == self.comment_k && self.comments.binary_search(&key_of(written)).is_ok()
    }

    /// Whether every identifier of `names` (a k-gram's [`Units::names`], 0 for a unit that is
    /// not one) is a name many public projects use, and there is one.
    pub fn names_are_common(&self, names: &[u64]) -> bool {
        let mut any = false;
        for &name in names.iter().filter(|&&n| n != 0) {
            if self.names.binary_search(&key_of(name)).is_err() {
                return false;
            }
            any = true;
        }
        any
    }

    /// How many common identifier names it holds.
    pub fn names_len(&self) -> usize {
        self.names.len()
    }

    /// The table as a file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(16 + 2 * (self.keys.len() + self.written.len()));
        payload.extend_from_slice(&(self.k as u32).to_le_bytes());
        container::write_increasing(&self.keys, &mut payload);
        container::write_increasing(&self.written, &mut payload);
        payload.extend_from_slice(&(self.comment_k as u32).to_le_bytes());
        container::write_increasing(&self.comments, &mut payload);
        container::write_increasing(&self.names, &mut payload);
        container::seal(MAGIC, VERSION, &payload)
    }

    /// Parses and checks a table file.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicShapes, IndexError> {
        let (version, payload) = container::open_versioned(bytes, MAGIC, "public shapes", VERSION)?;
        let mut r = Reader::new(payload);
        let k = r.u32()? as usize;
        if k == 0 || k > 4096 {
            return Err(IndexError::Malformed("k-gram length out of range"));
        }
        let keys = r.increasing(1 << 32)?;
        let mut table = PublicShapes {
            k,
            keys,
            ..PublicShapes::default()
        };
        if version >= 2 {
            table.written = r.increasing(1 << 32)?;
            table.comment_k = r.u32()? as usize;
            if table.comment_k > 4096 {
                return Err(IndexError::Malformed("comment k-gram length out of range"));
            }
            table.comments = r.increasing(1 << 32)?;
        }
        if version >= 3 {
            table.names = r.increasing(1 << 32)?;
        }
        if !r.at_end() {
            return Err(IndexError::Malformed("bytes after the last key"));
        }
        Ok(table)
    }
}

/// In how many projects each key occurs.
#[derive(Debug, Default)]
struct ProjectCounts {
    /// Per key: (projects seen in, the last project that counted it).
    seen: HashMap<u32, (u32, u32)>,
}

impl ProjectCounts {
    /// Counts `hash` once for `project`, as `weight` projects (a reference counts as many).
    fn add(&mut self, hash: u64, project: u32, weight: u32) {
        let entry = self.seen.entry(key_of(hash)).or_insert((0, u32::MAX));
        if entry.1 != project {
            *entry = (entry.0.saturating_add(weight), project);
        }
    }

    /// The keys seen in at least `min_projects` projects, sorted.
    fn keys(&self, min_projects: u32) -> Vec<u32> {
        let mut keys: Vec<u32> = self
            .seen
            .iter()
            .filter(|&(_, &(projects, _))| projects >= min_projects)
            .map(|(&key, _)| key)
            .collect();
        keys.sort_unstable();
        keys
    }
}

/// Counts, over a corpus of public projects, in how many projects each code shape, each code
/// k-gram as written and each comment k-gram occurs.
#[derive(Debug)]
pub struct ShapeCounter {
    params: Params,
    comment: Params,
    folder: Folder,
    units: Units,
    comments: Units,
    scratch: winnow::Scratch,
    shapes: ProjectCounts,
    written: ProjectCounts,
    comment_written: ProjectCounts,
    names: ProjectCounts,
    project: u32,
    /// How many projects the current one counts as: 1, or for a reference enough for any
    /// threshold.
    weight: u32,
}

impl ShapeCounter {
    /// A counter of the code view's shapes under `params` and of its comments under `comment`
    /// (an index's code and comment settings: k-grams are only comparable for one `k` and
    /// `min_distinct`).
    pub fn new(params: Params, comment: Params) -> ShapeCounter {
        ShapeCounter {
            params,
            comment,
            folder: Folder::new(),
            units: Units::default(),
            comments: Units::default(),
            scratch: winnow::Scratch::default(),
            shapes: ProjectCounts::default(),
            written: ProjectCounts::default(),
            comment_written: ProjectCounts::default(),
            names: ProjectCounts::default(),
            project: 0,
            weight: 1,
        }
    }

    /// Starts the next project: k-grams count once per project, however many of its files
    /// hold them.
    pub fn next_project(&mut self) {
        self.project += 1;
        self.weight = 1;
    }

    /// Starts a *reference* project: code that projects everywhere copy from, such as a
    /// language's standard library, whose every k-gram is public by itself. Its text as
    /// written and its comments count as public whatever `min_projects` is; its shapes count as
    /// one project's, since a shape of it alone is no idiom.
    pub fn next_reference(&mut self) {
        self.project += 1;
        self.weight = u32::MAX;
    }

    /// Adds one source file of the current project.
    pub fn add_file(&mut self, text: &[u8]) {
        code_view::units(&mut self.folder, text, &mut self.units, &mut self.comments);
        let counted = Counted {
            project: self.project,
            weight: self.weight,
        };
        let (scratch, code, comment) = (&mut self.scratch, self.params, self.comment);
        let shapes = Some(&mut self.shapes);
        count_stream(
            &self.units,
            code,
            scratch,
            counted,
            shapes,
            &mut self.written,
        );
        let written = &mut self.comment_written;
        count_stream(&self.comments, comment, scratch, counted, None, written);
        for &name in self.units.names.iter().filter(|&&n| n != 0) {
            self.names.add(name, counted.project, 1);
        }
    }

    /// The shapes and the k-grams as written seen in at least `min_projects` projects, and the
    /// identifier names seen in at least `min_name_projects`.
    pub fn finish(self, min_projects: u32, min_name_projects: u32) -> PublicShapes {
        PublicShapes {
            k: self.params.k,
            keys: self.shapes.keys(min_projects),
            written: self.written.keys(min_projects),
            comment_k: self.comment.k,
            comments: self.comment_written.keys(min_projects),
            names: self.names.keys(min_name_projects),
        }
    }

    /// How many shapes occur in exactly `n` projects, for `n` = 1, 2, …, `upto` (the last
    /// counts `upto` or more): to choose `min_projects`.
    pub fn histogram(&self, upto: u32) -> Vec<usize> {
        let mut counts = vec![0usize; upto as usize];
        for &(projects, _) in self.shapes.seen.values() {
            let bin = projects.clamp(1, upto) as usize - 1;
            if let Some(c) = counts.get_mut(bin) {
                *c += 1;
            }
        }
        counts
    }
}

/// The project a file's k-grams count for, and as how many projects its text counts.
#[derive(Debug, Clone, Copy)]
struct Counted {
    project: u32,
    weight: u32,
}

/// Counts one stream's k-grams for `counted`: their shapes into `shapes` (when given, as one
/// project) and their forms as written into `written`.
fn count_stream(
    units: &Units,
    params: Params,
    scratch: &mut winnow::Scratch,
    counted: Counted,
    mut shapes: Option<&mut ProjectCounts>,
    written: &mut ProjectCounts,
) {
    let Counted { project, weight } = counted;
    for (shape, form) in winnow::forms(&units.values, &units.names, params, scratch) {
        if let (Some(counts), Some(shape)) = (shapes.as_deref_mut(), shape) {
            counts.add(shape, project, 1);
        }
        if let Some(form) = form {
            written.add(form, project, weight);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protected::keyed::Key;

    /// The code view's k-gram length, every k-gram kept (the tests' texts are short).
    const PARAMS: Params = Params {
        k: 14,
        w: 23,
        min_distinct: 0,
    };

    #[test]
    fn a_table_reads_back_as_written_and_refuses_damage() {
        let table = PublicShapes {
            k: 14,
            keys: vec![0, 1, 127, 128, 300_000, u32::MAX - 1, u32::MAX],
            written: vec![5, 6, 70_000],
            comment_k: 8,
            comments: vec![2, u32::MAX],
            names: vec![9, 1 << 20],
        };
        let bytes = table.to_bytes();
        assert_eq!(PublicShapes::from_bytes(&bytes), Ok(table));
        let mut damaged = bytes.clone();
        if let Some(last) = damaged.last_mut() {
            *last ^= 1;
        }
        assert!(PublicShapes::from_bytes(&damaged).is_err());
        assert!(PublicShapes::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        // A version 1 table (shapes only) still reads, with no public text.
        let mut payload = 14u32.to_le_bytes().to_vec();
        container::write_increasing(&[3, 9], &mut payload);
        let old = PublicShapes::from_bytes(&container::seal(MAGIC, 1, &payload)).unwrap();
        assert_eq!((old.k(), old.len(), old.written_len()), (14, 2, (0, 0)));
        assert!(!old.comment_is_public(0, 5));
    }

    #[test]
    fn a_reference_is_public_text_alone_but_its_shapes_count_once() {
        let params = PARAMS;
        let code = "/// Returns the number of elements the buffer can hold without growing.\n/// Never less than the length.\nfn capacity(&self) -> usize {\n    if self.inner.is_empty() { 0 } else { self.inner.cap() }\n}\n";
        let renamed = code.replace("capacity", "room").replace("inner", "raw");
        let read = |text: &str| {
            let (mut units, mut comments) = (Units::default(), Units::default());
            code_view::units(
                &mut Folder::new(),
                text.as_bytes(),
                &mut units,
                &mut comments,
            );
            let mut scratch = winnow::Scratch::default();
            let forms: Vec<_> =
                winnow::forms(&units.values, &units.names, params, &mut scratch).collect();
            let comment_forms: Vec<_> =
                winnow::forms(&comments.values, &comments.names, params, &mut scratch)
                    .filter_map(|(_, form)| form)
                    .collect();
            (forms, comment_forms)
        };
        let mut counter = ShapeCounter::new(params, params);
        counter.next_reference();
        counter.add_file(code.as_bytes());
        counter.next_project();
        counter.add_file(renamed.as_bytes());
        let table = counter.finish(3, 3);
        let (forms, comment_forms) = read(code);
        assert!(!forms.is_empty() && !comment_forms.is_empty());
        // The reference's code as written and its comments are public in one tree …
        assert!(forms
            .iter()
            .filter_map(|&(_, form)| form)
            .all(|form| table.code_is_public(form)));
        assert!(comment_forms
            .iter()
            .all(|&form| table.comment_is_public(params.k, form)));
        // … the renamed copy's code is not (its comments, kept, are) …
        let (renamed_forms, _) = read(&renamed);
        assert!(renamed_forms
            .iter()
            .filter_map(|&(_, form)| form)
            .all(|form| !table.code_is_public(form)));
        // … and its shapes, in two trees, are still short of three projects.
        assert!(table.is_empty(), "{} shapes", table.len());
    }

    #[test]
    fn a_shape_counts_once_per_project_and_a_rename_keeps_it() {
        let params = PARAMS;
        let code = "fn parse(input: &str) -> Result<Config, Error> {\n    let value = input.trim().parse::<u32>()?;\n    Ok(Config { value })\n}\n";
        let renamed = code
            .replace("parse", "read")
            .replace("input", "text")
            .replace("value", "n")
            .replace("Config", "Settings");
        let mut counter = ShapeCounter::new(params, params);
        counter.next_project();
        counter.add_file(code.as_bytes());
        counter.add_file(code.as_bytes());
        let once = counter.finish(2, 2);
        assert!(once.is_empty(), "two files of one project are one project");

        let mut counter = ShapeCounter::new(params, params);
        counter.next_project();
        counter.add_file(code.as_bytes());
        counter.next_project();
        counter.add_file(renamed.as_bytes());
        let table = counter.finish(2, 2);
        assert!(table.len() > 5, "{}", table.len());
        // Every shape of the code is in the table, and an unrelated shape is not. Read as an
        // index build reads them (`fingerprints` keeping shapes), so both paths must agree.
        let mut scratch = winnow::Scratch::default();
        scratch.keep_shapes(true);
        let (mut units, mut comments, mut out) = (Units::default(), Units::default(), Vec::new());
        code_view::units(
            &mut Folder::new(),
            code.as_bytes(),
            &mut units,
            &mut comments,
        );
        winnow::fingerprints(
            &Key([7; 16]),
            super::super::documents::DOMAIN_CODE,
            &units.values,
            &units.names,
            params,
            &mut scratch,
            &mut out,
        );
        let shapes: Vec<u64> = (0..units.len()).filter_map(|i| scratch.shape(i)).collect();
        assert!(!shapes.is_empty());
        assert!(shapes.iter().all(|&s| table.contains(s)));
        assert!(out
            .iter()
            .filter_map(|s| s.shape)
            .all(|s| table.contains(s)));
        assert!(!table.contains(0x1234_5678_9abc_def0));
    }
}
