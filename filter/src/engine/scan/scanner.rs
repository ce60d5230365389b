//! The multi-pattern matcher: every detector of a policy compiled once.
//!
//! Scanning a text costs one pass of the keyword automaton ([`crate::engine::scan::keywords`])
//! over all keywords and dictionary phrases (ASCII case-insensitive), plus one
//! lazy-DFA pass over the patterns of the detectors that have no keyword (card
//! numbers, phone numbers), which reports where each pattern's matches end;
//! that pass reads only around the bytes those matches need ([`crate::engine::scan::always_on`]:
//! digits, `+`, `:`). A detector's own
//! regex then runs only near what armed it: within its longest match of a
//! keyword occurrence or of a match end, so the ~100 credential formats cost
//! nothing on ordinary prose and a 30 KiB message with one `@` runs the email
//! regex over a few hundred bytes. A regex whose keywords start every match
//! (`ghp_`, `pat`, `password=`; see [`regex_facts::keyword_anchors`]) is only tried,
//! anchored, at each occurrence, and a keyword-less regex with a long required
//! run (Twilio's 32 hex digits) runs only near such runs. Validators, context
//! words and allowlists run only on candidates. In the filter each regex
//! compiles on first use.
//!
//! All regexes are compiled in byte-oriented ASCII mode: Unicode classes and
//! Unicode word boundaries make regex-automata's lazy DFA give up and fall
//! back to the PikeVM, which is orders of magnitude slower.

use crate::engine::scan::always_on::{runs_of, AlwaysOnGate};
use crate::engine::scan::blind::BlindSet;
use crate::engine::scan::digit_precheck::DigitPrecheck;
use crate::engine::scan::fuel_probe;
use crate::engine::scan::keywords::Keywords;
use crate::engine::scan::protected::{FoldedText, Origin, Protected, ProtectedScratch};
use crate::engine::scan::set_counts::SetCounts;
use crate::engine::scan::shared_regexes::{self, SharedRegex};
use crate::engine::scan::start_skip::StartSkip;
use crate::engine::scan::validators::Validator;
use crate::engine::span::Span;
use crate::engine::steps::{self, Step};
use regex_automata::hybrid::{self, dfa::OverlappingState};
use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind};
use regex_facts::RequiredRun;

/// Index of a detector in its policy.
pub type DetectorIndex = u16;

/// One candidate that passed every check: a detector and a byte span of the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub detector: DetectorIndex,
    pub span: Span,
    /// A pattern, or the protected document or record matched ([`Origin`]).
    pub origin: Origin,
}

/// Limits that keep one detector's regex from blowing up memory or time.
#[derive(Debug, Clone, Copy)]
pub struct RegexLimits {
    pub nfa_bytes: usize,
    pub cache_bytes: usize,
    pub set_cache_bytes: usize,
}

impl Default for RegexLimits {
    fn default() -> Self {
        RegexLimits {
            nfa_bytes: 2 << 20,
            cache_bytes: 1 << 20,
            set_cache_bytes: 8 << 20,
        }
    }
}

/// The byte-oriented, ASCII-mode syntax every detector regex is compiled with.
pub fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

fn meta_config(kind: MatchKind, limits: RegexLimits, cache_bytes: usize) -> meta::Config {
    meta::Config::new()
        .match_kind(kind)
        .utf8_empty(false)
        .nfa_size_limit(Some(limits.nfa_bytes))
        .hybrid_cache_capacity(cache_bytes)
}

/// Compiles one detector regex with the engine's settings.
pub fn compile_regex(pattern: &str, limits: RegexLimits) -> Result<Regex, Box<meta::BuildError>> {
    Regex::builder()
        .syntax(syntax_config())
        .configure(meta_config(
            MatchKind::LeftmostFirst,
            limits,
            limits.cache_bytes,
        ))
        .build(pattern)
        .map_err(Box::new)
}

/// Checks shared by regex and dictionary detectors.
#[derive(Debug)]
pub struct Checks {
    pub validators: Vec<Validator>,
    pub context: Option<ContextWords>,
    /// Words that rule a match out when one occurs within `window` bytes before it.
    pub not_after: Option<ContextWords>,
    /// Sorted exact values that are never findings.
    pub allow: Vec<Box<[u8]>>,
}

#[derive(Debug)]
pub struct ContextWords {
    pub words: Keywords,
    pub window: usize,
}

impl ContextWords {
    /// Whether one of the words lies wholly within the `window` bytes before `start`.
    fn occur_before(&self, text: &[u8], start: usize) -> bool {
        text.get(start.saturating_sub(self.window)..start)
            .is_some_and(|before| self.words.find_overlapping(before).next().is_some())
    }
}

impl Checks {
    fn accept(&self, text: &[u8], start: usize, end: usize, global_allow: &[Box<[u8]>]) -> bool {
        let Some(value) = text.get(start..end) else {
            return false;
        };
        if value.is_empty() {
            return false;
        }
        if self
            .allow
            .binary_search_by(|a| a.as_ref().cmp(value))
            .is_ok()
            || global_allow
                .binary_search_by(|a| a.as_ref().cmp(value))
                .is_ok()
        {
            return false;
        }
        if !self.validators.iter().all(|v| v.accepts(value)) {
            return false;
        }
        if self
            .not_after
            .as_ref()
            .is_some_and(|words| words.occur_before(text, start))
        {
            return false;
        }
        match &self.context {
            None => true,
            Some(ctx) => {
                let from = start.saturating_sub(ctx.window);
                let to = end.saturating_add(ctx.window).min(text.len());
                text.get(from..to)
                    .is_some_and(|window| ctx.words.find_overlapping(window).next().is_some())
            }
        }
    }
}

#[derive(Debug)]
pub struct RegexDetector {
    pub detector: DetectorIndex,
    /// How far around a keyword occurrence the regex runs (`None`: over the whole text).
    pub reach: Option<usize>,
    /// Its keywords pin where a match starts ([`regex_facts::keyword_anchors`]): it is tried anchored there
    /// instead of searched for within its reach.
    pub anchored: bool,
    /// Where its matches can start, when it runs over whole texts and that is known: it is then
    /// tried anchored there instead of searched for ([`StartSkip`]).
    pub(super) start_skip: Option<StartSkip>,
    pub checks: Checks,
    /// The validators' digit rule, checked on a whole match before its capture search.
    precheck: DigitPrecheck,
    pattern: Box<str>,
    limits: RegexLimits,
    /// Compiled at load (`check`, `build`) or on first use (the filter: most of a policy's
    /// ~300 regexes never run in a VM's life, and compiling them all would cost ~100 ms per VM).
    /// `None` inside: the regex failed to compile, so texts that arm it are uninspectable.
    /// Shared with every loaded policy that has the same pattern and limits
    /// ([`shared_regexes`](crate::engine::scan::shared_regexes)).
    compiled: SharedRegex,
}

#[derive(Debug)]
pub struct CompiledRegex {
    pub regex: Regex,
    /// Capture group index of `(?P<secret>...)`, if the pattern has one.
    pub secret_group: Option<usize>,
}

impl CompiledRegex {
    fn new(regex: Regex) -> CompiledRegex {
        let secret_group = regex
            .group_info()
            .to_index(regex_automata::PatternID::ZERO, "secret");
        CompiledRegex {
            regex,
            secret_group,
        }
    }
}

