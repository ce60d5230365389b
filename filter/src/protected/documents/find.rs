//! Finding copies of indexed documents in a text.
//!
//! The text is cut into the three streams exactly as documents were (prose characters, code
//! tokens, comment words), and *every* k-gram of each is hashed and looked up, not only the ones
//! the text's own winnowing would select: near the ends of a copy the document's window reached
//! past the copy, so the document selected k-grams that the text's windows (which reach into the
//! prompt around the paste instead) would not. Looking all of them up finds every fingerprint the
//! document has inside the copy. Measured on 100 MB of crate sources: 200-character fragments
//! 0.43 → 0.70 recalled, 400 characters 0.88 → 0.95. Each k-gram found in the index is a *hit*: a document and the
//! original byte span of the k-gram. A document's hits from all streams are ordered by position
//! and cut into runs wherever the next hit starts more than two windows plus a k-gram (in its
//! stream's units) past the run's reach: inside a copy, winnowing selects one fingerprint per
//! window, so a larger gap means the copy ended. Merging the streams matters for code pasted
//! with its comments: the code and the comment words each cover part of the copy.
//!
//! A run is a finding when it has at least [`MIN_HITS`] distinct fingerprints and its extent
//! (first matched k-gram's start to the last one's end, the gaps between hits included: inside
//! a copy, the k-grams between two selections are copied too, only not selected) covers at
//! least `min_chars` characters of the text, counting a slack of `2 (w − 1)` units of
//! the run's widest-window stream: winnowing cannot attribute up to `w − 1` units at each end of
//! a copy (the first fingerprint lies somewhere in the copy's first window, the last one ends
//! somewhere in its last), so a copy of exactly `min_chars` characters is credited with them.
//! Measured: one window of slack found 13 % of 200-character fragments, two windows 43 %, with
//! the same precision; counting the extent rather than the union of the k-grams took
//! 200-character fragments from 0.68 to 0.71, precision unchanged. Requiring several fingerprints in one place is what makes a chance
//! collision of one 32-bit fingerprint harmless.
//!
//! With [`Wanted::renamed`] off, a run must also rest on evidence as written (two prose
//! fingerprints or a verified hit, [`DocumentIndex::evidence_as_written`]): blinded code alone
//! is what code in the indexed language shares with the index by chance.
//!
//! A finding reports the document, the characters its k-grams cover in the text, the share of
//! the document's fingerprints found (how much of the document was copied) and the original
//! byte span from the first to the last matched k-gram: the copied region to mask.

use super::{
    DocumentIndex, Found, DOMAIN_CODE, DOMAIN_COMMENT, DOMAIN_TEXT, VIEW_CODE, VIEW_PROSE,
};
use crate::engine::scan::fuel_probe::tag;
use crate::engine::Span;
use crate::protected::fold::{Folded, Folder};
use crate::protected::units::Units;
use crate::protected::winnow::{self, Params};
use crate::protected::{code_view, text_view};

/// The fewest distinct fingerprints of one document that make a finding, unless one of them is
/// *verified*: a code k-gram whose stored check (8 bits of the hash of its raw form, the
/// identifiers by name) matches the text's. A chance collision of a 32-bit fingerprint is
/// about 3·10⁻⁴ per lookup in a 100 MB tree, and a blinded idiom shared by two programs is
/// common; with the raw check too, the chance is 256 times lower and an idiom must also share
/// its names. So a short copy that kept its names needs one fingerprint, a renamed one two.
/// A comment k-gram (words as written) held by few documents verifies by its fingerprint's
/// next 8 bits, as a list does.
pub const MIN_HITS: usize = 2;
const _: () = assert!(MIN_HITS == 2, "`judge` tests for two distinct fingerprints");

/// The most documents that may hold a fingerprint in another raw form (a different check)
/// for a hit of it to be verified: a blinded idiom (`for (_, _) in self._._()`) is held by
/// many documents under many names, and with 8-bit checks one of them agrees by chance with
/// odds of `forms / 256` (measured: such single hits were all of the false findings the rule
/// added). Counting other *forms* rather than documents keeps a file copied into many
/// versions of a tree verifiable (measured: a limit of 4 documents cost 0.05 of recall at 200
/// characters).
const MAX_OTHER_FORMS: usize = 2;

