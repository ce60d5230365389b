//! Response inspection: model output checked by the same policy's detectors
//! (`inspect_responses` on a tier).
//!
//! What is inspected is model output only: content text, reasoning, refusals and tool-call
//! arguments (the strings named in [`OUTPUT_KEYS`], and every string inside a tool call's
//! `input` / `args` object), in JSON responses and in the deltas of SSE streams. Ids, model
//! names, roles and finish reasons are not: a detector for high-entropy strings would flag
//! every `chatcmpl-...` id.
//!
//! A finding counts when its detector's action on the tier is not `allow` (what the policy
//! would not send to this destination unprotected, it does not take back from it unseen).
//! The tier's response action is `monitor` (counted and audited) or `mask` (also replaced by
//! the detector's mask, as in requests). The policy's `mode: monitor` makes `mask` monitor.
//!
//! Order: inspection runs on the text as the model wrote it, *before* the request's tokens
//! are restored. So an original the client sent (tokenized, then restored) is never masked
//! back at the client, while a secret the model produced on its own (from a relay, a tool
//! result, its training data) is. A mask contains no token, so restoring leaves it alone.
//!
//! Streams: a secret can be cut across deltas. A channel holds back the last
//! [`OUTPUT_HOLD_BYTES`] of its text (and never cuts inside a finding), so a secret up to that
//! long is always seen whole; it is scanned again each time [`OUTPUT_SCAN_STEP`] more bytes
//! have come. The trade-off: the client sees a streamed channel's text up to
//! `OUTPUT_HOLD_BYTES + OUTPUT_SCAN_STEP` bytes late (until the channel ends, when the rest
//! goes out at once). A finding
//! still growing past [`MAX_OUTPUT_TAIL`] is cut: its first part is masked on its own.

use crate::engine::body::json::{Outline, PathStep};
use crate::engine::{Finding, Scratch, Via};
use crate::policy::{Action, Mode, Policy, TierIndex};

/// The tail of a streamed channel's text held back so a secret cut across deltas is seen
/// whole: longer than every credential format the default policy knows (a JWT may be longer;
/// see the module doc).
pub const OUTPUT_HOLD_BYTES: usize = 256;

/// New text a streamed channel gathers past its held tail before it is scanned again: a scan
/// per delta would rescan the whole tail for every one-character delta.
pub const OUTPUT_SCAN_STEP: usize = 64;

/// The most a channel holds back while a finding runs across the cut.
pub const MAX_OUTPUT_TAIL: usize = 4096;

/// Distinct findings remembered per response for its audit line and stats.
const MAX_REPORTED: usize = 64;

/// Keys whose string value is model output.
const OUTPUT_KEYS: &[&[u8]] = &[
    b"content",
    b"text",
    b"arguments",
    b"partial_json",
    b"thinking",
    b"refusal",
    b"reasoning_content",
    b"reasoning",
    b"delta",
    b"summary",
];

/// Keys whose object is a tool call's arguments: every string below is model output.
const TOOL_INPUT_KEYS: &[&[u8]] = &[b"input", b"args"];

/// A finding in a response, as it is counted and audited (never the matched bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFinding {
    pub detector: crate::engine::scan::scanner::DetectorIndex,
    pub fingerprint: [u8; 8],
    pub via: Via,
}

/// One response's inspection, kept from its headers to its end.
#[derive(Debug)]
pub struct OutputInspection {
    pub tier: TierIndex,
    /// `Monitor` or `Mask`.
    pub action: Action,
    /// Distinct findings (by detector and fingerprint), at most [`MAX_REPORTED`].
    pub findings: Vec<OutputFinding>,
    /// Findings replaced by a mask (each time one went out, so a repeat counts again).
    pub masked: usize,
    /// Findings seen (each time), masked or not.
    pub seen: usize,
    found: Vec<Finding>,
}

impl OutputInspection {
    /// The inspection of a response from `tier`, if the tier inspects its responses.
    pub fn for_tier(policy: &Policy, tier: TierIndex) -> Option<OutputInspection> {
        let action = policy.tiers.get(usize::from(tier))?.inspect_responses?;
        let action = match (policy.mode, action) {
            (Mode::Monitor, _) => Action::Monitor,
            (Mode::Enforce, a) => a,
        };
        Some(OutputInspection {
            tier,
            action,
            findings: Vec::new(),
            masked: 0,
            seen: 0,
            found: Vec::new(),
        })
    }

