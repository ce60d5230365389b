//! Resuming a re-sent conversation after the part its caller sent last time.
//!
//! A client re-sends the whole conversation each turn: the request is the previous one with a
//! few items appended to its conversation array (and the fields after it re-sent). The field
//! cache made each old field cost one hash pass and a lookup, but the parse, the unescaping and
//! the walk still ran over every old byte. Here, per caller, the cache remembers the previous
//! request's conversation item ends ([`json::Boundary`]) with, at each, the keyed hash of the
//! bytes before it and what inspecting those bytes produced:
//!
//! - the outline (nodes, strings, runs: offsets and tree, no text) up to it, so the parse
//!   resumes there ([`json::Outline::resume`]);
//! - the findings (detector, path, span, action, fingerprint: what the field cache keeps, plus
//!   the path the walk rendered), the redacted keys' nodes and the limits reached;
//! - the replacements spliced into the bytes as written (where, and the escaped mask, hash
//!   marker or token that goes there: no text of the request). A string rewritten whole, a
//!   nested document rewritten and a rewrite that minted tokens are [`Replay`]s: which string
//!   (and which of the findings are its hits), so that resuming rewrites it again from the
//!   body's bytes (the text is not kept; a nested document is walked again) and mints the same
//!   tokens in the same order (the restore map is the uncached one);
//! - for joined matching, each field's place: the message it belongs to, its key, its
//!   length and how to read its text again from the new request's bytes (the chain of JSON
//!   string spans from the body down to it, [`Piece`]), not the text; and the hits of the
//!   windows within those fields (`walk::join::WindowHit`: span, detector, fingerprint), so
//!   that only the last two fields before the resume point are read again, for the windows
//!   that reach the new fields.
//!
//! A request whose bytes up to an item end hash alike (one pass of the keyed prefix hash,
//! `field_hash::PrefixHasher`: NH under the polynomial, over the old bytes, stopping at the
//! first item end that differs) resumes after the longest
//! such prefix. Hashes are keyed with the caller's partition (so one caller's snapshot never
//! serves another) under the VM's secret key (`field_hash`: no one can craft a collision);
//! the snapshot belongs to one policy (emptied with the cache) and one tier.
//!
//! Memory: at most [`MAX_SNAPSHOTS`] snapshots ([`MAX_PER_CALLER`] per caller, so a side
//! request does not evict the conversation), each at most [`MAX_SNAPSHOT_BYTES`]; their bytes
//! count against the cache's budget, least recently used first out.

use crate::engine::body::json::{Boundary, PathNode, ScalarRun, StringLeaf};
use crate::engine::limits::LimitHits;
use crate::engine::span::Span;
use crate::engine::walk::join::WindowHit;
use crate::engine::Finding;
use crate::policy::TierIndex;

use super::field_hash::PrefixHasher;

/// Most snapshots one VM keeps.
pub(crate) const MAX_SNAPSHOTS: usize = 32;
/// Most snapshots of one caller (its conversation and a side request or two).
pub(crate) const MAX_PER_CALLER: usize = 2;
/// Largest snapshot: a 1 MiB conversation's outline and findings fit with room.
pub(crate) const MAX_SNAPSHOT_BYTES: usize = 2 << 20;

/// The walk's state just past one conversation item (counts into the snapshot's lists).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    pub boundary: Boundary,
    /// The keyed hash of the bytes before `boundary.end`.
    pub hash: u128,
    pub findings: usize,
    /// Replacements, those of replays included.
    pub splices: usize,
    pub replays: usize,
    pub redacted: usize,
    pub pieces: usize,
    /// The limits reached by the walk up to here.
    pub limits: LimitHits,
    /// The joined-matching message of the last field.
    pub message: u64,
}

/// A string of the body's document whose rewrite is done again on resuming: it was rewritten
/// whole (`splice` is its place among the replacements) or its rewrite minted tokens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Replay {
    /// The JSON string (span in the body, whether it has escapes).
    pub leaf: (Span, bool),
    /// Its hits: these findings of the snapshot.
    pub findings: (u32, u32),
    pub splice: Option<u32>,
    pub kind: ReplayKind,
    /// A [`ReplayKind::Tokens`] replay's replacements where they lie in the body (these
    /// `Snapshot::replay_spans`), so that resuming unescapes just them; empty: the whole string.
    pub raw: (u32, u32),
}

/// How a [`Replay`]'s string was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayKind {
    /// Spliced as written; only its tokens are minted again.
    Tokens,
    /// Its text rewritten and escaped whole.
    String,
    /// A number token: rewritten and quoted.
    Number,
    /// A nested JSON document: walked again, its rewrite escaped whole.
    Nested,
}

