//! Finding copies of indexed documents in a text.
//!
//! The text is fingerprinted in both views exactly as documents were. Each fingerprint the index
//! holds is a *hit* (document, unit position). A document's hits are cut into runs wherever two
//! consecutive hits lie more than two windows plus a k-gram apart (inside a copy, winnowing
//! selects one fingerprint per window, so a larger gap means the copy ended). A run is a
//! finding when it has at least [`MIN_HITS`] distinct fingerprints and its k-grams cover at
//! least `min_chars` characters of the text, counting a slack of `2 (w − 1)` units: winnowing
//! cannot attribute up to `w − 1` units at each end of a copy (the first fingerprint of a copy
//! lies somewhere in its first window, the last one ends somewhere in its last), so a copy of
//! exactly `min_chars` characters is credited with them. Measured: one window of slack found
//! 13 % of 200-character fragments, two windows 43 %, with the same precision. Requiring several fingerprints in one
//! place is what makes a chance collision of one 32-bit fingerprint harmless.
//!
//! A finding reports the document, the characters its k-grams cover in the text, the share of
//! the document's fingerprints found (how much of the document was copied) and the original
//! byte span from the first to the last matched k-gram: the copied region to mask.

use super::{DocumentIndex, DOMAIN_CODE, DOMAIN_COMMENT, DOMAIN_TEXT};
use crate::protected::fold::Folder;
use crate::protected::units::Units;
use crate::protected::winnow::{self, Params};
use crate::protected::{code_view, text_view};

/// The fewest distinct fingerprints of one document that make a finding.
pub const MIN_HITS: usize = 2;

/// A copied region of one indexed document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentMatch {
    /// The document's number (its name is [`DocumentIndex::name`]).
    pub document: u32,
    /// Characters of the text covered by the matched k-grams.
    pub matched_chars: usize,
    /// Share of the document's fingerprints present in the text, 0 to 1.
    pub fraction: f32,
    /// Original byte span `[start, end)` of the copied region in the text.
    pub span: (usize, usize),
}

/// Buffers reused across calls to [`DocumentIndex::find`]; one per VM or thread.
#[derive(Debug, Default)]
pub struct FindScratch {
    folder: Folder,
    units: Units,
    comments: Units,
    winnow: winnow::Scratch,
    fps: Vec<(u64, u32)>,
    /// (document, unit position, fingerprint top bits) of every hit.
    hits: Vec<(u32, u32, u32)>,
}

impl DocumentIndex {
    /// The copies of indexed documents in `text` covering at least `min_chars` characters,
    /// longest first, at most one per document and stream (prose, code, comments).
    pub fn find(
        &self,
        text: &[u8],
        min_chars: usize,
        scratch: &mut FindScratch,
    ) -> Vec<DocumentMatch> {
        let mut found = Vec::new();
        for (domain, params) in [
            (DOMAIN_TEXT, self.text),
            (DOMAIN_CODE, self.code),
            (DOMAIN_COMMENT, self.comment),
        ] {
            match domain {
                DOMAIN_TEXT => text_view::units(&mut scratch.folder, text, &mut scratch.units),
                DOMAIN_CODE => code_view::units(
                    &mut scratch.folder,
                    text,
                    &mut scratch.units,
                    &mut scratch.comments,
                ),
                _ => std::mem::swap(&mut scratch.units, &mut scratch.comments),
            }
            scratch.fps.clear();
            winnow::fingerprints(
                &self.key,
                domain,
                &scratch.units.values,
                params,
                &mut scratch.winnow,
                &mut scratch.fps,
            );
            scratch.hits.clear();
            for &(fp, pos) in &scratch.fps {
                for &doc in self.lookup(fp) {
                    scratch.hits.push((doc, pos, (fp >> 32) as u32));
                }
            }
            scratch.hits.sort_unstable();
            self.runs(
                text,
                &scratch.units,
                params,
                min_chars,
                &scratch.hits,
                &mut found,
            );
        }
        found.sort_by(|a, b| {
            b.matched_chars
                .cmp(&a.matched_chars)
                .then(a.document.cmp(&b.document))
        });
        found
    }

    /// Cuts each document's sorted hits into runs and keeps each document's best qualifying run.
    fn runs(
        &self,
        text: &[u8],
        units: &Units,
        params: Params,
        min_chars: usize,
        hits: &[(u32, u32, u32)],
        found: &mut Vec<DocumentMatch>,
    ) {
        let gap = (2 * params.w + params.k) as u32;
        for doc_hits in hits.chunk_by(|a, b| a.0 == b.0) {
            let mut best: Option<DocumentMatch> = None;
            for run in doc_hits.chunk_by(|a, b| b.1.saturating_sub(a.1) <= gap) {
                if let Some(m) = self.judge(text, units, params, min_chars, run) {
                    if best
                        .as_ref()
                        .is_none_or(|b| m.matched_chars > b.matched_chars)
                    {
                        best = Some(m);
                    }
                }
            }
            found.extend(best);
        }
    }

    /// A run's finding, when it qualifies.
    fn judge(
        &self,
        text: &[u8],
        units: &Units,
        params: Params,
        min_chars: usize,
        run: &[(u32, u32, u32)],
    ) -> Option<DocumentMatch> {
        let &(document, _, _) = run.first()?;
        let mut distinct: Vec<u32> = run.iter().map(|h| h.2).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < MIN_HITS {
            return None;
        }
        // Union of the k-grams' original spans (hits are sorted by position, so starts ascend).
        let (mut chars, mut covered_units) = (0usize, 0usize);
        let (mut span_start, mut span_end) = (usize::MAX, 0usize);
        let mut current: Option<(usize, usize)> = None;
        let mut unit_end = 0usize;
        for &(_, pos, _) in run {
            let first = pos as usize;
            let last = first + params.k - 1;
            covered_units += (last + 1).saturating_sub(first.max(unit_end));
            unit_end = unit_end.max(last + 1);
            let Some((s, e)) = units.original_span(first, last) else {
                continue;
            };
            span_start = span_start.min(s);
            span_end = span_end.max(e);
            current = match current {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    chars += count_chars(text, cs, ce);
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((cs, ce)) = current {
            chars += count_chars(text, cs, ce);
        }
        let per_unit = chars as f64 / covered_units.max(1) as f64;
        let slack = (2 * params.w.saturating_sub(1)) as f64 * per_unit;
        let slack = slack as usize;
        if chars + slack < min_chars || span_start >= span_end {
            return None;
        }
        let total = self
            .doc_fingerprints
            .get(document as usize)
            .copied()
            .unwrap_or(0)
            .max(1);
        Some(DocumentMatch {
            document,
            matched_chars: chars,
            fraction: (distinct.len() as f32 / total as f32).min(1.0),
            span: (span_start, span_end),
        })
    }
}

/// Characters (UTF-8 sequences; invalid bytes count one each) in `text[start..end]`.
fn count_chars(text: &[u8], start: usize, end: usize) -> usize {
    text.get(start..end)
        .map_or(0, |s| s.iter().filter(|&&b| (b & 0xC0) != 0x80).count())
}