    /// Whether this inspection rewrites what it finds.
    pub fn masks(&self) -> bool {
        self.action == Action::Mask
    }
}

/// What one callback lends the inspection: the policy and the VM's scratch.
pub struct Inspector<'a> {
    pub policy: &'a Policy,
    pub scratch: &'a mut Scratch,
    pub state: &'a mut OutputInspection,
}

impl Inspector<'_> {
    /// Appends `text` to `out` with what the policy forbids masked (or only recorded); with
    /// `may_hold`, keeps back a tail (see the module doc) and returns where it starts: the
    /// bytes from there are not appended, and are inspected again with what follows.
    pub fn pass(&mut self, text: &[u8], may_hold: bool, out: &mut Vec<u8>) -> usize {
        let mut found = std::mem::take(&mut self.state.found);
        found.clear();
        self.policy
            .findings_in_output(self.state.tier, text, self.scratch, &mut found);
        found.retain(|f| f.action > Action::Allow);
        found.sort_unstable_by_key(|f| (f.span.start, f.span.end));
        let cut = if may_hold {
            hold_from(text, &found)
        } else {
            text.len()
        };
        let masks = self.state.masks();
        let mut at = 0;
        for f in found.iter().filter(|f| f.span.start < cut) {
            let end = f.span.end.min(cut);
            self.record(f);
            if !masks {
                continue;
            }
            if f.span.start >= at {
                out.extend_from_slice(text.get(at..f.span.start).unwrap_or_default());
                let mask = self.policy.detector(f.detector).map(|d| d.mask.as_str());
                out.extend_from_slice(mask.unwrap_or("[REDACTED]").as_bytes());
                self.state.masked += 1;
            }
            at = at.max(end);
        }
        out.extend_from_slice(text.get(at..cut).unwrap_or_default());
        self.state.found = found;
        cut
    }

    fn record(&mut self, f: &Finding) {
        self.state.seen += 1;
        let finding = OutputFinding {
            detector: f.detector,
            fingerprint: f.fingerprint,
            via: f.via,
        };
        let known = self
            .state
            .findings
            .iter()
            .any(|k| k.detector == finding.detector && k.fingerprint == finding.fingerprint);
        if !known && self.state.findings.len() < MAX_REPORTED {
            self.state.findings.push(finding);
        }
    }
}

/// Where the held-back tail of `text` starts: [`OUTPUT_HOLD_BYTES`] from its end, earlier if a
/// finding runs across that point (up to [`MAX_OUTPUT_TAIL`]), on a UTF-8 character boundary.
fn hold_from(text: &[u8], found: &[Finding]) -> usize {
    let plain = text.len().saturating_sub(OUTPUT_HOLD_BYTES);
    let mut cut = plain;
    loop {
        let across = found
            .iter()
            .filter(|f| f.span.start < cut && f.span.end > cut)
            .map(|f| f.span.start)
            .min();
        match across {
            Some(start) => cut = start,
            None => break,
        }
    }
    if text.len() - cut > MAX_OUTPUT_TAIL {
        cut = plain;
    }
    while cut > 0 && text.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
        cut -= 1;
    }
    cut
}

/// Whether the value string at `node` of `doc` is model output (see the module doc).
pub fn is_output(doc: &[u8], outline: &Outline, node: u32) -> bool {
    if outline
        .nearest_key(doc, node)
        .is_some_and(|k| OUTPUT_KEYS.contains(&k))
    {
        return true;
    }
    let mut current = node;
    for _ in 0..=crate::engine::limits::MAX_JSON_DEPTH + 1 {
        let Some(n) = outline.nodes.get(current as usize) else {
            return false;
        };
        match n.step {
            PathStep::Root => return false,
            PathStep::Key(raw) => {
                if doc
                    .get(raw.range())
                    .is_some_and(|k| TOOL_INPUT_KEYS.contains(&k))
                {
                    return true;
                }
            }
            PathStep::Index(_) => {}
        }
        current = n.parent;
    }
    false
}

#[cfg(test)]
#[path = "inspect_tests.rs"]
mod tests;