/// The most documents a fingerprint may be held by for a hit of it to be verified: a k-gram
/// copied word for word across programs (an idiom, a common call) is held by many. 8 since
/// index format 7, whose checks cover two k-grams of names, which idioms rarely share: a file
/// kept in several versions of a tree verifies again (measured with `renamed: false`: +0.000 to
/// +0.025 recall, 551 → 552 of 5 000 same-language fields flagged; 4 before).
const MAX_VERIFIED_DOCUMENTS: usize = 8;

/// The same for a comment k-gram: its words as written are one k-gram, not two, so a phrase
/// shared across programs stays as common as it was.
const MAX_VERIFIED_COMMENT_DOCUMENTS: usize = 4;

/// The fewest indexed documents for an index to have dropped the idioms of its language as
/// common: they are dropped only when in more than 1 % of the documents and more than 8 of
/// them. Below this size, a run is measured on the text's side alone (a shared idiom of a
/// document dense in comments would otherwise be credited with the comments' characters).
const MIN_DOCUMENTS_FOR_COMMON_IDIOMS: usize = 800;

/// The fewest indexed documents for one verified hit to be a finding. The ACME example's three
/// documents keep every idiom their files use, and one k-gram of `with open(path,
/// encoding="utf-8") as f:` was a finding in synthetic chat bodies of code; below this size a
/// finding needs two fingerprints. 800 (`MIN_DOCUMENTS_FOR_COMMON_IDIOMS`) until a check
/// covered two k-grams by name (format 7); then 100, measured on crate indexes of 219 and 615
/// files: 200-character pastes +0.02 to +0.085 (as is 0.738 → 0.805 at 615 files), 400
/// characters +0.00 to +0.02, fields of crates not indexed flagged 11.3 → 12.3 % and 10.1 →
/// 10.6 %. A 75-file index of Python flagged 13 of 10 000 Rust fields with single hits allowed,
/// none without (`benches/RESULTS.md`, "Issue 12, twelfth round").
const MIN_DOCUMENTS_FOR_SINGLE_HITS: usize = 100;

/// What a documents detector reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// The shortest copy, in characters.
    pub min_chars: usize,
    /// Whether a copy may rest on blinded code alone (its identifiers renamed). Without, a
    /// finding needs evidence as written: two prose fingerprints, or a verified hit (a code
    /// k-gram and the one after it with their names, or comment words). See
    /// [`DocumentIndex::evidence_as_written`] for what it buys.
    pub renamed: bool,
}

impl Wanted {
    /// Copies of at least `min_chars` characters, renamed ones included.
    pub fn chars(min_chars: usize) -> Wanted {
        Wanted {
            min_chars,
            renamed: true,
        }
    }
}

/// A copied region of one indexed document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentMatch {
    /// The document's number (its name is [`DocumentIndex::name`]).
    pub document: u32,
    /// Characters of the text covered by the matched k-grams.
    pub matched_chars: usize,
    /// Share of the document's fingerprints present in the text, 0 to 1.
    pub fraction: f32,
    /// Original byte span of the copied region in the text.
    pub span: Span,
}

/// One fingerprint of the text found in one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Hit {
    document: u32,
    /// Original byte span of the k-gram.
    start: usize,
    end: usize,
    /// The fingerprint's top 32 bits and its stream, to count distinct fingerprints.
    fingerprint: u32,
    stream: u8,
    /// A code k-gram whose raw form (identifiers by name) checks too, or a rare comment or
    /// list k-gram: see [`MIN_HITS`].
    verified: bool,
    /// How many documents hold the fingerprint (at most 255): for [`RunMeasure`].
    holders: u8,
    /// The fingerprint's blinded shape is public (then the hit is verified, see [`push_hits`]).
    public: bool,
}

impl Hit {
    /// A hit of fingerprint `fp` over `span` in `stream`, for no document yet, not verified.
    fn new(span: Span, fp: u64, stream: usize) -> Hit {
        Hit {
            document: 0,
            start: span.start,
            end: span.end,
            fingerprint: (fp >> 32) as u32,
            stream: stream as u8,
            verified: false,
            holders: 0,
            public: false,
        }
    }
}

/// One `hit` for each of the documents `found` holding its fingerprint; `verified(check)` says
/// whether a document's stored check makes its hit verified. An entry marked public (its
/// blinded shape is common across public projects) gives a hit only when verified: its shape
/// alone is what other code shares.
fn push_hits(hits: &mut Vec<Hit>, hit: Hit, found: &Found<'_>, verified: impl Fn(u8) -> bool) {
    let holders = u8::try_from(found.len()).unwrap_or(u8::MAX);
    for (document, check) in found.iter() {
        let verified = verified(check);
        if found.public && !verified {
            continue;
        }
        hits.push(Hit {
            document,
            verified,
            holders,
            public: found.public,
            ..hit
        });
    }
}

