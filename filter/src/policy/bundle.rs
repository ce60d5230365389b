//! Merging a policy directory into one document.
//!
//! A policy directory holds `policy.yaml` (or `.yml`/`.json`), and optionally
//! `detectors/*.yaml` and `tests/*.yaml`, each a list, appended in file-name
//! order. Splitting keeps reviews small; the filter still receives one JSON
//! document. This file has no dependencies beyond `serde_json` and `std`
//! because the filter's build script includes it to embed the default policy.

use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a policy file or directory could not be read into one document. Each names the file.
#[derive(Debug)]
pub enum BundleError {
    /// A directory without `policy.yaml`, `policy.yml` or `policy.json`.
    NoPolicyFile(PathBuf),
    /// A file could not be read.
    Read(PathBuf, std::io::Error),
    /// A `detectors/` or `tests/` directory could not be listed.
    List(PathBuf, std::io::Error),
    /// A file is not valid YAML or JSON (the parser's message).
    Parse(PathBuf, String),
    /// A `detectors/` or `tests/` file is not a list.
    NotAList(PathBuf, &'static str),
    /// The main file is not a mapping, so lists cannot be appended to it.
    NotAMapping(PathBuf),
    /// The main file's `detectors` or `tests` is not a list.
    FieldNotAList(PathBuf, &'static str),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::NoPolicyFile(dir) => write!(
                f,
                "{}: no policy.yaml, policy.yml or policy.json in this directory",
                dir.display()
            ),
            BundleError::Read(path, e) => write!(f, "{}: cannot read: {e}", path.display()),
            BundleError::List(dir, e) => write!(f, "{}: cannot list: {e}", dir.display()),
            BundleError::Parse(path, message) => write!(f, "{}: {message}", path.display()),
            BundleError::NotAList(path, list) => {
                write!(f, "{}: must be a list of {list}", path.display())
            }
            BundleError::NotAMapping(path) => write!(f, "{}: must be a mapping", path.display()),
            BundleError::FieldNotAList(path, list) => {
                write!(f, "{}: {list}: must be a list", path.display())
            }
        }
    }
}

impl std::error::Error for BundleError {}

/// A merged policy and where each detector and test came from: `(file, index in file)`.
pub struct Bundle {
    pub main: PathBuf,
    pub document: Value,
    pub detectors: Vec<Option<(PathBuf, usize)>>,
    pub tests: Vec<Option<(PathBuf, usize)>>,
    /// Every file read, for build scripts to watch.
    pub files: Vec<PathBuf>,
}

/// Reads a policy file or directory. `parse` turns a file's text into JSON (YAML or JSON).
pub fn load(
    path: &Path,
    parse: &dyn Fn(&Path, &str) -> Result<Value, String>,
) -> Result<Bundle, BundleError> {
    if !path.is_dir() {
        let document = parse_file(path, parse)?;
        let detectors = vec![None; list_len(&document, "detectors")];
        let tests = vec![None; list_len(&document, "tests")];
        return Ok(Bundle {
            main: path.to_path_buf(),
            document,
            detectors,
            tests,
            files: vec![path.to_path_buf()],
        });
    }
    let main = ["policy.yaml", "policy.yml", "policy.json"]
        .iter()
        .map(|name| path.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| BundleError::NoPolicyFile(path.to_path_buf()))?;
    let mut document = parse_file(&main, parse)?;
    let mut bundle = Bundle {
        detectors: vec![None; list_len(&document, "detectors")],
        tests: vec![None; list_len(&document, "tests")],
        files: vec![main.clone()],
        main,
        document: Value::Null,
    };
    for (list, origins) in [
        ("detectors", &mut bundle.detectors),
        ("tests", &mut bundle.tests),
    ] {
        for file in list_files(&path.join(list))? {
            let items = match parse_file(&file, parse)? {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                _ => return Err(BundleError::NotAList(file, list)),
            };
            let Some(object) = document.as_object_mut() else {
                return Err(BundleError::NotAMapping(bundle.main));
            };
            let target = object
                .entry(list)
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(target) = target else {
                return Err(BundleError::FieldNotAList(bundle.main, list));
            };
            for (index, item) in items.into_iter().enumerate() {
                target.push(item);
                origins.push(Some((file.clone(), index)));
            }
            bundle.files.push(file);
        }
    }
    bundle.document = document;
    Ok(bundle)
}

fn parse_file(
    path: &Path,
    parse: &dyn Fn(&Path, &str) -> Result<Value, String>,
) -> Result<Value, BundleError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| BundleError::Read(path.to_path_buf(), e))?;
    parse(path, &text).map_err(|e| BundleError::Parse(path.to_path_buf(), e))
}

fn list_len(document: &Value, key: &str) -> usize {
    document
        .get(key)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// The `.yaml`, `.yml` and `.json` files of `dir`, sorted by name; none if `dir` does not exist.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>, BundleError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let cannot_list = |e| BundleError::List(dir.to_path_buf(), e);
    let entries = std::fs::read_dir(dir).map_err(cannot_list)?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(cannot_list)?.path();
        let is_policy_file = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        );
        if is_policy_file && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
