//! Where a match's gated bytes lie in it (issue 16): how far the always-on gate's windows
//! must reach around them.
//!
//! The gate opens a window around each byte some always-on pattern requires (a digit, `+`,
//! `:`), as far as the longest match on either side: ~100 bytes for a digit, so on prose
//! (a date or a version every few lines) the windows were two thirds of the text, read by the
//! set's lazy DFA at ~30 wasm instructions a byte. But a match's gated bytes lie close
//! together: a card number's digits are at most a separator apart, its first is its first or
//! second byte, its last its last. [`Shape::of`] bounds, from a pattern's syntax tree, the
//! bytes of a match before its first gated byte (`lead`), after its last (`tail`), and
//! between two consecutive ones (`gap`). Every match then lies within `lead` before a chain of
//! gated bytes at most `gap` apart and `tail` after it, so windows that open `lead` before each
//! gated byte and reach far enough after it to join the next one of a chain and cover the
//! tail hold every match the long windows held; the set finds the same ends in them.

use regex_facts::ByteSet;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Stands for "unbounded" in sums; far above any gated reach.
const UNBOUNDED: usize = usize::MAX / 4;

/// Where the bytes of a set lie in a pattern's matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Most bytes before the first byte of the set.
    pub lead: usize,
    /// Most bytes after the last byte of the set.
    pub tail: usize,
    /// Most bytes between two consecutive bytes of the set.
    pub gap: usize,
}

impl Shape {
    /// The shape of `hir`'s matches as seen from `set`, if every match holds a byte of it and
    /// the tree bounds all three (no unbounded repetition of bytes outside the set).
    pub fn of(hir: &Hir, set: &ByteSet) -> Option<Shape> {
        let parts = parts(hir, set);
        let shape = Shape {
            lead: parts.before?,
            tail: parts.after?,
            gap: parts.gap,
        };
        let bounded = [shape.lead, shape.tail, shape.gap]
            .iter()
            .all(|&n| n < UNBOUNDED);
        (parts.avoiding.is_none() && bounded).then_some(shape)
    }
}

/// What one subtree can match, as seen from the set.
#[derive(Clone, Copy)]
struct Parts {
    /// The longest match holding no byte of the set (`None`: every match holds one).
    avoiding: Option<usize>,
    /// Over matches holding a byte of the set, most bytes before the first one (`None`: no
    /// match holds one).
    before: Option<usize>,
    /// The same after the last one.
    after: Option<usize>,
    /// Most bytes between two consecutive bytes of the set in a match.
    gap: usize,
}

const NOTHING: Parts = Parts {
    avoiding: None,
    before: None,
    after: None,
    gap: 0,
};

const EMPTY: Parts = Parts {
    avoiding: Some(0),
    ..NOTHING
};

fn add(a: usize, b: usize) -> usize {
    a.saturating_add(b).min(UNBOUNDED)
}

fn sum(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    a.zip(b).map(|(a, b)| add(a, b))
}

fn max(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `copies` matches of `len` bytes in a row.
fn times(len: usize, copies: usize) -> usize {
    match (len, copies) {
        (0, _) | (_, 0) => 0,
        (_, UNBOUNDED) => UNBOUNDED,
        (len, copies) => len.saturating_mul(copies).min(UNBOUNDED),
    }
}

/// `b` after `a`.
fn then(a: Parts, b: Parts) -> Parts {
    Parts {
        avoiding: sum(a.avoiding, b.avoiding),
        // The first byte of the set lies in `a`, or in `b` after an `a` that holds none.
        before: max(a.before, sum(a.avoiding, b.before)),
        after: max(b.after, sum(a.after, b.avoiding)),
        gap: a.gap.max(b.gap).max(sum(a.after, b.before).unwrap_or(0)),
    }
}

fn parts(hir: &Hir, set: &ByteSet) -> Parts {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => EMPTY,
        HirKind::Literal(literal) => literal.0.iter().fold(EMPTY, |acc, &b| {
            let byte = if set.contains(b) {
                Parts {
                    before: Some(0),
                    after: Some(0),
                    ..NOTHING
                }
            } else {
                Parts {
                    avoiding: Some(1),
                    ..NOTHING
                }
            };
            then(acc, byte)
        }),
        HirKind::Class(class) => of_class(class, set),
        HirKind::Capture(capture) => parts(&capture.sub, set),
        HirKind::Concat(items) => items
            .iter()
            .fold(EMPTY, |acc, item| then(acc, parts(item, set))),
        HirKind::Alternation(branches) => branches.iter().fold(NOTHING, |acc, branch| {
            let next = parts(branch, set);
            Parts {
                avoiding: max(acc.avoiding, next.avoiding),
                before: max(acc.before, next.before),
                after: max(acc.after, next.after),
                gap: acc.gap.max(next.gap),
            }
        }),
        HirKind::Repetition(repetition) => {
            let sub = parts(&repetition.sub, set);
            let most = repetition.max.map_or(UNBOUNDED, |m| m as usize);
            // Copies holding none of the set may come between those that do.
            let between = |copies: usize| sub.avoiding.map_or(0, |len| times(len, copies));
            Parts {
                avoiding: match sub.avoiding {
                    Some(len) => Some(times(len, most)),
                    None => (repetition.min == 0).then_some(0),
                },
                before: sub.before.map(|b| add(between(most.saturating_sub(1)), b)),
                after: sub.after.map(|a| add(a, between(most.saturating_sub(1)))),
                gap: match (sub.after, sub.before, most >= 2) {
                    (Some(a), Some(b), true) => {
                        sub.gap.max(add(add(a, between(most.saturating_sub(2))), b))
                    }
                    _ => sub.gap,
                },
            }
        }
    }
}