/// Whether a code fingerprint whose holders stored `checks` could ever give a verified hit:
/// held by at most [`MAX_VERIFIED_DOCUMENTS`] documents, and in few enough forms that a
/// request's check could agree with all but [`MAX_OTHER_FORMS`] of them. A public
/// fingerprint that cannot is dropped at build time: none of its hits could count.
pub(super) fn can_verify(checks: impl Iterator<Item = u8> + Clone) -> bool {
    let holders = checks.clone().count();
    holders <= MAX_VERIFIED_DOCUMENTS
        && checks
            .clone()
            .any(|c| checks.clone().filter(|&o| o != c).count() <= MAX_OTHER_FORMS)
}

/// Per stream of one text: bytes per unit (to turn unit counts into bytes and characters).
#[derive(Debug, Clone, Copy, Default)]
struct Scale {
    params: Option<Params>,
    bytes_per_unit: f64,
}

impl Scale {
    /// Bytes past a hit's end within which the next hit continues the run.
    fn reach(&self) -> usize {
        self.params.map_or(0, |p| {
            ((2 * p.w + p.k) as f64 * self.bytes_per_unit) as usize
        })
    }

    /// The characters winnowing may leave unattributed at the two ends of a copy.
    fn slack(&self) -> usize {
        self.params.map_or(0, |p| {
            ((2 * p.w.saturating_sub(1)) as f64 * self.bytes_per_unit) as usize
        })
    }
}

/// Buffers reused across calls to [`DocumentIndex::find`]; one per VM or thread.
#[derive(Debug, Default)]
pub struct FindScratch {
    folder: Folder,
    units: Units,
    comments: Units,
    winnow: winnow::Scratch,
    hits: Vec<Hit>,
}

impl DocumentIndex {
    /// The copies of indexed documents in `text` covering at least `min_chars` characters,
    /// longest first, at most one per document.
    pub fn find(
        &self,
        text: &[u8],
        min_chars: usize,
        scratch: &mut FindScratch,
    ) -> Vec<DocumentMatch> {
        self.find_with(text, Wanted::chars(min_chars), scratch)
    }

    /// [`DocumentIndex::find`] of the copies `wanted` describes.
    pub fn find_with(
        &self,
        text: &[u8],
        wanted: Wanted,
        scratch: &mut FindScratch,
    ) -> Vec<DocumentMatch> {
        let FindScratch {
            folder,
            units,
            comments,
            winnow,
            hits,
        } = scratch;
        let folded = folder.fold(text);
        self.search(text, &folded, wanted, units, comments, winnow, hits)
    }

    /// [`DocumentIndex::find`] of `text` already folded by the caller as `folded` (one fold
    /// serves both index kinds, see `engine::scan::protected`); `scratch`'s own folder is not used.
    pub fn find_folded(
        &self,
        text: &[u8],
        folded: &Folded<'_>,
        wanted: Wanted,
        scratch: &mut FindScratch,
    ) -> Vec<DocumentMatch> {
        let FindScratch {
            units,
            comments,
            winnow,
            hits,
            ..
        } = scratch;
        self.search(text, folded, wanted, units, comments, winnow, hits)
    }

    #[allow(clippy::too_many_arguments)] // the scratch's parts, split so the folder may be lent
    fn search(
        &self,
        text: &[u8],
        folded: &Folded<'_>,
        wanted: Wanted,
        units: &mut Units,
        comments: &mut Units,
        winnow: &mut winnow::Scratch,
        hits: &mut Vec<Hit>,
    ) -> Vec<DocumentMatch> {
        let scales = self.collect_hits(folded, units, comments, winnow, hits);
        // `collect_hits` leaves the code tokens in `comments`.
        let code_units: &Units = comments;
        let mut found = Vec::new();
        for doc_hits in hits.chunk_by(|a, b| a.document == b.document) {
            let mut best: Option<DocumentMatch> = None;
            for_each_run(doc_hits, &scales, |run| {
                self.keep_best(text, wanted, run, &scales, code_units, &mut best);
            });
            found.extend(best);
        }
        tag("D:judged");
        found.sort_by(|a, b| {
            b.matched_chars
                .cmp(&a.matched_chars)
                .then(a.document.cmp(&b.document))
        });
        found
    }

