//! Parts every match of a regex holds, read from its syntax tree: a byte of a
//! set (some digit, a `+`, a `:`) or a run of bytes of one class (32 hex
//! digits in a row). The filter's always-on detectors are gated
//! on them, so that a detector runs only near where a match could be.

use regex_syntax::hir::{Class, Hir, HirKind};

/// A set of byte values.
#[derive(Clone, PartialEq, Eq)]
pub struct ByteSet([bool; 256]);

impl std::fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes: Vec<u8> = self.iter().collect();
        write!(f, "ByteSet({:?})", String::from_utf8_lossy(&bytes))
    }
}

impl ByteSet {
    pub fn empty() -> ByteSet {
        ByteSet([false; 256])
    }

    pub fn full() -> ByteSet {
        ByteSet([true; 256])
    }

    pub fn single(b: u8) -> ByteSet {
        let mut set = ByteSet::empty();
        set.insert(b);
        set
    }

    pub fn insert(&mut self, b: u8) {
        if let Some(slot) = self.0.get_mut(usize::from(b)) {
            *slot = true;
        }
    }

    pub fn union(mut self, other: &ByteSet) -> ByteSet {
        for (mine, theirs) in self.0.iter_mut().zip(other.0.iter()) {
            *mine |= *theirs;
        }
        self
    }

    pub fn contains(&self, b: u8) -> bool {
        self.0.get(usize::from(b)).copied().unwrap_or(false)
    }

    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|&b| self.contains(b))
    }

    /// How often the set's bytes occur in ordinary text, roughly: lower is better.
    fn commonness(&self) -> u32 {
        self.iter().map(commonness).sum()
    }

    fn len(&self) -> usize {
        self.0.iter().filter(|&&b| b).count()
    }

    /// The bytes of a class, or `None` if it holds a character outside ASCII.
    pub fn of_class(class: &Class) -> Option<ByteSet> {
        let mut set = ByteSet::empty();
        match class {
            Class::Bytes(class) => {
                for range in class.ranges() {
                    for b in range.start()..=range.end() {
                        set.insert(b);
                    }
                }
            }
            Class::Unicode(class) => {
                for range in class.ranges() {
                    let (start, end) = (u32::from(range.start()), u32::from(range.end()));
                    // A non-ASCII character is several bytes; keep the analysis to ASCII.
                    for c in start..=end {
                        set.insert(u8::try_from(c).ok().filter(u8::is_ascii)?);
                    }
                }
            }
        }
        Some(set)
    }
}

/// A rough weight of a byte's frequency in chat text (letters and spaces everywhere, digits
/// and most punctuation rarely).
pub fn commonness(b: u8) -> u32 {
    match b {
        b'a'..=b'z' | b' ' => 40,
        // Sentence punctuation is about as common as all ten digits together.
        b'.' | b',' => 30,
        b'A'..=b'Z' | b'\n' => 8,
        b'0'..=b'9' | b'-' | b'\'' | b'"' | b'(' | b')' => 3,
        _ => 1,
    }
}

/// Bytes of which every match of `hir` holds at least one, or `None` if the tree gives
/// no such set (an empty match, a class outside ASCII bytes, an optional part only).
pub fn required_bytes(hir: &Hir) -> Option<ByteSet> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(literal) => literal
            .0
            .iter()
            .copied()
            .min_by_key(|&b| commonness(b))
            .map(ByteSet::single),
        HirKind::Class(class) => ByteSet::of_class(class),
        HirKind::Repetition(repetition) if repetition.min > 0 => required_bytes(&repetition.sub),
        HirKind::Repetition(_) => None,
        HirKind::Capture(capture) => required_bytes(&capture.sub),
        HirKind::Concat(parts) => parts
            .iter()
            .filter_map(required_bytes)
            .min_by_key(ByteSet::commonness),
        HirKind::Alternation(branches) => {
            let mut sets = branches.iter().map(required_bytes);
            let first = sets.next()??;
            sets.try_fold(first, |acc, set| Some(acc.union(&set?)))
        }
    }
}

/// A run of at least `len` bytes in a row, each in `class`, that every match holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredRun {
    pub class: ByteSet,
    pub len: usize,
}

