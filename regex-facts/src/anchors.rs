//! Where a keyword pins down the start of its regex's match.
//!
//! Most credential formats begin with their own keyword (`ghp_`, `xoxb-`,
//! `AKIA`, `pat`). A match can then start only where a keyword occurrence puts
//! it, so the regex need not search the few hundred bytes around every
//! occurrence: it is tried once, anchored, at the occurrence. That matters
//! because short keywords are everywhere in some texts (`pat` is in every
//! `path=` of a log, `api` in every URL).
//!
//! From the syntax tree we take literal prefixes every match starts with,
//! ASCII case folded as the keyword automaton matches. When each prefix holds
//! one of the detector's keywords, the offsets at which they do are the
//! anchors: a match starts `offset` bytes before an occurrence of the keyword.

use crate::match_parts::ByteSet;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Most distinct prefixes followed through a syntax tree.
const MAX_PREFIXES: usize = 64;
/// Longest prefix followed.
const MAX_PREFIX_LEN: usize = 64;
/// Largest class (after case folding) followed as a set of one-byte prefixes.
const MAX_CLASS_BYTES: usize = 4;
/// Most (keyword, offset) anchors of one regex; more means trying it too often per occurrence.
const MAX_ANCHORS: usize = 16;

/// A keyword of a regex detector (its index in the detector's list) and how many bytes before
/// an occurrence of it a match starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Anchor {
    pub keyword: usize,
    pub back: usize,
}

/// The anchors of a regex with keywords `keywords` (ASCII lowercased): every match starts
/// `back` bytes before an occurrence of some anchor's keyword. `None` when some match need
/// not hold a keyword at a fixed distance from its start (the regex then runs around each
/// occurrence instead).
pub fn keyword_anchors(hir: &Hir, keywords: &[Vec<u8>]) -> Option<Vec<Anchor>> {
    let prefixes = prefixes(hir);
    let mut anchors = Vec::new();
    for prefix in &prefixes.strings {
        let before = anchors.len();
        for (keyword, word) in keywords.iter().enumerate() {
            if word.is_empty() {
                continue;
            }
            let offsets = prefix.windows(word.len()).enumerate();
            anchors.extend(
                offsets
                    .filter(|(_, window)| window == word)
                    .map(|(back, _)| Anchor { keyword, back }),
            );
        }
        if anchors.len() == before {
            return None;
        }
    }
    anchors.sort_unstable();
    anchors.dedup();
    (!anchors.is_empty() && anchors.len() <= MAX_ANCHORS).then_some(anchors)
}

/// Every match of a part of a regex starts with one of `strings` (ASCII lowercased);
/// `complete` when each string is a whole match of the part, so the next part continues it.
struct Prefixes {
    strings: Vec<Vec<u8>>,
    complete: bool,
}

impl Prefixes {
    /// Says nothing: a match may start with anything.
    fn unknown() -> Prefixes {
        Prefixes {
            strings: vec![Vec::new()],
            complete: false,
        }
    }

    fn exactly(strings: Vec<Vec<u8>>) -> Prefixes {
        Prefixes {
            strings,
            complete: true,
        }
    }
}

fn prefixes(hir: &Hir) -> Prefixes {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Prefixes::exactly(vec![Vec::new()]),
        HirKind::Literal(literal) => {
            let mut bytes = literal.0.to_ascii_lowercase();
            let complete = bytes.len() <= MAX_PREFIX_LEN;
            bytes.truncate(MAX_PREFIX_LEN);
            Prefixes {
                strings: vec![bytes],
                complete,
            }
        }
        HirKind::Class(class) => class_bytes(class).map_or_else(Prefixes::unknown, |bytes| {
            Prefixes::exactly(bytes.into_iter().map(|b| vec![b]).collect())
        }),
        HirKind::Repetition(repetition) if repetition.min > 0 => {
            let once = prefixes(&repetition.sub);
            Prefixes {
                complete: once.complete && repetition.min == 1 && repetition.max == Some(1),
                strings: once.strings,
            }
        }
        // `x?`: a match of `x` or nothing.
        HirKind::Repetition(repetition) if repetition.max == Some(1) => {
            let once = prefixes(&repetition.sub);
            let mut strings = once.strings;
            strings.push(Vec::new());
            strings.sort_unstable();
            strings.dedup();
            Prefixes {
                strings,
                complete: once.complete,
            }
        }
        HirKind::Repetition(_) => Prefixes::unknown(),
        HirKind::Capture(capture) => prefixes(&capture.sub),
        HirKind::Concat(parts) => concat(parts),
        HirKind::Alternation(branches) => {
            let mut strings = Vec::new();
            let mut complete = true;
            for branch in branches {
                let branch = prefixes(branch);
                complete &= branch.complete;
                strings.extend(branch.strings);
                if strings.len() > MAX_PREFIXES {
                    return Prefixes::unknown();
                }
            }
            strings.sort_unstable();
            strings.dedup();
            Prefixes { strings, complete }
        }
    }
}

