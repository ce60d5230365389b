//! Where the always-on detectors run: the always-on set's prefilter.
//!
//! Detectors without keywords (card numbers, phone numbers, IP addresses) sit
//! in one lazy DFA that would otherwise read every byte of every field. Each
//! of them needs some rare byte in any match: a digit, a `+`, a `:`
//! ([`regex_facts::required_bytes`]). The scanner runs the set only
//! within a detector's longest match of such a byte. A detector with no rare
//! required byte but a long required run (`[a-f0-9]{32}`) runs alone, near
//! such runs only; one with neither runs alone over every text, and a few
//! more of those disable the prefilter.

use crate::engine::bytes::first_run_of;
use crate::engine::scan::gate_nibbles::{self, GateNibbles};
use crate::engine::scan::match_shape::Shape;
use regex_facts::{commonness, ByteSet, RequiredRun};
use std::sync::OnceLock;

/// The maximal runs of `text` that are at least as long as `run` and of its class, in order
/// (found reading about one byte in `run.len`).
pub fn runs_of<'t>(
    run: &'t RequiredRun,
    text: &'t [u8],
) -> impl Iterator<Item = std::ops::Range<usize>> + 't {
    let member = |b: u8| run.class.contains(b);
    let mut from = 0;
    std::iter::from_fn(move || {
        let start = first_run_of(text, from, text.len(), run.len, member)?;
        let rest = text.get(start..).unwrap_or_default();
        let end = start + rest.iter().position(|&b| !member(b)).unwrap_or(rest.len());
        from = end;
        Some(start..end)
    })
}

/// Where the always-on set must run: within `reach[b]` bytes of each byte `b` with a nonzero reach.
#[derive(Debug)]
pub struct AlwaysOnGate {
    reach: [u16; 256],
    /// The longest reach of any byte.
    longest: usize,
    /// How far every gated byte's window reaches back and forward, when the set's patterns'
    /// shapes bound it ([`AlwaysOnGate::bound`]); otherwise a byte's window reaches its
    /// longest match both ways. Read on first use: parsing the patterns costs ~6 M wasm
    /// instructions, +9 % on a policy's load, so the warm-up tick or the first text pays it.
    bounds: OnceLock<Option<(usize, usize)>>,
    /// The set's patterns, whose shapes give `bounds`.
    patterns: Box<[Box<str>]>,
    /// The gated bytes as nibble tables, to pass over blocks of text that hold none.
    nibbles: GateNibbles,
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

/// Where the window of the gated byte at `i`, of reach `reach`, starts.
fn back(bounds: Option<(usize, usize)>, i: usize, reach: usize) -> usize {
    i.saturating_sub(bounds.map_or(reach, |(lead, _)| lead))
}

/// How far after a gated byte of reach `reach` its window ends.
fn forward(bounds: Option<(usize, usize)>, reach: usize) -> usize {
    bounds.map_or(reach, |(_, forward)| forward)
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
        let mut gate = Box::new(AlwaysOnGate {
            reach: [0; 256],
            longest: 0,
            bounds: OnceLock::new(),
            patterns: Box::new([]),
            nibbles: GateNibbles::of(|_| false),
        });
        let mut any = false;
        for (longest_match, required) in detectors {
            let reach = gatable_reach(longest_match, required)?;
            for b in required?.iter() {
                let slot = gate.reach.get_mut(usize::from(b))?;
                *slot = (*slot).max(reach);
            }
            gate.longest = gate.longest.max(usize::from(reach));
            any = true;
        }
        gate.nibbles = GateNibbles::of(|b| gate.reach_of(b) > 0);
        any.then_some(gate)
    }

    /// Each gated byte and its reach.
    #[cfg(any(test, feature = "bench-hooks"))]
    pub fn reaches(&self) -> Vec<(u8, usize)> {
        (0..=255u8)
            .zip(self.reach.iter())
            .filter(|(_, &reach)| reach > 0)
            .map(|(b, &reach)| (b, usize::from(reach)))
            .collect()
    }

    /// The reach of byte `b` (0: not gated).
    fn reach_of(&self, b: u8) -> usize {
        usize::from(self.reach.get(usize::from(b)).copied().unwrap_or(0))
    }

    /// The gated bytes of an 8-byte `word`: their offsets and reaches. Most words hold none,
    /// and are passed over with one test instead of eight branches.
    fn gated_in<'w>(&'w self, word: &'w [u8]) -> impl Iterator<Item = (usize, usize)> + 'w {
        // A short word is padded with its own first byte, which changes no answer.
        let packed = gate_nibbles::word(word, word.first().copied().unwrap_or(0));
        let any = self.nibbles.may_hold(packed, packed);
        let bytes = word.iter().take(if any { word.len() } else { 0 });
        bytes
            .enumerate()
            .map(|(k, &b)| (k, self.reach_of(b)))
            .filter(|&(_, reach)| reach > 0)
    }

