//! One keyword table: a dense Aho-Corasick DFA over byte classes, built by one
//! breadth-first pass in which each state copies its failure state's row.
//!
//! The scan loop is one table load per byte and one bit test that says
//! whether the state ends a keyword at all: state ids are premultiplied by the
//! number of byte classes, the states that end keywords are numbered last, and
//! an entry leading into one carries [`MATCH`]. The table is padded to a power
//! of two and indexed through its length's mask, which also drops that bit, so
//! the index needs no bounds test of its own (wasm counts: ~30 instructions a
//! byte before, RESULTS.md, issue 16, fifteenth round).
//! The table's size is states × classes × 4 bytes, written on every policy
//! load, which is why [`super::Keywords`] keeps patterns with non-ASCII bytes
//! in a table of their own.

use super::KeywordMatch;
use std::borrow::Cow;
use std::ops::Range;

/// Set in a transition whose target state ends a pattern: four lanes test their states with
/// one `or`, and the index mask drops it (the table is far below 2^31 entries).
const MATCH: u32 = 1 << 31;

/// The DFA: `next = transitions[(state + class_of[byte]) & mask]`, states premultiplied by
/// the class count, [`MATCH`] set on those that end a pattern.
#[derive(Debug)]
pub(super) struct Table {
    class_of: [u8; 256],
    /// `states × stride` entries, then zeros up to a power of two.
    transitions: Box<[u32]>,
    /// Entries before the padding (what the size limits count).
    used_entries: usize,
    /// Premultiplied id of the first state that ends a pattern; every later state does too.
    first_match: u32,
    stride: u32,
    /// Per match state (in id order), its patterns: `outputs[ends[k]..ends[k + 1]]`.
    output_ends: Vec<u32>,
    outputs: Vec<Output>,
    #[cfg(any(test, feature = "bench-hooks"))]
    patterns: usize,
    longest_pattern: usize,
}

