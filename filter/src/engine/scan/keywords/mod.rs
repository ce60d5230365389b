//! The keyword automaton: every keyword and dictionary phrase of a policy,
//! every occurrence reported, ASCII case-insensitive.
//!
//! This pass touches every byte of every field, so it is built for the scan
//! loop: one table load per byte ([`table`]). It is built here rather than
//! with the `aho-corasick` crate's DFA because that build took ~40% of a
//! policy's load (6–12 ms natively for the default policy's 651 keywords,
//! once per VM) and twice the memory, and its overlapping iteration ran at
//! ~5 ns per byte. Sets too large for a table (big exact-match dictionaries)
//! use the crate's automaton, which stays compact.
//!
//! Patterns are split by their bytes. The ASCII ones share one table, scanned
//! over every byte; those with a non-ASCII byte (dictionary phrases in other
//! scripts) have their own, scanned only within reach of the text's non-ASCII
//! bytes ([`non_ascii`]). A table's size is its states times its byte
//! classes, and the default policy's 263 non-ASCII phrases bring 76 classes
//! that the ~6 000 states of its ASCII keywords never use: split, the tables
//! take 1.8 MB instead of 3.8 MB, written on every policy load. The price is
//! a word-at-a-time test for non-ASCII bytes per text, and a second pass over
//! text that is mostly non-ASCII.

mod non_ascii;
mod table;

use aho_corasick::{AhoCorasick, MatchKind};
use std::iter::Peekable;
use std::ops::Range;
use table::{Table, TableMatches};

/// Runs of non-ASCII bytes at least this long are skipped by the ASCII patterns' table (in
/// CJK text, most of it): it is back in its start state after any byte no pattern holds, so
/// a stretch scanned from there finds what the whole scan finds. Shorter runs cost less to
/// scan than a stretch costs to start.
const SKIPPED_RUN: usize = 16;

/// Texts up to this long are tested for non-ASCII bytes at once, before any walk.
const SHORT_TEXT: usize = 256;

/// Table entries (4 bytes each) above which the crate's compact automaton is used instead.
const MAX_TABLE_ENTRIES: usize = 1 << 20;

/// One occurrence of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeywordMatch {
    pub pattern: usize,
    pub start: usize,
    pub end: usize,
}

/// Why a keyword automaton could not be built.
#[derive(Debug)]
pub enum KeywordsError {
    /// An empty pattern would match at every position.
    EmptyPattern(usize),
    /// Too many patterns even for the crate's automaton.
    TooLarge(aho_corasick::BuildError),
}

impl std::fmt::Display for KeywordsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeywordsError::EmptyPattern(i) => write!(f, "pattern {i} is empty"),
            KeywordsError::TooLarge(e) => write!(f, "{e}"),
        }
    }
}

/// All keywords of a scanner, matched case-insensitively in ASCII, every occurrence reported.
#[derive(Debug)]
pub struct Keywords {
    automaton: Automaton,
}

#[derive(Debug)]
enum Automaton {
    Tables(Box<Tables>),
    Compact(AhoCorasick),
}

/// The patterns in two tables, by whether they hold a non-ASCII byte; either may be empty.
#[derive(Debug)]
struct Tables {
    ascii: Option<Table>,
    non_ascii: Option<Table>,
}

impl Tables {
    /// `None` when the tables together would exceed `max_entries`.
    fn build<P: AsRef<[u8]>>(patterns: &[P], max_entries: usize) -> Option<Tables> {
        let (mut ascii, mut ascii_ids) = (Vec::new(), Vec::new());
        let (mut non_ascii, mut non_ascii_ids) = (Vec::new(), Vec::new());
        for (id, pattern) in patterns.iter().enumerate() {
            let pattern = pattern.as_ref();
            let id = u32::try_from(id).ok()?;
            if pattern.is_ascii() {
                ascii.push(pattern);
                ascii_ids.push(id);
            } else {
                non_ascii.push(pattern);
                non_ascii_ids.push(id);
            }
        }
        let build = |patterns: &[&[u8]], ids: &[u32], limit: usize| {
            if patterns.is_empty() {
                Some(None)
            } else {
                Table::build(patterns, ids, limit).map(Some)
            }
        };
        let ascii = build(&ascii, &ascii_ids, max_entries)?;
        let left = max_entries.saturating_sub(ascii.as_ref().map_or(0, Table::entries));
        let non_ascii = build(&non_ascii, &non_ascii_ids, left)?;
        Some(Tables { ascii, non_ascii })
    }

