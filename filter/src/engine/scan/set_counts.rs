//! Byte counts that rule the always-on patterns out of a short text before the gate and the
//! set's lazy DFA read it (issue 16).
//!
//! Every match of a card pattern holds at least 13 digits, of an IPv4 pattern 4 digits and 3
//! dots, of the IPv6 pattern a colon, of the phone pattern a `+`, of the IBAN two digits. A
//! short field ("see item 3 of the list", "user", a JSON value) usually holds fewer, and then
//! no pattern can match in it: yet the gate's set-up, and around its one digit the set's
//! search, cost about 2 000 wasm instructions per field. So a short text's bytes are counted
//! first in a few classes (digits, `.`, `:`, `+`), one table add per byte: a pattern whose
//! lower bound of some class ([`min_count`], a fact of its syntax tree, read once per VM)
//! exceeds the text's count cannot match anywhere in it. When that holds for every pattern,
//! the set reports no match end, so it arms nothing, and the scanner skips it: exact.
//!
//! Only the least bounds are kept: a pattern whose bounds are all at least another's is ruled
//! out wherever that one is (in the default policy the IBAN's two digits and the IPv6 colon
//! stand for all fourteen).

use regex_syntax::hir::{Hir, HirKind};

/// The classes counted, one 16-bit lane each of a `u64`.
const LANES: [fn(u8) -> bool; 4] = [
    |b| b.is_ascii_digit(),
    |b| b == b'.',
    |b| b == b':',
    |b| b == b'+',
];

/// Bytes counted into the packed lanes between two tests of them (a lane must not overflow,
/// and a window most patterns may match in is given up on early).
const CHUNK: usize = 32;

/// What byte counts rule every pattern of a set out of a stretch of text.
#[derive(Debug)]
pub struct SetCounts {
    /// Per byte, a one in the lane of each class it belongs to.
    inc: Box<[u64; 256]>,
    /// The patterns' lower bounds per lane, only the least of them: a pattern whose bounds are
    /// all at least another's may match only where that one may (the default policy's card,
    /// IPv4, phone and resident-id patterns all need at least the IBAN's two digits).
    least: Vec<[u32; 4]>,
}

/// A lower bound of how many bytes of `class` any match of `hir` holds.
pub fn min_count(hir: &Hir, class: fn(u8) -> bool) -> u32 {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 0,
        HirKind::Literal(literal) => {
            let n = literal.0.iter().filter(|&&b| class(b)).count();
            u32::try_from(n).unwrap_or(u32::MAX)
        }
        // A class counts when every byte it may match is of `class`.
        HirKind::Class(c) => regex_facts::ByteSet::of_class(c)
            .filter(|set| set.iter().next().is_some() && set.iter().all(class))
            .map_or(0, |_| 1),
        HirKind::Repetition(r) => r.min.saturating_mul(min_count(&r.sub, class)),
        HirKind::Capture(c) => min_count(&c.sub, class),
        HirKind::Concat(parts) => parts
            .iter()
            .fold(0u32, |sum, part| sum.saturating_add(min_count(part, class))),
        HirKind::Alternation(branches) => branches
            .iter()
            .map(|branch| min_count(branch, class))
            .min()
            .unwrap_or(0),
    }
}

impl SetCounts {
    /// The counts of `patterns`. A pattern that does not parse needs nothing, so that no
    /// text is ruled out.
    pub fn of<P: AsRef<str>>(patterns: &[P]) -> SetCounts {
        let mut inc = Box::new([0u64; 256]);
        for (b, slot) in (0..=255u8).zip(inc.iter_mut()) {
            for (lane, class) in LANES.iter().enumerate() {
                if class(b) {
                    *slot |= 1 << (16 * lane);
                }
            }
        }
        let needs: Vec<[u32; 4]> = patterns
            .iter()
            .map(|p| match regex_facts::parse(p.as_ref()) {
                Ok(hir) => LANES.map(|class| min_count(&hir, class)),
                Err(_) => [0; 4],
            })
            .collect();
        let covers = |a: &[u32; 4], b: &[u32; 4]| a.iter().zip(b).all(|(x, y)| x <= y);
        let mut least: Vec<[u32; 4]> = Vec::new();
        for &need in &needs {
            if !least.iter().any(|kept| covers(kept, &need)) {
                least.retain(|kept| !covers(&need, kept));
                least.push(need);
            }
        }
        SetCounts { inc, least }
    }