    /// Shortens the windows to what the shapes of the set's `patterns` need (read on first
    /// use; one that does not parse leaves the windows as they are). Every match
    /// holds a gated byte no more than the lead after its start, each next one no more than
    /// the gap after the last, and ends no more than the tail after its last
    /// ([`crate::engine::scan::match_shape`]): so a window reaching the lead back from each
    /// gated byte and forward the tail, and far enough to meet the next byte of a chain, holds
    /// it. One reach for every byte: a window opened later must not start earlier than the one
    /// it joins (a byte of another pattern's set may lie before a match's own first).
    pub fn bound(&mut self, patterns: &[&str]) {
        self.patterns = patterns.iter().map(|&p| p.into()).collect();
        self.bounds = OnceLock::new();
    }

    /// Reads the patterns' shapes now (the VM's warm-up tick).
    pub fn warm(&self) {
        self.bounds();
    }

    fn bounds(&self) -> Option<(usize, usize)> {
        *self.bounds.get_or_init(|| self.shaped())
    }

    fn shaped(&self) -> Option<(usize, usize)> {
        if self.patterns.is_empty() {
            return None;
        }
        let gated = (0..=255u8)
            .filter(|&b| self.reach_of(b) > 0)
            .fold(ByteSet::empty(), |set, b| set.union(&ByteSet::single(b)));
        let shapes: Option<Vec<Shape>> = (self.patterns.iter())
            .map(|p| Shape::of(&regex_facts::parse(p).ok()?, &gated))
            .collect();
        let shapes = shapes?;
        let most = |part: fn(&Shape) -> usize| shapes.iter().map(part).max().unwrap_or(0);
        let (lead, tail, gap) = (most(|s| s.lead), most(|s| s.tail), most(|s| s.gap));
        let forward = tail.max(gap.saturating_sub(lead));
        (lead.max(forward) < self.longest).then_some((lead, forward))
    }

    /// The first gated byte of `text` at or after `from`, with its reach.
    fn next_gated(&self, text: &[u8], from: usize) -> Option<(usize, usize)> {
        let mut base = from;
        for block in text.get(from..)?.chunks(16) {
            let pad = block.first().copied().unwrap_or(0);
            let (first, second) = block.split_at(block.len().min(8));
            let (first, second) = (
                gate_nibbles::word(first, pad),
                gate_nibbles::word(second, pad),
            );
            if self.nibbles.may_hold(first, second) {
                let gated = (block.iter().enumerate())
                    .map(|(k, &b)| (base + k, self.reach_of(b)))
                    .find(|&(_, reach)| reach > 0);
                if gated.is_some() {
                    return gated;
                }
            }
            base += block.len();
        }
        None
    }

    /// The furthest end `j + 1 + reach` of the gated bytes `j` in `from..end` of `text`, if
    /// one lies past `end`. Read backwards from `end`: a byte more than the longest reach
    /// before it cannot reach past it, so in a run of gated bytes only the last few are read.
    fn furthest_end(
        &self,
        bounds: Option<(usize, usize)>,
        text: &[u8],
        from: usize,
        end: usize,
    ) -> Option<usize> {
        let longest = bounds.map_or(self.longest, |(_, forward)| forward);
        let mut best = end;
        // Where the word being read ends.
        let mut top = end;
        for word in text.get(from..end)?.rchunks(8) {
            // No byte at or before this word's last can end past `best`.
            if top + longest <= best {
                break;
            }
            top -= word.len();
            for (k, reach) in self.gated_in(word) {
                best = best.max(top + k + 1 + forward(bounds, reach));
            }
        }
        (best > end).then_some(best)
    }