    /// Every k-gram of `folded`'s streams looked up: `hits` gets one hit per (k-gram, document
    /// holding it), sorted by document and position; returns each stream's scale. Leaves the
    /// text's code tokens in `comments` (empty when the index holds no code).
    fn collect_hits(
        &self,
        folded: &Folded<'_>,
        units: &mut Units,
        comments: &mut Units,
        winnow: &mut winnow::Scratch,
        hits: &mut Vec<Hit>,
    ) -> [Scale; 3] {
        hits.clear();
        comments.clear();
        let mut scales = [Scale::default(); 3];
        let streams = [
            (DOMAIN_TEXT, self.text),
            (DOMAIN_CODE, self.code),
            (DOMAIN_COMMENT, self.comment),
        ];
        // One fold for all views.
        for (stream, (domain, params)) in streams.into_iter().enumerate() {
            // A stream the index holds no document of cannot match.
            let view = if domain == DOMAIN_TEXT {
                VIEW_PROSE
            } else {
                VIEW_CODE
            };
            if self.views & view == 0 {
                continue;
            }
            tag("D:view");
            match domain {
                DOMAIN_TEXT => text_view::units_of(folded, units),
                DOMAIN_CODE => code_view::units_of_code_regions(folded, units, comments),
                _ => std::mem::swap(units, comments),
            }
            tag("D:units");
            if let (Some(first), Some(last)) = (units.spans.first(), units.spans.last()) {
                let bytes = last.1.saturating_sub(first.0) as f64;
                if let Some(scale) = scales.get_mut(stream) {
                    *scale = Scale {
                        params: Some(params),
                        bytes_per_unit: bytes / units.len().max(1) as f64,
                    };
                }
            }
            let kgrams = winnow::all_kgrams(
                &self.key,
                domain,
                &units.values,
                &units.names,
                params,
                winnow,
            );
            let code = domain == DOMAIN_CODE;
            tag("D:hashed");
            for (first, kgram) in kgrams {
                let fp = kgram.fingerprint;
                let found = self.lookup(fp);
                if found.is_empty() {
                    continue;
                }
                let check = kgram.check();
                // An idiom's fingerprint is held by many documents in different raw forms, and
                // one of their checks agrees by chance with odds of `forms / 256`: a k-gram
                // verifies only when few documents hold it in another raw form (a file repeated
                // in many versions of a tree holds one form).
                // And an idiom copied word for word (`with open(path, encoding="utf-8") as f:`)
                // is held by many documents in one form: only a k-gram of few documents, in an
                // index large enough to have dropped the common ones, verifies.
                // A comment k-gram is words as written (nothing blinded): like a list, its
                // check is the fingerprint's next 8 bits, and it verifies when few documents
                // hold it, as for code (measured on the crate index with at most 2: 200
                // characters as is 0.805 → 0.830, CRLF 0.780 → 0.825, a third of the single-hit
                // misses were one comment k-gram; at most 4: +0.005–0.015 more, precision
                // unchanged). Prose k-grams are not verified: +0.000 at 200 characters, and one
                // more false finding in 5 000.
                let checked = if code {
                    found.len() <= MAX_VERIFIED_DOCUMENTS
                        && found.iter().filter(|&(_, c)| c != check).count() <= MAX_OTHER_FORMS
                } else {
                    domain == DOMAIN_COMMENT && found.len() <= MAX_VERIFIED_COMMENT_DOCUMENTS
                };
                let Some(Span { start, end }) = units.original_span(first, first + params.k - 1)
                else {
                    continue;
                };
                let hit = Hit::new(Span { start, end }, fp, stream);
                push_hits(hits, hit, &found, |stored| checked && stored == check);
            }
            tag("D:looked-up");
            // Lists, by their raw form: a hit held by few documents is verified (the
            // fingerprint and its next 8 bits matched the names themselves).
            for (first, fp) in winnow::all_list_kgrams(winnow) {
                let found = self.lookup(fp);
                if found.is_empty() {
                    continue;
                }
                let Some(Span { start, end }) = units.original_span(first, first + params.k - 1)
                else {
                    continue;
                };
                let rare = found.len() <= MAX_OTHER_FORMS;
                let hit = Hit::new(Span { start, end }, fp, stream);
                push_hits(hits, hit, &found, |stored| {
                    rare && stored == (fp >> 24) as u8
                });
            }
        }
        tag("D:lists");
        hits.sort_unstable();
        tag("D:sorted");
        scales
    }