impl RegexDetector {
    /// A detector whose regex (already checked for syntax) compiles on first use.
    pub fn deferred(
        detector: DetectorIndex,
        pattern: &str,
        limits: RegexLimits,
        reach: Option<usize>,
        checks: Checks,
    ) -> RegexDetector {
        RegexDetector {
            detector,
            reach,
            anchored: false,
            start_skip: None,
            precheck: DigitPrecheck::of(&checks.validators),
            checks,
            pattern: pattern.into(),
            limits,
            compiled: shared_regexes::shared(pattern, limits),
        }
    }

    /// A detector with its regex compiled now.
    pub fn compiled(
        detector: DetectorIndex,
        pattern: &str,
        regex: Regex,
        limits: RegexLimits,
        reach: Option<usize>,
        checks: Checks,
    ) -> RegexDetector {
        let this = RegexDetector::deferred(detector, pattern, limits, reach, checks);
        let _ = this.compiled.set(Some(CompiledRegex::new(regex)));
        this
    }

    /// Makes the detector run anchored where its keywords' [`KeywordUse::Starts`] say.
    pub fn anchored_at_keywords(mut self) -> RegexDetector {
        self.anchored = true;
        self
    }

    /// The compiled regex, compiling it now if this is its first use.
    pub fn regex(&self) -> Option<&CompiledRegex> {
        self.compiled
            .get_or_init(|| {
                compile_regex(&self.pattern, self.limits)
                    .ok()
                    .map(CompiledRegex::new)
            })
            .as_ref()
    }

    /// The compiled regex if it has been compiled.
    #[cfg(any(test, feature = "bench-hooks"))]
    pub(super) fn regex_if_compiled(&self) -> Option<&CompiledRegex> {
        self.compiled.get().and_then(Option::as_ref)
    }
}

#[derive(Debug)]
pub struct DictionaryDetector {
    pub detector: DetectorIndex,
    pub whole_word: bool,
    pub case_sensitive: bool,
    pub checks: Checks,
}

/// What a keyword-automaton pattern means for the detectors using it.
#[derive(Debug, Clone, Copy)]
pub enum KeywordUse {
    /// Arms regex detector `n` (an index into `Scanner::regexes`).
    Arms(u32),
    /// A match of anchored regex detector `regex` may start `back` bytes before the keyword.
    Starts { regex: u32, back: u32 },
    /// Is a phrase of dictionary detector `n`; `phrase` indexes `Scanner::phrases`.
    Phrase { dictionary: u32, phrase: u32 },
    /// Is a keyword enciphered (rotated, reversed: `layers::ciphers`); the occurrence is
    /// kept in [`ScanScratch::hints`] so that the text around it can be deciphered.
    Hint(u32),
}

/// An occurrence of an enciphered keyword ([`KeywordUse::Hint`]) in the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeywordHint {
    pub hint: u32,
    pub start: usize,
    pub end: usize,
}

/// Enciphered-keyword occurrences kept per scan; more add nothing the first ones do not.
const MAX_HINTS: usize = 64;

impl KeywordUse {
    /// The regex (an index into `Scanner::regexes`) this use arms, if it arms one.
    pub(super) fn armed_regex(self) -> Option<u32> {
        match self {
            KeywordUse::Arms(regex) | KeywordUse::Starts { regex, .. } => Some(regex),
            KeywordUse::Phrase { .. } | KeywordUse::Hint(_) => None,
        }
    }
}

/// Everything the scanner needs, built by the policy compiler.
#[derive(Debug)]
pub struct Scanner {
    pub(super) keywords: Option<Keywords>,
    /// Per keyword-automaton pattern, its uses.
    pub(super) keyword_uses: Vec<Vec<KeywordUse>>,
    pub(super) phrases: Vec<Box<[u8]>>,
    pub(super) regexes: Vec<RegexDetector>,
    pub(super) dictionaries: Vec<DictionaryDetector>,
    /// Regex detectors without keywords, by index into `regexes`, in set-pattern order.
    pub(super) always_on: Vec<u32>,
    /// One lazy DFA over all of `always_on`; it reports where each pattern's matches end.
    pub(super) always_on_set: Option<AlwaysOnSet>,
    /// Where the set can match (`None`: anywhere).
    pub(super) always_on_gate: Option<Box<AlwaysOnGate>>,
    /// Keyword-less regex detectors the gate cannot cover but a required run can: each runs
    /// alone near the runs.
    pub(super) near_runs: Vec<NearRuns>,
    /// Keyword-less regex detectors nothing gates: each runs over every whole text.
    pub(super) armed_everywhere: Vec<u32>,
    pub(super) global_allow: Vec<Box<[u8]>>,
    /// Protected documents and records, matched in every text this scanner scans (only the
    /// policy's main scanner has them).
    pub(crate) protected: Option<Box<Protected>>,
}

/// A regex (an index into `Scanner::regexes`) that runs only within `reach` of a `run`.
#[derive(Debug)]
pub struct NearRuns {
    pub regex: u32,
    pub run: RequiredRun,
    pub reach: usize,
}

impl NearRuns {
    /// Arms the regex around each run of `text`.
    pub(super) fn arm(&self, text: &[u8], armings: &mut Vec<Arming>) {
        armings.extend(runs_of(&self.run, text).map(|run| Arming {
            regex: self.regex,
            start: run.start.saturating_sub(self.reach),
            end: run.end.saturating_add(self.reach).min(text.len()),
        }));
    }
}

/// What arms the always-on regexes around the match ends the set (or one pattern alone)
/// reports: a match ending at `end` starts within the regex's reach before it.
struct SetEnds<'a> {
    always_on: &'a [u32],
    regexes: &'a [RegexDetector],
    /// Per always-on pattern, its latest window in `armings` (to extend rather than push).
    set_windows: &'a mut [Option<usize>],
    armings: &'a mut Vec<Arming>,
    /// The blind set's widened patterns' ends, as (pattern of the DFA, end), in order.
    widened_ends: &'a mut Vec<(usize, usize)>,
}