fn of_class(class: &Class, set: &ByteSet) -> Parts {
    let Some(bytes) = ByteSet::of_class(class) else {
        // Beyond single bytes: up to four bytes, any of them perhaps in the set.
        return Parts {
            avoiding: Some(4),
            before: Some(3),
            after: Some(3),
            gap: 2,
        };
    };
    let (inside, outside) = bytes.iter().fold((false, false), |(i, o), b| {
        let r = set.contains(b);
        (i | r, o | !r)
    });
    Parts {
        avoiding: outside.then_some(1),
        before: inside.then_some(0),
        after: inside.then_some(0),
        gap: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(bytes: &[u8]) -> ByteSet {
        (bytes.iter()).fold(ByteSet::empty(), |s, &b| s.union(&ByteSet::single(b)))
    }

    fn gated() -> ByteSet {
        set(b"0123456789+:")
    }

    fn shape(pattern: &str) -> Option<(usize, usize, usize)> {
        let hir = regex_facts::parse(pattern).unwrap();
        Shape::of(&hir, &gated()).map(|s| (s.lead, s.gap, s.tail))
    }

    #[test]
    fn the_shape_follows_the_tree() {
        assert_eq!(
            shape(r"(?:^|[^\w.])4\d{3}(?:[ -]?\d{4}){3}\b"),
            Some((1, 1, 0))
        );
        assert_eq!(
            shape(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
            Some((2, 38, 39))
        );
        assert_eq!(shape(r"(?:^|[^\w:])(?:[a-f]{1,4}:){1,7}:"), Some((5, 4, 0)));
        assert_eq!(shape(r"(?:ab|c{0,3})x?d:"), Some((5, 0, 0)));
        assert_eq!(shape(r"1(?:ab|c{0,3})x?d:e"), Some((0, 5, 1)));
        assert_eq!(shape(r"[a-z]+:"), None);
        assert_eq!(shape(r"1[a-z]+:"), None);
        assert_eq!(shape(r"[a-z]{2}"), None);
    }

    /// Over seeded patterns' matches in seeded texts, no match holds more bytes before its
    /// first gated byte, after its last or between two than the shape says.
    #[test]
    fn every_match_keeps_within_its_shape() {
        let patterns = [
            r"(?:^|[^\w.])(?P<s>\d{1,3}(?:\.\d{1,3}){3}(?:\.\d{1,10}){0,2}\b(?: -?\d{0,6}\.\d{1,6}(?:[^.\d]|$))?)",
            r"(?:^|[^\w:.%])(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,6}(?:$|[^\w:.%])",
            r"(?:^|[^\w+])\+[1-9](?:[ -]?\d){7,14}",
            r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,3}(?: ?[A-Z0-9]{1,3})?\b",
            r"(?:x|ab{0,2}|)c?:d(?:fe){0,2}1?",
            r"[Ff][Ee]\d\d:(?::[0-9A-Fa-f]{1,4}){0,4}%[0-9A-Za-z]{1,16}",
        ];
        let gated = gated();
        let mut rng = crate::engine::test_rng::TestRng::new(0x05ea_9e05_ba9e);
        let mut seen = 0;
        for pattern in patterns {
            let hir = regex_facts::parse(pattern).unwrap();
            let most = Shape::of(&hir, &gated).unwrap();
            let regex =
                crate::engine::scan::scanner::compile_regex(pattern, Default::default()).unwrap();
            for _ in 0..3000 {
                let text: Vec<u8> = (0..rng.below(30))
                    .flat_map(|_| {
                        let pieces = [
                            "1", "23", "4", ".", ":", "::", "+4", " ", "-", "a", "fe", "x", "c:d",
                            "GB", "%", "ab", "ABCD", "Fe80", "zz",
                        ];
                        rng.pick(&pieces).bytes()
                    })
                    .collect();
                for start in 0..text.len() {
                    let input = regex_automata::Input::new(&text[..])
                        .range(start..)
                        .anchored(regex_automata::Anchored::Yes);
                    let Some(found) = regex.search(&input) else {
                        continue;
                    };
                    let bytes = &text[found.range()];
                    let at: Vec<usize> = (0..bytes.len())
                        .filter(|&k| gated.contains(bytes[k]))
                        .collect();
                    let (first, last) = (at[0], at[at.len() - 1]);
                    assert!(first <= most.lead, "{pattern} {bytes:?}");
                    assert!(bytes.len() - 1 - last <= most.tail, "{pattern} {bytes:?}");
                    for pair in at.windows(2) {
                        assert!(pair[1] - pair[0] - 1 <= most.gap, "{pattern} {bytes:?}");
                    }
                    seen += 1;
                }
            }
        }
        assert!(seen > 3000, "{seen}");
    }
}