    /// Judges a run and keeps it in `best` when it qualifies and covers more.
    fn keep_best(
        &self,
        text: &[u8],
        wanted: Wanted,
        run: &[Hit],
        scales: &[Scale; 3],
        code_units: &Units,
        best: &mut Option<DocumentMatch>,
    ) {
        let Some(m) = self.judge(text, wanted, run, scales, code_units) else {
            return;
        };
        if best
            .as_ref()
            .is_none_or(|b| m.matched_chars > b.matched_chars)
        {
            *best = Some(m);
        }
    }

    /// A run's finding, when it qualifies.
    fn judge(
        &self,
        text: &[u8],
        wanted: Wanted,
        run: &[Hit],
        scales: &[Scale; 3],
        code_units: &Units,
    ) -> Option<DocumentMatch> {
        // Most runs are one chance hit: dismissed before anything is counted (two distinct
        // fingerprints are `MIN_HITS`, checked at compile time below).
        let first = run.first()?;
        let several = run
            .iter()
            .any(|h| (h.fingerprint, h.stream) != (first.fingerprint, first.stream));
        // One verified fingerprint alone is a finding only in an index of more than a few
        // files (see `MIN_DOCUMENTS_FOR_SINGLE_HITS`), and only when renamed
        // copies are wanted: without them, the verified hits are all the evidence there is, and
        // a lone one is most often code shared word for word (measured, 70 MB crate index: 552
        // → 317 of 5 000 same-language fields flagged, 200-character pastes as is 0.605 →
        // 0.535, 400 characters 0.815 → 0.810).
        let single_hits = self.documents() >= MIN_DOCUMENTS_FOR_SINGLE_HITS && wanted.renamed;
        // A public shape verified is an idiom written the usual way (`fn fmt(&self, f: &mut
        // fmt::Formatter<'_>) -> fmt::Result`) as often as a copy: never a finding alone.
        let one_verified = single_hits && run.iter().any(|h| h.verified && !h.public);
        if !several && !one_verified {
            return None;
        }
        let m = self.measure(text, run, scales, code_units)?;
        let min_chars = wanted.min_chars;
        if m.copied_chars() < min_chars || m.span.start >= m.span.end {
            return None;
        }
        // Blinded code alone: only when renamed copies are wanted, and then only a run long
        // enough to be more than a shared shape.
        if !Self::evidence_as_written(&m)
            && (!wanted.renamed || !self.blinded_run_is_a_copy(&m, code_units))
        {
            return None;
        }
        // Measured on the document's side only, a copy still needs half of `min_chars` in the
        // text: a document dense in comments stands for many characters per token, and a
        // line or two of it is no copy of `min_chars` characters.
        if m.extent + m.slack_chars < min_chars && count_chars(text, 0, text.len()) < min_chars / 2
        {
            return None;
        }
        let total = self
            .doc_fingerprints
            .get(m.document as usize)
            .copied()
            .unwrap_or(0)
            .max(1);
        Some(DocumentMatch {
            document: m.document,
            matched_chars: m.chars,
            fraction: (m.distinct as f32 / total as f32).min(1.0),
            span: m.span,
        })
    }

    /// Whether a run rests on evidence as written, not on blinded code alone: two prose
    /// fingerprints, or a verified hit. [`Wanted::renamed`] off requires it (and then one
    /// verified fingerprint alone is not enough: the run needs two distinct ones).
    ///
    /// Blinded code is weak evidence against code in the indexed language: with every
    /// identifier a placeholder, such code shares stretches of shape (test scaffolding,
    /// declaration lists, `match` arms) with any large tree. Measured (`benches/RESULTS.md`,
    /// "Issue 12, eleventh round"), 5 000 fields of Rust crates not indexed against a 70 MB
    /// crate index: 61 % flagged with renamed copies wanted, 6 % without; 200-character
    /// renamed pastes are then found only when a comment or a prose part verifies.
    pub fn evidence_as_written(m: &RunMeasure) -> bool {
        m.per_stream[0] >= MIN_HITS || m.verified_distinct > 0
    }

