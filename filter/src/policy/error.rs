//! Policy errors that name the file, the field path and the problem.
//!
//! A policy directory is merged into one document before it is checked, so a
//! raw error says `detectors[57].regex`; [`Origins`] turns that back into the
//! file and the position in it the author actually edits.

use std::fmt;

/// One problem in a policy: where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file (or `plugin configuration`) the field is in.
    pub source: String,
    /// Field path inside that file, like `detectors[3].regex`; empty for the whole document.
    pub path: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: {}: {}", self.source, self.path, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}

/// All problems found in one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// Where the detectors and tests of a merged document came from.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// The main document (policy.yaml, or the plugin configuration).
    pub main: String,
    /// Per merged detector: (file, index in that file's list), or `None` when from `main`.
    pub detectors: Vec<Option<(String, usize)>>,
    pub tests: Vec<Option<(String, usize)>>,
}

impl Origins {
    pub fn single(main: impl Into<String>) -> Origins {
        Origins {
            main: main.into(),
            ..Origins::default()
        }
    }

    /// Builds an error at `path` (a path in the merged document), located in its file.
    pub fn error(&self, path: &str, message: impl Into<String>) -> PolicyError {
        let (source, path) = self.locate(path);
        PolicyError {
            source,
            path,
            message: message.into(),
        }
    }

    fn locate(&self, path: &str) -> (String, String) {
        for (list, table) in [("detectors", &self.detectors), ("tests", &self.tests)] {
            let Some(rest) = path.strip_prefix(list).and_then(|r| r.strip_prefix('[')) else {
                continue;
            };
            let Some((index, tail)) = rest.split_once(']') else {
                continue;
            };
            let Ok(index) = index.parse::<usize>() else {
                continue;
            };
            if let Some(Some((file, local))) = table.get(index) {
                return (file.clone(), format!("[{local}]{tail}"));
            }
        }
        (self.main.clone(), path.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_merged_paths_in_their_files() {
        let origins = Origins {
            main: "p/policy.yaml".into(),
            detectors: vec![
                None,
                Some(("p/detectors/a.yaml".into(), 0)),
                Some(("p/detectors/a.yaml".into(), 1)),
            ],
            tests: vec![Some(("p/tests/t.yaml".into(), 4))],
        };
        assert_eq!(
            origins.error("detectors[2].regex", "bad").to_string(),
            "p/detectors/a.yaml: [1].regex: bad"
        );
        assert_eq!(
            origins.error("detectors[0].id", "x").to_string(),
            "p/policy.yaml: detectors[0].id: x"
        );
        assert_eq!(
            origins.error("tests[0]", "y").to_string(),
            "p/tests/t.yaml: [4]: y"
        );
        assert_eq!(origins.error("", "z").to_string(), "p/policy.yaml: z");
    }
}
