//! What a finding of a regex can look like: the bytes its span can hold and its shortest
//! length. A finding is the `secret` group's span when the regex has one and the group took
//! part in the match, else the whole match. Joined matching (`filter/src/engine/walk/join.rs`)
//! reads these to skip the edges between fields that no finding could cross: one must hold
//! the bytes on both sides of the edge, in a run of such bytes at least its shortest length.

use crate::leading_classes::leading_classes;
use crate::match_parts::ByteSet;
use regex_syntax::hir::{Hir, HirKind};

/// The bytes a finding's span can hold, and its shortest length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingShape {
    pub bytes: ByteSet,
    pub min_len: usize,
    /// The classes every finding starts with ([`leading_classes`]; empty: none known).
    pub start: Vec<ByteSet>,
}

/// The shape of `hir`'s findings. Over-approximate: every byte any part of the tree can
/// match (a class outside ASCII: every byte), and the shortest of the group's and the
/// whole match's lengths when the group may stay out of a match.
pub fn finding_shape(hir: &Hir) -> FindingShape {
    let whole = FindingShape {
        bytes: bytes_of(hir),
        min_len: hir.properties().minimum_len().unwrap_or(0),
        start: leading_classes(hir),
    };
    match secret_group(hir) {
        Some((group, true)) => FindingShape {
            bytes: bytes_of(group),
            min_len: group.properties().minimum_len().unwrap_or(0),
            start: leading_classes(group),
        },
        Some((group, false)) => FindingShape {
            bytes: whole.bytes,
            min_len: whole
                .min_len
                .min(group.properties().minimum_len().unwrap_or(0)),
            start: either_start(&whole.start, &leading_classes(group)),
        },
        None => whole,
    }
}

/// The classes a finding starts with when it is one of two spans: each position's union, as
/// far as the shorter list goes.
fn either_start(a: &[ByteSet], b: &[ByteSet]) -> Vec<ByteSet> {
    a.iter().zip(b).map(|(a, b)| a.clone().union(b)).collect()
}

/// The `secret` group's tree, and whether every match takes it (it lies on no optional
/// path: no alternation branch, no repetition that may run zero times).
fn secret_group(hir: &Hir) -> Option<(&Hir, bool)> {
    match hir.kind() {
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => None,
        HirKind::Capture(capture) if capture.name.as_deref() == Some("secret") => {
            Some((&*capture.sub, true))
        }
        HirKind::Capture(capture) => secret_group(&capture.sub),
        HirKind::Repetition(repetition) => secret_group(&repetition.sub)
            .map(|(group, always)| (group, always && repetition.min > 0)),
        HirKind::Concat(parts) => parts.iter().find_map(secret_group),
        HirKind::Alternation(branches) => branches
            .iter()
            .find_map(secret_group)
            .map(|(group, _)| (group, false)),
    }
}

/// The bytes a match can hold outside its `secret` group, when the group lies under no
/// repetition (so that it captures the one stretch its subtree matched): every byte of the
/// tree but the group's own. `None` without such a group. A validator of digits can then run
/// on the whole match before the capture search when this set holds no digit: the group's
/// digits are the match's (or the finding is the whole match, when the group stayed out).
pub fn outside_secret_bytes(hir: &Hir) -> Option<ByteSet> {
    match hir.kind() {
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => None,
        HirKind::Capture(capture) if capture.name.as_deref() == Some("secret") => {
            Some(ByteSet::empty())
        }
        HirKind::Capture(capture) => outside_secret_bytes(&capture.sub),
        HirKind::Repetition(_) => None,
        HirKind::Concat(parts) | HirKind::Alternation(parts) => {
            let (at, inside) = parts
                .iter()
                .enumerate()
                .find_map(|(i, part)| Some((i, outside_secret_bytes(part)?)))?;
            let others = parts.iter().enumerate().filter(|&(i, _)| i != at);
            Some(others.fold(inside, |set, (_, part)| set.union(&bytes_of(part))))
        }
    }
}

/// Every byte some part of `hir` can match.
fn bytes_of(hir: &Hir) -> ByteSet {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => ByteSet::empty(),
        HirKind::Literal(literal) => {
            let mut set = ByteSet::empty();
            for &b in literal.0.iter() {
                set.insert(b);
            }
            set
        }
        HirKind::Class(class) => ByteSet::of_class(class).unwrap_or_else(ByteSet::full),
        HirKind::Repetition(repetition) => bytes_of(&repetition.sub),
        HirKind::Capture(capture) => bytes_of(&capture.sub),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => parts
            .iter()
            .fold(ByteSet::empty(), |set, part| set.union(&bytes_of(part))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(pattern: &str) -> FindingShape {
        finding_shape(&crate::parse(pattern).unwrap())
    }

    fn bytes(shape: &FindingShape) -> String {
        String::from_utf8(shape.bytes.iter().collect()).unwrap()
    }

    #[test]
    fn a_mandatory_group_is_the_finding() {
        let card = shape(r"(?:^|[^\w.])(?P<secret>4\d{3}(?:[ -]?\d{4}){3})\b");
        assert_eq!(bytes(&card), " -0123456789");
        assert_eq!(card.min_len, 16);
        let aws = shape(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b");
        assert_eq!(aws.min_len, 20);
        assert!(!aws.bytes.contains(b'a') && aws.bytes.contains(b'Q'));
    }

    #[test]
    fn an_optional_group_falls_back_to_the_whole_match() {
        let s = shape(r"key=(?:(?P<secret>[0-9]{8})|[a-z]{3})");
        assert!(s.bytes.contains(b'k') && s.bytes.contains(b'5'));
        assert_eq!(s.min_len, 7, "the whole match's: `key=` and three letters");
        let s = shape(r"x(?P<secret>ab)?");
        assert_eq!(s.min_len, 1);
    }

    #[test]
    fn bytes_outside_the_secret_group() {
        let outside = |p: &str| outside_secret_bytes(&crate::parse(p).unwrap());
        let card = outside(r"(?:^|[^\w.])(?P<secret>4\d{3}(?:[ -]?\d{4}){3})\b").unwrap();
        assert!(!card.contains(b'4') && !card.contains(b'a') && !card.contains(b'.'));
        assert!(card.contains(b' ') && card.contains(b'-') && card.contains(b'('));
        let other_branch = outside(r"x(?:(?P<secret>\d{4})|ab9)").unwrap();
        assert!(other_branch.contains(b'9') && other_branch.contains(b'x'));
        assert!(!other_branch.contains(b'1'));
        let nested = outside(r"k=((?P<secret>[0-9]+))z").unwrap();
        assert_eq!(nested.iter().collect::<Vec<u8>>(), b"=kz");
        // Under a repetition the group captures one iteration only; without a group, nothing.
        assert_eq!(outside(r"(?:a(?P<secret>\d))+"), None);
        assert_eq!(outside(r"(?:a(?P<secret>\d)){2}"), None);
        assert_eq!(outside(r"\d{16}"), None);
    }

    #[test]
    fn case_insensitive_letters_hold_both_cases() {
        let s = shape(r"(?i)sk-[a-z]{4}");
        assert!(s.bytes.contains(b'S') && s.bytes.contains(b's') && s.bytes.contains(b'Z'));
    }
}