impl SetEnds<'_> {
    /// Arms around every match end `dfa` reports in `span` of `text`; `patterns`: which of the
    /// always-on patterns each of the DFA's is. False if the lazy DFA gave up.
    fn arm(
        &mut self,
        dfa: &hybrid::dfa::DFA,
        cache: &mut hybrid::dfa::Cache,
        text: &[u8],
        span: std::ops::Range<usize>,
        patterns: Patterns<'_>,
    ) -> bool {
        // Most stretches hold no match at all (json 64 KiB: 632 windows, 9 blind ends; most
        // checks of a card-shaped number). The plain search says so in the lazy DFA's
        // unrolled loop, fewer instructions a byte than the overlapping search's; it finds a
        // match iff the overlapping one finds some, so only a stretch where it does (or where
        // it gave up) is read again, overlapping.
        let any = Input::new(text).range(span.clone()).earliest(true);
        if let Ok(None) = dfa.try_search_fwd(cache, &any) {
            return true;
        }
        let input = Input::new(text).range(span);
        let mut state = OverlappingState::start();
        loop {
            if dfa
                .try_search_overlapping_fwd(cache, &input, &mut state)
                .is_err()
            {
                return false;
            }
            let Some(found) = state.get_match() else {
                return true;
            };
            let end = found.offset();
            let twins: &[usize] = match patterns {
                Patterns::Only(twins) => twins,
                Patterns::Set { twins, widened } => {
                    let i = found.pattern().as_usize();
                    // A widened pattern's end is checked by its original ([`SetEnds::check`]).
                    if widened.get(i).copied().unwrap_or(false) {
                        self.widened_ends.push((i, end));
                        continue;
                    }
                    twins.get(i).map_or(&[], |t| t)
                }
            };
            for &pattern in twins {
                self.arm_end(pattern, end);
            }
        }
    }

    /// Arms the exact ends among the widened ends the blind set reported in `span` of `text`:
    /// each widened pattern's original runs alone over the stretch before each of its blind
    /// ends, as long as its longest match (an exact end is a blind end too, and its match
    /// starts within the longest match before it); stretches that meet are read once. Alone,
    /// not in one DFA of the originals: that one's states are the exact set's products again
    /// (adv-digits 64 KiB: 382 M instructions, against 131 M alone). False if a lazy DFA gave
    /// up or an original could not be built.
    fn check(
        &mut self,
        set: &AlwaysOnSet,
        blind: &BlindSet,
        caches: &mut [Option<hybrid::dfa::Cache>],
        text: &[u8],
        span: std::ops::Range<usize>,
    ) -> bool {
        if self.widened_ends.is_empty() {
            return true;
        }
        let mut ends = std::mem::take(self.widened_ends);
        // By pattern, each one's ends still in order.
        ends.sort_by_key(|&(i, _)| i);
        let mut rest = &ends[..];
        let mut complete = true;
        while let (Some(&(i, _)), true) = (rest.first(), complete) {
            let same = rest.iter().take_while(|&&(j, _)| j == i).count();
            let (group, tail) = rest.split_at(same);
            rest = tail;
            let twins = set.twins().get(i).map_or(&[][..], |t| &t[..]);
            let first = twins.first().copied().unwrap_or(usize::MAX);
            let (Some(dfa), Some(cache)) = (set.single(first), caches.get_mut(first)) else {
                complete = false;
                break;
            };
            let cache = cache.get_or_insert_with(|| dfa.create_cache());
            let longest = blind.longest.get(i).copied().flatten();
            let before =
                |end: usize| longest.map_or(span.start, |l| end.saturating_sub(l).max(span.start));
            let mut pending = group.iter().map(|&(_, end)| before(end)..end).peekable();
            while let Some(mut stretch) = pending.next() {
                while let Some(next) = pending.next_if(|next| next.start <= stretch.end) {
                    stretch.end = next.end;
                }
                if !self.arm(dfa, cache, text, stretch, Patterns::Only(twins)) {
                    complete = false;
                    break;
                }
            }
        }
        ends.clear();
        *self.widened_ends = ends;
        complete
    }

    /// Arms always-on pattern `pattern`'s regex for a match ending at `end`.
    fn arm_end(&mut self, pattern: usize, end: usize) {
        let (Some(&regex), Some(latest)) = (
            self.always_on.get(pattern),
            self.set_windows.get_mut(pattern),
        ) else {
            return;
        };
        let reach = self.regexes.get(regex as usize).and_then(|r| r.reach);
        let start = reach.map_or(0, |reach| end.saturating_sub(reach));
        match latest.and_then(|i| self.armings.get_mut(i)) {
            Some(window) if start <= window.end => window.end = window.end.max(end),
            _ => {
                *latest = Some(self.armings.len());
                self.armings.push(Arming { regex, start, end });
            }
        }
    }
}

/// Which always-on patterns a lazy DFA's patterns are.
#[derive(Debug, Clone, Copy)]
enum Patterns<'a> {
    /// The blind set's: its pattern `i` is each of `twins[i]` ([`AlwaysOnSet::twins`]), and
    /// when `widened[i]` its ends are only noted ([`SetEnds::widened_ends`]).
    Set {
        twins: &'a [Box<[usize]>],
        widened: &'a [bool],
    },
    /// One pattern alone, which is each of these always-on patterns.
    Only(&'a [usize]),
}

/// Texts up to this long have their byte counts tested ([`SetCounts`]) before the gate's
/// windows are sought: one pass of a table add per byte, where a field without numbers would
/// pay the gate's set-up and a field with one number the set's search.
const SHORT_TEXT: usize = 256;

/// A regex to run over `start..end` of the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Arming {
    pub(super) regex: u32,
    start: usize,
    end: usize,
}

/// Stretches one regex runs over separately in one scan before it runs once over their hull.
const MAX_WINDOWS_PER_SCAN: usize = 16;

/// The armings of one regex (sorted by start) merged into disjoint stretches.
fn merged(group: &[Arming]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut pending = group.iter().peekable();
    std::iter::from_fn(move || {
        let first = pending.next()?;
        let mut span = first.start..first.end;
        while let Some(next) = pending.next_if(|next| next.start <= span.end) {
            span.end = span.end.max(next.end);
        }
        Some(span)
    })
}

/// Arms each of `regexes` over the whole of `text`.
fn arm_everywhere(regexes: &[u32], text: &[u8], armings: &mut Vec<Arming>) {
    armings.extend(regexes.iter().map(|&regex| Arming {
        regex,
        start: 0,
        end: text.len(),
    }));
}

/// A regex armed in one scan, with its scratch state.
struct ArmedRegex<'s> {
    /// Its index into `Scanner::regexes` (for the step counters).
    index: u32,
    detector: &'s RegexDetector,
    compiled: &'s CompiledRegex,
    cache: &'s mut meta::Cache,
    caps: Option<&'s mut Captures>,
    global_allow: &'s [Box<[u8]>],
}

impl ArmedRegex<'_> {
    /// Runs the regex over `span` of `text` (look-around still sees the text around it).
    fn run_over(&mut self, text: &[u8], span: std::ops::Range<usize>, sink: &mut dyn FnMut(Hit)) {
        // Matches do not overlap, and a rejected candidate's bytes are not reconsidered:
        // retrying inside it would report a suffix ("ser@example.com") the author never meant.
        if let Some(skip) =
            (self.detector.start_skip.as_ref()).filter(|skip| skip.pays(text, span.clone()))
        {
            return self.run_at_skips(skip, text, span, sink);
        }
        let mut at = span.start;
        while at <= span.end {
            steps::count_search(Step::ArmedSearch, self.index, span.end - at);
            let input = Input::new(text).range(at..span.end);
            let Some(m) = self.compiled.regex.search_with(self.cache, &input) else {
                break;
            };
            self.report(text, m, sink);
            at = m.end().max(m.start() + 1);
        }
    }

    /// [`ArmedRegex::run_over`] by anchored tries where `skip` says a match can start.
    fn run_at_skips(
        &mut self,
        skip: &StartSkip,
        text: &[u8],
        span: std::ops::Range<usize>,
        sink: &mut dyn FnMut(Hit),
    ) {
        let mut from = span.start;
        loop {
            let (compiled, cache, index) = (self.compiled, &mut *self.cache, self.index);
            let mut anchored = |start: usize| {
                steps::count_search(Step::AnchoredTry, index, 0);
                let input = Input::new(text)
                    .range(start..span.end)
                    .anchored(regex_automata::Anchored::Yes);
                compiled.regex.search_with(cache, &input)
            };
            let Some(m) = skip.next_match(text, &mut from, span.end, &mut anchored) else {
                break;
            };
            self.report(text, m, sink);
        }
    }

    /// Tries an anchored regex at each start of `group` (sorted), as [`ArmedRegex::run_over`]
    /// would find them: a start inside an earlier match is not tried.
    fn run_at_starts(&mut self, text: &[u8], group: &[Arming], sink: &mut dyn FnMut(Hit)) {
        let mut free_from = 0;
        let mut tried = None;
        for &Arming { start, .. } in group {
            if start < free_from || start > text.len() || tried == Some(start) {
                continue;
            }
            tried = Some(start);
            steps::count_search(Step::AnchoredTry, self.index, 0);
            let input = Input::new(text)
                .range(start..)
                .anchored(regex_automata::Anchored::Yes);
            if let Some(m) = self.compiled.regex.search_with(self.cache, &input) {
                self.report(text, m, sink);
                free_from = m.end().max(m.start() + 1);
            }
        }
    }

    /// Reports match `m` (its `secret` group, if the regex has one) if it passes the
    /// detector's checks.
    fn report(&mut self, text: &[u8], m: regex_automata::Match, sink: &mut dyn FnMut(Hit)) {
        steps::count(Step::Candidate, m.len());
        let (start, end) = match (self.compiled.secret_group, self.caps.as_deref_mut()) {
            (Some(group), Some(caps)) => {
                let matched = text.get(m.range()).unwrap_or_default();
                if !(self.detector.precheck).may_pass(&self.detector.pattern, matched) {
                    return;
                }
                let anchored = Input::new(text)
                    .range(m.start()..m.end())
                    .anchored(regex_automata::Anchored::Yes);
                self.compiled
                    .regex
                    .search_captures_with(self.cache, &anchored, caps);
                match caps.get_group(group) {
                    Some(span) => (span.start, span.end),
                    None => (m.start(), m.end()),
                }
            }
            _ => (m.start(), m.end()),
        };
        if self
            .detector
            .checks
            .accept(text, start, end, self.global_allow)
        {
            sink(Hit {
                detector: self.detector.detector,
                span: Span::new(start, end),
                origin: Origin::Pattern,
            });
        }
    }
}

