//! Which edges between fields a joining detector's finding could cross, so that joined
//! matching (`walk/join.rs`) scans a window of fields only where a finding cut across them
//! could be. Between short fields of prose nearly every window was scanned for nothing
//! (issue 16: a third of a short JSON field's cost).
//!
//! A finding that crosses the edge at `at` holds the bytes on both sides of it and lies in
//! one run of bytes its detector's findings can hold ([`regex_facts::finding_shape`]), at
//! least its shortest length long. An edge where no detector's run is long enough cannot be
//! crossed; a window with no other edge finds nothing the per-field scan did not.
//!
//! A detector with keywords finds nothing in a window that holds none of them
//! ([`KeywordGate`]): a shape whose detectors all have keywords crosses only where the text
//! tested holds one.

use crate::engine::walk::keyword_gate::KeywordGate;
use regex_facts::FindingShape;

/// The finding shapes of one scope's joining detectors, one per distinct byte set (with
/// the shortest length of those sharing it).
#[derive(Debug, Clone)]
pub(crate) struct Straddle {
    shapes: Vec<Shape>,
    /// Bit `i` of entry `b`: byte `b` can lie in a finding of shape `i` (at most 64 shapes;
    /// more have none). A shape crosses an edge only if it holds the bytes on both sides, so
    /// one read on each side leaves the few shapes to count runs for.
    edge_bytes: Option<Box<[u64; 256]>>,
    /// The longest run any shape's test reads on one side of an edge (its shortest finding).
    longest: usize,
    /// Bit `i`: shape `i` has no keyword gate (bits of the first 64 shapes).
    ungated: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    /// Bit `b` of word `b / 64`: byte `b` can lie in a finding.
    bytes: [u64; 4],
    min_len: usize,
    /// The keywords one of which a text must hold for the shape's detectors to find anything
    /// in it (`None`: a detector of the shape has none).
    gate: Option<KeywordGate>,
}

impl Shape {
    /// How many bytes a crossing finding holds at least (one on each side of the edge).
    fn need(&self) -> usize {
        self.min_len.max(2)
    }

    /// Whether the shape's detectors could find anything in `text` (it holds a keyword).
    fn gate_opens(&self, text: &[u8]) -> bool {
        self.gate.as_ref().is_none_or(|g| g.occurs_in(text))
    }

    fn holds(&self, b: u8) -> bool {
        let b = usize::from(b);
        self.bytes
            .get(b / 64)
            .is_some_and(|w| w >> (b % 64) & 1 == 1)
    }
}

impl Straddle {
    /// The shapes of one scope's joining detectors, each with its detector's keyword gate.
    pub(crate) fn new(
        shapes: impl IntoIterator<Item = (FindingShape, Option<KeywordGate>)>,
    ) -> Straddle {
        let mut out: Vec<Shape> = Vec::new();
        for (shape, gate) in shapes {
            let mut bytes = [0u64; 4];
            for b in shape.bytes.iter() {
                if let Some(w) = bytes.get_mut(usize::from(b) / 64) {
                    *w |= 1 << (b % 64);
                }
            }
            match out.iter_mut().find(|s| s.bytes == bytes) {
                Some(same) => {
                    same.min_len = same.min_len.min(shape.min_len);
                    same.gate = KeywordGate::union(same.gate.take(), gate);
                }
                None => out.push(Shape {
                    bytes,
                    min_len: shape.min_len,
                    gate,
                }),
            }
        }
        let edge_bytes = (out.len() <= 64).then(|| {
            let mut table = Box::new([0u64; 256]);
            for (b, bits) in (0..=255u8).zip(table.iter_mut()) {
                for (i, shape) in out.iter().enumerate() {
                    *bits |= u64::from(shape.holds(b)) << i;
                }
            }
            table
        });
        let ungated = (out.iter().take(64).enumerate())
            .filter(|(_, s)| s.gate.is_none())
            .fold(0u64, |bits, (i, _)| bits | 1 << i);
        Straddle {
            ungated,
            longest: out.iter().map(Shape::need).max().unwrap_or(0),
            shapes: out,
            edge_bytes,
        }
    }