    /// [`Keywords::for_each_match`]: one walk over the text's runs of non-ASCII bytes gives
    /// the ASCII table the stretches between long runs and the other table its windows.
    fn for_each_match(&self, text: &[u8], report: &mut dyn FnMut(KeywordMatch)) {
        // A short ASCII text (most fields) has no non-ASCII run: the ASCII table reads it
        // whole, the other nothing, without the runs' walk and its windows' set-up.
        if text.len() <= SHORT_TEXT && text.is_ascii() {
            if let Some(table) = &self.ascii {
                table.for_each_match(text, 0, report);
            }
            return;
        }
        let scan = |table: &Table, range: Range<usize>, report: &mut dyn FnMut(KeywordMatch)| {
            let start = range.start;
            table.for_each_match(text.get(range).unwrap_or_default(), start, report);
        };
        let reach = self.non_ascii.as_ref().map_or(1, Table::longest_pattern);
        let mut windows = non_ascii::WindowMerger::new(text.len(), reach);
        let mut ascii_from = 0;
        for run in non_ascii::runs(text) {
            if let Some(table) = &self.non_ascii {
                if let Some(window) = windows.add(&run) {
                    scan(table, window, report);
                }
            }
            if run.len() >= SKIPPED_RUN {
                if let Some(table) = &self.ascii {
                    scan(table, ascii_from..run.start, report);
                }
                ascii_from = run.end;
            }
        }
        if let (Some(table), Some(window)) = (&self.non_ascii, windows.finish()) {
            scan(table, window, report);
        }
        if let Some(table) = &self.ascii {
            scan(table, ascii_from..text.len(), report);
        }
    }

    #[cfg(any(test, feature = "bench-hooks"))]
    fn tables(&self) -> impl Iterator<Item = &Table> {
        self.ascii.iter().chain(self.non_ascii.iter())
    }
}

impl Keywords {
    /// Builds the automaton over `patterns`; match pattern ids are indices into `patterns`.
    pub fn new<P: AsRef<[u8]>>(patterns: &[P]) -> Result<Keywords, KeywordsError> {
        Keywords::with_table_limit(patterns, MAX_TABLE_ENTRIES)
    }

    fn with_table_limit<P: AsRef<[u8]>>(
        patterns: &[P],
        max_entries: usize,
    ) -> Result<Keywords, KeywordsError> {
        if let Some(empty) = patterns.iter().position(|p| p.as_ref().is_empty()) {
            return Err(KeywordsError::EmptyPattern(empty));
        }
        let automaton = match Tables::build(patterns, max_entries) {
            Some(tables) => Automaton::Tables(Box::new(tables)),
            None => Automaton::Compact(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(patterns)
                    .map_err(KeywordsError::TooLarge)?,
            ),
        };
        Ok(Keywords { automaton })
    }

    /// Every occurrence of every pattern in `text`, overlapping ones included, by end
    /// position (at one end, longer patterns first).
    pub fn find_overlapping<'a>(&'a self, text: &'a [u8]) -> Matches<'a> {
        match &self.automaton {
            Automaton::Tables(tables) => match (&tables.ascii, &tables.non_ascii) {
                (Some(ascii), None) => Matches::Ascii(ascii.matches(text)),
                (ascii, non_ascii) => Matches::Merged(Merged {
                    ascii: ascii.as_ref().map(|t| t.matches(text).peekable()),
                    non_ascii: non_ascii
                        .as_ref()
                        .map(|t| WindowMatches::new(t, text).peekable()),
                }),
            },
            Automaton::Compact(ac) => Matches::Compact(ac.find_overlapping_iter(text)),
        }
    }

    /// Calls `report` with every occurrence in `text`, in no particular order: the same
    /// matches as [`Keywords::find_overlapping`], found faster in long texts.
    pub fn for_each_match(&self, text: &[u8], report: &mut dyn FnMut(KeywordMatch)) {
        match &self.automaton {
            Automaton::Tables(tables) => tables.for_each_match(text, report),
            Automaton::Compact(_) => self.find_overlapping(text).for_each(report),
        }
    }

    #[cfg(any(test, feature = "bench-hooks"))]
    pub fn patterns_len(&self) -> usize {
        match &self.automaton {
            Automaton::Tables(tables) => tables.tables().map(Table::patterns_len).sum(),
            Automaton::Compact(ac) => ac.patterns_len(),
        }
    }

    /// Heap bytes of the automaton.
    #[cfg(any(test, feature = "bench-hooks"))]
    pub fn memory_usage(&self) -> usize {
        match &self.automaton {
            Automaton::Tables(tables) => tables.tables().map(Table::memory_usage).sum(),
            Automaton::Compact(ac) => ac.memory_usage(),
        }
    }

