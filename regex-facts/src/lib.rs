//! What the compiler reads from each regex's syntax tree, and how a built
//! configuration carries it so that a VM need not parse every regex at load.
//!
//! Parsing the ~300 regexes of the default policy was about half of a VM's
//! policy load. What load needs from each tree is small: the longest match,
//! the parts every match holds ([`match_parts`]) and where the
//! keywords pin a match's start ([`anchors`]). `airlock build`
//! and the build script (for the embedded default policy) write these facts
//! into the configuration, each keyed to the pattern and keywords it was read
//! from and to [`FACTS_VERSION`]; the filter uses a fact only if its key
//! matches, and parses the regex otherwise. A regex is still compiled, on
//! first use, from its pattern.
//!
//! This crate depends on nothing but `regex-syntax` and `serde`: the filter
//! uses it at policy load, and the filter's build script uses it to carry the
//! facts of the embedded default policy.

mod anchors;
mod carried;
mod finding_shape;
mod leading_classes;
mod match_parts;
mod match_start;

pub use anchors::{keyword_anchors, Anchor};
pub use carried::{read_all, CarriedFacts, FactsById};
pub use finding_shape::{finding_shape, outside_secret_bytes, FindingShape};
pub use leading_classes::{leading_classes, MAX_LEADING};
pub use match_parts::{commonness, required_bytes, required_run, ByteSet, RequiredRun};
pub use match_start::required_within;

use regex_syntax::hir::Hir;

/// Changes whenever what is read from a tree, or how, changes: older facts are then ignored.
pub const FACTS_VERSION: u32 = 3;

/// Parses a detector regex as the engine reads it: bytes, ASCII only.
pub fn parse(pattern: &str) -> Result<Hir, Box<regex_syntax::Error>> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(Box::new)
}

/// Why a parsed regex cannot be a detector's, if it cannot.
pub fn unusable(hir: &Hir) -> Option<&'static str> {
    if hir.properties().minimum_len() == Some(0) {
        return Some(
            "the regex can match the empty string; every finding must cover at least one byte",
        );
    }
    if hir.properties().look_set().contains_word_unicode() {
        return Some("Unicode word boundaries are not supported; use the ASCII \\b");
    }
    None
}

/// What the compiler reads from one regex's syntax tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexFacts {
    pub longest_match: Option<usize>,
    /// For a detector without keywords: bytes of which every match holds one.
    pub required_bytes: Option<ByteSet>,
    /// For a detector without keywords: a run of one class every match holds.
    pub required_run: Option<RequiredRun>,
    /// For a detector with keywords: where they pin a match's start.
    pub anchors: Option<Vec<Anchor>>,
    /// What its findings can look like, for a detector that joins (joined matching's edges).
    pub shape: Option<FindingShape>,
}

impl RegexFacts {
    /// The facts of `hir`, the tree of a regex whose detector has `keywords`.
    pub fn read(hir: &Hir, keywords: &[String]) -> RegexFacts {
        let always_on = keywords.is_empty();
        let folded: Vec<Vec<u8>> = keywords
            .iter()
            .map(|k| k.as_bytes().to_ascii_lowercase())
            .collect();
        RegexFacts {
            longest_match: hir.properties().maximum_len(),
            required_bytes: always_on.then(|| required_bytes(hir)).flatten(),
            required_run: always_on.then(|| required_run(hir)).flatten(),
            anchors: (!always_on)
                .then(|| keyword_anchors(hir, &folded))
                .flatten(),
            shape: None,
        }
    }
}
