//! The keyword automaton: every keyword and dictionary phrase of a policy in
//! one Aho-Corasick DFA that reports every occurrence, ASCII case-insensitive.
//!
//! This pass touches every byte of every field, so it is built for the scan
//! loop: one table load per byte, and one comparison that says whether the
//! state ends a keyword at all. State ids are premultiplied by the number of
//! byte classes, and the states that end keywords are numbered last.
//!
//! It is built here rather than with the `aho-corasick` crate's DFA because
//! that build took ~40% of a policy's load (6–12 ms natively for the default
//! policy's 651 keywords, once per VM) and twice the memory, and its
//! overlapping iteration ran at ~5 ns per byte. Building this table is one
//! breadth-first pass in which each state copies its failure state's row.
//! Sets too large for a table (big exact-match dictionaries) use the crate's
//! automaton, which stays compact.

use aho_corasick::{AhoCorasick, MatchKind};
use std::borrow::Cow;
use std::ops::Range;

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
    Table(Box<Table>),
    Compact(AhoCorasick),
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
        let automaton = match Table::build(patterns, max_entries) {
            Some(table) => Automaton::Table(Box::new(table)),
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

    /// Every occurrence of every pattern in `text`, overlapping ones included, by end position.
    pub fn find_overlapping<'a>(&'a self, text: &'a [u8]) -> Matches<'a> {
        match &self.automaton {
            Automaton::Table(table) => Matches::Table(TableMatches {
                table,
                text,
                pos: 0,
                state: 0,
                pending: 0..0,
            }),
            Automaton::Compact(ac) => Matches::Compact(ac.find_overlapping_iter(text)),
        }
    }

    /// Calls `report` with every occurrence in `text`, in no particular order: the same
    /// matches as [`Keywords::find_overlapping`], found faster in long texts.
    pub fn for_each_match(&self, text: &[u8], report: &mut dyn FnMut(KeywordMatch)) {
        match &self.automaton {
            Automaton::Table(table) if text.len() >= LANES * table.min_lane_len() => {
                table.for_each_in_lanes(text, report);
            }
            _ => self.find_overlapping(text).for_each(report),
        }
    }

    #[cfg(any(test, feature = "bench-hooks"))]
    pub fn patterns_len(&self) -> usize {
        match &self.automaton {
            Automaton::Table(table) => table.pattern_lens.len(),
            Automaton::Compact(ac) => ac.patterns_len(),
        }
    }

    /// Heap bytes of the automaton.
    #[cfg(any(test, feature = "bench-hooks"))]
    pub fn memory_usage(&self) -> usize {
        match &self.automaton {
            Automaton::Table(table) => table.memory_usage(),
            Automaton::Compact(ac) => ac.memory_usage(),
        }
    }

    /// Which implementation holds the patterns: `"table"` or the crate's `"compact"` automaton.
    #[cfg(any(test, feature = "bench-hooks"))]
    pub fn kind(&self) -> &'static str {
        match &self.automaton {
            Automaton::Table(_) => "table",
            Automaton::Compact(_) => "compact",
        }
    }
}

/// Iterator over [`Keywords::find_overlapping`].
#[derive(Debug)]
pub enum Matches<'a> {
    Table(TableMatches<'a>),
    Compact(aho_corasick::FindOverlappingIter<'a, 'a>),
}

impl Iterator for Matches<'_> {
    type Item = KeywordMatch;

    #[inline]
    fn next(&mut self) -> Option<KeywordMatch> {
        match self {
            Matches::Table(m) => m.next(),
            Matches::Compact(m) => m.next().map(|m| KeywordMatch {
                pattern: m.pattern().as_usize(),
                start: m.start(),
                end: m.end(),
            }),
        }
    }
}

/// The DFA: `next = transitions[state + class_of[byte]]`, states premultiplied by the class count.
#[derive(Debug)]
struct Table {
    class_of: [u8; 256],
    transitions: Vec<u32>,
    /// Premultiplied id of the first state that ends a pattern; every later state does too.
    first_match: u32,
    stride: u32,
    /// Per match state (in id order), its patterns: `outputs[ends[k]..ends[k + 1]]`.
    output_ends: Vec<u32>,
    outputs: Vec<u32>,
    pattern_lens: Vec<u32>,
    longest_pattern: usize,
}