/// Slack around a keyword beyond the regex's longest match, for keywords that sit next to
/// the match rather than in it (`password` before `: hunter2`).
const KEYWORD_SLACK: usize = 256;
/// A regex whose longest match is longer than this runs over the whole text when armed.
const MAX_REACH: usize = 4096;

/// How far around a keyword a regex with matches of at most `longest_match` bytes must run:
/// a match holding the keyword lies within it. Unbounded regexes run over the whole text.
pub fn keyword_reach(longest_match: Option<usize>) -> Option<usize> {
    longest_match
        .filter(|&len| len <= MAX_REACH)
        .map(|len| len + KEYWORD_SLACK)
}

/// Mutable per-VM (or per-thread) state for scanning; reused across requests.
#[derive(Debug)]
pub struct ScanScratch {
    /// Per regex, made on its first run.
    pub(super) caches: Vec<Option<meta::Cache>>,
    captures: Vec<Option<Captures>>,
    /// A regex this scratch needed failed to compile: the scans since [`ScanScratch::take_failure`]
    /// are incomplete.
    failed: bool,
    pub(super) set_cache: Option<hybrid::dfa::Cache>,
    /// Per always-on pattern, the cache of its lazy DFA alone ([`AlwaysOnSet::single`]).
    single_caches: Vec<Option<hybrid::dfa::Cache>>,
    /// Per always-on pattern, its latest window in `armings` (to extend rather than push).
    set_windows: Vec<Option<usize>>,
    /// The blind set's ends of widened patterns in the window being read ([`SetEnds::check`]).
    widened_ends: Vec<(usize, usize)>,
    /// Where each armed regex must run, before merging.
    armings: Vec<Arming>,
    /// Buffers of the protected-index searches.
    protected: ProtectedScratch,
    /// Enciphered keywords of the latest scan.
    hints: Vec<KeywordHint>,
    /// Bytes the walker handed to this scratch's scans, by source (`walk::tally`).
    pub(crate) tally: crate::engine::walk::tally::ScanTally,
}

impl ScanScratch {
    /// The enciphered keywords the latest [`Scanner::scan`] or [`Scanner::scan_patterns`] met.
    pub fn hints(&self) -> &[KeywordHint] {
        &self.hints
    }
}

impl Scanner {
    pub fn scratch(&self) -> ScanScratch {
        ScanScratch {
            caches: self.regexes.iter().map(|_| None).collect(),
            captures: self.regexes.iter().map(|_| None).collect(),
            failed: false,
            set_cache: self
                .always_on_set
                .as_ref()
                .and_then(AlwaysOnSet::if_built)
                .map(hybrid::dfa::DFA::create_cache),
            set_windows: vec![None; self.always_on.len()],
            widened_ends: Vec::new(),
            single_caches: self.always_on.iter().map(|_| None).collect(),
            armings: Vec::with_capacity(64),
            protected: ProtectedScratch::default(),
            hints: Vec::new(),
            tally: Default::default(),
        }
    }

    /// Finds every detector hit in `text`, in no particular order.
    pub fn scan(&self, text: &[u8], scratch: &mut ScanScratch, sink: &mut dyn FnMut(Hit)) {
        self.scan_folded(text, None, scratch, sink);
    }

    /// [`Scanner::scan`] of a text whose fold the caller made already (`fold`), which the
    /// protected-index searches then read instead of folding again.
    pub fn scan_folded(
        &self,
        text: &[u8],
        fold: Option<FoldedText<'_>>,
        scratch: &mut ScanScratch,
        sink: &mut dyn FnMut(Hit),
    ) {
        if let Some(protected) = self.protected.as_ref().filter(|_| !text.is_empty()) {
            protected.scan(text, fold, &mut scratch.protected, sink);
        }
        self.scan_patterns(text, scratch, sink);
    }

    /// [`Scanner::scan`] without the protected documents and records: for the folded layer of a
    /// text, since the index searches fold the text themselves and would find nothing new.
    pub fn scan_patterns(&self, text: &[u8], scratch: &mut ScanScratch, sink: &mut dyn FnMut(Hit)) {
        scratch.hints.clear();
        if text.is_empty() {
            return;
        }
        steps::count(Step::ScanPatterns, text.len());
        fuel_probe::tag("scan:start");
        self.scan_keywords(text, scratch, sink);
        fuel_probe::tag("scan:keywords");
        self.arm_always_on(text, scratch);
        fuel_probe::tag("scan:always-on");
        let ScanScratch {
            caches,
            captures,
            armings,
            failed,
            ..
        } = scratch;
        // Each regex runs once over each merged stretch of text that armed it; past a budget of
        // stretches (a flood of keywords) once over all of them, as per-search setup then dominates.
        armings.sort_unstable();
        fuel_probe::tag("scan:sorted");
        let mut rest = armings.as_slice();
        while let Some(first) = rest.first() {
            let same = rest.iter().take_while(|a| a.regex == first.regex).count();
            let (group, tail) = rest.split_at(same);
            rest = tail;
            let i = first.regex as usize;
            let (Some(detector), Some(cache), Some(caps)) =
                (self.regexes.get(i), caches.get_mut(i), captures.get_mut(i))
            else {
                continue;
            };
            let Some(compiled) = detector.regex() else {
                *failed = true;
                continue;
            };
            let cache = cache.get_or_insert_with(|| compiled.regex.create_cache());
            if compiled.secret_group.is_some() && caps.is_none() {
                *caps = Some(compiled.regex.create_captures());
            }
            let mut armed = ArmedRegex {
                index: first.regex,
                detector,
                compiled,
                cache,
                caps: caps.as_mut(),
                global_allow: &self.global_allow,
            };
            if detector.anchored {
                armed.run_at_starts(text, group, sink);
            } else if merged(group).nth(MAX_WINDOWS_PER_SCAN).is_some() {
                let hull = first.start..group.iter().map(|a| a.end).max().unwrap_or(first.end);
                armed.run_over(text, hull, sink);
            } else {
                for span in merged(group) {
                    armed.run_over(text, span, sink);
                }
            }
            fuel_probe::tag("scan:regex");
        }
        armings.clear();
        fuel_probe::tag("scan:end");
    }

