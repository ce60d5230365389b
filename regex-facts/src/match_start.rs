//! How far into a match its first byte of a required set can lie: a bound that lets a regex
//! run over a whole text (a keyword-less detector with no bounded longest match, such as a
//! dashed number with any number of dashed groups) be tried only just before each byte of the
//! set, instead of having its lazy DFA read every byte of every text.

use crate::ByteSet;
use regex_syntax::hir::{Hir, HirKind};

/// `Some(n)` when every match of `hir` holds a byte of `set` and the first one lies at most
/// `n` bytes after the match's start; `None` when the tree shows no such bound (a match may
/// hold none, or a part of unbounded length may come first).
pub fn required_within(hir: &Hir, set: &ByteSet) -> Option<usize> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(literal) => literal.0.iter().position(|&b| set.contains(b)),
        HirKind::Class(class) => {
            let bytes = ByteSet::of_class(class)?;
            let inside = bytes.iter().next().is_some() && bytes.iter().all(|b| set.contains(b));
            inside.then_some(0)
        }
        // The first repetition holds the byte, at the same place.
        HirKind::Repetition(repetition) if repetition.min > 0 => {
            required_within(&repetition.sub, set)
        }
        HirKind::Repetition(_) => None,
        HirKind::Capture(capture) => required_within(&capture.sub, set),
        // The first part that always holds one bounds it, after the longest the parts before
        // it can be (they may hold one earlier, which only makes it sooner).
        HirKind::Concat(parts) => {
            let mut before = 0usize;
            for part in parts {
                if let Some(within) = required_within(part, set) {
                    return before.checked_add(within);
                }
                before = before.checked_add(part.properties().maximum_len()?)?;
            }
            None
        }
        HirKind::Alternation(branches) => {
            let mut bound = 0;
            for branch in branches {
                bound = bound.max(required_within(branch, set)?);
            }
            Some(bound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(pattern: &str, set: &[u8]) -> Option<usize> {
        let mut bytes = ByteSet::empty();
        for &b in set {
            bytes.insert(b);
        }
        required_within(&crate::parse(pattern).unwrap(), &bytes)
    }

    #[test]
    fn bounds_the_first_required_byte() {
        let ssn = r"(?:^|[^\w.-]|[A-Za-z]-)(?P<secret>\d{3}-\d{2}-\d{4}(?:-\d{1,10})*)\b";
        assert_eq!(within(ssn, b"-"), Some(5));
        assert_eq!(within(ssn, b"0123456789"), Some(2));
        assert_eq!(within("ab-c", b"-"), Some(2));
        assert_eq!(within("a|b-", b"-"), None);
        assert_eq!(within("(?:x-|yy-)", b"-"), Some(2));
        // An unbounded part before it, or an optional one holding it: no bound.
        assert_eq!(within(r"\w+-", b"-"), None);
        assert_eq!(within(r"a(?:-)?b", b"-"), None);
        assert_eq!(within(r"a(?:-b)+", b"-"), Some(1));
        // A class only partly in the set may miss it.
        assert_eq!(within(r"[-+]\d", b"-"), None);
        assert_eq!(within(r"[-+]\d", b"-+"), Some(0));
        assert_eq!(within(r"\b\d", b"0123456789"), Some(0));
    }
}
