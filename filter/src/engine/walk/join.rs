//! Matching over joined text: secrets cut across fields.
//!
//! A user who splits a key over two messages (`AKIAQ3EG` … `RTXK7VJ2WZ5P`)
//! defeats any per-field scan. Detectors that opt in with `join` also run over
//! the concatenated text of each message, or of the whole request. Only hits
//! that really span fields are reported (the per-field scan found the rest),
//! and since such a secret cannot be masked in one place, a mask or hash
//! becomes a block.
//!
//! Only windows with an edge some joining detector's finding could cross are scanned
//! ([`super::straddle`]): between fields of prose, almost none.
//!
//! A resumed request (`walk/resume.rs`) knows its first fields' window hits from its caller's
//! previous request ([`Given`]): those fields are placed by their lengths alone, without their
//! text, but the last two, which windows reaching the new fields read.

use crate::engine::scan::scanner::Hit;
use crate::engine::span::Span;
use crate::engine::verdict::fingerprint;
use crate::engine::walk::edges::EdgeMemo;
use crate::engine::walk::{Found, Via, Walk};
use crate::engine::Finding;
use crate::policy::Action;

/// Most fields one secret is looked for across.
const MAX_WINDOW: usize = 3;

/// How far from a field edge a secret cut there is looked for: longer than any joining
/// credential format (a fine-grained GitHub token, the longest, is 93 characters).
const REACH: usize = 512;

/// How far from an edge a window's text can reach: [`REACH`] into the field beyond the edge's
/// neighbour (a middle field is shorter), then at most [`REACH`] on to a word edge.
const EDGE_REACH: usize = 3 * REACH;

/// Bytes that continue a token (credential alphabets), so a window must not start or end between two.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'=' | b'.')
}

/// The text of every field of one request, in order, and which message each came from.
/// Offsets (`Piece::span`, hit spans) are in the fields' joined text; the bytes kept are those
/// of the fields pushed with their text, one after another.
#[derive(Debug, Default)]
pub(crate) struct Joined {
    text: Vec<u8>,
    pieces: Vec<Piece>,
    /// The joined text's length.
    len: usize,
    /// The hits of the windows within the first `given.pieces` fields, known already.
    given: Given,
}

/// Window hits known for a request's first fields (a resumed request's, from the snapshot).
#[derive(Debug, Default)]
pub(crate) struct Given {
    pub pieces: usize,
    pub hits: Vec<WindowHit>,
}

/// A hit of a window of joined text, in the joined text, with its fingerprint, its scope and
/// the last field of its window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowHit {
    pub hit: Hit,
    pub fingerprint: [u8; 8],
    pub per_message: bool,
    pub last_piece: u32,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    span: Span,
    message: u64,
    /// The field's cache key (its text's), if the request is cached.
    key: Option<u128>,
    /// Where its bytes start in `text`, if they were kept.
    kept: Option<usize>,
}