/// Independent stretches of a text scanned in lockstep. One DFA step is a load whose address
/// depends on the previous step's result, so a single scan waits on memory latency at every
/// byte (~2.6 ns here, even in L1); four interleaved scans keep four loads in flight.
const LANES: usize = 4;

/// The patterns' trie over byte classes, its edges listed per node (not a row of `stride`
/// edges per node: that table was as large as the DFA and most of its entries empty).
struct Trie {
    nodes: usize,
    /// (node, pattern) for every pattern, the node where it ends.
    ends: Vec<(u32, u32)>,
    /// Every node's children as (class, child), by node and then class:
    /// `children[child_start[n]..child_start[n + 1]]`.
    children: Vec<(u8, u32)>,
    child_start: Vec<u32>,
}

/// Where each of `groups` groups starts in a list of items ordered by group, given each
/// item's group: `starts[g]..starts[g + 1]` (one more entry than groups).
fn group_starts(items: impl Iterator<Item = u32>, groups: usize) -> Option<Vec<u32>> {
    let mut starts = vec![0u32; groups + 1];
    for group in items {
        *starts.get_mut(group as usize + 1)? += 1;
    }
    for g in 1..starts.len() {
        let before = starts.get(g - 1).copied().unwrap_or(0);
        *starts.get_mut(g)? += before;
    }
    Some(starts)
}

/// A pattern's bytes as their classes.
fn class_sequence<'p>(
    pattern: &'p [u8],
    class: &'p dyn Fn(u8) -> usize,
) -> impl Iterator<Item = usize> + 'p {
    pattern.iter().map(move |&b| class(b))
}

impl Trie {
    /// `None` past `max_nodes`. The patterns are inserted in the order of their class
    /// sequences, so each shares its trie path with the one before for exactly their common
    /// prefix: no edge lookup, and each node's children appear in class order (the order the
    /// breadth-first numbering visits them in, as a row's scan did).
    fn new<'p, P: AsRef<[u8]>>(
        patterns: &'p [P],
        class: &'p dyn Fn(u8) -> usize,
        max_nodes: usize,
    ) -> Option<Trie> {
        let classes = |p: &'p P| class_sequence(p.as_ref(), class);
        // Classes are numbered in the order of the lowercase bytes they hold, so sorting by
        // lowercase bytes sorts by classes, without a call per byte.
        // The scanner's patterns are lower case already (it folds them as it interns them),
        // so they are compared as they are, a memcmp each; others are folded once first.
        let folded: Vec<Cow<'p, [u8]>> = patterns
            .iter()
            .map(|p| {
                let p = p.as_ref();
                if p.iter().any(u8::is_ascii_uppercase) {
                    Cow::Owned(p.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(p)
                }
            })
            .collect();
        let mut by_bytes: Vec<(&[u8], usize)> = folded
            .iter()
            .enumerate()
            .map(|(id, p)| (&**p, id))
            .collect();
        by_bytes.sort_unstable();
        let sorted = by_bytes.into_iter().map(|(_, id)| id);
        // Per node after the root: its parent and the class of the edge into it.
        let mut edges: Vec<(u32, u8)> = Vec::new();
        let mut ends = Vec::with_capacity(patterns.len());
        // The previous pattern's path from the root: `path[d]` is its node at depth `d`.
        let mut path: Vec<u32> = vec![0];
        let mut previous: Option<&'p P> = None;
        for id in sorted {
            let pattern = patterns.get(id)?;
            let shared = previous.map_or(0, |before| {
                classes(before)
                    .zip(classes(pattern))
                    .take_while(|(a, b)| a == b)
                    .count()
            });
            path.truncate(shared + 1);
            for c in classes(pattern).skip(shared) {
                let parent = *path.last()?;
                edges.push((parent, u8::try_from(c).ok()?));
                let node = u32::try_from(edges.len()).ok()?;
                path.push(node);
            }
            if edges.len() + 1 > max_nodes {
                return None;
            }
            ends.push((*path.last()?, u32::try_from(id).ok()?));
            previous = Some(pattern);
        }
        let nodes = edges.len() + 1;
        let child_start = group_starts(edges.iter().map(|&(parent, _)| parent), nodes)?;
        // Nodes are numbered in insertion order, so a parent's children come in class order.
        let mut filled = child_start.clone();
        let mut children = vec![(0u8, 0u32); edges.len()];
        for (k, &(parent, c)) in edges.iter().enumerate() {
            let slot = filled.get_mut(parent as usize)?;
            *children.get_mut(*slot as usize)? = (c, u32::try_from(k + 1).ok()?);
            *slot += 1;
        }
        Some(Trie {
            nodes,
            ends,
            children,
            child_start,
        })
    }
}

