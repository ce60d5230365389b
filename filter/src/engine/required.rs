//! Bytes every match of a regex must contain: the always-on set's prefilter.
//!
//! Detectors without keywords (card numbers, phone numbers, IP addresses) sit
//! in one lazy DFA that would otherwise read every byte of every field. Each
//! of them needs some rare byte in any match: a digit, a `+`, a `:`. From the
//! regex's syntax tree we pick, per detector, a set of bytes such that every
//! match holds at least one of them, preferring bytes that are rare in prose;
//! the scanner then runs the set only within a detector's longest match of
//! such a byte. A detector with no rare required byte but a long required run
//! (`[a-f0-9]{32}`) runs alone, near such runs only; one with neither runs
//! alone over every text, and a few more of those disable the prefilter.

use super::bytes::first_run_of;
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
    fn empty() -> ByteSet {
        ByteSet([false; 256])
    }

    fn single(b: u8) -> ByteSet {
        let mut set = ByteSet::empty();
        set.insert(b);
        set
    }

    fn insert(&mut self, b: u8) {
        if let Some(slot) = self.0.get_mut(usize::from(b)) {
            *slot = true;
        }
    }

    fn union(mut self, other: &ByteSet) -> ByteSet {
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
    fn of_class(class: &Class) -> Option<ByteSet> {
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
fn commonness(b: u8) -> u32 {
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
    fn gates(&self) -> bool {
        self.len >= MIN_GATING_RUN && !self.class.iter().any(|b| b.is_ascii_whitespace())
    }

    /// The maximal runs of `text` at least this long, in order (found reading about one byte in `len`).
    pub fn runs<'t>(&'t self, text: &'t [u8]) -> impl Iterator<Item = std::ops::Range<usize>> + 't {
        let member = |b: u8| self.class.contains(b);
        let mut from = 0;
        std::iter::from_fn(move || {
            let start = first_run_of(text, from, text.len(), self.len, member)?;
            let rest = text.get(start..).unwrap_or_default();
            let end = start + rest.iter().position(|&b| !member(b)).unwrap_or(rest.len());
            from = end;
            Some(start..end)
        })
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

/// Where the always-on set must run: within `reach[b]` bytes of each byte `b` with a nonzero reach.
#[derive(Debug)]
pub struct AlwaysOnGate {
    reach: [u16; 256],
}

/// Longest match past which a detector opens no window: its set runs everywhere instead.
const MAX_GATED_MATCH: usize = 1024;

/// Always-on detectors the gate cannot cover that may run alone over whole texts (each with its
/// own regex, whose literal prefilter then skips ahead) before the set goes ungated instead.
const MAX_RUN_EVERYWHERE: usize = 2;

/// Commonest byte (see [`commonness`]) the gate may open on: digits and punctuation, not letters.
const MAX_GATE_COMMONNESS: u32 = 3;

fn gatable_reach(longest_match: Option<usize>, required: Option<&ByteSet>) -> Option<u16> {
    let longest = longest_match.filter(|&len| len <= MAX_GATED_MATCH)?;
    required.filter(|set| {
        set.iter().next().is_some() && set.iter().all(|b| commonness(b) <= MAX_GATE_COMMONNESS)
    })?;
    u16::try_from(longest).ok()
}

/// What the plan needs to know of one always-on detector.
#[derive(Debug, Clone, Copy)]
pub struct AlwaysOnFacts<'a> {
    pub longest_match: Option<usize>,
    pub required_bytes: Option<&'a ByteSet>,
    pub required_run: Option<&'a RequiredRun>,
}

impl AlwaysOnFacts<'_> {
    fn gatable(&self) -> bool {
        gatable_reach(self.longest_match, self.required_bytes).is_some()
    }

    /// Its run and reach, if it may run alone near its required runs only.
    fn run_gate(&self) -> Option<(RequiredRun, usize)> {
        let longest = self.longest_match.filter(|&len| len <= MAX_GATED_MATCH)?;
        let run = self.required_run.filter(|run| run.gates())?;
        Some((run.clone(), longest))
    }
}

/// How the always-on detectors run: the ones the gate covers in one set, read only in the
/// gate's windows; the few others each over every whole text.
#[derive(Debug)]
pub struct AlwaysOnPlan {
    pub gate: Option<Box<AlwaysOnGate>>,
    /// Indices (into the detectors given) of the set's patterns, in order.
    pub in_set: Vec<usize>,
    /// Detectors that run alone within their reach of each of their required runs.
    pub near_runs: Vec<(usize, RequiredRun, usize)>,
    /// Detectors that run alone over every text.
    pub everywhere: Vec<usize>,
}

impl AlwaysOnPlan {
    pub fn new<'a>(detectors: impl IntoIterator<Item = AlwaysOnFacts<'a>>) -> AlwaysOnPlan {
        let detectors: Vec<AlwaysOnFacts<'a>> = detectors.into_iter().collect();
        let (gated, ungated): (Vec<usize>, Vec<usize>) =
            (0..detectors.len()).partition(|&i| detectors.get(i).is_some_and(|d| d.gatable()));
        let mut near_runs = Vec::new();
        let mut everywhere = Vec::new();
        for i in ungated {
            match detectors.get(i).and_then(AlwaysOnFacts::run_gate) {
                Some((run, reach)) => near_runs.push((i, run, reach)),
                None => everywhere.push(i),
            }
        }
        let gate = AlwaysOnGate::new(
            gated
                .iter()
                .filter_map(|&i| detectors.get(i))
                .map(|d| (d.longest_match, d.required_bytes)),
        );
        match gate {
            Some(gate) if everywhere.len() <= MAX_RUN_EVERYWHERE => AlwaysOnPlan {
                gate: Some(gate),
                in_set: gated,
                near_runs,
                everywhere,
            },
            _ => AlwaysOnPlan {
                gate: None,
                in_set: (0..detectors.len()).collect(),
                near_runs: Vec::new(),
                everywhere: Vec::new(),
            },
        }
    }
}

impl AlwaysOnGate {
    /// From each detector's longest match and required bytes; `None` when one of them has
    /// no bounded longest match or no required set, so the set must read everything.
    pub fn new<'a>(
        detectors: impl IntoIterator<Item = (Option<usize>, Option<&'a ByteSet>)>,
    ) -> Option<Box<AlwaysOnGate>> {
        let mut gate = Box::new(AlwaysOnGate { reach: [0; 256] });
        let mut any = false;
        for (longest_match, required) in detectors {
            let reach = gatable_reach(longest_match, required)?;
            for b in required?.iter() {
                let slot = gate.reach.get_mut(usize::from(b))?;
                *slot = (*slot).max(reach);
            }
            any = true;
        }
        any.then_some(gate)
    }

    /// Each gated byte and its reach.
    pub fn reaches(&self) -> Vec<(u8, usize)> {
        (0..=255u8)
            .zip(self.reach.iter())
            .filter(|(_, &reach)| reach > 0)
            .map(|(b, &reach)| (b, usize::from(reach)))
            .collect()
    }

    /// The gated bytes of `text` and where they are, in order. Most 8-byte words hold none,
    /// and are passed over with one test instead of eight branches.
    fn gated_bytes<'t>(&'t self, text: &'t [u8]) -> impl Iterator<Item = (usize, u8)> + 't {
        let gated = |b: u8| self.reach.get(usize::from(b)).is_some_and(|&r| r > 0);
        let words = text.chunks(8).enumerate();
        words
            .filter(move |(_, word)| word.iter().fold(false, |any, &b| any | gated(b)))
            .flat_map(move |(w, word)| {
                let bytes = word.iter().enumerate();
                bytes
                    .filter(move |&(_, &b)| gated(b))
                    .map(move |(i, &b)| (w * 8 + i, b))
            })
    }

    /// The stretches of `text` that can hold a match, merged, in order: a match holding its
    /// required byte at `i` lies within its longest match of `i` on either side.
    pub fn windows<'t>(
        &'t self,
        text: &'t [u8],
    ) -> impl Iterator<Item = std::ops::Range<usize>> + 't {
        let mut hits = self.gated_bytes(text).map(move |(i, b)| {
            let reach = usize::from(self.reach.get(usize::from(b)).copied().unwrap_or(0));
            i.saturating_sub(reach)..(i + 1 + reach).min(text.len())
        });
        let mut pending = hits.next();
        std::iter::from_fn(move || {
            let mut window = pending.take()?;
            for next in hits.by_ref() {
                if next.start <= window.end {
                    window.end = window.end.max(next.end);
                } else {
                    pending = Some(next);
                    break;
                }
            }
            Some(window)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required(pattern: &str) -> Option<String> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .unwrap();
        required_bytes(&hir).map(|set| String::from_utf8(set.iter().collect()).unwrap())
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
    fn gate_windows_agree_with_a_byte_by_byte_walk() {
        let digits = ByteSet::single(b'7').union(&ByteSet::single(b'8'));
        let colon = ByteSet::single(b':');
        let gate = AlwaysOnGate::new([(Some(3), Some(&digits)), (Some(1), Some(&colon))]).unwrap();
        let mut rng = crate::engine::test_rng::TestRng::new(0x1234_5678_9abc_def1);
        for _ in 0..2000 {
            let len = rng.below(70);
            let text: Vec<u8> = (0..len).map(|_| rng.pick(b"aaaaaaaaaaaa78:")).collect();
            let mut want: Vec<std::ops::Range<usize>> = Vec::new();
            for (i, &b) in text.iter().enumerate() {
                let reach = match b {
                    b'7' | b'8' => 3,
                    b':' => 1,
                    _ => continue,
                };
                let window = i.saturating_sub(reach)..(i + 1 + reach).min(text.len());
                match want.last_mut() {
                    Some(last) if window.start <= last.end => last.end = last.end.max(window.end),
                    _ => want.push(window),
                }
            }
            assert_eq!(gate.windows(&text).collect::<Vec<_>>(), want, "{text:?}");
        }
    }

    #[test]
    fn gate_windows_cover_each_required_byte_by_its_reach_and_merge() {
        let digits = ByteSet(
            (0..=255u8)
                .map(|b| b.is_ascii_digit())
                .collect::<Vec<_>>()
                .try_into()
                .unwrap(),
        );
        let colon = ByteSet::single(b':');
        let gate = AlwaysOnGate::new([(Some(3), Some(&digits)), (Some(1), Some(&colon))]).unwrap();
        let text = b"abcdefgh1jklmnopqrs:uvwx2y3zzzzzzzz";
        let windows: Vec<_> = gate.windows(text).collect();
        // Touching windows merge too.
        assert_eq!(windows, vec![5..12, 18..30]);
        assert!(AlwaysOnGate::new([(Some(3), Some(&digits)), (Some(5), None)]).is_none());
        assert!(AlwaysOnGate::new([(None, Some(&digits))]).is_none());
    }

    fn facts<'a>(
        longest_match: Option<usize>,
        required_bytes: Option<&'a ByteSet>,
        required_run: Option<&'a RequiredRun>,
    ) -> AlwaysOnFacts<'a> {
        AlwaysOnFacts {
            longest_match,
            required_bytes,
            required_run,
        }
    }

    #[test]
    fn a_few_ungatable_detectors_run_alone_and_more_ungate_the_set() {
        let digits = ByteSet::single(b'7');
        let letter = ByteSet::single(b'A');
        let hex_run = run(r"[a-f0-9]{32}").unwrap();
        let plan = AlwaysOnPlan::new([
            facts(Some(3), Some(&digits), None),
            facts(None, Some(&digits), None),
            facts(Some(4), None, None),
            // A common required byte does not gate; a long run does.
            facts(Some(40), Some(&letter), Some(&hex_run)),
        ]);
        assert!(plan.gate.is_some());
        assert_eq!((plan.in_set, plan.everywhere), (vec![0], vec![1, 2]));
        assert_eq!(plan.near_runs, vec![(3, hex_run.clone(), 40)]);
        let plan = AlwaysOnPlan::new([
            facts(Some(3), Some(&digits), None),
            facts(None, None, Some(&hex_run)),
            facts(None, None, None),
            facts(None, None, None),
        ]);
        assert!(plan.gate.is_none());
        assert_eq!((plan.in_set, plan.everywhere), (vec![0, 1, 2, 3], vec![]));
    }

    fn run(pattern: &str) -> Option<RequiredRun> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .unwrap();
        required_run(&hir)
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
    fn runs_are_found_whole_wherever_they_are_long_enough() {
        let hex = run(r"[a-f0-9]{4}").unwrap();
        let text = b"abc 0123456789 zz beef cafe1 ab1";
        let found: Vec<&[u8]> = hex.runs(text).map(|r| &text[r]).collect();
        assert_eq!(found, vec![&b"0123456789"[..], b"beef", b"cafe1"]);
        assert_eq!(hex.runs(b"abc").count(), 0);
    }

    #[test]
    fn optional_parts_and_empty_matches_give_nothing() {
        assert_eq!(required(r"\d?"), None);
        assert_eq!(required(r"\b"), None);
        assert_eq!(required(r"(?:\d{2})*x").as_deref(), Some("x"));
    }
}