impl Joined {
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.pieces.clear();
        self.len = 0;
        self.given.pieces = 0;
        self.given.hits.clear();
    }

    pub(crate) fn push(&mut self, text: &[u8], message: u64, key: Option<u128>) {
        let kept = self.text.len();
        self.text.extend_from_slice(text);
        self.place(text.len(), message, key, Some(kept));
    }

    /// A field placed by its length alone: no window reads its text (its windows' hits are
    /// given).
    pub(crate) fn push_unread(&mut self, len: usize, message: u64, key: Option<u128>) {
        self.place(len, message, key, None);
    }

    fn place(&mut self, len: usize, message: u64, key: Option<u128>, kept: Option<usize>) {
        let start = self.len;
        self.len += len;
        self.pieces.push(Piece {
            span: Span::new(start, self.len),
            message,
            key,
            kept,
        });
    }

    /// The window hits known for the first fields (set while they are pushed).
    pub(crate) fn given_mut(&mut self) -> &mut Given {
        &mut self.given
    }

    /// The bytes of `span` of the joined text, if every field it touches was kept.
    fn bytes(&self, span: Span) -> Option<&[u8]> {
        if span.is_empty() {
            return Some(&[]);
        }
        let first = self.pieces.partition_point(|p| p.span.end <= span.start);
        let last = self.pieces.partition_point(|p| p.span.end < span.end);
        let pieces = self.pieces.get(first..=last)?;
        if pieces.iter().any(|p| p.kept.is_none()) {
            return None;
        }
        let p = pieces.first()?;
        let start = p.kept? + (span.start - p.span.start);
        self.text.get(start..start + span.len())
    }

    /// The kept text of the fields about the edge before field `field` (the two before it, it
    /// and the one after: every window holding the edge reads a stretch of it) and where that
    /// field starts in it; `None` unless it and the field before it were kept. Cut to
    /// [`EDGE_REACH`] either side of the edge, which every such window's text lies within (the
    /// edge test searches it for keywords: a long field's whole text is not needed).
    fn around_edge(&self, field: usize) -> Option<(&[u8], usize)> {
        let kept = |i: Option<usize>| i.and_then(|i| self.pieces.get(i)).and_then(|p| p.kept);
        let at = kept(Some(field))?;
        let before = kept(field.checked_sub(1))?;
        // Kept fields lie end to end in `text`.
        let start = kept(field.checked_sub(2)).unwrap_or(before);
        let end_of = |i: usize| {
            self.pieces
                .get(i)
                .and_then(|p| Some(p.kept? + p.span.len()))
        };
        let end = end_of(field + 1).or_else(|| end_of(field))?;
        let (start, end) = (
            start.max(at.saturating_sub(EDGE_REACH)),
            end.min(at + EDGE_REACH),
        );
        Some((self.text.get(start..end)?, at - start))
    }

    /// The text of a window from field `first` to `last` and where it starts in the joined
    /// text: REACH about the inner edges, widened to word edges (`None`: not kept).
    fn window_text(&self, first: &Piece, last: &Piece) -> Option<(usize, &[u8])> {
        let from = self.word_edge_before(
            first.span.end.saturating_sub(REACH).max(first.span.start),
            first.span.start,
        );
        let to = self.word_edge_after(
            last.span.start.saturating_add(REACH).min(last.span.end),
            last.span.end,
        );
        Some((from, self.bytes(Span::new(from, to))?))
    }

    /// `at`, or an earlier offset (not before `floor`, at most [`REACH`] back) where no
    /// token is cut, so a window's first byte is a real edge for `\b`.
    fn word_edge_before(&self, at: usize, floor: usize) -> usize {
        let floor = floor.max(at.saturating_sub(REACH));
        let Some(bytes) = self.bytes(Span::new(floor, at)) else {
            return at;
        };
        (floor..=at)
            .rev()
            .find(|&i| i == floor || !bytes.get(i - 1 - floor).copied().is_some_and(is_token_byte))
            .unwrap_or(at)
    }

    /// `at`, or a later offset (not after `ceiling`, at most [`REACH`] on) where no token is cut.
    fn word_edge_after(&self, at: usize, ceiling: usize) -> usize {
        let ceiling = ceiling.min(at.saturating_add(REACH));
        let Some(bytes) = self.bytes(Span::new(at, ceiling)) else {
            return at;
        };
        (at..=ceiling)
            .find(|&i| i == ceiling || !bytes.get(i - at).copied().is_some_and(is_token_byte))
            .unwrap_or(at)
    }

    /// How many fields `span` of the joined text touches (the pieces lie in order, end to end:
    /// two binary searches).
    fn fields_spanned(&self, span: Span) -> usize {
        let before = self.pieces.partition_point(|p| p.span.end <= span.start);
        let upto = self.pieces.partition_point(|p| p.span.start < span.end);
        // Empty fields within an empty span's place touch nothing.
        let touching = self.pieces.get(before..upto).unwrap_or_default();
        touching
            .iter()
            .filter(|p| p.span.start < span.end && span.start < p.span.end)
            .count()
    }
}

impl Walk<'_, '_> {
    /// Whether fields must be recorded for joined matching.
    pub(crate) fn joins(&self) -> bool {
        self.policy.message_join.is_some() || self.policy.request_join.is_some()
    }

