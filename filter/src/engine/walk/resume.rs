//! The walk's side of resuming a re-sent conversation (`cache/resume.rs` holds the why).
//!
//! For the body's JSON document, when the request names its caller: before the parse, the
//! cache picks this caller's snapshot whose item-end prefix the body shares; the outline is
//! restored up to that item end and the parse resumes there. The walk then starts at the first
//! string after it with the findings, replacements, redacted keys, limits and joined-matching
//! fields the snapshot holds (each joined field's text read again from the body's bytes by its
//! chain of string spans), strings rewritten whole or holding tokens rewritten again and
//! nested documents rewritten walked again (their replays), and records a mark at each item
//! end it passes.

use crate::engine::body::json::{self, Outline};
pub(crate) use crate::engine::cache::resume::ReplayKind;
use crate::engine::cache::resume::{Mark, Recording, Replay, Snapshot};
use crate::engine::limits::LimitHits;
use crate::engine::scan::scanner::Hit;
use crate::engine::span::Span;
use crate::engine::verdict::rewrite;
use crate::engine::verdict::rewrite::Splices;
use crate::engine::walk::Walk;
use crate::engine::Finding;
use crate::policy::{Action, Mode};

impl Walk<'_, '_> {
    /// Starts the body document's snapshot; when it resumes an old one, restores `outline` up
    /// to the matching item end and parses the rest of `doc` from there (`Some` if that
    /// parse succeeded: `outline` is then `doc`'s).
    pub(super) fn resume_parse(&mut self, doc: &[u8], outline: &mut Outline) -> Option<()> {
        let cache = &mut self.scratch.cache;
        cache.resume_begin(doc, self.tier);
        let snapshot = &cache.recording()?.snapshot;
        let at = snapshot.marks.last()?.boundary;
        outline.clear();
        outline.nodes.extend_from_slice(&snapshot.nodes);
        outline.strings.extend_from_slice(&snapshot.strings);
        outline.runs.extend_from_slice(&snapshot.runs);
        (outline.boundaries).extend(snapshot.marks.iter().map(|m| m.boundary));
        if outline.resume(doc, &at).is_ok() {
            return Some(());
        }
        cache.resume_restart(doc, self.tier);
        None
    }

    /// The walk's state after the resumed items: findings, limits and joined fields restored,
    /// `splices` and `redacted` filled; returns the first string to walk (0 when not resumed).
    pub(super) fn resume_restore(
        &mut self,
        doc: &[u8],
        splices: &mut Splices,
        redacted: &mut Vec<u32>,
    ) -> usize {
        // Out of the cache while replays walk nested documents (which must not record).
        let recording = self.scratch.cache.take_recording();
        let first = match &recording {
            Some(recording) => self.restore_from(recording, doc, splices, redacted),
            None => 0,
        };
        self.scratch.cache.put_recording(recording);
        first
    }