    /// Which implementation holds the patterns: `"table"` or the crate's `"compact"` automaton.
    #[cfg(any(test, feature = "bench-hooks"))]
    pub fn kind(&self) -> &'static str {
        match &self.automaton {
            Automaton::Tables(_) => "table",
            Automaton::Compact(_) => "compact",
        }
    }
}

/// Iterator over [`Keywords::find_overlapping`].
#[derive(Debug)]
pub enum Matches<'a> {
    Ascii(TableMatches<'a>),
    Merged(Merged<'a>),
    Compact(aho_corasick::FindOverlappingIter<'a, 'a>),
}

impl Iterator for Matches<'_> {
    type Item = KeywordMatch;

    #[inline]
    fn next(&mut self) -> Option<KeywordMatch> {
        match self {
            Matches::Ascii(m) => m.next(),
            Matches::Merged(m) => m.next(),
            Matches::Compact(m) => m.next().map(|m| KeywordMatch {
                pattern: m.pattern().as_usize(),
                start: m.start(),
                end: m.end(),
            }),
        }
    }
}

/// Both tables' matches in one order: by end, and at one end the non-ASCII table's first.
/// That is the order one table of all patterns gives (longer patterns first at one end):
/// a match that holds a non-ASCII byte is longer than any ASCII match ending where it does,
/// which is a suffix of it without that byte.
#[derive(Debug)]
pub struct Merged<'a> {
    ascii: Option<Peekable<TableMatches<'a>>>,
    non_ascii: Option<Peekable<WindowMatches<'a>>>,
}

impl Iterator for Merged<'_> {
    type Item = KeywordMatch;

    fn next(&mut self) -> Option<KeywordMatch> {
        let ascii_end = self.ascii.as_mut().and_then(|m| m.peek()).map(|m| m.end);
        let non_ascii_end = self
            .non_ascii
            .as_mut()
            .and_then(|m| m.peek())
            .map(|m| m.end);
        match (ascii_end, non_ascii_end) {
            (Some(a), Some(n)) if a < n => self.ascii.as_mut()?.next(),
            (_, Some(_)) => self.non_ascii.as_mut()?.next(),
            (Some(_), None) => self.ascii.as_mut()?.next(),
            (None, None) => None,
        }
    }
}

/// The non-ASCII table's matches in each window of [`non_ascii::windows`], in text order.
#[derive(Debug)]
pub struct WindowMatches<'a> {
    table: &'a Table,
    text: &'a [u8],
    windows: non_ascii::Windows<'a>,
    /// The window being scanned: where it starts in `text`, and its matches.
    current: Option<(usize, TableMatches<'a>)>,
}

impl<'a> WindowMatches<'a> {
    fn new(table: &'a Table, text: &'a [u8]) -> WindowMatches<'a> {
        WindowMatches {
            table,
            text,
            windows: non_ascii::windows(text, table.longest_pattern()),
            current: None,
        }
    }
}

