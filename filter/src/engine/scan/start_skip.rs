//! Where a match of a regex that runs over every whole text can start, so that it is tried
//! only there (issue 16).
//!
//! A keyword-less detector whose longest match is unbounded (the US SSN's dashed number may
//! carry any number of dashed groups) can be neither gated nor run near its required runs, so
//! it ran over every text, its lazy DFA reading every byte: ~11 % of a prose body's time, and
//! one search per field however short. But every match holds a byte of its required set (the
//! SSN's `-`), and the first such byte lies at most [`StartSkip::within`] bytes after the
//! match's start ([`regex_facts::required_within`]). So the leftmost match at or after a
//! position starts within that distance before the first such byte at or after it: trying the
//! regex anchored at those few starts, in order, finds exactly the match an unanchored search
//! would (leftmost start first; at one start, the match the regex prefers), reading a few bytes
//! per required byte instead of the whole text.

use regex_facts::{required_within, ByteSet};

/// Where a regex's matches can start: at most `within` bytes before a byte of `bytes`.
#[derive(Debug, Clone)]
pub struct StartSkip {
    /// The required set, listed when it is small enough for `memchr` (one to three bytes).
    few: Option<Box<[u8]>>,
    member: Box<[bool; 256]>,
    within: usize,
    /// The regex's shortest match: a shorter stretch holds none.
    min_len: usize,
}

/// Past this bound the tries per required byte would cost more than the lazy DFA's pass.
const MAX_WITHIN: usize = 16;

/// Bytes of the lazy DFA's pass that one anchored try costs, about: a try is a whole regex
/// search call (~540 wasm instructions), a byte of the pass ~20. A stretch dense in required
/// bytes (dates, ids, log lines) is searched as before instead.
const BYTES_PER_TRY: usize = 32;

impl StartSkip {
    /// The skip of `pattern`, whose matches all hold a byte of `required`; `None` if its tree
    /// bounds no first such byte near enough to a match's start.
    pub fn of(pattern: &str, required: &ByteSet) -> Option<StartSkip> {
        let hir = regex_facts::parse(pattern).ok()?;
        let within = required_within(&hir, required).filter(|&n| n <= MAX_WITHIN)?;
        let listed: Vec<u8> = required.iter().collect();
        let mut member = Box::new([false; 256]);
        for &b in &listed {
            if let Some(slot) = member.get_mut(usize::from(b)) {
                *slot = true;
            }
        }
        Some(StartSkip {
            few: (1..=3).contains(&listed.len()).then(|| listed.into()),
            member,
            within,
            min_len: hir.properties().minimum_len().unwrap_or(0),
        })
    }

    /// Whether trying the starts in `span` of `text` costs less than searching it: it holds
    /// no match at all (too short, or no required byte), or few enough required bytes.
    pub fn pays(&self, text: &[u8], span: std::ops::Range<usize>) -> bool {
        let len = span.end.saturating_sub(span.start);
        if len < self.min_len {
            return true;
        }
        let most = len / BYTES_PER_TRY / (self.within + 1);
        let mut from = span.start;
        for _ in 0..=most {
            match self.next_required(text, from, span.end) {
                Some(at) => from = at + 1,
                None => return true,
            }
        }
        false
    }

    /// Whether `text` can hold no match: shorter than the regex's shortest, or without a
    /// required byte.
    pub fn rules_out(&self, text: &[u8]) -> bool {
        text.len() < self.min_len || self.next_required(text, 0, text.len()).is_none()
    }

    /// The first position in `from..to` of `text` holding a required byte.
    fn next_required(&self, text: &[u8], from: usize, to: usize) -> Option<usize> {
        let hay = text.get(from..to)?;
        let found = match self.few.as_deref() {
            Some(&[a]) => memchr::memchr(a, hay),
            Some(&[a, b]) => memchr::memchr2(a, b, hay),
            Some(&[a, b, c]) => memchr::memchr3(a, b, c, hay),
            _ => hay
                .iter()
                .position(|&b| self.member.get(usize::from(b)).copied().unwrap_or(false)),
        };
        found.map(|p| from + p)
    }