    /// The stretches of `text` that can hold a match, merged, in order: a match holding its
    /// first required byte at `i` ends within its longest match after `i` and starts within
    /// the lead before it (else within its longest match).
    ///
    /// Each gated byte opens `i - lead .. i + 1 + reach`; a window opened at or before the
    /// current one's end joins it. Inside a window only the bytes that could move its end
    /// are read ([`AlwaysOnGate::furthest_end`]), so a run of numbers is not read byte by byte.
    pub fn windows<'t>(
        &'t self,
        text: &'t [u8],
    ) -> impl Iterator<Item = std::ops::Range<usize>> + 't {
        let len = text.len();
        let mut from = 0;
        let bounds = self.bounds();
        std::iter::from_fn(move || {
            let (i, reach) = self.next_gated(text, from)?;
            let start = back(bounds, i, reach);
            let mut end = (i + 1 + forward(bounds, reach)).min(len);
            // Gated bytes before `read` are accounted for.
            let mut read = i + 1;
            loop {
                if let Some(further) = self.furthest_end(bounds, text, read, end) {
                    read = end;
                    end = further.min(len);
                    continue;
                }
                read = read.max(end);
                match self.next_gated(text, read) {
                    Some((j, reach)) if back(bounds, j, reach) <= end => {
                        end = end.max((j + 1 + forward(bounds, reach)).min(len));
                        read = j + 1;
                    }
                    next => {
                        from = next.map_or(len, |(j, _)| j);
                        return Some(start..end);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_facts::required_run;

    /// The windows of `text` by a walk over every byte: each gated byte's window, merged into
    /// the previous one when it starts at or before its end.
    fn walked(text: &[u8], reach: impl Fn(u8) -> Option<usize>) -> Vec<std::ops::Range<usize>> {
        let mut want: Vec<std::ops::Range<usize>> = Vec::new();
        for (i, &b) in text.iter().enumerate() {
            let Some(reach) = reach(b) else { continue };
            let window = i.saturating_sub(reach)..(i + 1 + reach).min(text.len());
            match want.last_mut() {
                Some(last) if window.start <= last.end => last.end = last.end.max(window.end),
                _ => want.push(window),
            }
        }
        want
    }

    #[test]
    fn gate_windows_agree_with_a_byte_by_byte_walk() {
        let digits = ByteSet::single(b'7').union(&ByteSet::single(b'8'));
        let colon = ByteSet::single(b':');
        let gate = AlwaysOnGate::new([(Some(3), Some(&digits)), (Some(1), Some(&colon))]).unwrap();
        let reach = |b: u8| match b {
            b'7' | b'8' => Some(3),
            b':' => Some(1),
            _ => None,
        };
        let mut rng = crate::engine::test_rng::TestRng::new(0x1234_5678_9abc_def1);
        for _ in 0..2000 {
            let len = rng.below(70);
            let text: Vec<u8> = (0..len).map(|_| rng.pick(b"aaaaaaaaaaaa78:")).collect();
            let got: Vec<_> = gate.windows(&text).collect();
            assert_eq!(got, walked(&text, reach), "{text:?}");
        }
    }

    #[test]
    fn long_windows_agree_with_a_byte_by_byte_walk() {
        // The default policy's reaches (digits 105, `:` 63, `+` 40), over texts of runs of
        // numbers and gaps around those lengths, where windows grow, merge and close.
        let digits = ByteSet::single(b'1').union(&ByteSet::single(b'2'));
        let (colon, plus) = (ByteSet::single(b':'), ByteSet::single(b'+'));
        let gate = AlwaysOnGate::new([
            (Some(105), Some(&digits)),
            (Some(63), Some(&colon)),
            (Some(40), Some(&plus)),
        ])
        .unwrap();
        let reach = |b: u8| match b {
            b'1' | b'2' => Some(105),
            b':' => Some(63),
            b'+' => Some(40),
            _ => None,
        };
        let mut rng = crate::engine::test_rng::TestRng::new(0x7a7e_0013_51a7_0b1e);
        for _ in 0..3000 {
            let mut text = Vec::new();
            for _ in 0..rng.below(12) {
                let gap = rng.pick(&[0, 1, 30, 39, 41, 62, 64, 104, 106, 150, 211, 212, 300]);
                text.extend(std::iter::repeat_n(b'a', gap + rng.below(3)));
                for _ in 0..rng.below(20) {
                    text.push(rng.pick(b"12:+aa "));
                }
            }
            let got: Vec<_> = gate.windows(&text).collect();
            assert_eq!(
                got,
                walked(&text, reach),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    #[test]
    fn bounded_windows_reach_alike_from_every_gated_byte() {
        let digits = ByteSet::single(b'1').union(&ByteSet::single(b'2'));
        let colon = ByteSet::single(b':');
        let mut gate =
            AlwaysOnGate::new([(Some(40), Some(&digits)), (Some(9), Some(&colon))]).unwrap();
        gate.bounds = OnceLock::from(Some((3, 12)));
        let mut rng = crate::engine::test_rng::TestRng::new(0x1ead_0000_0ba5_e5ed);
        for _ in 0..3000 {
            let len = rng.below(200);
            let text: Vec<u8> = (0..len)
                .map(|_| rng.pick(b"aaaaaaaaaaaaaaaaaaaaaaaa12:"))
                .collect();
            let mut want: Vec<std::ops::Range<usize>> = Vec::new();
            for (i, &b) in text.iter().enumerate() {
                if !b"12:".contains(&b) {
                    continue;
                }
                let window = i.saturating_sub(3)..(i + 1 + 12).min(text.len());
                match want.last_mut() {
                    Some(last) if window.start <= last.end => last.end = last.end.max(window.end),
                    _ => want.push(window),
                }
            }
            let got: Vec<_> = gate.windows(&text).collect();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn gate_windows_cover_each_required_byte_by_its_reach_and_merge() {
        let digits = (b'0'..=b'9').fold(ByteSet::empty(), |set, b| set.union(&ByteSet::single(b)));
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
        required_run(&regex_facts::parse(pattern).unwrap())
    }

    #[test]
    fn runs_are_found_whole_wherever_they_are_long_enough() {
        let hex = run(r"[a-f0-9]{4}").unwrap();
        let text = b"abc 0123456789 zz beef cafe1 ab1";
        let found: Vec<&[u8]> = runs_of(&hex, text).map(|r| &text[r]).collect();
        assert_eq!(found, vec![&b"0123456789"[..], b"beef", b"cafe1"]);
        assert_eq!(runs_of(&hex, b"abc").count(), 0);
    }
}