impl Table {
    /// `None` when the table would exceed `max_entries`.
    fn build<P: AsRef<[u8]>>(patterns: &[P], max_entries: usize) -> Option<Table> {
        let (class_of, stride) = byte_classes(patterns);
        let stride_usize = usize::from(stride);
        let trie_bound: usize = 1 + patterns.iter().map(|p| p.as_ref().len()).sum::<usize>();
        if trie_bound.saturating_mul(stride_usize) > max_entries.saturating_mul(4) {
            return None;
        }
        let class = |b: u8| usize::from(class_of.get(usize::from(b)).copied().unwrap_or(0));

        let trie = Trie::new(patterns, &class, max_entries / stride_usize.max(1))?;
        let Trie {
            nodes,
            mut ends,
            children,
            child_start,
        } = trie;
        // Each node's own patterns: `ends[own_start[n]..own_start[n + 1]]` once sorted by node.
        ends.sort_unstable();
        let own_start = group_starts(ends.iter().map(|&(node, _)| node), nodes)?;
        let own = |n: usize| {
            let start = own_start.get(n).copied().unwrap_or(0) as usize;
            let end = own_start.get(n + 1).copied().unwrap_or(0) as usize;
            ends.get(start..end)
                .unwrap_or_default()
                .iter()
                .map(|&(_, p)| p)
        };

        // Breadth first, writing the final table directly. A node's failure state is
        // shallower, so its row is already complete: the node's row starts as a copy of it
        // (one memcpy) and its trie edges are patched in. A node's final id is chosen when it
        // is discovered, since whether it ends a pattern is known then (its own patterns, or
        // its failure state's, shallower and already numbered): states without outputs count
        // up from the root (0), states with outputs count down from the last, so the match
        // states are numbered last as the scan loop needs. Outputs are a node's own then its
        // failure state's, kept as ranges of one flat list, by final id.
        let mut transitions = vec![0u32; nodes * stride_usize];
        let mut outputs: Vec<u32> = Vec::new();
        let mut output_range: Vec<Range<u32>> = vec![0..0; nodes];
        // (trie node, final id, failure state's premultiplied id), in breadth-first order.
        let mut order: Vec<(u32, u32, u32)> = Vec::with_capacity(nodes);
        order.push((0, 0, 0));
        let (mut next_plain, mut next_match) = (1u32, u32::try_from(nodes).ok()?);
        let stride_u32 = u32::from(stride);
        let mut head = 0;
        while let Some(&(node, id, fail)) = order.get(head) {
            head += 1;
            let row = id as usize * stride_usize;
            let fail_row = fail as usize;
            if node != 0 {
                transitions.copy_within(fail_row..fail_row + stride_usize, row);
            }
            let first = child_start.get(node as usize).copied()? as usize;
            let last = child_start.get(node as usize + 1).copied()? as usize;
            for &(c, child) in children.get(first..last)? {
                let c = usize::from(c);
                let via_fail = if node == 0 {
                    0
                } else {
                    transitions.get(fail_row + c).copied()?
                };
                let start = u32::try_from(outputs.len()).ok()?;
                outputs.extend(own(child as usize));
                let inherited = output_range.get((via_fail / stride_u32) as usize)?.clone();
                outputs.extend_from_within(inherited.start as usize..inherited.end as usize);
                let end = u32::try_from(outputs.len()).ok()?;
                let child_id = if end > start {
                    next_match -= 1;
                    next_match
                } else {
                    next_plain += 1;
                    next_plain - 1
                };
                *output_range.get_mut(child_id as usize)? = start..end;
                *transitions.get_mut(row + c)? = child_id * stride_u32;
                order.push((child, child_id, via_fail));
            }
        }
        if next_plain != next_match {
            return None; // every node is numbered exactly once; anything else is a bug
        }
        let first_match_index = next_plain as usize;
        let mut output_ends = vec![0u32];
        let mut flat = Vec::new();
        for range in output_range.get(first_match_index..)? {
            flat.extend_from_slice(outputs.get(range.start as usize..range.end as usize)?);
            output_ends.push(u32::try_from(flat.len()).ok()?);
        }
        Some(Table {
            class_of,
            transitions,
            first_match: u32::try_from(first_match_index * stride_usize).ok()?,
            stride: u32::from(stride),
            output_ends,
            outputs: flat,
            pattern_lens: patterns
                .iter()
                .map(|p| u32::try_from(p.as_ref().len()).unwrap_or(u32::MAX))
                .collect(),
            longest_pattern: patterns.iter().map(|p| p.as_ref().len()).max().unwrap_or(0),
        })
    }