    /// Whether a finding could cross the edge at `at` of `text` (between `text[at - 1]` and
    /// `text[at]`): some shape's runs on both sides are long enough, and `text` holds one of
    /// its keywords if it has any. Monotone: a longer stretch about the edge only opens more.
    pub(crate) fn may_cross(&self, text: &[u8], at: usize) -> bool {
        let (Some(before), Some(after)) = (text.get(..at), text.get(at..)) else {
            return false;
        };
        let (Some(&last), Some(&first)) = (before.last(), after.first()) else {
            return false;
        };
        match self.edge_bytes.as_deref() {
            Some(table) => self.runs_cross(table, text, (before, after), (last, first)),
            None => self.each_shape_crosses(u64::MAX, text, (before, after)),
        }
    }

    /// [`Straddle::may_cross`] with the edge-byte table: every shape's run on each side counted
    /// in one walk, the table's entry of a byte telling which runs it continues (issue 16: the
    /// shapes share their bytes, so one walk per shape read the same letters and digits many
    /// times). A run is counted up to `longest`, past every shape's need, so each shape's test
    /// is the one [`Straddle::each_shape_crosses`] makes.
    fn runs_cross(
        &self,
        table: &[u64; 256],
        text: &[u8],
        (before, after): (&[u8], &[u8]),
        (last, first): (u8, u8),
    ) -> bool {
        let held = |b: u8| table.get(usize::from(b)).copied().unwrap_or(0);
        let candidates = held(last) & held(first);
        if candidates == 0 {
            return false;
        }
        // One shape: its own walk reads no further than its need. (Runs over 255 bytes do
        // not fit the counts below.)
        if candidates.count_ones() == 1 || self.longest > usize::from(u8::MAX) {
            return self.each_shape_crosses(candidates, text, (before, after));
        }
        // Each candidate's run after the edge (at least 1: `first` holds)...
        let mut right = [0u8; 64];
        let mut alive = candidates;
        let mut n = 0u32;
        for &b in after.iter().take(self.longest) {
            let still = alive & held(b);
            for_each_bit(alive & !still, |i| {
                if let Some(r) = right.get_mut(i) {
                    *r = n as u8;
                }
            });
            alive = still;
            if alive == 0 {
                break;
            }
            n += 1;
        }
        for_each_bit(alive, |i| {
            if let Some(r) = right.get_mut(i) {
                *r = n as u8;
            }
        });
        // ...and before it, each run's shape tested where its run ends.
        let crosses = |shapes: u64, left: u32| {
            let mut long_enough = 0u64;
            for_each_bit(shapes, |i| {
                let need = self.shapes.get(i).map_or(usize::MAX, Shape::need);
                let r = right.get(i).copied().map_or(0, u32::from);
                long_enough |= u64::from((left + r) as usize >= need) << i;
            });
            // The keyword search only where the runs allow a finding (rarely).
            long_enough & self.ungated != 0
                || (long_enough != 0 && self.gates_open(long_enough, text))
        };
        let mut alive = candidates;
        let mut n = 0u32;
        for &b in before.iter().rev().take(self.longest) {
            let still = alive & held(b);
            if crosses(alive & !still, n) {
                return true;
            }
            alive = still;
            if alive == 0 {
                return false;
            }
            n += 1;
        }
        crosses(alive, n)
    }

    /// Whether `text` holds a keyword of one of `shapes` (bits of the first 64).
    #[inline(never)]
    fn gates_open(&self, shapes: u64, text: &[u8]) -> bool {
        let mut open = false;
        for_each_bit(shapes, |i| {
            open = open || self.shapes.get(i).is_some_and(|s| s.gate_opens(text));
        });
        open
    }

