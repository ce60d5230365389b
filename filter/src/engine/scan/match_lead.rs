//! How far into a match its first required byte can lie (issue 16): the always-on gate's
//! reach backwards.
//!
//! The gate opens a window around each byte some always-on pattern requires (a digit, `+`,
//! `:`). A match holding such a byte at `i` ends within the pattern's longest match after it,
//! but it starts much closer before its *first* such byte: a card number's first digit is its
//! first or second byte (after the separator its look-behind consumes), an IPv6 address's
//! first colon at most its sixth. A window reaching back as far as it reaches forward read
//! twice the bytes it needs; on prose (numbers every few lines, reaches of ~100 bytes) the
//! windows were two thirds of the text.
//!
//! [`lead`] bounds, from a pattern's syntax tree, how many bytes a match can hold before its
//! first byte of the required set; `None` when the tree does not bound it (an unbounded
//! repetition of bytes outside the set), and the gate then reaches back as before.

use regex_facts::ByteSet;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Stands for "unbounded" in sums; far above any gated reach.
const UNBOUNDED: usize = usize::MAX / 4;

/// What one subtree can match, as seen from a required set.
#[derive(Clone, Copy)]
struct Lead {
    /// The longest match holding no byte of the set (`None`: every match holds one).
    avoiding: Option<usize>,
    /// Over matches holding a byte of the set, most bytes before the first one (`None`: no
    /// match holds one).
    before: Option<usize>,
}

/// The most bytes any match of `hir` holds before its first byte of `required`, if bounded.
pub fn lead(hir: &Hir, required: &ByteSet) -> Option<usize> {
    of(hir, required).before.filter(|&n| n < UNBOUNDED)
}

fn add(a: usize, b: usize) -> usize {
    a.saturating_add(b).min(UNBOUNDED)
}

fn max(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn of(hir: &Hir, required: &ByteSet) -> Lead {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Lead {
            avoiding: Some(0),
            before: None,
        },
        HirKind::Literal(literal) => match literal.0.iter().position(|&b| required.contains(b)) {
            Some(at) => Lead {
                avoiding: None,
                before: Some(at),
            },
            None => Lead {
                avoiding: Some(literal.0.len()),
                before: None,
            },
        },
        HirKind::Class(class) => of_class(class, required),
        HirKind::Capture(capture) => of(&capture.sub, required),
        HirKind::Concat(parts) => parts.iter().fold(
            Lead {
                avoiding: Some(0),
                before: None,
            },
            |acc, part| {
                let next = of(part, required);
                Lead {
                    // The first required byte lies in an earlier part, or in this one after
                    // earlier parts that hold none.
                    before: max(
                        acc.before,
                        acc.avoiding.zip(next.before).map(|(a, b)| add(a, b)),
                    ),
                    avoiding: acc.avoiding.zip(next.avoiding).map(|(a, b)| add(a, b)),
                }
            },
        ),
        HirKind::Alternation(branches) => branches.iter().fold(
            Lead {
                avoiding: None,
                before: None,
            },
            |acc, branch| {
                let next = of(branch, required);
                Lead {
                    avoiding: max(acc.avoiding, next.avoiding),
                    before: max(acc.before, next.before),
                }
            },
        ),
        HirKind::Repetition(repetition) => {
            let sub = of(&repetition.sub, required);
            let most = repetition.max.map_or(UNBOUNDED, |m| m as usize);
            // `most` copies that each avoid the set, or none when every copy holds a byte of it.
            let times = |len: usize, copies: usize| match (len, copies) {
                (0, _) | (_, 0) => 0,
                (_, UNBOUNDED) => UNBOUNDED,
                (len, copies) => len.saturating_mul(copies).min(UNBOUNDED),
            };
            let avoiding = match sub.avoiding {
                Some(len) => Some(times(len, most)),
                None => (repetition.min == 0).then_some(0),
            };
            // The first required byte lies in some copy, after copies that hold none.
            let before = sub.before.map(|before| {
                let earlier = sub
                    .avoiding
                    .map_or(0, |len| times(len, most.saturating_sub(1)));
                add(earlier, before)
            });
            Lead { avoiding, before }
        }
    }
}

fn of_class(class: &Class, required: &ByteSet) -> Lead {
    let Some(set) = ByteSet::of_class(class) else {
        // Beyond single bytes: up to four bytes, any of them perhaps required.
        return Lead {
            avoiding: Some(4),
            before: Some(3),
        };
    };
    let (inside, outside) = set.iter().fold((false, false), |(i, o), b| {
        let r = required.contains(b);
        (i | r, o | !r)
    });
    Lead {
        avoiding: outside.then_some(1),
        before: inside.then_some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead_of(pattern: &str) -> Option<usize> {
        let hir = regex_facts::parse(pattern).unwrap();
        let required = regex_facts::required_bytes(&hir).unwrap();
        lead(&hir, &required)
    }

    #[test]
    fn the_lead_follows_the_tree() {
        assert_eq!(lead_of(r"(?:^|[^\w.])4\d{3}(?:[ -]?\d{4}){3}\b"), Some(1));
        assert_eq!(lead_of(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}\b"), Some(2));
        assert_eq!(lead_of(r"(?:^|[^\w:])(?:[0-9a-f]{1,4}:){1,7}:"), Some(5));
        assert_eq!(lead_of(r"(?:ab|c{0,3})x?d:"), Some(5));
        assert_eq!(lead_of(r"[a-z]+:"), None);
    }

    /// Over seeded patterns' matches in seeded texts, no match holds more bytes before its
    /// first required byte than the lead says.
    #[test]
    fn no_match_starts_further_before_its_first_required_byte() {
        let patterns = [
            r"(?:^|[^\w.])(?P<s>\d{1,3}(?:\.\d{1,3}){3})",
            r"(?:^|[^\w:.%])(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,6}",
            r"(?:^|[^\w+])\+[1-9](?:[ -]?\d){7,14}",
            r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,3}\b",
            r"(?:x|ab{0,2}|)c?:d",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0x1ead_0f_5e7_c0de);
        let mut seen = 0;
        for pattern in patterns {
            let hir = regex_facts::parse(pattern).unwrap();
            let required = regex_facts::required_bytes(&hir).unwrap();
            let most = lead(&hir, &required).unwrap();
            let regex =
                crate::engine::scan::scanner::compile_regex(pattern, Default::default()).unwrap();
            for _ in 0..3000 {
                let text: Vec<u8> = (0..rng.below(30))
                    .flat_map(|_| {
                        let pieces = [
                            "1", "23", "4", ".", ":", "::", "+4", " ", "-", "a", "fe", "x", "c:d",
                            "GB", "%", "ab",
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
                    let first = text[found.range()]
                        .iter()
                        .position(|&b| required.contains(b));
                    assert!(first.is_some_and(|f| f <= most), "{pattern} {text:?}");
                    seen += 1;
                }
            }
        }
        assert!(seen > 2000, "{seen}");
    }
}