/// A field joined matching reads: its message, its cache key, and the spans that lead from
/// the body to its text (each a JSON string as written, unescaped if it has escapes, in the
/// text of the one before).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece {
    pub message: u64,
    pub key: Option<u128>,
    pub steps: (u32, u32),
    /// Its text's length.
    pub len: u32,
}

/// What inspecting a request's conversation up to each item end produced.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    partition: u128,
    tier: TierIndex,
    pub marks: Vec<Mark>,
    pub nodes: Vec<PathNode>,
    pub strings: Vec<StringLeaf>,
    pub runs: Vec<ScalarRun>,
    pub findings: Vec<Finding>,
    /// The spliced replacements (not those of replays).
    pub splices: Vec<(Span, Vec<u8>)>,
    pub replays: Vec<Replay>,
    /// The spans of the token-only replays' replacements in the body (`Replay::raw`).
    pub replay_spans: Vec<Span>,
    pub redacted: Vec<u32>,
    pub pieces: Vec<Piece>,
    pub steps: Vec<(Span, bool)>,
    /// The hits of the windows within the pieces, each with its window's last piece.
    pub window_hits: Vec<WindowHit>,
}

impl Snapshot {
    /// The bytes it holds (counted against the cache's budget).
    pub(crate) fn bytes(&self) -> usize {
        fn of<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        let findings: usize = self.findings.iter().map(|f| f.path.capacity()).sum();
        let splices: usize = self.splices.iter().map(|(_, b)| b.capacity()).sum();
        std::mem::size_of::<Snapshot>()
            + of(&self.marks)
            + of(&self.nodes)
            + of(&self.strings)
            + of(&self.runs)
            + of(&self.findings)
            + findings
            + of(&self.splices)
            + splices
            + of(&self.redacted)
            + of(&self.replays)
            + of(&self.replay_spans)
            + of(&self.pieces)
            + of(&self.steps)
            + of(&self.window_hits)
    }

    /// Keeps marks `..=at` and what they count, drops the rest.
    fn truncate_to(&mut self, at: usize) {
        self.marks.truncate(at + 1);
        let Some(m) = self.marks.last().copied() else {
            self.clear_lists();
            return;
        };
        self.nodes.truncate(m.boundary.nodes);
        self.strings.truncate(m.boundary.strings);
        self.runs.truncate(m.boundary.runs);
        self.findings.truncate(m.findings);
        self.replays.truncate(m.replays);
        let spans = self.replays.last().map_or(0, |r| r.raw.1 as usize);
        self.replay_spans.truncate(spans);
        let replayed = self.replays.iter().filter(|r| r.splice.is_some()).count();
        self.splices.truncate(m.splices.saturating_sub(replayed));
        self.redacted.truncate(m.redacted);
        self.pieces.truncate(m.pieces);
        let steps = self.pieces.last().map_or(0, |p| p.steps.1 as usize);
        self.steps.truncate(steps);
        let pieces = m.pieces;
        self.window_hits
            .retain(|w| (w.last_piece as usize) < pieces);
    }

    /// Keeps the hits of windows read by the request that made it, those within its pieces.
    pub(crate) fn add_window_hits(&mut self, hits: &[WindowHit]) {
        let pieces = self.marks.last().map_or(0, |m| m.pieces);
        let within = hits.iter().filter(|w| (w.last_piece as usize) < pieces);
        self.window_hits.extend(within);
    }

    fn clear_lists(&mut self) {
        self.marks.clear();
        self.nodes.clear();
        self.strings.clear();
        self.runs.clear();
        self.findings.clear();
        self.splices.clear();
        self.replays.clear();
        self.replay_spans.clear();
        self.redacted.clear();
        self.pieces.clear();
        self.steps.clear();
        self.window_hits.clear();
    }
}

/// A request's snapshot being made: resumed from an old one (truncated at the matching mark)
/// or new, and the prefix hash at the point it resumed from.
#[derive(Debug)]
pub(crate) struct Recording {
    pub snapshot: Snapshot,
    hasher: PrefixHasher,
    /// A rewrite that cannot be remembered happened: no more marks.
    pub stopped: bool,
    /// The chain of JSON strings the walk is inside (nested documents), for [`Piece`]s.
    /// (A replay's walk of a nested document runs with the recording taken out.)
    pub chain: Vec<(Span, bool)>,
    /// Items and fields this request resumed past.
    pub resumed: (u32, u32),
}

impl Recording {
    /// Remembers a field joined matching reads: `leaf` inside the current chain.
    pub(crate) fn piece(
        &mut self,
        message: u64,
        key: Option<u128>,
        leaf: (Span, bool),
        len: usize,
    ) {
        if self.stopped {
            return;
        }
        let start = self.snapshot.steps.len();
        self.snapshot.steps.extend_from_slice(&self.chain);
        self.snapshot.steps.push(leaf);
        let end = self.snapshot.steps.len();
        let steps = (
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(end).unwrap_or(u32::MAX),
        );
        self.snapshot.pieces.push(Piece {
            message,
            key,
            steps,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        });
    }

