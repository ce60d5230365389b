//! Measurement hooks: read-only accessors for the benchmarks and the slow-path
//! regression guard (`benches/`), behind the `bench-hooks` feature. Nothing in
//! the scanner calls them and they change no behaviour; they exist so that a
//! benchmark can say which regexes a text arms and how large the automata are.

use super::keywords::Keywords;
use super::scanner::{AlwaysOnSet, DetectorIndex, Scanner};
use regex_automata::hybrid;
use regex_automata::meta;
use regex_automata::{Input, PatternSet};

impl Scanner {
    /// The scanner of a compiled policy.
    pub fn of(policy: &crate::Policy) -> &Scanner {
        &policy.scanner
    }

    /// The detector of regex `index` (an index into the scanner's regexes, as the step
    /// counters name regexes).
    pub fn regex_detector(&self, index: usize) -> Option<DetectorIndex> {
        self.regexes.get(index).map(|r| r.detector)
    }

    /// Detector indices of the keyword-less regex detectors in the always-on set, in set-pattern order
    /// (those the gate cannot cover run on every text instead, see [`Scanner::run_everywhere_detectors`]).
    pub fn always_on_detectors(&self) -> Vec<DetectorIndex> {
        self.always_on
            .iter()
            .filter_map(|&i| self.regexes.get(i as usize).map(|r| r.detector))
            .collect()
    }

    /// The always-on set's lazy-DFA patterns (each distinct pattern once, in the set's order).
    pub fn always_on_patterns(&self) -> Vec<String> {
        (self.always_on_set.as_ref()).map_or_else(Vec::new, |set| {
            set.distinct().into_iter().map(String::from).collect()
        })
    }

    /// The always-on set's patterns as its lazy DFA runs them: blind to digit values
    /// ([`super::blind`]).
    pub fn always_on_blind_patterns(&self) -> Vec<String> {
        let config = super::scanner::syntax_config();
        let parsed = self
            .always_on_patterns()
            .into_iter()
            .filter_map(|p| regex_automata::util::syntax::parse_with(&p, &config).ok());
        parsed
            .map(|hir| super::blind::blind(&hir).unwrap_or(hir).to_string())
            .collect()
    }

    /// Detector indices of the keyword-less regex detectors that run near their required runs.
    pub fn near_run_detectors(&self) -> Vec<DetectorIndex> {
        self.near_runs
            .iter()
            .filter_map(|n| self.regexes.get(n.regex as usize).map(|r| r.detector))
            .collect()
    }

    /// Detector indices of the keyword-less regex detectors that run over every whole text.
    pub fn run_everywhere_detectors(&self) -> Vec<DetectorIndex> {
        self.armed_everywhere
            .iter()
            .filter_map(|&i| self.regexes.get(i as usize).map(|r| r.detector))
            .collect()
    }

    /// Detector indices of the regexes a scan of `text` runs: those run on every text, keyword-armed
    /// ones, then always-on ones the set reports (or all always-on ones when there is no set). Sorted, without duplicates.
    pub fn armed_detectors(&self, text: &[u8]) -> Vec<DetectorIndex> {
        let mut armed: Vec<u32> = self.armed_everywhere.clone();
        let mut near_runs = Vec::new();
        for gated in &self.near_runs {
            gated.arm(text, &mut near_runs);
        }
        armed.extend(near_runs.iter().map(|a| a.regex));
        if let Some(keywords) = &self.keywords {
            for m in keywords.find_overlapping(text) {
                let uses = self.keyword_uses.get(m.pattern).into_iter().flatten();
                armed.extend(uses.filter_map(|u| u.armed_regex()));
            }
        }
        let set = self.always_on_set.as_ref();
        match set.and_then(|set| Some((set, set.blind()?))) {
            Some((set, blind)) => {
                let mut cache = blind.dfa.create_cache();
                let mut matches = PatternSet::new(self.always_on.len());
                if (blind.dfa)
                    .try_which_overlapping_matches(&mut cache, &Input::new(text), &mut matches)
                    .is_err()
                {
                    armed.extend(self.always_on.iter().copied());
                }
                // A widened pattern's match is its original's only if the original matches.
                let exact = |p: usize| {
                    let first = set.twins().get(p).and_then(|t| t.first().copied());
                    let single = first.and_then(|first| set.single(first));
                    !blind.widened.get(p).copied().unwrap_or(false)
                        || single.is_none_or(|single| {
                            let mut cache = single.create_cache();
                            !matches!(
                                single.try_search_fwd(&mut cache, &Input::new(text)),
                                Ok(None)
                            )
                        })
                };
                armed.extend(
                    (matches.iter())
                        .filter(|p| exact(p.as_usize()))
                        .filter_map(|p| set.twins().get(p.as_usize()))
                        .flatten()
                        .filter_map(|&p| self.always_on.get(p)),
                );
            }
            None => armed.extend(self.always_on.iter().copied()),
        }
        let mut detectors: Vec<DetectorIndex> = armed
            .iter()
            .filter_map(|&i| self.regexes.get(i as usize).map(|r| r.detector))
            .collect();
        detectors.sort_unstable();
        detectors.dedup();
        detectors
    }

    /// Regex detectors tried anchored where their keywords pin a match's start.
    pub fn anchored_detector_count(&self) -> usize {
        self.regexes.iter().filter(|r| r.anchored).count()
    }

    /// The bytes around which the always-on set runs, with how far; `None` when it reads everything.
    pub fn always_on_gate(&self) -> Option<Vec<(u8, usize)>> {
        self.always_on_gate.as_ref().map(|gate| gate.reaches())
    }

    /// Keyword-automaton patterns (keywords and dictionary phrases, folded and deduplicated).
    pub fn keyword_count(&self) -> usize {
        self.keywords.as_ref().map_or(0, Keywords::patterns_len)
    }

    /// The keyword automaton's implementation (`table` or `compact`).
    pub fn keyword_automaton_kind(&self) -> Option<&'static str> {
        self.keywords.as_ref().map(Keywords::kind)
    }

    /// Heap bytes of the compiled automata: keyword automaton, every regex, the always-on set.
    pub fn automata_heap_bytes(&self) -> usize {
        self.keywords.as_ref().map_or(0, Keywords::memory_usage)
            + self
                .regexes
                .iter()
                .filter_map(|r| r.regex_if_compiled())
                .map(|c| c.regex.memory_usage())
                .sum::<usize>()
            + self
                .always_on_set
                .as_ref()
                .and_then(AlwaysOnSet::if_built)
                .map_or(0, hybrid::dfa::DFA::memory_usage)
    }

    /// How often the always-on set's lazy-DFA cache was cleared in this scratch (regex-automata's
    /// own counter): a cache that keeps clearing is about to give up and arm every regex everywhere.
    pub fn set_cache_clears(scratch: &crate::Scratch) -> usize {
        scratch
            .scan
            .set_cache
            .as_ref()
            .map_or(0, hybrid::dfa::Cache::clear_count)
    }

    /// Heap bytes of the regex caches in an inspection scratch (lazy-DFA caches grow as states are built).
    pub fn scratch_heap_bytes(scratch: &crate::Scratch) -> usize {
        let scan = &scratch.scan;
        scan.caches
            .iter()
            .flatten()
            .map(meta::Cache::memory_usage)
            .sum::<usize>()
            + scan
                .set_cache
                .as_ref()
                .map_or(0, hybrid::dfa::Cache::memory_usage)
    }
}