    /// The patterns that end in match state `state`, as a range of `outputs`.
    fn outputs_of(&self, state: u32) -> Range<usize> {
        let k = ((state - self.first_match) / self.stride) as usize;
        let start = self.output_ends.get(k).copied().unwrap_or(0) as usize;
        let end = self.output_ends.get(k + 1).copied().unwrap_or(0) as usize;
        start..end.max(start)
    }

    #[inline]
    fn step(&self, state: u32, byte: u8) -> u32 {
        let class = u32::from(self.class_of.get(usize::from(byte)).copied().unwrap_or(0));
        self.transitions
            .get((state + class) as usize)
            .copied()
            .unwrap_or(0)
    }

    /// The match of the pattern at `outputs[output]`, ending at `end`.
    fn match_ending_at(&self, output: usize, end: usize) -> KeywordMatch {
        let pattern = self.outputs.get(output).copied().unwrap_or(0) as usize;
        let len = self.pattern_lens.get(pattern).copied().unwrap_or(0) as usize;
        KeywordMatch {
            pattern,
            start: end.saturating_sub(len),
            end,
        }
    }

    /// Reports the patterns ending in match state `state` at `end`.
    fn report(&self, state: u32, end: usize, report: &mut dyn FnMut(KeywordMatch)) {
        for output in self.outputs_of(state) {
            report(self.match_ending_at(output, end));
        }
    }

    /// Texts shorter than `LANES` times this are scanned in one lane: the lanes' overlap
    /// (a pattern's length) would be a large part of the work.
    fn min_lane_len(&self) -> usize {
        (self.longest_pattern * 4).max(64)
    }

