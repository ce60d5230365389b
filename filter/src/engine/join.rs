//! Matching over joined text: secrets cut across fields.
//!
//! A user who splits a key over two messages (`AKIAQ3EG` … `RTXK7VJ2WZ5P`)
//! defeats any per-field scan. Detectors that opt in with `join` also run over
//! the concatenated text of each message, or of the whole request. Only hits
//! that really span fields are reported (the per-field scan found the rest),
//! and since such a secret cannot be masked in one place, a mask or hash
//! becomes a block.

use super::fingerprint;
use super::scanner::Hit;
use super::walk::{Via, Walk};
use super::Finding;
use crate::policy::Action;

/// Most fields one secret is looked for across.
const MAX_WINDOW: usize = 3;

/// The text of every field of one request, in order, and which message each came from.
#[derive(Debug, Default)]
pub(crate) struct Joined {
    text: Vec<u8>,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    message: u64,
}

impl Joined {
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.pieces.clear();
    }

    pub(crate) fn push(&mut self, text: &[u8], message: u64) {
        let start = self.text.len();
        self.text.extend_from_slice(text);
        self.pieces.push(Piece {
            start,
            end: self.text.len(),
            message,
        });
    }

    /// How many fields the span `start..end` of the joined text touches.
    fn fields_spanned(&self, start: usize, end: usize) -> usize {
        self.pieces
            .iter()
            .filter(|p| p.start < end && start < p.end)
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
        let mut hits: Vec<Hit> = Vec::new();
        let policy = self.policy;
        let scopes = [(&policy.request_join, false), (&policy.message_join, true)];
        for (scanner, per_message) in scopes {
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
            for width in 2..=MAX_WINDOW {
                for window in joined.pieces.windows(width) {
                    let (Some(first), Some(last)) = (window.first(), window.last()) else {
                        continue;
                    };
                    if per_message && window.iter().any(|p| p.message != first.message) {
                        continue;
                    }
                    let Some(text) = joined.text.get(first.start..last.end) else {
                        continue;
                    };
                    scanner.scan(text, scan_scratch, &mut |hit| {
                        hits.push(Hit {
                            start: hit.start + first.start,
                            end: hit.end + first.start,
                            ..hit
                        });
                    });
                }
            }
            hits.sort_unstable_by_key(|h| (h.start, h.end, h.detector));
            hits.dedup();
            let scope = if per_message { "message" } else { "request" };
            for hit in &hits {
                self.joined_finding(&joined, *hit, scope);
            }
            if per_message {
                self.scratch.scan_message_join = scratch;
            } else {
                self.scratch.scan_request_join = scratch;
            }
        }
        self.scratch.joined_fields = joined;
    }

    /// Records a joined hit that spans fields (one inside a field was found by the per-field scan).
    fn joined_finding(&mut self, joined: &Joined, hit: Hit, scope: &str) {
        let (start, end) = (hit.start, hit.end);
        let fields = joined.fields_spanned(start, end);
        if fields < 2 {
            return;
        }
        let action = match self.policy.action(hit.detector, self.tier) {
            a if a.rewrites() => Action::Block,
            a => a,
        };
        let value = joined.text.get(start..end).unwrap_or_default();
        self.findings.push(Finding {
            detector: hit.detector,
            path: format!("(joined {scope}, {fields} fields)"),
            start,
            end,
            action,
            fingerprint: fingerprint::fingerprint(&self.policy.key, value),
            via: Via::Joined,
        });
    }
}