    /// Runs the joining detectors over each window of consecutive fields, within each
    /// message or across the whole request. Windows (of 2 and 3 fields) keep the edges of
    /// the joined text real edges, so `\b` still holds after the last piece of a key.
    pub(crate) fn join_pass(&mut self) {
        if !self.joins() {
            return;
        }
        let joined = std::mem::take(&mut self.scratch.joined_fields);
        let mut hits: Vec<(Hit, [u8; 8])> = Vec::new();
        let mut window_hits: Vec<Found> = Vec::new();
        // The hits of the windows read now, for this request's snapshot (`cache/resume.rs`).
        let mut read: Vec<WindowHit> = Vec::new();
        let mut given_windows = 0u32;
        let mut edges = EdgeMemo::default();
        let policy = self.policy;
        let scopes = [
            (&policy.request_join, &policy.request_straddle, false),
            (&policy.message_join, &policy.message_straddle, true),
        ];
        for (scanner, straddle, per_message) in scopes {
            let Some(scanner) = scanner else { continue };
            let mut scratch = if per_message {
                self.scratch.scan_message_join.take()
            } else {
                self.scratch.scan_request_join.take()
            };
            let Some(scan_scratch) = scratch.as_mut() else {
                continue;
            };
            hits.clear();
            edges.reset(joined.pieces.len());
            let given = joined
                .given
                .hits
                .iter()
                .filter(|g| g.per_message == per_message);
            hits.extend(given.map(|g| (g.hit, g.fingerprint)));
            for width in 2..=MAX_WINDOW {
                for (first_index, window) in joined.pieces.windows(width).enumerate() {
                    let last_piece = first_index + width - 1;
                    let (Some(first), Some(last)) = (window.first(), window.last()) else {
                        continue;
                    };
                    if per_message && window.iter().any(|p| p.message != first.message) {
                        continue;
                    }
                    // A secret cut across fields lies within REACH of an inner edge; a
                    // middle field that long is the 2-field windows' business.
                    let middle_short = window
                        .get(1..width - 1)
                        .is_none_or(|inner| inner.iter().all(|p| p.span.len() < REACH));
                    if !middle_short {
                        continue;
                    }
                    if last_piece < joined.given.pieces {
                        given_windows += 1;
                        continue;
                    }
                    // A window with no cache key (a field without one) and no edge open finds
                    // nothing and remembers nothing: passed over before its text is cut out.
                    if let Some(s) = straddle.as_ref() {
                        let uncached = window.iter().any(|p| p.key.is_none());
                        let open = (first_index + 1..=last_piece)
                            .any(|field| edges.open(s, field, || joined.around_edge(field)));
                        if uncached && !open {
                            continue;
                        }
                    }
                    let Some((from, text)) = joined.window_text(first, last) else {
                        continue;
                    };
                    // A window's text is a function of its fields' texts: known fields, known hits.
                    let cache = &mut self.scratch.cache;
                    let key = cache.window_key(per_message, &mut window.iter().map(|p| p.key));
                    window_hits.clear();
                    let cached = key.is_some_and(|key| cache.lookup_window(key, &mut window_hits));
                    // A window none of whose edges a finding could cross finds only what
                    // the per-field scan found (`straddle.rs`): not scanned.
                    let crossable = straddle.as_ref().is_none_or(|s| {
                        (first_index..).zip(window).skip(1).any(|(field, p)| {
                            edges.open(s, field, || joined.around_edge(field))
                                && p.span
                                    .start
                                    .checked_sub(from)
                                    .is_some_and(|at| s.may_cross(text, at))
                        })
                    });
                    if !cached && crossable {
                        let tally = &mut self.scratch.scan.tally;
                        tally.add(
                            super::tally::Source::Joined,
                            super::tally::Pass::Plain,
                            text.len(),
                        );
                        scanner.scan(text, scan_scratch, &mut |hit| {
                            window_hits.push(Found {
                                hit,
                                fingerprint: [0; 8],
                                via: Via::Joined,
                            });
                        });
                    }
                    if let (false, Some(key)) = (cached, key) {
                        cache.remember_window(key, &window_hits);
                    }
                    for f in &window_hits {
                        let hit = Hit {
                            span: f.hit.span.shifted(from),
                            ..f.hit
                        };
                        // A hit within one field is the per-field scan's (never a joined
                        // finding): no fingerprint, and the snapshot does not keep it.
                        if joined.fields_spanned(hit.span) < 2 {
                            continue;
                        }
                        let value = f.hit.span.of(text);
                        let fingerprint = fingerprint::fingerprint(&policy.key, value);
                        hits.push((hit, fingerprint));
                        read.push(WindowHit {
                            hit,
                            fingerprint,
                            per_message,
                            last_piece: u32::try_from(last_piece).unwrap_or(u32::MAX),
                        });
                    }
                }
            }
            // Equal hits (one span and detector seen through several windows) are one finding.
            hits.sort_unstable_by_key(|(h, _)| (h.span, h.detector, h.origin));
            hits.dedup_by_key(|(h, _)| *h);
            let scope = if per_message { "message" } else { "request" };
            for &(hit, fingerprint) in &hits {
                self.joined_finding(&joined, hit, fingerprint, scope);
            }
            if per_message {
                self.scratch.scan_message_join = scratch;
            } else {
                self.scratch.scan_request_join = scratch;
            }
        }
        self.scratch.cache.resume_window_hits(&read, given_windows);
        self.scratch.joined_fields = joined;
    }