    /// The next match an unanchored search of `from..end` of `text` would find, given
    /// `anchored(start)`: the match the regex prefers of those starting at `start` and ending
    /// by `end`, if any. Candidate starts are tried in increasing order, each at most once;
    /// `from` moves past the match (as a search loop resumes at a match's end) or to `end`.
    pub fn next_match(
        &self,
        text: &[u8],
        from: &mut usize,
        end: usize,
        anchored: &mut dyn FnMut(usize) -> Option<regex_automata::Match>,
    ) -> Option<regex_automata::Match> {
        if end.saturating_sub(*from) < self.min_len {
            *from = end;
            return None;
        }
        // Every start before `from` is ruled out, or inside an earlier match.
        while let Some(required) = self.next_required(text, *from, end) {
            let mut start = required.saturating_sub(self.within).max(*from);
            // A match starting in `start..=required` holds its first required byte at or after
            // `start`, so no later required byte needs these starts again.
            *from = required + 1;
            while start <= required {
                if let Some(m) = anchored(start) {
                    *from = m.end().max(m.start() + 1);
                    return Some(m);
                }
                start += 1;
            }
        }
        *from = end;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::scan::scanner::{compile_regex, RegexLimits};
    use regex_automata::{Anchored, Input, Match};

    /// The matches of `pattern` over `text` one after another, by unanchored searches (as
    /// `run_over` finds them) and by anchored tries where `skip` says.
    fn both(
        regex: &regex_automata::meta::Regex,
        skip: &StartSkip,
        text: &[u8],
        from: usize,
    ) -> (Vec<Match>, Vec<Match>) {
        let mut cache = regex.create_cache();
        let mut searched = Vec::new();
        let mut at = from;
        while at <= text.len() {
            let input = Input::new(text).range(at..);
            let Some(m) = regex.search_with(&mut cache, &input) else {
                break;
            };
            searched.push(m);
            at = m.end().max(m.start() + 1);
        }
        let mut tried = Vec::new();
        let mut at = from;
        let mut anchored = |start: usize| {
            let input = Input::new(text).range(start..).anchored(Anchored::Yes);
            regex.search_with(&mut cache, &input)
        };
        while let Some(m) = skip.next_match(text, &mut at, text.len(), &mut anchored) {
            tried.push(m);
        }
        (searched, tried)
    }

    #[test]
    fn anchored_tries_find_what_unanchored_searches_find() {
        let patterns = [
            r"(?:^|[^\w.-]|[A-Za-z]-)(?P<secret>\d{3}-\d{2}-\d{4}(?:-\d{1,10})*)\b",
            r"(?:\b|x)\d{2}-\d+",
            r"[a-c]-(?:-\d)*\b",
            r"(?:ab|a)-\d{1,3}(?:-\d+)*",
        ];
        // Pieces of matches and near misses, glued at random.
        let pieces: [&[u8]; 14] = [
            b"536-22-8714",
            b"-12",
            b"a-",
            b"x",
            b" ",
            b".",
            b"12-",
            b"-3",
            b"ab-7",
            b"123",
            b"_",
            b"\n",
            b"A-",
            b"9",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0x51a7_0bde_c0de_5eed);
        let mut found = 0;
        for pattern in patterns {
            let hir = regex_facts::parse(pattern).unwrap();
            let required = regex_facts::required_bytes(&hir).unwrap();
            let skip = StartSkip::of(pattern, &required).unwrap();
            let regex = compile_regex(pattern, RegexLimits::default()).unwrap();
            for _ in 0..3_000 {
                let text: Vec<u8> = (0..rng.below(12))
                    .flat_map(|_| rng.pick(&pieces).iter().copied())
                    .collect();
                let len = text.len();
                let from = rng.below(len + 1);
                let (searched, tried) = both(&regex, &skip, &text, from);
                assert_eq!(
                    tried,
                    searched,
                    "{pattern} over {:?} from {from}",
                    String::from_utf8_lossy(&text)
                );
                found += searched.len();
            }
        }
        assert!(found > 1_000, "the texts hold few matches: {found}");
    }

    #[test]
    fn needs_a_bound() {
        let required =
            |p: &str| regex_facts::required_bytes(&regex_facts::parse(p).unwrap()).unwrap();
        assert!(StartSkip::of(r"\w+-\d", &required(r"\w+-\d")).is_none());
        assert!(StartSkip::of(r"\d-\w+", &required(r"\d-\w+")).is_some());
    }
}