    fn scan_keywords(&self, text: &[u8], scratch: &mut ScanScratch, sink: &mut dyn FnMut(Hit)) {
        let Some(keywords) = &self.keywords else {
            return;
        };
        steps::count(Step::KeywordDfa, text.len());
        keywords.for_each_match(text, &mut |m| {
            steps::count(Step::KeywordMatch, m.end - m.start);
            let Some(uses) = self.keyword_uses.get(m.pattern) else {
                return;
            };
            for keyword_use in uses {
                match *keyword_use {
                    KeywordUse::Arms(regex) => {
                        let reach = self.regexes.get(regex as usize).and_then(|r| r.reach);
                        let (start, end) = match reach {
                            Some(reach) => (
                                m.start.saturating_sub(reach),
                                m.end.saturating_add(reach).min(text.len()),
                            ),
                            None => (0, text.len()),
                        };
                        steps::count(Step::Arming, end - start);
                        scratch.armings.push(Arming { regex, start, end });
                    }
                    KeywordUse::Starts { regex, back } => {
                        if let Some(start) = m.start.checked_sub(back as usize) {
                            steps::count(Step::Arming, 0);
                            scratch.armings.push(Arming {
                                regex,
                                start,
                                end: start,
                            });
                        }
                    }
                    KeywordUse::Phrase { dictionary, phrase } => {
                        self.dictionary_hit(text, m.start, m.end, dictionary, phrase, sink);
                    }
                    KeywordUse::Hint(hint) => {
                        if scratch.hints.len() < MAX_HINTS {
                            scratch.hints.push(KeywordHint {
                                hint,
                                start: m.start,
                                end: m.end,
                            });
                        }
                    }
                }
            }
        });
    }

    fn dictionary_hit(
        &self,
        text: &[u8],
        start: usize,
        end: usize,
        dictionary: u32,
        phrase: u32,
        sink: &mut dyn FnMut(Hit),
    ) {
        let Some(dict) = self.dictionaries.get(dictionary as usize) else {
            return;
        };
        if dict.case_sensitive {
            let exact = self.phrases.get(phrase as usize);
            if exact.map(AsRef::as_ref) != text.get(start..end) {
                return;
            }
        }
        if dict.whole_word && !at_word_edges(text, start, end) {
            return;
        }
        if dict.checks.accept(text, start, end, &self.global_allow) {
            sink(Hit {
                detector: dict.detector,
                span: Span::new(start, end),
                origin: Origin::Pattern,
            });
        }
    }

    /// Arms each keyword-less regex around where the set saw one of its matches end: a match
    /// ending at `end` starts within the regex's reach before it. The set reads only the
    /// windows the gate opens, when there is a gate.
    fn arm_always_on(&self, text: &[u8], scratch: &mut ScanScratch) {
        for &regex in &self.armed_everywhere {
            // A text where the regex's start skip says no match can be needs no search (once
            // the regex is compiled: compiling it tells whether the scan is complete).
            let ruled_out = self.regexes.get(regex as usize).is_some_and(|detector| {
                detector.compiled.get().is_some_and(Option::is_some)
                    && (detector.start_skip.as_ref()).is_some_and(|skip| skip.rules_out(text))
            });
            if !ruled_out {
                arm_everywhere(&[regex], text, &mut scratch.armings);
            }
        }
        fuel_probe::tag("scan:everywhere");
        for near_runs in &self.near_runs {
            near_runs.arm(text, &mut scratch.armings);
        }
        fuel_probe::tag("scan:near-runs");
        let Some(set) = &self.always_on_set else {
            return;
        };
        // A short text whose counts rule out every pattern needs no gate either.
        if text.len() <= SHORT_TEXT && set.rules_out(text) {
            return;
        }
        scratch.set_windows.fill(None);
        fuel_probe::tag("scan:gate");
        let complete = match &self.always_on_gate {
            None => self.arm_always_on_in(text, 0..text.len(), scratch),
            Some(gate) => gate
                .windows(text)
                .all(|window| self.arm_always_on_in(text, window, scratch)),
        };
        if !complete {
            // The lazy DFA gave up (its cache thrashed): run every always-on regex everywhere.
            arm_everywhere(&self.always_on, text, &mut scratch.armings);
        }
    }

    /// [`Scanner::arm_always_on`] over `span` of `text`; false if a lazy DFA gave up.
    ///
    /// The set reads the window blind to digit values ([`BlindSet`]): the exact set's states
    /// multiplied there (every separator starts a thread of each card pattern, whose digits
    /// decide which survive), so it determinised new states for almost every new number. An
    /// unwidened pattern's ends are armed as it reports them; a widened one's are checked by
    /// its original ([`SetEnds::check`]), so the armings are the exact set's. (This also
    /// retires the twelfth round's per-pattern runs over windows mostly of digits.)
    fn arm_always_on_in(
        &self,
        text: &[u8],
        span: std::ops::Range<usize>,
        scratch: &mut ScanScratch,
    ) -> bool {
        let Some(set) = &self.always_on_set else {
            return true;
        };
        steps::count(Step::AlwaysOnWindow, span.len());
        fuel_probe::tag("scan:window");
        let mut ends = SetEnds {
            always_on: &self.always_on,
            regexes: &self.regexes,
            set_windows: &mut scratch.set_windows,
            armings: &mut scratch.armings,
            widened_ends: &mut scratch.widened_ends,
        };
        // A set that failed to build (the filter defers it, `airlock check` rejects such a
        // policy) arms its regexes everywhere instead: slower, still complete.
        let Some(blind) = set.blind() else {
            return false;
        };
        let cache = (scratch.set_cache).get_or_insert_with(|| blind.dfa.create_cache());
        let (twins, widened) = (set.twins(), &blind.widened[..]);
        let patterns = Patterns::Set { twins, widened };
        let complete = ends.arm(&blind.dfa, cache, text, span.clone(), patterns);
        fuel_probe::tag("scan:blind");
        complete && ends.check(set, blind, &mut scratch.single_caches, text, span)
    }

    /// True when `text` holds a keyword that arms some regex (used to decide whether a JSON key is context).
    pub fn arms_any(&self, text: &[u8]) -> bool {
        let Some(keywords) = &self.keywords else {
            return false;
        };
        keywords.find_overlapping(text).any(|m| {
            self.keyword_uses
                .get(m.pattern)
                .is_some_and(|uses| uses.iter().any(|u| u.armed_regex().is_some()))
        })
    }

