//! Assembling a [`Scanner`] from detectors the policy compiler has already checked.
//!
//! The compiler owns what the operator wrote (validation, error paths, regex
//! syntax); this module owns how the scanner is laid out: keywords and
//! dictionary phrases interned into one automaton, each keyword's uses
//! (arming a regex, starting one, or a phrase), the always-on plan of the
//! keyword-less regexes (one gated set, runs near required runs, or
//! everywhere). Detectors are added in policy order, which is the order the
//! scanner reports them in.

use crate::engine::scan::always_on::{AlwaysOnFacts, AlwaysOnPlan};
use crate::engine::scan::keywords::{Keywords, KeywordsError};
use crate::engine::scan::scanner::{
    keyword_reach, AlwaysOnSet, Checks, DetectorIndex, DictionaryDetector, KeywordUse, NearRuns,
    RegexDetector, RegexLimits, Scanner,
};
use crate::engine::scan::start_skip::StartSkip;
use regex_automata::{hybrid, meta};
use regex_facts::RegexFacts;
use std::collections::BTreeMap;
use std::fmt;

/// Why the detectors, each valid alone, do not make one scanner.
#[derive(Debug)]
pub enum ScannerBuildError {
    /// The keyword automaton over every keyword and phrase could not be built.
    Keywords(KeywordsError),
    /// The keyword-less regexes do not fit in one lazy DFA.
    AlwaysOnSet(Box<hybrid::BuildError>),
}

impl fmt::Display for ScannerBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScannerBuildError::Keywords(e) => {
                write!(f, "the keyword automaton could not be built: {e}")
            }
            ScannerBuildError::AlwaysOnSet(e) => write!(
                f,
                "the detectors without keywords do not fit in one automaton ({e}); add keywords to some of them"
            ),
        }
    }
}

/// A regex detector as the compiler hands it over.
pub struct RegexParts<'p> {
    pub detector: DetectorIndex,
    pub pattern: &'p str,
    pub keywords: &'p [String],
    /// Compiled now, or `None` to compile on first use.
    pub regex: Option<meta::Regex>,
    pub facts: RegexFacts,
    pub checks: Checks,
}

/// A scanner under construction.
#[derive(Default)]
pub struct ScannerBuilder<'p> {
    limits: RegexLimits,
    /// Every folded keyword and phrase (the map owns the only copy) and its id, the index of
    /// its uses in `keyword_uses`.
    keyword_ids: BTreeMap<Vec<u8>, usize>,
    keyword_uses: Vec<Vec<KeywordUse>>,
    phrases: Vec<Box<[u8]>>,
    regexes: Vec<RegexDetector>,
    dictionaries: Vec<DictionaryDetector>,
    /// Keyword-less regex detectors: index into `regexes`, pattern, what its tree says.
    always_on: Vec<(u32, &'p str, RegexFacts)>,
    /// Some keyword-less regex compiles on first use, so the set they form does too.
    defer_always_on: bool,
}