/// Shortest required run that gates a detector: ordinary words make shorter runs of letters.
const MIN_GATING_RUN: usize = 16;

impl RequiredRun {
    /// Whether runs like it are rare in ordinary text: long, and of no whitespace.
    pub fn gates(&self) -> bool {
        self.len >= MIN_GATING_RUN && !self.class.iter().any(|b| b.is_ascii_whitespace())
    }
}

/// The longest run of one class that every match of `hir` holds (of two as long, the one of
/// fewer bytes), or `None` if the tree shows none.
pub fn required_run(hir: &Hir) -> Option<RequiredRun> {
    match hir.kind() {
        HirKind::Class(class) => Some(RequiredRun {
            class: ByteSet::of_class(class)?,
            len: 1,
        }),
        HirKind::Repetition(repetition) if repetition.min > 0 => match repetition.sub.kind() {
            HirKind::Class(class) => Some(RequiredRun {
                class: ByteSet::of_class(class)?,
                len: usize::try_from(repetition.min).unwrap_or(usize::MAX),
            }),
            _ => required_run(&repetition.sub),
        },
        HirKind::Capture(capture) => required_run(&capture.sub),
        HirKind::Concat(parts) => parts
            .iter()
            .filter_map(required_run)
            .max_by_key(|run| (run.len, std::cmp::Reverse(run.class.len()))),
        HirKind::Alternation(branches) => {
            let mut runs = branches.iter().map(required_run);
            let first = runs.next()??;
            runs.try_fold(first, |acc, run| {
                let run = run?;
                Some(RequiredRun {
                    class: acc.class.union(&run.class),
                    len: acc.len.min(run.len),
                })
            })
        }
        HirKind::Empty | HirKind::Look(_) | HirKind::Literal(_) | HirKind::Repetition(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required(pattern: &str) -> Option<String> {
        let hir = crate::parse(pattern).unwrap();
        required_bytes(&hir).map(|set| String::from_utf8(set.iter().collect()).unwrap())
    }

    fn run(pattern: &str) -> Option<RequiredRun> {
        required_run(&crate::parse(pattern).unwrap())
    }

    #[test]
    fn picks_the_rarest_part_of_a_concatenation() {
        // A literal byte beats a class holding it.
        assert_eq!(
            required(r"\b4\d{3}(?:[ -]?\d{4}){3}\b").as_deref(),
            Some("4")
        );
        assert_eq!(required(r"\b[1-9]\d{5}").as_deref(), Some("123456789"));
        assert_eq!(required(r"[a-z]+@[a-z]+\.com").as_deref(), Some("@"));
        assert_eq!(required(r"(?:^|[^\w+])\+[1-9]\d{7}").as_deref(), Some("+"));
    }

    #[test]
    fn alternation_needs_every_branch() {
        assert_eq!(required(r"AC\d|SK:").as_deref(), Some(":A"));
        assert_eq!(required(r"x\d|[a-z]*"), None);
    }

    #[test]
    fn required_runs_are_the_longest_class_repetition_every_match_holds() {
        let twilio = run(
            r#"\b(?:AC|SK)[a-f0-9]{32}["']?\s{0,16}[,:]\s{0,16}["']?(?P<secret>[A-Za-z0-9]{32})\b"#,
        )
        .unwrap();
        // Of two runs as long, the one of fewer bytes.
        assert_eq!(twilio.len, 32);
        assert_eq!(
            twilio.class.iter().collect::<Vec<u8>>(),
            b"0123456789abcdef"
        );
        assert!(twilio.gates());
        let either = run(r"x[a-z]{20}|[0-9]{24}y").unwrap();
        assert_eq!((either.len, either.class.len()), (20, 36));
        assert_eq!(run(r"[a-z]{20}|y"), None);
        assert_eq!(run(r"(?:[a-z]{20})?"), None);
        assert!(!run(r"[a-z ]{40}").unwrap().gates());
        assert!(!run(r"[a-z]{8}").unwrap().gates());
    }

    #[test]
    fn optional_parts_and_empty_matches_give_nothing() {
        assert_eq!(required(r"\d?"), None);
        assert_eq!(required(r"\b"), None);
        assert_eq!(required(r"(?:\d{2})*x").as_deref(), Some("x"));
    }
}