    /// Splits `text` into `LANES` stretches, each reporting the matches that end in it.
    /// A lane starts the longest pattern's length early, from the start state, so it sees
    /// every match that ends in its stretch: the DFA's state depends only on those last bytes.
    fn for_each_in_lanes(&self, text: &[u8], report: &mut dyn FnMut(KeywordMatch)) {
        let overlap = self.longest_pattern.saturating_sub(1);
        let bounds: [usize; LANES + 1] = std::array::from_fn(|i| text.len() * i / LANES);
        // Lane i reads `starts[i]..bounds[i + 1]` and reports ends in `bounds[i] + 1..=bounds[i + 1]`.
        let starts: [usize; LANES] = std::array::from_fn(|i| {
            bounds
                .get(i)
                .map_or(0, |&b| if i == 0 { b } else { b.saturating_sub(overlap) })
        });
        let lane = |i: usize| {
            let start = starts.get(i).copied().unwrap_or(0);
            let end = bounds.get(i + 1).copied().unwrap_or(0);
            text.get(start..end).unwrap_or_default()
        };
        let (l0, l1, l2, l3) = (lane(0), lane(1), lane(2), lane(3));
        let common = l0.len().min(l1.len()).min(l2.len()).min(l3.len());
        let mut on_match = |i: usize, state: u32, read: usize| {
            let start = starts.get(i).copied().unwrap_or(0);
            let end = start + read;
            if i == 0 || end > bounds.get(i).copied().unwrap_or(0) {
                self.report(state, end, report);
            }
        };
        let (mut s0, mut s1, mut s2, mut s3) = (0u32, 0u32, 0u32, 0u32);
        let lanes = l0.iter().zip(l1).zip(l2).zip(l3).take(common);
        for (k, (((&b0, &b1), &b2), &b3)) in lanes.enumerate() {
            s0 = self.step(s0, b0);
            s1 = self.step(s1, b1);
            s2 = self.step(s2, b2);
            s3 = self.step(s3, b3);
            if s0.max(s1).max(s2).max(s3) >= self.first_match {
                for (i, s) in [s0, s1, s2, s3].into_iter().enumerate() {
                    if s >= self.first_match {
                        on_match(i, s, k + 1);
                    }
                }
            }
        }
        let mut states = [s0, s1, s2, s3];
        for (i, (state, lane)) in states.iter_mut().zip([l0, l1, l2, l3]).enumerate() {
            for (k, &b) in lane.iter().enumerate().skip(common) {
                *state = self.step(*state, b);
                if *state >= self.first_match {
                    on_match(i, *state, k + 1);
                }
            }
        }
    }

    #[cfg(any(test, feature = "bench-hooks"))]
    fn memory_usage(&self) -> usize {
        4 * (self.transitions.len()
            + self.output_ends.len()
            + self.outputs.len()
            + self.pattern_lens.len())
            + self.class_of.len()
    }
}

/// Byte classes: class 0 for bytes in no pattern, one class per other byte numbered in byte
/// order (the trie relies on it: class order is lowercase byte order), ASCII letters
/// sharing their lowercase's class. Returns the table and the number of classes.
fn byte_classes<P: AsRef<[u8]>>(patterns: &[P]) -> ([u8; 256], u16) {
    let mut used = [false; 256];
    for pattern in patterns {
        for &b in pattern.as_ref() {
            if let Some(slot) = used.get_mut(usize::from(b.to_ascii_lowercase())) {
                *slot = true;
            }
        }
    }
    let mut class_of = [0u8; 256];
    // At most 230 distinct lowercase-folded bytes, so class ids fit in a byte.
    let mut classes: u16 = 1;
    for (b, &is_used) in used.iter().enumerate() {
        if is_used {
            if let Some(slot) = class_of.get_mut(b) {
                *slot = u8::try_from(classes).unwrap_or(0);
            }
            classes += 1;
        }
    }
    for upper in b'A'..=b'Z' {
        let lower = class_of
            .get(usize::from(upper.to_ascii_lowercase()))
            .copied()
            .unwrap_or(0);
        if let Some(slot) = class_of.get_mut(usize::from(upper)) {
            *slot = lower;
        }
    }
    (class_of, classes)
}

/// Iterator state of a table scan.
#[derive(Debug)]
pub struct TableMatches<'a> {
    table: &'a Table,
    text: &'a [u8],
    /// Bytes consumed so far.
    pos: usize,
    state: u32,
    /// Outputs of the last match state not reported yet.
    pending: Range<usize>,
}

impl TableMatches<'_> {
    #[inline]
    fn next(&mut self) -> Option<KeywordMatch> {
        let table = self.table;
        loop {
            if let Some(output) = self.pending.next() {
                return Some(table.match_ending_at(output, self.pos));
            }
            let rest = self.text.get(self.pos..)?;
            let mut state = self.state;
            let mut consumed = 0;
            let mut matched = false;
            for &b in rest {
                state = table.step(state, b);
                consumed += 1;
                if state >= table.first_match {
                    matched = true;
                    break;
                }
            }
            self.pos += consumed;
            self.state = state;
            if !matched {
                return None;
            }
            self.pending = table.outputs_of(state);
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