    /// Records a joined hit that spans fields (one inside a field was found by the per-field scan).
    fn joined_finding(&mut self, joined: &Joined, hit: Hit, fingerprint: [u8; 8], scope: &str) {
        let fields = joined.fields_spanned(hit.span);
        if fields < 2 {
            return;
        }
        let action = match self.policy.action(hit.detector, self.tier) {
            a if a.rewrites() => Action::Block,
            a => a,
        };
        self.findings.push(Finding {
            detector: hit.detector,
            path: format!("(joined {scope}, {fields} fields)"),
            span: hit.span,
            action,
            fingerprint,
            via: Via::Joined,
            origin: hit.origin,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::walk::keyword_gate::KeywordGate;
    use crate::engine::walk::straddle::Straddle;

    const PATTERNS: &[&str] = &[
        r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
        r"(?:^|[^\w.])(?P<secret>4\d{3}(?:[ -]?\d{4}){3})\b",
        r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
        r"key=(?:(?P<secret>[0-9]{8})|[a-z]{3})",
    ];

    /// The keyword gates of [`PATTERNS`]' detectors (the card and email ones have none).
    fn gates() -> impl Iterator<Item = Option<KeywordGate>> {
        let keywords: [&[&str]; 4] = [&["AKIA", "ASIA"], &[], &[], &["key="]];
        keywords
            .into_iter()
            .map(|k| KeywordGate::of(&k.iter().map(|k| k.to_string()).collect::<Vec<_>>()))
    }

    /// The memo's test, once per edge on all the kept text, against the test on each window's
    /// text (`join_pass`'s): an edge closed once is closed in every window holding it.
    #[test]
    fn an_edge_closed_once_is_closed_in_every_window() {
        let shape = |p: &&str| {
            regex_facts::finding_shape(&regex_facts::parse(p).unwrap_or_else(|e| panic!("{e}")))
        };
        let straddles = [
            Straddle::new(PATTERNS.iter().map(shape).map(|s| (s, None))),
            Straddle::new(PATTERNS.iter().map(shape).zip(gates())),
            Straddle::new(
                (PATTERNS.get(..2).unwrap_or_default().iter())
                    .map(shape)
                    .map(|s| (s, None)),
            ),
        ];
        let pieces = [
            "AKIA",
            "Q3EG",
            "4111",
            " ",
            "-",
            "abcd",
            "EF01",
            "x",
            "@",
            ".",
            "org",
            "key=",
            "12",
            "5",
            "Z9",
            ",",
            "é",
            "\n",
            "_",
            "see item 3 of the list",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0x0e1d_9a57_3c44_b2f1);
        let (mut closed, mut tested) = (0, 0);
        for _ in 0..1500 {
            let mut joined = Joined::default();
            for _ in 0..2 + rng.below(7) {
                let field: Vec<u8> = (0..rng.below(5))
                    .flat_map(|_| rng.pick(&pieces).bytes())
                    .collect();
                match rng.below(8) {
                    0 => joined.push_unread(field.len(), 0, None),
                    _ => joined.push(&field, 0, None),
                }
            }
            for s in &straddles {
                let mut edges = EdgeMemo::default();
                edges.reset(joined.pieces.len());
                for width in 2..=MAX_WINDOW {
                    for (first_index, window) in joined.pieces.windows(width).enumerate() {
                        let (Some(first), Some(last)) = (window.first(), window.last()) else {
                            continue;
                        };
                        let Some((from, text)) = joined.window_text(first, last) else {
                            continue;
                        };
                        for (field, p) in (first_index..).zip(window).skip(1) {
                            let crosses = s.may_cross(text, p.span.start - from);
                            let open = edges.open(s, field, || joined.around_edge(field));
                            assert!(
                                open || !crosses,
                                "{:?} before field {field}",
                                String::from_utf8_lossy(text)
                            );
                            tested += 1;
                            closed += usize::from(!open);
                        }
                    }
                }
            }
        }
        assert!(
            closed > 1000 && tested > closed + 1000,
            "{closed} of {tested} closed"
        );
    }
}