    fn add(&self, chunk: &[u8], counts: &mut [u32; 4]) {
        let packed = chunk.iter().fold(0u64, |acc, &b| {
            acc.wrapping_add(self.inc.get(usize::from(b)).copied().unwrap_or(0))
        });
        for (lane, count) in counts.iter_mut().enumerate() {
            *count += u32::from((packed >> (16 * lane)) as u16);
        }
    }

    /// Whether no pattern can match within `window`: for each, some class has fewer bytes
    /// there than any of its matches holds.
    pub fn rule_out(&self, window: &[u8]) -> bool {
        let mut counts = [0u32; 4];
        for chunk in window.chunks(CHUNK) {
            self.add(chunk, &mut counts);
            if !self.rules_out(&counts) {
                return false;
            }
        }
        self.rules_out(&counts)
    }

    fn rules_out(&self, counts: &[u32; 4]) -> bool {
        (self.least.iter()).all(|need| need.iter().zip(counts).any(|(n, c)| c < n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bounds_follow_the_tree() {
        let need = |p: &str| {
            let hir = regex_facts::parse(p).unwrap();
            LANES.map(|class| min_count(&hir, class))
        };
        assert_eq!(need(r"\d{3}(?:\.\d{1,3}){3}"), [6, 3, 0, 0]);
        assert_eq!(need(r"(?:^|[^\w.])\+?\d{4}|:\d"), [1, 0, 0, 0]);
        assert_eq!(need(r"[0-9a-f]{4}:\+"), [0, 0, 1, 1]);
        assert_eq!(need(r"(?:\d\d)*x|\d+"), [0, 0, 0, 0]);
    }

    /// Over seeded texts, a text the counts rule out holds no match of any pattern, and the
    /// least bounds rule out what every pattern's own bounds do.
    #[test]
    fn a_ruled_out_text_has_no_match() {
        let patterns = [
            r"(?:^|[^\w.])(?P<secret>4\d{3}(?:[ -]?\d{4}){3})\b",
            r"(?:^|[^\w.])(?P<secret>\d{1,3}(?:\.\d{1,3}){3})",
            r"\+[1-9]\d{0,2}(?:\.\d{1,4}){2,5}\b",
            r"(?:[0-9A-Fa-f]{1,4}:){1,7}:",
            r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}\b",
        ];
        let counts = SetCounts::of(&patterns);
        assert_eq!(counts.least.len(), 2, "{:?}", counts.least);
        let alone: Vec<SetCounts> = patterns.iter().map(|p| SetCounts::of(&[p])).collect();
        let regexes: Vec<_> = patterns
            .iter()
            .map(|p| crate::engine::scan::scanner::compile_regex(p, Default::default()).unwrap())
            .collect();
        let mut rng = crate::engine::test_rng::TestRng::new(0x5e7c_0a27_1234_9876);
        let (mut ruled_out, mut matched) = (0, 0);
        for _ in 0..20_000 {
            let text: Vec<u8> = (0..rng.below(150))
                .map(|_| rng.pick(b"0123456789 4.:+-aF GBx"))
                .collect();
            let all_out = alone.iter().all(|c| c.rule_out(&text));
            assert_eq!(counts.rule_out(&text), all_out, "{text:?}");
            for (regex, one) in regexes.iter().zip(&alone) {
                let found = regex.is_match(&text[..]);
                matched += usize::from(found);
                if one.rule_out(&text) {
                    ruled_out += 1;
                    assert!(!found, "{regex:?} ruled out of {text:?}");
                }
            }
        }
        assert!(ruled_out > 10_000 && matched > 500, "{ruled_out} {matched}");
    }
}