impl<'p> ScannerBuilder<'p> {
    pub fn new(limits: RegexLimits) -> ScannerBuilder<'p> {
        ScannerBuilder {
            limits,
            ..ScannerBuilder::default()
        }
    }

    /// One entry of the keyword automaton per folded pattern, with every use of it.
    fn intern(&mut self, pattern: &[u8], keyword_use: KeywordUse) {
        let next = self.keyword_uses.len();
        let id = *self
            .keyword_ids
            .entry(pattern.to_ascii_lowercase())
            .or_insert(next);
        if id == next {
            self.keyword_uses.push(Vec::new());
        }
        if let Some(uses) = self.keyword_uses.get_mut(id) {
            uses.push(keyword_use);
        }
    }

    /// The interned patterns in id order.
    fn keywords_by_id(&self) -> Vec<&[u8]> {
        let mut by_id: Vec<&[u8]> = vec![&[]; self.keyword_uses.len()];
        for (keyword, &id) in &self.keyword_ids {
            if let Some(slot) = by_id.get_mut(id) {
                *slot = keyword;
            }
        }
        by_id
    }

    pub fn add_regex(&mut self, parts: RegexParts<'p>) {
        let RegexParts {
            detector,
            pattern,
            keywords,
            regex,
            facts,
            checks,
        } = parts;
        let index = u32::try_from(self.regexes.len()).unwrap_or(u32::MAX);
        let reach = keyword_reach(facts.longest_match);
        let anchors = facts.anchors.clone();
        for (k, keyword) in keywords.iter().enumerate() {
            match &anchors {
                None => self.intern(keyword.as_bytes(), KeywordUse::Arms(index)),
                Some(anchors) => {
                    for anchor in anchors.iter().filter(|a| a.keyword == k) {
                        let back = u32::try_from(anchor.back).unwrap_or(u32::MAX);
                        self.intern(
                            keyword.as_bytes(),
                            KeywordUse::Starts { regex: index, back },
                        );
                    }
                }
            }
        }
        if keywords.is_empty() {
            self.always_on.push((index, pattern, facts));
            self.defer_always_on |= regex.is_none();
        }
        let limits = self.limits;
        let regex_detector = match regex {
            Some(regex) => RegexDetector::compiled(detector, pattern, regex, limits, reach, checks),
            None => RegexDetector::deferred(detector, pattern, limits, reach, checks),
        };
        self.regexes.push(if anchors.is_some() {
            regex_detector.anchored_at_keywords()
        } else {
            regex_detector
        });
    }

    /// A dictionary detector; its phrases are its keywords.
    pub fn add_dictionary(&mut self, dictionary: DictionaryDetector, phrases: &[&str]) {
        let index = u32::try_from(self.dictionaries.len()).unwrap_or(u32::MAX);
        for phrase in phrases {
            let phrase_index = u32::try_from(self.phrases.len()).unwrap_or(u32::MAX);
            self.phrases.push(phrase.as_bytes().into());
            self.intern(
                phrase.as_bytes(),
                KeywordUse::Phrase {
                    dictionary: index,
                    phrase: phrase_index,
                },
            );
        }
        self.dictionaries.push(dictionary);
    }

    /// The scanner; `allowlist` holds values no detector ever reports.
    pub fn build(mut self, allowlist: &[String]) -> Result<Scanner, ScannerBuildError> {
        // Regexes of policies dropped since the last build leave the shared registry.
        crate::engine::scan::shared_regexes::sweep();
        for (form, hint) in crate::engine::layers::ciphers::hint_patterns(&self.keywords_by_id()) {
            self.intern(&form, KeywordUse::Hint(hint));
        }
        let keywords = if self.keyword_ids.is_empty() {
            None
        } else {
            Some(Keywords::new(&self.keywords_by_id()).map_err(ScannerBuildError::Keywords)?)
        };
        let always_on = &self.always_on;
        let mut plan = AlwaysOnPlan::new(always_on.iter().map(|(_, _, f)| AlwaysOnFacts {
            longest_match: f.longest_match,
            required_bytes: f.required_bytes.as_ref(),
            required_run: f.required_run.as_ref(),
        }));
        let picked = |items: &[usize]| {
            items
                .iter()
                .filter_map(|&i| always_on.get(i))
                .collect::<Vec<_>>()
        };
        let set_members = picked(&plan.in_set);
        let in_set: Vec<u32> = set_members.iter().map(|d| d.0).collect();
        let always_on_patterns: Vec<&str> = set_members.iter().map(|d| d.1).collect();
        // The gate's windows need reach only as far as the set's patterns' shapes say.
        if let Some(gate) = plan.gate.as_mut() {
            gate.bound(&always_on_patterns);
        }
        let everywhere: Vec<u32> = picked(&plan.everywhere).iter().map(|d| d.0).collect();
        // A regex run over every whole text is tried only where its matches can start, when
        // its tree says where (at most two such regexes: parsing them here costs little).
        for (index, pattern, facts) in picked(&plan.everywhere) {
            let skip = (facts.required_bytes.as_ref())
                .and_then(|required| StartSkip::of(pattern, required));
            if let Some(regex) = self.regexes.get_mut(*index as usize) {
                regex.start_skip = skip;
            }
        }
        let near_runs: Vec<NearRuns> = plan
            .near_runs
            .into_iter()
            .filter_map(|(i, run, reach)| {
                let regex = always_on.get(i)?.0;
                Some(NearRuns { regex, run, reach })
            })
            .collect();
        let always_on_set = if always_on_patterns.is_empty() {
            None
        } else if self.defer_always_on {
            Some(AlwaysOnSet::deferred(&always_on_patterns, self.limits))
        } else {
            Some(
                AlwaysOnSet::built(&always_on_patterns, self.limits)
                    .map_err(ScannerBuildError::AlwaysOnSet)?,
            )
        };
        let mut global_allow: Vec<Box<[u8]>> =
            allowlist.iter().map(|v| v.as_bytes().into()).collect();
        global_allow.sort();
        Ok(Scanner {
            keywords,
            keyword_uses: self.keyword_uses,
            phrases: self.phrases,
            regexes: self.regexes,
            dictionaries: self.dictionaries,
            always_on: in_set,
            always_on_set,
            always_on_gate: plan.gate,
            near_runs,
            armed_everywhere: everywhere,
            global_allow,
            protected: None,
        })
    }
}