/// Prefixes of a concatenation: those of each part appended while the parts before are complete.
fn concat(parts: &[Hir]) -> Prefixes {
    let mut strings = vec![Vec::new()];
    for part in parts {
        let next = prefixes(part);
        let count = strings.len().saturating_mul(next.strings.len());
        if count > MAX_PREFIXES {
            return Prefixes {
                strings,
                complete: false,
            };
        }
        let mut joined = Vec::with_capacity(count);
        let mut complete = next.complete;
        for head in &strings {
            for tail in &next.strings {
                let mut string = head.clone();
                string.extend_from_slice(tail);
                if string.len() > MAX_PREFIX_LEN {
                    string.truncate(MAX_PREFIX_LEN);
                    complete = false;
                }
                joined.push(string);
            }
        }
        joined.sort_unstable();
        joined.dedup();
        strings = joined;
        if !complete {
            return Prefixes {
                strings,
                complete: false,
            };
        }
    }
    Prefixes::exactly(strings)
}

/// The bytes of a small class, ASCII lowercased; `None` for a large or non-ASCII class.
fn class_bytes(class: &Class) -> Option<Vec<u8>> {
    let set = ByteSet::of_class(class)?;
    if set.iter().any(|b| !b.is_ascii()) {
        return None;
    }
    let mut bytes: Vec<u8> = set.iter().map(|b| b.to_ascii_lowercase()).collect();
    bytes.sort_unstable();
    bytes.dedup();
    (bytes.len() <= MAX_CLASS_BYTES).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchors(pattern: &str, keywords: &[&str]) -> Option<Vec<(usize, usize)>> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .unwrap();
        let keywords: Vec<Vec<u8>> = keywords
            .iter()
            .map(|k| k.as_bytes().to_ascii_lowercase())
            .collect();
        keyword_anchors(&hir, &keywords)
            .map(|a| a.into_iter().map(|a| (a.keyword, a.back)).collect())
    }

    #[test]
    fn a_keyword_that_starts_every_match_anchors_it() {
        assert_eq!(
            anchors(
                r"\b(?P<secret>pat[A-Za-z0-9]{14}\.[a-f0-9]{64})\b",
                &["pat"]
            ),
            Some(vec![(0, 0)])
        );
        assert_eq!(
            anchors(r"\b(?:ghp|gho)_[A-Za-z0-9]{36}", &["ghp_", "gho_"]),
            Some(vec![(0, 0), (1, 0)])
        );
        // Case-insensitive regexes fold like the keyword automaton does.
        assert_eq!(
            anchors(r"(?i)(?:password|passwd)\s*=", &["PASSWORD", "passwd"]),
            Some(vec![(0, 0), (1, 0)])
        );
    }

    #[test]
    fn an_optional_part_gives_prefixes_with_and_without_it() {
        assert_eq!(
            anchors(r"(?i)(?:token|access[_-]?token)\s*=", &["token"]),
            Some(vec![(0, 0), (0, 6), (0, 7)])
        );
        assert_eq!(
            anchors(r"(?i)(?:aws[_.-]?)?secret", &["secret"]),
            Some(vec![(0, 0), (0, 3), (0, 4)])
        );
        // Nothing before the keyword can be skipped over unboundedly.
        assert_eq!(anchors(r"(?:aws_)*secret", &["secret"]), None);
    }

    #[test]
    fn a_keyword_inside_the_prefix_anchors_it_at_its_offset() {
        assert_eq!(anchors(r"[_-]pwd=\S+", &["pwd"]), Some(vec![(0, 1)]));
        assert_eq!(
            anchors(r"(?:AKIA|ASIA)[A-Z0-9]{16}", &["akia", "sia"]),
            Some(vec![(0, 0), (1, 1)])
        );
    }

    #[test]
    fn a_match_that_need_not_start_near_a_keyword_is_not_anchored() {
        // One branch lacks the keyword.
        assert_eq!(anchors(r"(?:ghp_|xoxb-)[a-z]{8}", &["ghp_"]), None);
        // The keyword sits after an unbounded part, or beside the match.
        assert_eq!(anchors(r"[a-z]+@corp\.com", &["@corp"]), None);
        assert_eq!(anchors(r"(?P<secret>[a-f0-9]{32})", &["token"]), None);
        // An optional start, a large class.
        assert_eq!(anchors(r"x*token=\w+", &["token"]), None);
        assert_eq!(anchors(r"[a-z]token=\w+", &["token"]), None);
    }

    #[test]
    fn long_prefixes_are_cut_and_still_anchor() {
        let long = "a".repeat(70);
        assert_eq!(anchors(&format!("k{long}"), &["ka"]), Some(vec![(0, 0)]));
        // A keyword past the cut cannot be seen.
        assert_eq!(anchors(&format!("{long}key"), &["key"]), None);
    }
}