    fn restore_from(
        &mut self,
        recording: &Recording,
        doc: &[u8],
        splices: &mut Splices,
        redacted: &mut Vec<u32>,
    ) -> usize {
        let snapshot = &recording.snapshot;
        let Some(mark) = snapshot.marks.last() else {
            return 0;
        };
        self.findings.extend_from_slice(&snapshot.findings);
        // The replays in order (their tokens minted as the first time), their rewrites put
        // back among the spliced replacements.
        let mut raw = snapshot.splices.iter();
        for replay in &snapshot.replays {
            if let Some(at) = replay.splice {
                while splices.len() < at as usize {
                    let Some((span, bytes)) = raw.next() else {
                        break;
                    };
                    splices.push_raw(*span, bytes.clone());
                }
            }
            self.replay(doc, replay, snapshot, splices);
        }
        for (span, bytes) in raw {
            splices.push_raw(*span, bytes.clone());
        }
        redacted.extend_from_slice(&snapshot.redacted);
        self.limits.add(&mark.limits);
        self.message = mark.message;
        // The joined fields: placed by their lengths, their windows' hits given, but the last
        // two, whose text windows reaching the new fields read, from the body again by their
        // chain of strings (the containers, nested documents, of consecutive fields read once).
        let joined = &mut self.scratch.joined_fields;
        joined.clear();
        let read_from = snapshot.pieces.len().saturating_sub(2);
        for piece in snapshot.pieces.get(..read_from).unwrap_or_default() {
            joined.push_unread(piece.len as usize, piece.message, piece.key);
        }
        let given = joined.given_mut();
        given.pieces = snapshot.pieces.len();
        given.hits.extend_from_slice(&snapshot.window_hits);
        let mut containers: Vec<(Span, bool)> = Vec::new();
        let mut texts: Vec<Vec<u8>> = Vec::new();
        let mut field = Vec::new();
        for piece in snapshot.pieces.get(read_from..).unwrap_or_default() {
            let range = piece.steps.0 as usize..piece.steps.1 as usize;
            let steps = snapshot.steps.get(range).unwrap_or_default();
            let Some((last, inner)) = steps.split_last() else {
                continue;
            };
            let same = (containers.iter().zip(inner))
                .take_while(|(a, b)| a == b)
                .count();
            containers.truncate(same);
            texts.truncate(same);
            for &(span, has_escapes) in inner.get(same..).unwrap_or_default() {
                let parent = texts.last().map_or(doc, Vec::as_slice);
                let text = json::string_text(parent, span, has_escapes, &mut field).to_vec();
                containers.push((span, has_escapes));
                texts.push(text);
            }
            let parent = texts.last().map_or(doc, Vec::as_slice);
            let text = json::string_text(parent, last.0, last.1, &mut field);
            (self.scratch.joined_fields).push(text, piece.message, piece.key);
        }
        mark.boundary.strings
    }

    /// Rewrites a resumed string again as the first time (minting its tokens again).
    fn replay(&mut self, doc: &[u8], replay: &Replay, snapshot: &Snapshot, splices: &mut Splices) {
        let findings = &snapshot.findings;
        if replay.kind == ReplayKind::Tokens {
            let range = replay.raw.0 as usize..replay.raw.1 as usize;
            let spans = snapshot.replay_spans.get(range).unwrap_or_default();
            let hits = replay_hits(findings, replay);
            if !spans.is_empty() && self.mint_from_spans(doc, replay.leaf.1, &hits, spans) {
                self.scratch.cache.count_replayed_by_span();
                return;
            }
        }
        let mut scratch = Vec::new();
        let text = json::string_text(doc, replay.leaf.0, replay.leaf.1, &mut scratch);
        let span = replay.leaf.0;
        if replay.kind == ReplayKind::Nested {
            // Walked again for its rewrite alone: its findings, limits and joined fields are
            // the snapshot's already (the joined ones are read after the replays).
            let (findings, limits) = (self.findings.len(), self.limits);
            let nested = self.json(text, "", 1);
            self.findings.truncate(findings);
            self.limits = limits;
            if let Ok(Some(new_text)) = nested {
                splices.push_json_string(span, &new_text);
            }
            return;
        }
        let hits = replay_hits(findings, replay);
        if replay.kind == ReplayKind::Tokens {
            // Spliced as written already: its tokens minted again, in order, nothing built.
            let (policy, tier) = (self.policy, self.tier);
            rewrite::for_each_replacement(
                policy,
                tier,
                text,
                &hits,
                &mut self.tokens,
                &mut |_, _| {},
            );
            return;
        }
        let new_text = rewrite::apply_masks(self.policy, self.tier, text, &hits, &mut self.tokens);
        match replay.kind {
            ReplayKind::Number => splices.push_json_string_for(span, &new_text),
            ReplayKind::String => splices.push_json_string(span, &new_text),
            ReplayKind::Tokens | ReplayKind::Nested => {}
        }
    }