    /// Hashes the new marks' prefixes of `doc` (continuing from where the match left off) and
    /// drops anything recorded past the last mark; `None` if there is nothing to keep.
    pub(crate) fn seal(mut self, doc: &[u8]) -> Option<Snapshot> {
        let last = self.snapshot.marks.len().checked_sub(1)?;
        for mark in self.snapshot.marks.iter_mut() {
            if mark.hash == 0 {
                mark.hash = self.hasher.prefix(doc, mark.boundary.end)?;
            }
        }
        self.snapshot.truncate_to(last);
        Some(self.snapshot)
    }
}

/// The snapshots of one VM, least recently used first out.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// (last use, snapshot).
    entries: Vec<(u64, Snapshot)>,
    clock: u64,
    pub bytes: usize,
}

impl Store {
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The recording for a request of `partition` on `tier` whose body is `doc`: resumed from
    /// the snapshot whose longest item-end prefix `doc` shares (taken out of the store), else
    /// new. `seed` starts every prefix hash of this partition.
    pub(crate) fn begin(
        &mut self,
        partition: u128,
        tier: TierIndex,
        doc: &[u8],
        seed: PrefixHasher,
    ) -> Recording {
        let mut best: Option<(usize, usize, PrefixHasher)> = None;
        for (slot, (_, snap)) in self.entries.iter().enumerate() {
            if snap.partition != partition || snap.tier != tier {
                continue;
            }
            let mut running = seed;
            let mut matched = None;
            for (i, mark) in snap.marks.iter().enumerate() {
                if running.prefix(doc, mark.boundary.end) != Some(mark.hash) {
                    break;
                }
                // The state at this mark: where the new marks' hashes continue from.
                matched = Some((i, running));
            }
            if let Some((i, at)) = matched {
                if best.is_none_or(|(_, j, _)| i > j) {
                    best = Some((slot, i, at));
                }
            }
        }
        let mut recording = Recording {
            snapshot: Snapshot {
                partition,
                tier,
                ..Snapshot::default()
            },
            hasher: seed,
            stopped: false,
            chain: Vec::new(),
            resumed: (0, 0),
        };
        if let Some((slot, at, hasher)) = best {
            let (_, mut snapshot) = self.entries.swap_remove(slot);
            self.bytes = self.bytes.saturating_sub(snapshot.bytes());
            snapshot.truncate_to(at);
            recording.resumed = (
                u32::try_from(at + 1).unwrap_or(u32::MAX),
                snapshot
                    .marks
                    .last()
                    .map_or(0, |m| u32::try_from(m.boundary.strings).unwrap_or(u32::MAX)),
            );
            recording.snapshot = snapshot;
            recording.hasher = hasher;
        }
        recording
    }

    /// Keeps `snapshot`, evicting to stay within the counts, the snapshot size and `budget`
    /// bytes; returns the snapshots dropped (this one included, if too large).
    pub(crate) fn insert(&mut self, snapshot: Snapshot, budget: usize) -> u32 {
        let cost = snapshot.bytes();
        if cost > MAX_SNAPSHOT_BYTES.min(budget) {
            return 1;
        }
        let mut evicted = 0;
        let partition = snapshot.partition;
        while self.entries.len() >= MAX_SNAPSHOTS
            || self.bytes + cost > budget
            || self.count_of(partition) >= MAX_PER_CALLER
        {
            // The least recently used, of this caller first when it has too many.
            let mine = self.count_of(partition) >= MAX_PER_CALLER;
            if !self.evict_oldest(&|s| !mine || s.partition == partition) {
                break;
            }
            evicted += 1;
        }
        self.clock += 1;
        self.bytes += cost;
        self.entries.push((self.clock, snapshot));
        evicted
    }

    /// Drops least recently used snapshots until their bytes fit `budget`.
    pub(crate) fn evict_to(&mut self, budget: usize) -> u32 {
        let mut evicted = 0;
        while self.bytes > budget && self.evict_oldest(&|_| true) {
            evicted += 1;
        }
        evicted
    }

    /// Drops the least recently used snapshot of those `eligible` accepts; false if none is.
    fn evict_oldest(&mut self, eligible: &dyn Fn(&Snapshot) -> bool) -> bool {
        let oldest = (self.entries.iter().enumerate())
            .filter(|(_, (_, s))| eligible(s))
            .min_by_key(|(_, (used, _))| *used)
            .map(|(i, _)| i);
        let Some(oldest) = oldest else { return false };
        let (_, gone) = self.entries.swap_remove(oldest);
        self.bytes = self.bytes.saturating_sub(gone.bytes());
        true
    }

    fn count_of(&self, partition: u128) -> usize {
        (self.entries.iter())
            .filter(|(_, s)| s.partition == partition)
            .count()
    }
}