impl Iterator for WindowMatches<'_> {
    type Item = KeywordMatch;

    fn next(&mut self) -> Option<KeywordMatch> {
        loop {
            if let Some((offset, matches)) = &mut self.current {
                if let Some(m) = matches.next() {
                    return Some(KeywordMatch {
                        pattern: m.pattern,
                        start: m.start + *offset,
                        end: m.end + *offset,
                    });
                }
            }
            let window = self.windows.next()?;
            let start = window.start;
            self.current = Some((start, self.table.matches(self.text.get(window)?)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every match, after checking that both ways of scanning agree.
    fn all(keywords: &Keywords, text: &[u8]) -> Vec<KeywordMatch> {
        let mut found: Vec<_> = keywords.find_overlapping(text).collect();
        found.sort_unstable();
        let mut lanes = Vec::new();
        keywords.for_each_match(text, &mut |m| lanes.push(m));
        lanes.sort_unstable();
        assert_eq!(found, lanes);
        found
    }

    fn reference<P: AsRef<[u8]>>(patterns: &[P], text: &[u8]) -> Vec<KeywordMatch> {
        let mut found: Vec<_> = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns)
            .map(|ac| {
                ac.find_overlapping_iter(text)
                    .map(|m| KeywordMatch {
                        pattern: m.pattern().as_usize(),
                        start: m.start(),
                        end: m.end(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort_unstable();
        found
    }

    #[test]
    fn reports_overlapping_and_nested_patterns_case_insensitively() {
        let patterns = ["he", "she", "his", "hers", "机密", "a.b"];
        let keywords = Keywords::new(&patterns).unwrap();
        assert_eq!(keywords.kind(), "table");
        let text = "uSHErs 机密 A.B ahishers".as_bytes();
        let found = all(&keywords, text);
        assert_eq!(found, reference(&patterns, text));
        let words: Vec<&[u8]> = found.iter().map(|m| &text[m.start..m.end]).collect();
        assert!(words.contains(&&b"SHE"[..]) && words.contains(&&b"HErs"[..]));
        assert!(words.contains(&"机密".as_bytes()));
        assert_eq!(found.len(), 9);
    }

    #[test]
    fn agrees_with_the_reference_on_generated_sets() {
        // A small alphabet makes patterns share prefixes and suffixes, the cases failure links get wrong.
        let mut rng = crate::engine::test_rng::TestRng::new(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"aAbB-\xe6\x9c";
        for _ in 0..200 {
            let count = 1 + rng.below(12);
            let patterns: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = 1 + rng.below(5);
                    (0..len).map(|_| rng.pick(alphabet)).collect()
                })
                .collect();
            // Long enough for the four-lane scan, whose lane edges then fall inside patterns.
            let text: Vec<u8> = (0..300 + rng.below(200))
                .map(|_| rng.pick(alphabet))
                .collect();
            let keywords = Keywords::new(&patterns).unwrap();
            assert_eq!(all(&keywords, &text), reference(&patterns, &text));
        }
    }

    #[test]
    fn orders_matches_by_end_then_longest_first_across_both_tables() {
        // Long ASCII texts with a few non-ASCII bytes: the non-ASCII table scans windows far
        // apart, in lanes when they are long, and its matches end where ASCII ones do.
        let mut rng = crate::engine::test_rng::TestRng::new(0x0dd5_eed5_1234_abcd);
        let ascii = b"aAbB-";
        for _ in 0..200 {
            let patterns: Vec<Vec<u8>> = (0..1 + rng.below(10))
                .map(|_| {
                    let mut p: Vec<u8> = (0..1 + rng.below(4)).map(|_| rng.pick(ascii)).collect();
                    if rng.below(2) == 0 {
                        let at = rng.below(p.len() + 1);
                        p.insert(at, 0xe6);
                    }
                    p
                })
                .collect();
            let rare = 1 + rng.below(200);
            let text: Vec<u8> = (0..200 + rng.below(2_000))
                .map(|_| {
                    if rng.below(rare) == 0 {
                        0xe6
                    } else {
                        rng.pick(ascii)
                    }
                })
                .collect();
            let keywords = Keywords::new(&patterns).unwrap();
            let in_order: Vec<_> = keywords.find_overlapping(&text).collect();
            let mut expected = reference(&patterns, &text);
            expected.sort_unstable_by_key(|m| (m.end, m.start, m.pattern));
            assert_eq!(in_order, expected);
            assert_eq!(all(&keywords, &text), reference(&patterns, &text));
        }
    }

    #[test]
    fn short_ascii_texts_find_what_the_reference_finds() {
        // Around the length below which an ASCII text skips the runs' walk, with and without
        // a non-ASCII byte, against patterns of both tables.
        let mut rng = crate::engine::test_rng::TestRng::new(0x0a5c_11e5_4e17_0013);
        let alphabet = b"aAbB-c \xe6";
        for _ in 0..400 {
            let patterns: Vec<Vec<u8>> = (0..1 + rng.below(8))
                .map(|_| (0..1 + rng.below(4)).map(|_| rng.pick(alphabet)).collect())
                .collect();
            let rare = 1 + rng.below(400);
            let text: Vec<u8> = (0..rng.below(2 * SHORT_TEXT))
                .map(|_| match rng.below(rare) {
                    0 => 0x9c,
                    _ => rng.pick(&alphabet[..7]),
                })
                .collect();
            let keywords = Keywords::new(&patterns).unwrap();
            assert_eq!(all(&keywords, &text), reference(&patterns, &text));
        }
    }

    #[test]
    fn large_sets_fall_back_to_the_compact_automaton() {
        let patterns = ["password", "secret", "token"];
        let compact = Keywords::with_table_limit(&patterns, 8).unwrap();
        assert_eq!(compact.kind(), "compact");
        let text = b"my PASSWORD and secret tokens";
        let found = all(&compact, text);
        assert_eq!(found.len(), 3);
        assert_eq!(found, all(&Keywords::new(&patterns).unwrap(), text));
    }

    #[test]
    fn rejects_empty_patterns() {
        assert!(matches!(
            Keywords::new(&["ok", ""]),
            Err(KeywordsError::EmptyPattern(1))
        ));
    }
}