    /// Whether a run of blinded code alone (no evidence as written) may stand for a copy: its
    /// k-grams must span at least a k-gram and a half of tokens, and two of them alone must
    /// start within two windows of each other.
    ///
    /// Inside a copy, two fingerprints lie about half a window apart, and never more than a
    /// window plus a dropped fingerprint's. Overlapping k-grams of blinded code are a shape
    /// barely longer than one k-gram (`.unwrap(); assert_eq!(_, _);`), which unrelated code in
    /// the indexed language shares with some file of any sizeable tree; two far apart are two
    /// such shapes that happened to be near each other. The slack credited either with
    /// `min_chars`. Measured with k-grams of 12 (`benches/RESULTS.md`, "Issue 12, twelfth
    /// round"), 10 000 fields each: fields of
    /// crates not indexed flagged by a 100 MB crate index 6 188 → 4 372, by a 10 MB one 3 573 →
    /// 2 004; Python modules by the other half of the standard library 1 605 → 941; for 0.00–0.05
    /// of recall at 200 characters (renamed the most) and 0.00–0.02 at 400.
    fn blinded_run_is_a_copy(&self, m: &RunMeasure, code_units: &Units) -> bool {
        let (k, w) = (self.code.k, self.code.w);
        let spanned = units_around(code_units, m.span).1;
        spanned >= k + k / 2 && (m.distinct > MIN_HITS || spanned.saturating_sub(k) <= 2 * w)
    }

    /// Why `text` is or is not a finding of `document` (for benches and tuning): its best run
    /// measured without thresholds, and how many k-gram hits the document had in all.
    pub fn explain(
        &self,
        text: &[u8],
        document: u32,
        scratch: &mut FindScratch,
    ) -> Option<RunMeasure> {
        let FindScratch {
            folder,
            units,
            comments,
            winnow,
            hits,
        } = scratch;
        let folded = folder.fold(text);
        let scales = self.collect_hits(&folded, units, comments, winnow, hits);
        hits.retain(|h| h.document == document);
        let mut best: Option<RunMeasure> = None;
        for_each_run(hits, &scales, |run| {
            if let Some(mut m) = self.measure(text, run, &scales, comments) {
                // Only explained runs count their tokens: no judged rule reads it.
                m.code_units = units_around(comments, m.span).1;
                if best
                    .as_ref()
                    .is_none_or(|b| m.copied_chars() > b.copied_chars())
                {
                    best = Some(m);
                }
            }
        });
        best
    }
}

/// Calls `run` with each run of one document's `hits` (sorted by position): hits each within
/// its stream's reach of the run so far.
fn for_each_run(hits: &[Hit], scales: &[Scale; 3], mut run: impl FnMut(&[Hit])) {
    let mut from = 0;
    let mut reach = 0usize;
    for (i, hit) in hits.iter().enumerate() {
        if i > from && hit.start > reach {
            run(hits.get(from..i).unwrap_or_default());
            from = i;
        }
        let scale = scales
            .get(usize::from(hit.stream))
            .copied()
            .unwrap_or_default();
        let this_reach = hit.end.saturating_add(scale.reach());
        reach = if i == from {
            this_reach
        } else {
            reach.max(this_reach)
        };
    }
    if let Some(rest) = hits.get(from..).filter(|r| !r.is_empty()) {
        run(rest);
    }
}

/// A run of one document's hits, measured (see [`DocumentIndex::explain`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunMeasure {
    /// The document.
    pub document: u32,
    /// Distinct fingerprints (per stream) in the run.
    pub distinct: usize,
    /// Whether some hit is verified (one is then enough).
    pub verified: bool,
    /// Characters covered by the matched k-grams.
    pub chars: usize,
    /// Characters from the first matched k-gram's start to the last one's end.
    pub extent: usize,
    /// Characters credited for the copy's ends winnowing cannot attribute.
    pub slack_chars: usize,
    /// The same length measured on the document's side: the text's units (code tokens, or
    /// prose characters without whitespace) over the run's extent plus the slack, times the
    /// document's characters per unit; or the text's side with the text's whitespace replaced
    /// by the document's (its visible characters times the document's characters per visible
    /// character), the larger. A re-indented or comment-stripped paste is shorter than the
    /// source it reproduces; this is the source's length.
    pub document_chars: usize,
    /// Original byte span from the first matched k-gram to the last.
    pub span: Span,
    /// Hits per stream (prose, code, comments).
    pub per_stream: [usize; 3],
    /// The fewest documents holding one of the run's fingerprints.
    pub fewest_holders: u8,
    /// Distinct fingerprints of the run with a verified hit.
    pub verified_distinct: usize,
    /// Distinct fingerprints of the run held by this document alone.
    pub sole_distinct: usize,
    /// Distinct fingerprints of the run whose blinded shape is public (their hits verified).
    pub public_distinct: usize,
    /// The text's code tokens inside the run's span (0 when the index holds no code); filled
    /// by [`DocumentIndex::explain`] only.
    pub code_units: usize,
}

