//! The byte classes every match of a regex starts with: `\b[A-Z]{2}\d{2}...` (an IBAN) starts
//! with two capitals and two digits. Joined matching (`filter/src/engine/walk/join.rs`) scans a
//! window of fields for a keyword-less detector only where some finding could cross an edge;
//! json's keys and values joined end to end make runs of capitals and digits
//! (`C5929383INTEGRATION`) long enough for the IBAN's shape at most edges, yet none holds its
//! start (issue 16: the last 114 windows scanned on a 64 KiB json body).

use crate::match_parts::ByteSet;
use regex_syntax::hir::{Hir, HirKind};

/// How many leading classes are read at most: enough to rule out a common run.
pub const MAX_LEADING: usize = 8;

/// The classes every match of `hir` starts with, at most [`MAX_LEADING`]: byte `i` of every
/// match lies in class `i`. Empty when the tree shows none (an optional first part).
pub fn leading_classes(hir: &Hir) -> Vec<ByteSet> {
    let (mut classes, _) = leading(hir);
    classes.truncate(MAX_LEADING);
    classes
}

/// The leading classes of `hir`, and whether they are all of every match (each match is
/// exactly that many bytes, one of each class), so that a part after it continues them.
/// Over [`MAX_LEADING`] classes the walk stops (and says they are not all).
fn leading(hir: &Hir) -> (Vec<ByteSet>, bool) {
    let (classes, whole) = match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => (Vec::new(), true),
        HirKind::Literal(literal) => (
            literal.0.iter().map(|&b| ByteSet::single(b)).collect(),
            true,
        ),
        // A class outside ASCII is several bytes a character: no byte positions after it.
        HirKind::Class(class) => match ByteSet::of_class(class) {
            Some(set) => (vec![set], true),
            None => (Vec::new(), false),
        },
        HirKind::Capture(capture) => leading(&capture.sub),
        HirKind::Repetition(repetition) if repetition.min == 0 => {
            (Vec::new(), repetition.max == Some(0))
        }
        HirKind::Repetition(repetition) => {
            let (once, whole) = leading(&repetition.sub);
            if !whole {
                return (once, false);
            }
            let mut classes = Vec::new();
            for _ in 0..repetition.min {
                if classes.len() > MAX_LEADING || once.is_empty() {
                    break;
                }
                classes.extend(once.iter().cloned());
            }
            (classes, repetition.max == Some(repetition.min))
        }
        HirKind::Concat(parts) => {
            let mut classes = Vec::new();
            for part in parts {
                let (more, whole) = leading(part);
                classes.extend(more);
                if !whole || classes.len() > MAX_LEADING {
                    return capped(classes, false);
                }
            }
            (classes, true)
        }
        // Byte `i` of a match lies in the union of the branches' classes `i`, as far as the
        // shortest branch's list goes.
        HirKind::Alternation(branches) => {
            let each: Vec<(Vec<ByteSet>, bool)> = branches.iter().map(leading).collect();
            let len = each.iter().map(|(c, _)| c.len()).min().unwrap_or(0);
            let whole = each.iter().all(|(c, whole)| *whole && c.len() == len);
            let classes = (0..len)
                .map(|i| {
                    each.iter()
                        .filter_map(|(c, _)| c.get(i))
                        .fold(ByteSet::empty(), |set, class| set.union(class))
                })
                .collect();
            (classes, whole)
        }
    };
    capped(classes, whole)
}

/// `classes` cut to one past [`MAX_LEADING`] (a cut list is not all of a match).
fn capped(mut classes: Vec<ByteSet>, whole: bool) -> (Vec<ByteSet>, bool) {
    if classes.len() > MAX_LEADING {
        classes.truncate(MAX_LEADING + 1);
        return (classes, false);
    }
    (classes, whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex;

    fn classes(pattern: &str) -> Vec<String> {
        let hir = crate::parse(pattern).unwrap();
        leading_classes(&hir)
            .iter()
            .map(|set| String::from_utf8(set.iter().collect()).unwrap())
            .collect()
    }

    #[test]
    fn reads_the_classes_a_match_starts_with() {
        let iban = classes(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b");
        let (upper, digits) = ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789");
        assert_eq!(iban, [upper, upper, digits, digits]);
        assert_eq!(classes("ab(?:c|de)f"), ["a", "b", "cd"]);
        assert_eq!(classes("(?:ab|cde)f"), ["ac", "bd"]);
        assert_eq!(classes("(?:x|)y"), Vec::<String>::new());
        assert_eq!(classes("(?:ab){2}c"), ["a", "b", "a", "b", "c"]);
        assert_eq!(classes("(?:ab){2,3}c"), ["a", "b", "a", "b"]);
        assert_eq!(classes("a?b"), Vec::<String>::new());
        assert_eq!(classes("(?:a+)b"), ["a"]);
        assert_eq!(classes(r"(?:^|[^\w.])4\d"), Vec::<String>::new());
        assert_eq!(classes("0123456789abc").len(), MAX_LEADING);
        assert_eq!(classes("(?:0123456789){3}x").len(), MAX_LEADING);
        assert_eq!(classes("(?:012345678)(?:9|x)").len(), MAX_LEADING);
        assert_eq!(classes(r"(?i)k9")[0], "Kk");
    }

    /// Every match of seeded patterns' pieces, in seeded texts, starts with its classes.
    #[test]
    fn every_match_starts_with_its_classes() {
        let pieces = [
            "a",
            "[ab]",
            r"\d",
            "[A-Z]{2}",
            "(?:x|yz)",
            "(?:ab|c)?",
            r"\b",
            "b+",
            "[0-9]{1,3}",
            "(?:q|^)",
            "(?:-?1){2}",
            "(?:ab){2,}",
            "",
            "(?:k|k9)",
        ];
        let alphabet = b"aabbcxyzkq9-1 0AZ";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..400 {
            let pattern: String = (0..1 + next(4))
                .map(|_| pieces[next(pieces.len())])
                .collect();
            let hir = crate::parse(&pattern).unwrap();
            let leading = leading_classes(&hir);
            let syntax = regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false);
            let Ok(re) = Regex::builder().syntax(syntax).build(&pattern) else {
                continue;
            };
            for _ in 0..20 {
                let text: Vec<u8> = (0..next(24))
                    .map(|_| alphabet[next(alphabet.len())])
                    .collect();
                for start in 0..=text.len() {
                    let input = regex_automata::Input::new(&text[..])
                        .range(start..)
                        .anchored(regex_automata::Anchored::Yes);
                    let Some(m) = re.find(input) else { continue };
                    let got = &text[m.range()];
                    for (i, class) in leading.iter().enumerate() {
                        assert!(
                            got.get(i).is_some_and(|&b| class.contains(b)),
                            "{pattern:?} matched {:?}: byte {i} not in {class:?}",
                            String::from_utf8_lossy(got)
                        );
                    }
                }
            }
        }
    }
}