    /// Compiles regexes not compiled yet (a VM warms up between requests), taking one from
    /// `budget` for each; returns how many are still waiting.
    /// The always-on set counts as one, and is built first: every text may need it.
    pub fn compile_pending(&self, budget: &mut usize) -> usize {
        let set = self.always_on_set.as_ref().filter(|set| !set.is_built());
        if let Some(set) = set.filter(|_| *budget > 0) {
            set.warm();
            if let Some(gate) = &self.always_on_gate {
                gate.warm();
            }
            *budget -= 1;
        }
        let set_waiting = usize::from(set.is_some_and(|set| !set.is_built()));
        let mut pending = self.regexes.iter().filter(|r| r.compiled.get().is_none());
        while *budget > 0 {
            let Some(regex) = pending.next() else { break };
            let _ = regex.regex();
            *budget -= 1;
        }
        pending.count() + set_waiting
    }
}

impl ScanScratch {
    /// Whether a regex failed to compile since the last call (and resets it).
    pub fn take_failure(&mut self) -> bool {
        std::mem::take(&mut self.failed)
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A phrase edge that is an ASCII word byte must not continue a word in the text.
fn at_word_edges(text: &[u8], start: usize, end: usize) -> bool {
    let first = text.get(start).copied().unwrap_or(0);
    let last = end
        .checked_sub(1)
        .and_then(|i| text.get(i))
        .copied()
        .unwrap_or(0);
    let before = start.checked_sub(1).and_then(|i| text.get(i)).copied();
    let after = text.get(end).copied();
    let left_ok = !is_word_byte(first) || !before.is_some_and(is_word_byte);
    let right_ok = !is_word_byte(last) || !after.is_some_and(is_word_byte);
    left_ok && right_ok
}

/// The keyword-less detectors' patterns in one lazy DFA, blind to digit values ([`BlindSet`];
/// the widened patterns' ends checked by each original alone), built when the scanner
/// is (`airlock check` and `build`, which so reject a set too large) or on first use (the
/// filter: building it was ~11 % of a VM's policy load, and a VM warms up between requests).
/// Shared, like detector regexes, by every loaded policy with the same patterns
/// ([`shared_regexes`]).
#[derive(Debug)]
pub struct AlwaysOnSet {
    patterns: Box<[Box<str>]>,
    /// Per pattern of the DFA (each distinct pattern once, in order of first use), the
    /// always-on patterns it is: the default policy's two IPv4 detectors share one, and a
    /// pattern twice over in one lazy DFA doubles the work of every state it determinises.
    twins: Box<[Box<[usize]>]>,
    limits: RegexLimits,
    /// The distinct patterns blind to digit values, in one lazy DFA ([`blind`]).
    dfa: shared_regexes::SharedBlindSet,
    /// Each pattern alone, built on first use ([`AlwaysOnSet::single`]): where the blind set
    /// reports a widened pattern's end, its original says which of its ends are exact.
    singles: Box<[shared_regexes::SharedSet]>,
    /// What byte counts rule each pattern out ([`SetCounts`]), read on first use.
    counts: std::sync::OnceLock<SetCounts>,
}

impl AlwaysOnSet {
    /// A set built on first use.
    pub fn deferred(patterns: &[&str], limits: RegexLimits) -> AlwaysOnSet {
        let mut twins: Vec<Vec<usize>> = Vec::new();
        let mut distinct: Vec<&str> = Vec::new();
        for (p, &pattern) in patterns.iter().enumerate() {
            match distinct.iter().position(|&d| d == pattern) {
                Some(i) => twins.get_mut(i).into_iter().for_each(|t| t.push(p)),
                None => {
                    distinct.push(pattern);
                    twins.push(vec![p]);
                }
            }
        }
        let distinct: Box<[Box<str>]> = distinct.iter().map(|&p| p.into()).collect();
        let dfa = shared_regexes::shared_blind_set(&distinct, limits);
        let patterns: Box<[Box<str>]> = patterns.iter().map(|&p| p.into()).collect();
        let singles = (patterns.iter())
            .map(|p| shared_regexes::shared_set(p, limits))
            .collect();
        AlwaysOnSet {
            patterns,
            twins: twins.into_iter().map(Vec::into_boxed_slice).collect(),
            limits,
            dfa,
            singles,
            counts: std::sync::OnceLock::new(),
        }
    }

    /// A set built now, or the reason it cannot be.
    pub fn built(
        patterns: &[&str],
        limits: RegexLimits,
    ) -> Result<AlwaysOnSet, Box<hybrid::BuildError>> {
        let set = AlwaysOnSet::deferred(patterns, limits);
        if set.if_built().is_none() {
            // The exact set is what a policy is held to (`airlock check` rejects one too
            // large), though the scanner runs the blind one.
            set_regex(&set.distinct(), limits)?;
            let blind = BlindSet::build(&set.distinct(), limits)?;
            let _ = set.dfa.set(Some(blind));
        }
        Ok(set)
    }

    /// The blind set, building it now if this is its first use; `None` if it cannot be built.
    pub fn blind(&self) -> Option<&BlindSet> {
        self.dfa
            .get_or_init(|| BlindSet::build(&self.distinct(), self.limits).ok())
            .as_ref()
    }

    /// Builds the blind set, and the originals of its widened patterns (which check its ends),
    /// so that a warm-up tick rather than a request pays for them.
    fn warm(&self) {
        let Some(blind) = self.blind() else { return };
        for (twins, _) in (self.twins.iter().zip(&blind.widened)).filter(|(_, &w)| w) {
            let _ = twins.first().map(|&first| self.single(first));
        }
    }

    /// The DFA's patterns: each distinct always-on pattern once.
    pub(super) fn distinct(&self) -> Vec<&str> {
        (self.twins.iter())
            .filter_map(|twins| self.patterns.get(*twins.first()?))
            .map(|p| &**p)
            .collect()
    }

    /// Per pattern of the DFA, the always-on patterns it is.
    pub(super) fn twins(&self) -> &[Box<[usize]>] {
        &self.twins
    }

    /// The lazy DFA of pattern `i` alone, building it now if this is its first use; `None` if
    /// it cannot be built.
    pub(super) fn single(&self, i: usize) -> Option<&hybrid::dfa::DFA> {
        let (cell, pattern) = (self.singles.get(i)?, self.patterns.get(i)?);
        cell.get_or_init(|| set_regex(&[pattern], self.limits).ok())
            .as_ref()
    }

    /// Whether no pattern can match within `window`, by its byte counts ([`SetCounts`], read
    /// from the patterns' trees on first use). Only once the set is built: building it is
    /// what tells whether the policy's scans are complete, so until then nothing is ruled out.
    fn rules_out(&self, window: &[u8]) -> bool {
        self.if_built().is_some()
            && (self.counts)
                .get_or_init(|| SetCounts::of(&self.patterns))
                .rule_out(window)
    }

    /// The DFA if it has been built.
    pub fn if_built(&self) -> Option<&hybrid::dfa::DFA> {
        self.if_built_blind().map(|blind| &blind.dfa)
    }

    fn if_built_blind(&self) -> Option<&BlindSet> {
        self.dfa.get().and_then(Option::as_ref)
    }

    /// Whether building was tried (it may have failed).
    pub fn is_built(&self) -> bool {
        self.dfa.get().is_some()
    }
}

/// Builds the lazy DFA of the detectors that have no keywords: all their patterns at once,
/// reporting every pattern's every match end (overlapping, `MatchKind::All`). The scanner runs
/// it for one pattern alone; the set it runs is blind to digit values ([`BlindSet`]), and this
/// exact one is what `airlock check` holds a policy's set to.
pub fn set_regex(
    patterns: &[&str],
    limits: RegexLimits,
) -> Result<hybrid::dfa::DFA, Box<hybrid::BuildError>> {
    hybrid::dfa::Builder::new()
        .syntax(syntax_config())
        .thompson(thompson::Config::new().nfa_size_limit(Some(limits.nfa_bytes)))
        .configure(set_config(limits.set_cache_bytes))
        .build_many(patterns)
        .map_err(Box::new)
}

/// The always-on set's lazy-DFA settings: those the meta engine would use, with the set's cache.
pub fn set_config(cache_bytes: usize) -> hybrid::dfa::Config {
    hybrid::dfa::DFA::config()
        .match_kind(MatchKind::All)
        .cache_capacity(cache_bytes)
        .skip_cache_capacity_check(false)
        .minimum_cache_clear_count(Some(3))
        .minimum_bytes_per_state(Some(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armings_merge_into_disjoint_stretches() {
        let arm = |start, end| Arming {
            regex: 0,
            start,
            end,
        };
        let group = [
            arm(0, 10),
            arm(5, 20),
            arm(20, 25),
            arm(30, 40),
            arm(31, 35),
        ];
        let spans: Vec<_> = merged(&group).collect();
        assert_eq!(spans, vec![0..25, 30..40]);
        assert_eq!(merged(&[]).count(), 0);
    }

    /// Scans `text`, returning its hits sorted.
    fn hits(scanner: &Scanner, scratch: &mut ScanScratch, text: &[u8]) -> Vec<Hit> {
        let mut hits = Vec::new();
        scanner.scan(text, scratch, &mut |hit| hits.push(hit));
        hits.sort_unstable_by_key(|h| (h.span, h.detector));
        hits
    }

    /// The default policy, its regexes compiled on first use.
    fn default_policy() -> crate::policy::Policy {
        let env = crate::policy::Environment {
            var: &|_| Some("airlock-test-key-0123456789abcdef".to_string()),
            defer_regexes: true,
        };
        crate::config::default_policy(&env).unwrap()
    }

    /// Asserts that a fast scanner finds in `text` what a slow one does; returns how many.
    fn same_hits(
        fast: (&Scanner, &mut ScanScratch),
        slow: (&Scanner, &mut ScanScratch),
        text: &str,
    ) -> usize {
        let want = hits(slow.0, slow.1, text.as_bytes());
        let got = hits(fast.0, fast.1, text.as_bytes());
        assert_eq!(got, want, "text {text:?}");
        want.len()
    }

    #[test]
    fn anchored_tries_find_what_searches_around_keywords_find() {
        let anchored = default_policy();
        let mut searched = default_policy();
        let (anchored, searched) = (&anchored.scanner, &mut searched.scanner);
        assert!(anchored.anchored_detector_count() > 100);
        for regex in &mut searched.regexes {
            regex.anchored = false;
        }
        for keyword_use in searched.keyword_uses.iter_mut().flatten() {
            if let KeywordUse::Starts { regex, .. } = *keyword_use {
                *keyword_use = KeywordUse::Arms(regex);
            }
        }
        let searched = &*searched;
        // Texts of the policy's own examples, keywords and filler, glued in every way.
        let (keywords, examples) = policy_examples();
        assert!(examples.len() > 500);
        let glue = [" ", "", "\n", "=", ": ", "\"", "_", "path=/v1/", "x"];
        let mut rng = crate::engine::test_rng::TestRng::new(0x9e37_79b9_7f4a_7c15);
        let (mut anchored_scratch, mut searched_scratch) = (anchored.scratch(), searched.scratch());
        let mut found = 0;
        for _ in 0..500 {
            let mut text = String::new();
            for _ in 0..1 + rng.below(12) {
                let pieces = if rng.below(3) == 0 {
                    &keywords
                } else {
                    &examples
                };
                text.push_str(&pieces[rng.below(pieces.len())]);
                text.push_str(rng.pick(&glue));
            }
            found += same_hits(
                (anchored, &mut anchored_scratch),
                (searched, &mut searched_scratch),
                &text,
            );
        }
        assert!(found > 1000, "the texts hold few findings: {found}");
    }

    #[test]
    fn digit_prechecks_find_what_capture_searches_find() {
        let prechecked = default_policy();
        let mut plain = default_policy();
        let (prechecked, plain) = (&prechecked.scanner, &mut plain.scanner);
        for regex in &mut plain.regexes {
            regex.precheck = DigitPrecheck::of(&[]);
        }
        let plain = &*plain;
        // Card numbers (valid, or one digit off), digit runs and the bytes around numbers.
        let cards = [
            "4111 1111 1111 1111",
            "4532015112830366",
            "5500-0000-0000-0004",
            "2221 0000 0000 0009",
            "378282246310005",
            "3714 496353 98431",
            "6011111111111117",
            "3530111333300000",
            "6200000000000005",
            "30569309025904",
            "1200 48173 956206",
            "6759 6498 2643 8453",
            "2200 1234 5678 9050",
            "6071-2345-1234-5675",
            "6222 0212 3456 7897 3",
        ];
        let glue = [
            " ", "-", "", ".", ",", "(", "x", "\n", "  ", "card ", "+", "_",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0x5eed_0d16_c0de_0012);
        let (mut prechecked_scratch, mut plain_scratch) = (prechecked.scratch(), plain.scratch());
        let mut found = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..1 + rng.below(10) {
                match rng.below(3) {
                    0 => {
                        let mut card = rng.pick(&cards).to_string();
                        if rng.below(2) == 0 {
                            let last = card.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
                            card.push(char::from(
                                b'0' + ((last + 1 + rng.below(9) as u32) % 10) as u8,
                            ));
                        }
                        text.push_str(&card);
                    }
                    1 => {
                        for _ in 0..1 + rng.below(20) {
                            text.push(char::from(b'0' + rng.below(10) as u8));
                        }
                    }
                    _ => {
                        for i in 0..2 + rng.below(4) {
                            if i > 0 {
                                text.push_str(rng.pick(&[" ", "-", ""]));
                            }
                            for _ in 0..3 + rng.below(4) {
                                text.push(char::from(b'0' + rng.below(10) as u8));
                            }
                        }
                    }
                }
                text.push_str(rng.pick(&glue));
            }
            found += same_hits(
                (prechecked, &mut prechecked_scratch),
                (plain, &mut plain_scratch),
                &text,
            );
        }
        assert!(found > 1000, "the texts hold few findings: {found}");
    }

    #[test]
    fn single_patterns_and_the_blind_set_arm_what_the_exact_set_arms() {
        let policy = default_policy();
        let scanner = &policy.scanner;
        let set = scanner.always_on_set.as_ref().unwrap();
        let exact = set_regex(&set.distinct(), RegexLimits::default()).unwrap();
        let patterns = scanner.always_on.len();
        assert!(patterns > 5);
        // The two IPv4 detectors' one pattern is in the set once, and arms both.
        assert_eq!(set.twins().len(), patterns - 1);
        // The card, date and octet patterns are widened; IPv4's and the IBAN's have no digit
        // values to widen.
        let widened = set.blind().unwrap().widened.iter().filter(|&&w| w).count();
        assert!((8..patterns - 2).contains(&widened), "{widened} widened");
        let singles: Vec<_> = (0..patterns).map(|p| set.single(p).unwrap()).collect();
        let mut exact_cache = exact.create_cache();
        let mut single_caches: Vec<_> = singles.iter().map(|d| d.create_cache()).collect();
        let mut scratch = scanner.scratch();
        let blind = &set.blind().unwrap().dfa;
        let mut blind_cache = blind.create_cache();
        let (mut found, mut none) = (0, 0);
        // Digit groups, runs and numbers with the bytes that start and end matches.
        let glue = [
            " ", "-", "", ".", ",", "+", "(", ") ", "x", "\n", ":", "/", "::", "FE",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0xa11_0e5e_7d16_1752);
        let mut armed = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..1 + rng.below(40) {
                // Mostly groups of four, as cards are written; some dates (resident ids).
                let digits = match rng.below(4) {
                    0 | 1 => 4,
                    2 => 1 + rng.below(8),
                    _ => 18,
                };
                for _ in 0..digits {
                    text.push(char::from(b'0' + rng.below(10) as u8));
                }
                text.push_str(match rng.below(3) {
                    0 => " ",
                    1 => rng.pick(&glue),
                    _ => rng.pick(&[" ", "-", ""]),
                });
            }
            let from = rng.below(text.len() / 2 + 1);
            let to = (from + rng.below(text.len() + 1)).min(text.len());
            // `SetEnds::arm` reads overlapping only where a plain search finds a match: the
            // two agree on every lazy DFA it runs (the set, blind or exact, and each alone).
            let mut agree = |dfa: &hybrid::dfa::DFA, cache: &mut hybrid::dfa::Cache| {
                let input = Input::new(text.as_bytes()).range(from..to);
                let plain = dfa.try_search_fwd(cache, &input.clone().earliest(true));
                let mut state = OverlappingState::start();
                dfa.try_search_overlapping_fwd(cache, &input, &mut state)
                    .unwrap();
                let (plain, overlapping) = (plain.unwrap(), state.get_match());
                assert_eq!(
                    plain.is_some(),
                    overlapping.is_some(),
                    "{text:?} {from}..{to}"
                );
                found += usize::from(plain.is_some());
                none += usize::from(plain.is_none());
            };
            agree(&exact, &mut exact_cache);
            agree(blind, &mut blind_cache);
            for (single, cache) in singles.iter().zip(&mut single_caches) {
                agree(single, cache);
            }
            let arm = |dfa: &hybrid::dfa::DFA,
                       cache: &mut hybrid::dfa::Cache,
                       patterns: Patterns<'_>,
                       windows: &mut [Option<usize>],
                       armings: &mut Vec<Arming>| {
                let mut ends = SetEnds {
                    always_on: &scanner.always_on,
                    regexes: &scanner.regexes,
                    set_windows: windows,
                    armings,
                    widened_ends: &mut Vec::new(),
                };
                assert!(ends.arm(dfa, cache, text.as_bytes(), from..to, patterns));
            };
            let (mut set_windows, mut by_set) = (vec![None; patterns], Vec::new());
            let none_widened = vec![false; set.twins().len()];
            let all = Patterns::Set {
                twins: set.twins(),
                widened: &none_widened,
            };
            arm(&exact, &mut exact_cache, all, &mut set_windows, &mut by_set);
            let (mut single_windows, mut by_singles) = (vec![None; patterns], Vec::new());
            for (p, (single, cache)) in singles.iter().zip(&mut single_caches).enumerate() {
                let only = Patterns::Only(std::slice::from_ref(&p));
                arm(single, cache, only, &mut single_windows, &mut by_singles);
            }
            scratch.set_windows.fill(None);
            assert!(scanner.arm_always_on_in(text.as_bytes(), from..to, &mut scratch));
            let mut by_blind = std::mem::take(&mut scratch.armings);
            by_set.sort_unstable();
            by_singles.sort_unstable();
            by_blind.sort_unstable();
            assert_eq!(by_singles, by_set, "text {text:?} from {from} to {to}");
            assert_eq!(by_blind, by_set, "text {text:?} from {from} to {to}");
            armed += by_set.len();
        }
        assert!(armed > 1500, "the texts arm little: {armed}");
        assert!(found > 3000 && none > 3000, "{found} found, {none} none");
    }

    /// The policy's example texts (matches and near misses) and its keywords.
    fn policy_examples() -> (Vec<String>, Vec<String>) {
        let (mut keywords, mut examples) = (Vec::new(), Vec::new());
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/default/detectors");
        for file in std::fs::read_dir(dir).unwrap() {
            let yaml = std::fs::read_to_string(file.unwrap().path()).unwrap();
            let detectors: Vec<serde_json::Value> = serde_saphyr::from_str(&yaml).unwrap();
            for detector in detectors {
                let strings = |pointer: &str| -> Vec<String> {
                    let list = detector.pointer(pointer).and_then(|v| v.as_array());
                    let items = list.into_iter().flatten().filter_map(|v| v.as_str());
                    items.map(str::to_string).collect()
                };
                keywords.extend(strings("/keywords"));
                examples.extend(strings("/examples/match"));
                examples.extend(strings("/examples/ignore"));
            }
        }
        (keywords, examples)
    }

    #[test]
    fn short_text_shortcuts_find_what_the_full_scan_finds() {
        let fast = default_policy();
        let mut slow = default_policy();
        let (fast, slow) = (&fast.scanner, &mut slow.scanner);
        // The slow scanner rules nothing out: no count needs anything, no start skip.
        let set = slow.always_on_set.as_ref().unwrap();
        assert!(set.counts.set(SetCounts::of(&["x?"])).is_ok());
        for &regex in &slow.armed_everywhere {
            slow.regexes[regex as usize].start_skip = None;
        }
        let slow = &*slow;
        for scanner in [fast, slow] {
            assert!(scanner.always_on_set.as_ref().unwrap().blind().is_some());
            assert!(!scanner.armed_everywhere.is_empty());
        }
        // Short pieces of the examples (every detector's matches and near misses), numbers
        // and the bytes the always-on patterns count, glued into texts around 256 bytes.
        let (_, examples) = policy_examples();
        let glue = [
            " ", "", "-", ".", ":", "+", "\n", "item 3 ", "12", "::", "1.2.3.4", "x",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0x51a7_5407_7e87_0013);
        let (mut fast_scratch, mut slow_scratch) = (fast.scratch(), slow.scratch());
        let (mut found, mut short) = (0, 0);
        for _ in 0..4000 {
            let mut text = String::new();
            for _ in 0..1 + rng.below(4) {
                let example = examples[rng.below(examples.len())].as_bytes();
                let from = rng.below(example.len());
                let to = (from + 1 + rng.below(80)).min(example.len());
                text.push_str(&String::from_utf8_lossy(&example[from..to]));
                text.push_str(rng.pick(&glue));
            }
            if rng.below(4) == 0 {
                text = examples[rng.below(examples.len())].clone();
            }
            short += usize::from(text.len() <= SHORT_TEXT);
            found += same_hits((fast, &mut fast_scratch), (slow, &mut slow_scratch), &text);
            assert_eq!(fast_scratch.hints(), slow_scratch.hints(), "text {text:?}");
        }
        assert!(
            found > 500 && short > 3000,
            "{found} findings, {short} short texts"
        );
    }

    #[test]
    fn word_edges() {
        let t = b"xSECRET SECRET_ SECRET. \xe6\x9c\xba\xe5\xaf\x86x";
        assert!(!at_word_edges(t, 1, 7));
        assert!(!at_word_edges(t, 8, 14));
        assert!(at_word_edges(t, 16, 22));
        // A non-ASCII phrase has no word edges to check.
        assert!(at_word_edges(t, 24, 30));
    }
}