impl RunMeasure {
    /// The characters of the document the run's copy reproduces, measured on the text's side
    /// (extent and slack) or on the document's ([`RunMeasure::document_chars`]), the larger:
    /// what `min_chars` is judged against.
    pub fn copied_chars(&self) -> usize {
        (self.extent + self.slack_chars).max(self.document_chars)
    }
}

impl DocumentIndex {
    /// Measures a run (hits of one document sorted by start): see [`RunMeasure`].
    fn measure(
        &self,
        text: &[u8],
        run: &[Hit],
        scales: &[Scale; 3],
        code_units: &Units,
    ) -> Option<RunMeasure> {
        let mut m = measure(text, run, scales)?;
        // A small index drops no idiom as common (see `MIN_DOCUMENTS_FOR_COMMON_IDIOMS`): there,
        // a shared idiom of a document dense in comments would be credited with the comments'
        // characters. The text's side alone, as before index format 5.
        if self.documents() < MIN_DOCUMENTS_FOR_COMMON_IDIOMS {
            return Some(m);
        }
        let doc = self.doc_scale(m.document);
        let single = m.distinct < MIN_HITS;
        let (units, slack) = if doc.is_code() {
            let (before, inside, after) = units_around(code_units, m.span);
            slack_units(self.code, inside, before, after, single)
        } else {
            let before = text.get(..m.span.start).map_or(0, |t| {
                visible_chars(
                    t.get(t.len().saturating_sub(4 * self.text.w)..)
                        .unwrap_or(t),
                )
            });
            let inside = text.get(m.span.range()).map_or(0, visible_chars);
            let after = text
                .get(m.span.end..)
                .map_or(0, |t| visible_chars(t.get(..4 * self.text.w).unwrap_or(t)));
            slack_units(self.text, inside, before, after, single)
        };
        m.document_chars = doc.chars(units + slack).max(self.layout_chars(text, &m));
        Some(m)
    }
}

impl DocumentIndex {
    /// The run's text-side length (extent and slack) with the text's whitespace replaced by
    /// the document's: the share of visible characters around the run, times the document's
    /// characters per visible character ([`Layout`](super::Layout)). A re-indented paste keeps
    /// every visible character of its source and loses indentation; this is its source's
    /// length. A text with more whitespace than its document measures shorter here, and the
    /// other measures stand.
    pub(super) fn layout_chars(&self, text: &[u8], m: &RunMeasure) -> usize {
        let layout = self.doc_layout(m.document);
        let from = m.span.start.saturating_sub(m.slack_chars);
        let to = m.span.end.saturating_add(m.slack_chars).min(text.len());
        let Some(around) = text.get(from..to) else {
            return 0;
        };
        let chars = count_chars(around, 0, around.len()) as u64;
        let visible = visible_chars(around) as u64;
        let length = (m.extent + m.slack_chars) as u64;
        let visible_length = (length * visible).checked_div(chars).unwrap_or(0);
        layout.chars(visible_length as usize)
    }
}

/// The units of the document's main stream inside a run and the slack credited around them:
/// `2 (w − 1)` units as on the text's side, and for one fingerprint no more than the text has
/// around it (`before`, `after`), so a short text is never taken for a longer copy.
fn slack_units(
    params: Params,
    inside: usize,
    before: usize,
    after: usize,
    single: bool,
) -> (usize, usize) {
    let slack = 2 * params.w.saturating_sub(1);
    let slack = if single {
        slack.min(before.min(slack) + after.min(slack))
    } else {
        slack
    };
    (inside, slack)
}

/// Code tokens before `span`, inside it and after it.
fn units_around(units: &Units, span: Span) -> (usize, usize, usize) {
    let first = units
        .spans
        .partition_point(|&(start, _)| (start as usize) < span.start);
    let end = units
        .spans
        .partition_point(|&(start, _)| (start as usize) < span.end);
    (
        first,
        end.saturating_sub(first),
        units.len().saturating_sub(end),
    )
}

/// Characters of `text` that are not whitespace (the prose view's units, before folding).
pub(super) fn visible_chars(text: &[u8]) -> usize {
    text.iter()
        .filter(|&&b| (b & 0xC0) != 0x80 && !b.is_ascii_whitespace())
        .count()
}

