//! Work counters per stage of the pass over new bytes: how often each layer and scanner stage
//! runs and how many bytes it reads, so a profile can say which step's work to cut (issue 16).
//!
//! [`count`] is what the stages call. Without the `bench-hooks` feature it is an empty inline
//! function, so the filter's release module has no counters at all. With it, each call is two
//! relaxed atomic adds (no `unsafe`, no lock; the wasm module is single-threaded). The counts
//! are deterministic (a function of the requests inspected), so the same request counts the same
//! natively and in wasm: read them with [`snapshot`] before and after an inspection.

/// A stage whose calls and bytes are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `Scanner::scan_patterns`: one scan of a text (bytes: the text).
    ScanPatterns,
    /// The keyword automaton over a text (bytes: the text).
    KeywordDfa,
    /// Keyword occurrences reported (bytes: their lengths).
    KeywordMatch,
    /// Windows the always-on gate opened (bytes: their lengths).
    AlwaysOnWindow,
    /// Armings pushed (calls; bytes: their stretches' lengths, before merging).
    Arming,
    /// Unanchored searches of an armed regex (bytes: the stretch each one may read).
    ArmedSearch,
    /// Anchored tries of a regex at a keyword (bytes: 0; the try reads up to its match).
    AnchoredTry,
    /// Regex matches handed to the checks (bytes: their lengths).
    Candidate,
    /// `fold::Folder::fold` (bytes: the text).
    Fold,
    /// `decode::find_segments` (bytes: the text).
    Decode,
    /// `respell::find` (bytes: the text), and each layer it runs below.
    Respell,
    Escapes,
    Spaced,
    Rejoin,
    Separators,
    Recase,
    Tags,
    ByteLists,
    Families,
    /// `ciphers::find` around enciphered keywords (bytes: the text).
    Ciphers,
    /// A protected documents index searched (bytes: the text).
    Documents,
    /// A protected records index searched (bytes: the text).
    Records,
}

#[cfg(any(test, feature = "bench-hooks"))]
impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 22] = [
        Step::ScanPatterns,
        Step::KeywordDfa,
        Step::KeywordMatch,
        Step::AlwaysOnWindow,
        Step::Arming,
        Step::ArmedSearch,
        Step::AnchoredTry,
        Step::Candidate,
        Step::Fold,
        Step::Decode,
        Step::Respell,
        Step::Escapes,
        Step::Spaced,
        Step::Rejoin,
        Step::Separators,
        Step::Recase,
        Step::Tags,
        Step::ByteLists,
        Step::Families,
        Step::Ciphers,
        Step::Documents,
        Step::Records,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::ScanPatterns => "scan_patterns",
            Step::KeywordDfa => "keyword dfa",
            Step::KeywordMatch => "keyword match",
            Step::AlwaysOnWindow => "always-on window",
            Step::Arming => "arming",
            Step::ArmedSearch => "armed search",
            Step::AnchoredTry => "anchored try",
            Step::Candidate => "candidate",
            Step::Fold => "fold",
            Step::Decode => "decode",
            Step::Respell => "respell",
            Step::Escapes => "  escapes",
            Step::Spaced => "  spaced",
            Step::Rejoin => "  rejoin",
            Step::Separators => "  separators",
            Step::Recase => "  recase",
            Step::Tags => "  tags",
            Step::ByteLists => "  byte_lists",
            Step::Families => "  families",
            Step::Ciphers => "ciphers",
            Step::Documents => "documents index",
            Step::Records => "records index",
        }
    }
}

/// Counts one call of `step` that reads `bytes` bytes. Free without `bench-hooks`.
#[inline(always)]
pub(crate) fn count(step: Step, bytes: usize) {
    count_for(step, None, bytes);
}

/// [`count`] for a search of armed regex `regex` (an index into the scanner's regexes), which
/// is also counted against that regex.
#[inline(always)]
pub(crate) fn count_search(step: Step, regex: u32, bytes: usize) {
    count_for(step, Some(regex), bytes);
}

#[inline(always)]
fn count_for(step: Step, regex: Option<u32>, bytes: usize) {
    #[cfg(feature = "bench-hooks")]
    counters::add(step, regex, bytes);
    #[cfg(not(feature = "bench-hooks"))]
    let _ = (step, regex, bytes);
}

/// Calls and bytes of every step so far, by [`Step::ALL`]'s order.
#[cfg(feature = "bench-hooks")]
pub fn snapshot() -> Counts {
    counters::snapshot()
}

/// Cumulative counts: per step (calls, bytes), and per regex index (searches, bytes).
#[cfg(feature = "bench-hooks")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub steps: Vec<(u64, u64)>,
    pub regexes: Vec<(u64, u64)>,
}

#[cfg(feature = "bench-hooks")]
impl Counts {
    /// What was counted since `before`.
    pub fn since(&self, before: &Counts) -> Counts {
        let minus = |now: &[(u64, u64)], then: &[(u64, u64)]| {
            now.iter()
                .zip(then)
                .map(|(a, b)| (a.0 - b.0, a.1 - b.1))
                .collect()
        };
        Counts {
            steps: minus(&self.steps, &before.steps),
            regexes: minus(&self.regexes, &before.regexes),
        }
    }
}

#[cfg(feature = "bench-hooks")]
mod counters {
    use super::{Counts, Step};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    /// Regex indices past this share the last slot.
    const REGEX_SLOTS: usize = 1024;

    static CALLS: [AtomicU64; Step::ALL.len()] = [const { AtomicU64::new(0) }; Step::ALL.len()];
    static BYTES: [AtomicU64; Step::ALL.len()] = [const { AtomicU64::new(0) }; Step::ALL.len()];
    static REGEX_CALLS: [AtomicU64; REGEX_SLOTS] = [const { AtomicU64::new(0) }; REGEX_SLOTS];
    static REGEX_BYTES: [AtomicU64; REGEX_SLOTS] = [const { AtomicU64::new(0) }; REGEX_SLOTS];

    fn bump(calls: &[AtomicU64], bytes: &[AtomicU64], i: usize, n: usize) {
        if let (Some(c), Some(b)) = (calls.get(i), bytes.get(i)) {
            c.fetch_add(1, Relaxed);
            b.fetch_add(n as u64, Relaxed);
        }
    }

    pub(super) fn add(step: Step, regex: Option<u32>, bytes: usize) {
        bump(&CALLS, &BYTES, step as usize, bytes);
        if let Some(regex) = regex {
            let slot = (regex as usize).min(REGEX_SLOTS - 1);
            bump(&REGEX_CALLS, &REGEX_BYTES, slot, bytes);
        }
    }

    fn read(calls: &[AtomicU64], bytes: &[AtomicU64]) -> Vec<(u64, u64)> {
        calls
            .iter()
            .zip(bytes)
            .map(|(c, b)| (c.load(Relaxed), b.load(Relaxed)))
            .collect()
    }

    pub(super) fn snapshot() -> Counts {
        Counts {
            steps: read(&CALLS, &BYTES),
            regexes: read(&REGEX_CALLS, &REGEX_BYTES),
        }
    }
}