    /// [`Straddle::may_cross`] shape by shape (every shape in `candidates`, and every shape past
    /// the 64th): for more shapes than the edge-byte table holds.
    fn each_shape_crosses(
        &self,
        candidates: u64,
        text: &[u8],
        (before, after): (&[u8], &[u8]),
    ) -> bool {
        let shapes = self.shapes.iter().enumerate();
        shapes
            .filter(|&(i, _)| i >= 64 || candidates >> i & 1 == 1)
            .any(|(_, shape)| {
                // Runs are counted only as far as the shortest finding needs.
                let need = shape.need();
                let left = before
                    .iter()
                    .rev()
                    .take(need)
                    .take_while(|&&b| shape.holds(b))
                    .count();
                if left == 0 {
                    return false;
                }
                let right = after
                    .iter()
                    .take(need - left.min(need - 1))
                    .take_while(|&&b| shape.holds(b))
                    .count();
                right > 0 && left + right >= need && shape.gate_opens(text)
            })
    }
}

/// Calls `f` with the index of every set bit of `bits`, lowest first.
fn for_each_bit(mut bits: u64, mut f: impl FnMut(usize)) {
    while bits != 0 {
        f(bits.trailing_zeros() as usize);
        bits &= bits - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex;

    const PATTERNS: &[&str] = &[
        r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
        r"(?:^|[^\w.])(?P<secret>4\d{3}(?:[ -]?\d{4}){3})\b",
        r"\bghp_[A-Za-z0-9]{36}\b",
        r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
        r"key=(?:(?P<secret>[0-9]{8})|[a-z]{3})",
    ];

    /// [`PATTERNS`]' detectors' keywords (the card and email ones have none).
    const KEYWORDS: &[&[&str]] = &[&["AKIA", "ASIA"], &[], &["ghp_"], &[], &["key="]];

    /// The straddle of `patterns` whose detectors have `keywords`.
    fn gated(patterns: &[&str], keywords: &[&[&str]]) -> Straddle {
        Straddle::new(patterns.iter().zip(keywords).map(|(p, k)| {
            let shape = regex_facts::finding_shape(&regex_facts::parse(p).unwrap());
            let k: Vec<String> = k.iter().map(|k| k.to_string()).collect();
            (shape, KeywordGate::of(&k))
        }))
    }

    fn straddle(patterns: &[&str]) -> Straddle {
        Straddle::new(patterns.iter().map(|p| {
            (
                regex_facts::finding_shape(&regex_facts::parse(p).unwrap()),
                None,
            )
        }))
    }

    /// The spans a detector reports in `text` (a match's `secret` group's, if it took part).
    fn findings(re: &Regex, text: &[u8]) -> Vec<(usize, usize)> {
        let mut caps = re.create_captures();
        let group = re
            .group_info()
            .to_index(regex_automata::PatternID::ZERO, "secret");
        let mut out = Vec::new();
        for m in re.find_iter(text) {
            re.captures(regex_automata::Input::new(text).range(m.range()), &mut caps);
            let span = group.and_then(|g| caps.get_group(g)).unwrap_or(m.span());
            out.push((span.start, span.end));
        }
        out
    }

    #[test]
    fn finds_every_edge_a_finding_crosses_and_skips_near_misses() {
        let s = straddle(PATTERNS);
        let cases: &[(&str, usize, bool)] = &[
            // Cut keys and numbers.
            ("x AKIAQ3EG|RTXK7VJ2WZ5PABCD y", 10, true),
            ("AKIAQ3EGRTXK7VJ2WZ5PABC|D", 23, true),
            ("card 4111 1111| 1111 1111 ok", 14, true),
            ("write to jane.doe@exa|mple.org", 21, true),
            ("ghp_abcdefghij|klmnopqrstuvwxyz0123456789AB", 14, true),
            // Near misses: prose on both sides, a space at the edge, a run too short.
            ("Hi yo|u all", 5, false),
            ("AKIA |Q3EG", 5, false),
            ("id 12|34 end", 5, false),
        ];
        for &(text, at, crosses) in cases {
            let text = text.replace('|', "");
            assert_eq!(
                s.may_cross(text.as_bytes(), at),
                crosses,
                "{text:?} at {at}"
            );
        }
        // Letters either side cross only for a detector whose findings hold letters (email).
        let credentials = straddle(&[PATTERNS[0], PATTERNS[1], PATTERNS[2]]);
        assert!(!credentials.may_cross(b"Hello there friend of mine", 17));
        assert!(s.may_cross(b"Hello there friend of mine", 17));
        assert!(!s.may_cross(b"abc", 0) && !s.may_cross(b"abc", 3) && !s.may_cross(b"abc", 9));
    }

    /// [`Straddle::may_cross`] without the edge-byte table: every shape counted.
    fn may_cross_every_shape(s: &Straddle, text: &[u8], at: usize) -> bool {
        let plain = Straddle {
            shapes: s.shapes.clone(),
            edge_bytes: None,
            longest: s.longest,
            ungated: s.ungated,
        };
        plain.may_cross(text, at)
    }

    #[test]
    fn the_edge_byte_table_decides_as_every_shape_does() {
        let all = straddle(PATTERNS);
        assert!(all.edge_bytes.is_some());
        let mut rng = crate::engine::test_rng::TestRng::new(0x6c07_8965_0d1f_2a3b);
        let pieces = [
            "AKIA", "Q3EG", "4111", " ", "  ", "-", "ghp_", "abcd", "EF01", "x", "@", ".", "org",
            "key=", "12", "5", "Z9", ",", "é", "\n", "_",
        ];
        let subsets = [
            all.clone(),
            straddle(&PATTERNS[..2]),
            straddle(&PATTERNS[3..]),
            gated(PATTERNS, KEYWORDS),
        ];
        let mut crossing = 0;
        for _ in 0..4000 {
            // Up to ~190 bytes: runs past every shape's need (`longest` caps the counts).
            let text: Vec<u8> = (0..rng.below(48))
                .flat_map(|_| rng.pick(&pieces).bytes())
                .collect();
            for s in &subsets {
                for at in 0..=text.len() + 1 {
                    let every = may_cross_every_shape(s, &text, at);
                    let shown = String::from_utf8_lossy(&text);
                    assert_eq!(s.may_cross(&text, at), every, "{shown:?} at {at}");
                    crossing += usize::from(every);
                }
            }
        }
        assert!(crossing > 10_000, "{crossing} edges crossable");
    }

    #[test]
    fn every_finding_across_an_edge_is_let_through() {
        // Random texts of pieces that make findings common; every edge inside every finding.
        let pieces: &[&str] = &[
            "AKIA", "ASIA", "Q3EG", "RTXK", "7VJ2", "WZ5P", "4111", " ", "-", "1111", "ghp_",
            "abcd", "ef01", "x", "@", ".", "org", "key=", "1234", "5678", "abc", "Z9", ",",
        ];
        let build = |p: &str| {
            Regex::builder()
                .syntax(crate::engine::scan::scanner::syntax_config())
                .build(p)
                .unwrap()
        };
        // Each detector alone, without and with its keyword gate.
        let detectors: Vec<(Regex, Straddle)> = PATTERNS
            .iter()
            .zip(KEYWORDS)
            .flat_map(|(p, k)| [(build(p), straddle(&[p])), (build(p), gated(&[p], &[k]))])
            .collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut crossed = 0;
        for _ in 0..3000 {
            let count = 4 + (next() % 20) as usize;
            let text: Vec<u8> = (0..count)
                .flat_map(|_| pieces[(next() % pieces.len() as u64) as usize].bytes())
                .collect();
            for (re, s) in &detectors {
                for (start, end) in findings(re, &text) {
                    for at in start + 1..end {
                        crossed += 1;
                        let shown = String::from_utf8_lossy(&text);
                        assert!(s.may_cross(&text, at), "{re:?} in {shown:?} at {at}");
                    }
                }
            }
        }
        assert!(crossed > 1000, "{crossed} crossings tried");
    }
}