    /// Mints a token-only replay's tokens from its replacements' bytes alone (`spans`, where
    /// they lie in the body), not its whole string unescaped: each replacement's text is
    /// unescaped from its span (its edges lie outside escapes: the splice path checked), the
    /// texts laid end to end and the hits moved onto them, so the replacements, and the
    /// tokens minted from their values, are the first time's. False (nothing minted) if the
    /// spans do not match the replacements the hits make.
    fn mint_from_spans(
        &mut self,
        doc: &[u8],
        has_escapes: bool,
        hits: &[Hit],
        spans: &[Span],
    ) -> bool {
        let (policy, tier) = (self.policy, self.tier);
        let rewriting: Vec<Hit> = (hits.iter())
            .filter(|h| policy.action(h.detector, tier).rewrites())
            .copied()
            .collect();
        // The replacements as `rewrite::for_each_replacement` merges them, and each hit's.
        let mut groups: Vec<Span> = Vec::new();
        let mut group_of: Vec<usize> = Vec::with_capacity(rewriting.len());
        for h in &rewriting {
            match groups.last_mut() {
                Some(g) if h.span.start < g.end => g.end = g.end.max(h.span.end),
                _ => groups.push(h.span),
            }
            group_of.push(groups.len() - 1);
        }
        if groups.len() != spans.len() {
            return false;
        }
        let mut text = Vec::new();
        let mut starts = Vec::with_capacity(groups.len());
        let mut field = Vec::new();
        for (group, raw) in groups.iter().zip(spans) {
            let value = json::string_text(doc, *raw, has_escapes, &mut field);
            if value.len() != group.len() {
                return false;
            }
            starts.push(text.len());
            text.extend_from_slice(value);
        }
        let moved: Vec<Hit> = (rewriting.iter().zip(&group_of))
            .filter_map(|(h, &g)| {
                let (group, start) = (groups.get(g)?, *starts.get(g)?);
                let at = |offset: usize| offset - group.start + start;
                Some(Hit {
                    span: Span::new(at(h.span.start), at(h.span.end)),
                    ..*h
                })
            })
            .collect();
        if moved.len() != rewriting.len() {
            return false;
        }
        rewrite::for_each_replacement(
            policy,
            tier,
            &text,
            &moved,
            &mut self.tokens,
            &mut |_, _| {},
        );
        true
    }

    /// Records a mark at each item end whose strings all lie before string `index`: the
    /// walk's state there, unless a rewrite that cannot be remembered happened.
    pub(super) fn resume_mark(
        &mut self,
        outline: &Outline,
        index: usize,
        splices: &Splices,
        redacted: &[u32],
        before: &LimitHits,
    ) {
        let (findings, message, limits) = (self.findings.len(), self.message, self.limits);
        let Some(recording) = self.scratch.cache.recording_mut() else {
            return;
        };
        while !recording.stopped {
            let snapshot = &mut recording.snapshot;
            let Some(boundary) = outline.boundaries.get(snapshot.marks.len()) else {
                break;
            };
            if boundary.strings > index {
                break;
            }
            snapshot.marks.push(Mark {
                boundary: *boundary,
                hash: 0,
                findings,
                splices: splices.len(),
                replays: snapshot.replays.len(),
                redacted: redacted.len(),
                pieces: snapshot.pieces.len(),
                limits: limits.since(before),
                message,
            });
        }
    }

    /// After the body document's string `leaf` was walked (its findings from `before` on;
    /// `rewrite`: it went in whole as replacement `.0`, rewritten as `.1` says): remembers it
    /// as a replay if the rewrite was whole or minted tokens.
    pub(super) fn resume_replay(
        &mut self,
        leaf: (Span, bool),
        before: usize,
        rewrite: Option<(usize, ReplayKind)>,
    ) {
        let enforced = self.policy.mode == Mode::Enforce;
        let findings = self.findings.get(before..).unwrap_or_default();
        let minted = enforced && findings.iter().any(|f| f.action == Action::Tokenize);
        if rewrite.is_none() && !minted {
            return;
        }
        let end = self.findings.len();
        let Some(recording) = self.scratch.cache.recording_mut() else {
            return;
        };
        let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        let spans = index(recording.snapshot.replay_spans.len());
        recording.snapshot.replays.push(Replay {
            leaf,
            findings: (index(before), index(end)),
            splice: rewrite.map(|(at, _)| index(at)),
            kind: rewrite.map_or(ReplayKind::Tokens, |(_, kind)| kind),
            raw: (spans, spans),
        });
    }