/// A pattern a match state reports: its id among all of [`super::Keywords`]' patterns, and its length.
#[derive(Debug, Clone, Copy)]
struct Output {
    pattern: u32,
    len: u32,
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
    /// The table of `patterns`, whose matches report `ids[i]` for `patterns[i]`; `None` when
    /// the table would exceed `max_entries`.
    pub(super) fn build(patterns: &[&[u8]], ids: &[u32], max_entries: usize) -> Option<Table> {
        let (class_of, stride) = byte_classes(patterns);
        let stride_usize = usize::from(stride);
        let trie_bound: usize = 1 + patterns.iter().map(|p| p.len()).sum::<usize>();
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
        // Zeros up to a power of two from the start: a zeroed allocation, not a second pass.
        let used_entries = nodes * stride_usize;
        if used_entries > MATCH as usize {
            return None;
        }
        let mut transitions = vec![0u32; used_entries.next_power_of_two()];
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
                    transitions.get(fail_row + c).copied()? & !MATCH
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
                let flag = if end > start { MATCH } else { 0 };
                *transitions.get_mut(row + c)? = (child_id * stride_u32) | flag;
                order.push((child, child_id, via_fail));
            }
        }
        if next_plain != next_match {
            return None; // every node is numbered exactly once; anything else is a bug
        }
        let first_match_index = next_plain as usize;
        let first_match = u32::try_from(first_match_index * stride_usize).ok()?;
        let mut output_ends = vec![0u32];
        let mut flat = Vec::new();
        for range in output_range.get(first_match_index..)? {
            for &local in outputs.get(range.start as usize..range.end as usize)? {
                let pattern = *ids.get(local as usize)?;
                let len = u32::try_from(patterns.get(local as usize)?.len()).ok()?;
                flat.push(Output { pattern, len });
            }
            output_ends.push(u32::try_from(flat.len()).ok()?);
        }
        Some(Table {
            class_of,
            transitions: transitions.into_boxed_slice(),
            used_entries,
            first_match,
            stride: u32::from(stride),
            output_ends,
            outputs: flat,
            #[cfg(any(test, feature = "bench-hooks"))]
            patterns: patterns.len(),
            longest_pattern: patterns.iter().map(|p| p.len()).max().unwrap_or(0),
        })
    }

    /// The patterns that end in match state `state`, as a range of `outputs`.
    fn outputs_of(&self, state: u32) -> Range<usize> {
        let k = ((state & !MATCH).saturating_sub(self.first_match) / self.stride) as usize;
        let start = self.output_ends.get(k).copied().unwrap_or(0) as usize;
        let end = self.output_ends.get(k + 1).copied().unwrap_or(0) as usize;
        start..end.max(start)
    }

    /// The state after `byte`; `state` may carry [`MATCH`], which the mask drops.
    #[inline]
    fn step(&self, state: u32, byte: u8) -> u32 {
        let class = u32::from(self.class_of.get(usize::from(byte)).copied().unwrap_or(0));
        let table: &[u32] = &self.transitions;
        // A power-of-two length, so the masked index is always in the table.
        let index = state.wrapping_add(class) as usize & table.len().wrapping_sub(1);
        table.get(index).copied().unwrap_or(0)
    }

    /// The match of the pattern at `outputs[output]`, ending at `end`.
    fn match_ending_at(&self, output: usize, end: usize) -> KeywordMatch {
        let Output { pattern, len } = self
            .outputs
            .get(output)
            .copied()
            .unwrap_or(Output { pattern: 0, len: 0 });
        KeywordMatch {
            pattern: pattern as usize,
            start: end.saturating_sub(len as usize),
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
            if (s0 | s1 | s2 | s3) & MATCH != 0 {
                for (i, s) in [s0, s1, s2, s3].into_iter().enumerate() {
                    if s & MATCH != 0 {
                        on_match(i, s, k + 1);
                    }
                }
            }
        }
        let mut states = [s0, s1, s2, s3];
        for (i, (state, lane)) in states.iter_mut().zip([l0, l1, l2, l3]).enumerate() {
            for (k, &b) in lane.iter().enumerate().skip(common) {
                *state = self.step(*state, b);
                if *state & MATCH != 0 {
                    on_match(i, *state, k + 1);
                }
            }
        }
    }

    /// Entries of the transition table.
    pub(super) fn entries(&self) -> usize {
        self.used_entries
    }

    /// The longest pattern's length in bytes.
    pub(super) fn longest_pattern(&self) -> usize {
        self.longest_pattern
    }

    /// How many patterns the table holds.
    #[cfg(any(test, feature = "bench-hooks"))]
    pub(super) fn patterns_len(&self) -> usize {
        self.patterns
    }

    /// Heap bytes of the table.
    #[cfg(any(test, feature = "bench-hooks"))]
    pub(super) fn memory_usage(&self) -> usize {
        4 * (self.transitions.len() + self.output_ends.len())
            + std::mem::size_of::<Output>() * self.outputs.len()
            + self.class_of.len()
    }

    /// Calls `report` with every occurrence in `text`, in no particular order, each match's
    /// offsets moved by `offset` (the text's place in a longer one).
    pub(super) fn for_each_match(
        &self,
        text: &[u8],
        offset: usize,
        report: &mut dyn FnMut(KeywordMatch),
    ) {
        let mut shifted = |m: KeywordMatch| {
            report(KeywordMatch {
                pattern: m.pattern,
                start: m.start + offset,
                end: m.end + offset,
            })
        };
        if text.len() >= LANES * self.min_lane_len() {
            self.for_each_in_lanes(text, &mut shifted);
        } else {
            self.matches(text).for_each(shifted);
        }
    }

    /// Every occurrence in `text`, by end position; at one end, longer patterns first.
    pub(super) fn matches<'a>(&'a self, text: &'a [u8]) -> TableMatches<'a> {
        TableMatches {
            table: self,
            text,
            pos: 0,
            state: 0,
            pending: 0..0,
        }
    }
}

/// Byte classes: class 0 for bytes in no pattern, one class per other byte numbered in byte
/// order (the trie relies on it: class order is lowercase byte order), ASCII letters
/// sharing their lowercase's class. Returns the table and the number of classes.
fn byte_classes(patterns: &[&[u8]]) -> ([u8; 256], u16) {
    let mut used = [false; 256];
    for pattern in patterns {
        for &b in pattern.iter() {
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

impl Iterator for TableMatches<'_> {
    type Item = KeywordMatch;

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
                if state & MATCH != 0 {
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