/// Measures a run (hits of one document sorted by start) on the text's side: see
/// [`RunMeasure`] ([`DocumentIndex::measure`] adds the document's side).
fn measure(text: &[u8], run: &[Hit], scales: &[Scale; 3]) -> Option<RunMeasure> {
    let document = run.first()?.document;
    // Each hit as (fingerprint, stream, not verified, held by others too): sorted, a
    // fingerprint's first entry says whether any of its hits was verified or sole.
    let mut distinct: Vec<(u32, u8, bool, bool)> = run
        .iter()
        .map(|h| (h.fingerprint, h.stream, !h.verified, h.holders != 1))
        .collect();
    distinct.sort_unstable();
    distinct.dedup_by_key(|&mut (fp, stream, _, _)| (fp, stream));
    let mut per_stream = [0usize; 3];
    for &(_, stream, _, _) in &distinct {
        if let Some(n) = per_stream.get_mut(usize::from(stream)) {
            *n += 1;
        }
    }
    // Union of the k-grams' spans (hits are sorted by start).
    let mut chars = 0usize;
    let mut current: Option<(usize, usize)> = None;
    let (mut span_start, mut span_end) = (usize::MAX, 0usize);
    let mut slack = 0usize;
    for hit in run {
        span_start = span_start.min(hit.start);
        span_end = span_end.max(hit.end);
        let scale = scales
            .get(usize::from(hit.stream))
            .copied()
            .unwrap_or_default();
        slack = slack.max(scale.slack());
        current = match current {
            Some((cs, ce)) if hit.start <= ce => Some((cs, ce.max(hit.end))),
            Some((cs, ce)) => {
                chars += count_chars(text, cs, ce);
                Some((hit.start, hit.end))
            }
            None => Some((hit.start, hit.end)),
        };
    }
    if let Some((cs, ce)) = current {
        chars += count_chars(text, cs, ce);
    }
    // The slack is in bytes per unit; scale it to characters like the covered bytes.
    let covered_bytes = text.get(span_start..span_end).map_or(0, <[u8]>::len).max(1);
    let slack_chars = slack as f64 * chars as f64 / covered_bytes as f64;
    let mut slack_chars = slack_chars as usize;
    if distinct.len() < MIN_HITS {
        // One verified k-gram: credit no more slack than the text has around it, so a short
        // text is never taken for a longer copy (with two fingerprints or more the slack
        // stays the estimate: a re-indented paste is shorter than its original).
        slack_chars = slack_chars.min(
            text_before(text, span_start, slack_chars) + text_after(text, span_end, slack_chars),
        );
    }
    // The run's extent, interior gaps included: between two hits of one document within
    // reach, the copy goes on (its other k-grams were simply not selected).
    let extent = count_chars(text, span_start, span_end);
    Some(RunMeasure {
        document,
        distinct: distinct.len(),
        verified: run.iter().any(|h| h.verified),
        chars,
        extent,
        slack_chars,
        document_chars: 0,
        span: Span::new(span_start.min(span_end), span_end),
        per_stream,
        fewest_holders: run.iter().map(|h| h.holders).min().unwrap_or(0),
        verified_distinct: distinct.iter().filter(|d| !d.2).count(),
        sole_distinct: distinct.iter().filter(|d| !d.3).count(),
        public_distinct: count_distinct(run.iter().filter(|h| h.public)),
        code_units: 0,
    })
}

/// Distinct (fingerprint, stream) pairs among `hits`.
fn count_distinct<'a>(hits: impl Iterator<Item = &'a Hit>) -> usize {
    let mut keys: Vec<(u32, u8)> = hits.map(|h| (h.fingerprint, h.stream)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len()
}

/// The characters of `text` before byte `at`, at most `most`.
fn text_before(text: &[u8], at: usize, most: usize) -> usize {
    // A character is at most 4 bytes: look no further back than that.
    count_chars(text, at.saturating_sub(most.saturating_mul(4)), at).min(most)
}

/// The characters of `text` from byte `at`, at most `most`.
fn text_after(text: &[u8], at: usize, most: usize) -> usize {
    let end = at.saturating_add(most.saturating_mul(4)).min(text.len());
    count_chars(text, at, end).min(most)
}

/// Characters (UTF-8 sequences; invalid bytes count one each) in `text[start..end]`.
fn count_chars(text: &[u8], start: usize, end: usize) -> usize {
    text.get(start..end)
        .map_or(0, |s| s.iter().filter(|&&b| (b & 0xC0) != 0x80).count())
}