    /// After the body document's string was walked and spliced as written (`as_written`):
    /// the spans of its replacements in the body (`spliced`, pushed while it was walked), kept
    /// with its token-only replay if [`Walk::resume_replay`] just recorded one.
    pub(super) fn resume_replay_spans(
        &mut self,
        leaf: Span,
        as_written: bool,
        spliced: &[(Span, Vec<u8>)],
    ) {
        let Some(recording) = self.scratch.cache.recording_mut() else {
            return;
        };
        let snapshot = &mut recording.snapshot;
        let Some(replay) = snapshot.replays.last_mut() else {
            return;
        };
        // This string's replay, none made before it.
        let fresh = replay.leaf.0 == leaf
            && replay.raw.0 as usize == snapshot.replay_spans.len()
            && replay.raw.1 == replay.raw.0;
        if !as_written || replay.kind != ReplayKind::Tokens || !fresh || spliced.is_empty() {
            return;
        }
        snapshot
            .replay_spans
            .extend(spliced.iter().map(|(span, _)| *span));
        replay.raw.1 = u32::try_from(snapshot.replay_spans.len()).unwrap_or(u32::MAX);
    }

    /// Enters (`Some`) or leaves (`None`) the JSON string `leaf` holding a nested document.
    pub(super) fn resume_chain(&mut self, leaf: Option<(Span, bool)>) {
        if let Some(recording) = self.scratch.cache.recording_mut() {
            match leaf {
                Some(leaf) => recording.chain.push(leaf),
                None => {
                    recording.chain.pop();
                }
            }
        }
    }

    /// Remembers a field joined matching reads (the JSON string `leaf` of the current chain,
    /// its text `len` bytes long).
    pub(super) fn resume_piece(&mut self, key: Option<u128>, leaf: (Span, bool), len: usize) {
        let message = self.message;
        if let Some(recording) = self.scratch.cache.recording_mut() {
            recording.piece(message, key, leaf, len);
        }
    }

    /// Ends the body document's snapshot: what the walk produced up to its last mark joins it.
    pub(super) fn resume_end(
        &mut self,
        doc: &[u8],
        outline: &Outline,
        splices: &Splices,
        redacted: &[u32],
    ) {
        let findings = &self.findings;
        let cache = &mut self.scratch.cache;
        let Some(recording) = cache.recording_mut() else {
            return;
        };
        let snapshot = &mut recording.snapshot;
        if let Some(last) = snapshot.marks.last().copied() {
            let b = last.boundary;
            extend_to(&mut snapshot.nodes, &outline.nodes, b.nodes);
            extend_to(&mut snapshot.strings, &outline.strings, b.strings);
            extend_to(&mut snapshot.runs, &outline.runs, b.runs);
            extend_to(&mut snapshot.findings, findings, last.findings);
            extend_to(&mut snapshot.redacted, redacted, last.redacted);
            // The spliced replacements since the resumed mark, not the replays' (their text).
            let base = (recording.resumed.0.checked_sub(1))
                .and_then(|i| snapshot.marks.get(i as usize))
                .copied();
            let first = base.map_or(0, |m| m.splices);
            let replays = (snapshot.replays)
                .get(base.map_or(0, |m| m.replays)..)
                .unwrap_or_default();
            let new = splices.since(first);
            let new = new
                .get(..last.splices.saturating_sub(first))
                .unwrap_or_default();
            for (i, item) in new.iter().enumerate() {
                let at = u32::try_from(first + i).unwrap_or(u32::MAX);
                if !replays.iter().any(|r| r.splice == Some(at)) {
                    snapshot.splices.push(item.clone());
                }
            }
        }
        cache.resume_seal(doc);
    }
}

/// A replay's hits: its findings of the snapshot.
fn replay_hits(findings: &[Finding], replay: &Replay) -> Vec<Hit> {
    let range = replay.findings.0 as usize..replay.findings.1 as usize;
    (findings.get(range).unwrap_or_default().iter())
        .map(|f| Hit {
            detector: f.detector,
            span: f.span,
            origin: f.origin,
        })
        .collect()
}

/// Appends `from[to.len()..upto]` to `to`.
fn extend_to<T: Clone>(to: &mut Vec<T>, from: &[T], upto: usize) {
    if let Some(new) = from.get(to.len()..upto) {
        to.extend_from_slice(new);
    }
}
