//! Walking one request's fields, and the layers hidden inside each field's text.
//!
//! A field is scanned as written, then as folded text (fullwidth letters,
//! zero-width characters and homoglyphs undone), then each encoded run in it
//! (base64, percent-encoding, `\u` escapes, hex) is decoded and scanned the
//! same way, a few layers deep. Every hit is mapped back to a span of the
//! field as written, so a mask always lands on the bytes that carried the
//! secret, even when that means replacing a whole encoded blob.

mod edges;
mod fallback;
pub(crate) mod join;
#[cfg(test)]
mod join_cuts;
pub(crate) mod keyword_gate;
mod pieces;
mod resume;
mod splice;
pub(crate) mod straddle;
pub mod tally;

use crate::engine::body::json::{self, Outline, SyntaxError};
use crate::engine::layers::text_classes::TextClasses;
use crate::engine::layers::{ciphers, decode, respell, Unwrapped, Wrapping};
use crate::engine::limits::{LimitHits, MAX_EMBEDDED_DEPTH};
use crate::engine::relay;
use crate::engine::scan::protected::FoldedText;
use crate::engine::scan::scanner::{Hit, KeywordHint};
use crate::engine::span::Span;
use crate::engine::steps::{self, Step};
use crate::engine::verdict::fingerprint;
use crate::engine::verdict::rewrite::{self, Splices};
use crate::engine::{Finding, Scratch};
use crate::policy::{Mode, Policy, TierIndex};
use tally::{Pass, Source};

/// Top-level fields that carry what the user wrote, across the providers' shapes; only these
/// are joined (joining `"role": "user"` between two halves of a key would hide it).
const CONTENT_KEYS: &[&[u8]] = &[
    b"content",
    b"text",
    b"input",
    b"prompt",
    b"instructions",
    b"system",
    b"arguments",
    b"query",
];

use crate::engine::limits::MAX_DECODE_DEPTH;

/// How a finding's bytes were reached from the field's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Via {
    Plain,
    /// After folding confusable, fullwidth and invisible characters.
    Normalized,
    /// Inside an encoded or respelled run (the outermost wrapping is named).
    Decoded(Wrapping),
    /// Across fields, in the joined text of a message or request.
    Joined,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Plain => "plain",
            Via::Normalized => "normalized",
            Via::Decoded(wrapping) => wrapping.as_str(),
            Via::Joined => "joined",
        }
    }
}

/// A hit mapped onto the field's text, with a fingerprint of what it matched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    hit: Hit,
    fingerprint: [u8; 8],
    via: Via,
}

/// State of one inspection.
pub(crate) struct Walk<'p, 's> {
    pub policy: &'p Policy,
    pub tier: TierIndex,
    pub findings: Vec<Finding>,
    pub limits: LimitHits,
    pub scratch: &'s mut Scratch,
    /// The message the current field belongs to, for joined matching.
    pub message: u64,
    /// Top-level documents and text fields seen so far (message keys stay unique across them).
    pub documents: u64,
    /// The reversible tokens minted so far (`tokenize`).
    pub tokens: crate::response::RestoreMap,
}

/// The scratch buffer of one nesting depth, taken out of its slot: a nested document recurses
/// into the walk with the next slot's while this one is in use.
fn take_slot<T: Default>(slots: &mut [T], depth: usize) -> T {
    slots.get_mut(depth).map(std::mem::take).unwrap_or_default()
}

/// Puts a buffer taken with [`take_slot`] back, keeping its capacity for the next request.
fn put_slot<T>(slots: &mut [T], depth: usize, value: T) {
    if let Some(slot) = slots.get_mut(depth) {
        *slot = value;
    }
}

fn render_path(prefix: &str, outline: &Outline, doc: &[u8], node: u32, redacted: &[u32]) -> String {
    let mut path = String::from(prefix);
    outline.render_path(doc, node, &|n| redacted.contains(&n), &mut path);
    path
}

impl Walk<'_, '_> {
    /// Inspects a JSON document; returns its rewritten bytes if any finding rewrote something.
    pub fn json(
        &mut self,
        doc: &[u8],
        prefix: &str,
        depth: usize,
    ) -> Result<Option<Vec<u8>>, SyntaxError> {
        if depth == 0 {
            self.documents += 1;
        }
        let mut outline = take_slot(&mut self.scratch.outlines, depth);
        // The body's document: a conversation its caller sent before resumes after the items
        // it shares with it (`resume.rs`).
        let body = depth == 0 && prefix == "$" && self.documents == 1 && self.findings.is_empty();
        let resumed = body.then(|| self.resume_parse(doc, &mut outline)).flatten();
        // What a lenient upstream parser reads is walked too (see `json::Grammar`).
        let strict = resumed.map_or_else(|| outline.parse_strict(doc), Ok);
        if depth == 0 && prefix == "$" && self.documents == 1 && strict.is_ok() {
            self.scratch.body_parsed = Some((doc.as_ptr() as usize, doc.len()));
        }
        let parsed = match strict {
            // Known to fail the same way (documents one after another): not parsed again.
            Err((e, true)) => Err(e),
            Err((SyntaxError::Invalid(_), false)) => {
                outline.parse_with(doc, json::Grammar::Tolerant)
            }
            Err((e, false)) => Err(e),
            Ok(()) => Ok(()),
        };
        if let Err(SyntaxError::TooDeep(_)) = parsed {
            self.limits.json_depth += 1;
        }
        if body && parsed.is_err() {
            self.scratch.cache.resume_abandon();
        }
        let result = parsed.map(|()| self.json_strings(doc, &outline, prefix, depth, body));
        put_slot(&mut self.scratch.outlines, depth, outline);
        result
    }

    /// Walks the strings of `doc`; `body`: the body's document, whose snapshot is kept.
    fn json_strings(
        &mut self,
        doc: &[u8],
        outline: &Outline,
        prefix: &str,
        depth: usize,
        body: bool,
    ) -> Option<Vec<u8>> {
        let mut splices = Splices::default();
        let mut redacted_keys: Vec<u32> = Vec::new();
        let mut decoded = take_slot(&mut self.scratch.decoded, depth);
        let limits_before = self.limits;
        let first = match body {
            true => self.resume_restore(doc, &mut splices, &mut redacted_keys),
            false => 0,
        };
        // A key naming a credential (`"aws_secret_access_key": ...`) is context for its value:
        // the value is then scanned as `key: value` so assignment-style detectors see both.
        // (An item's end is no member's middle: none is live at a resumed item's end.)
        let mut context_key: Option<(u32, Vec<u8>)> = None;
        for (index, leaf) in outline.strings.iter().enumerate().skip(first) {
            if body {
                self.resume_mark(outline, index, &splices, &redacted_keys, &limits_before);
            }
            let Some(raw) = doc.get(leaf.raw.range()) else {
                continue;
            };
            let text = leaf.text(doc, &mut decoded);
            let before_leaf = self.findings.len();
            let path = |redacted: &[u32]| render_path(prefix, outline, doc, leaf.node, redacted);
            let embedded = !leaf.is_key && json::looks_like_json(text);
            if embedded && depth >= MAX_EMBEDDED_DEPTH {
                self.limits.embedded_depth += 1;
            }
            if embedded && depth < MAX_EMBEDDED_DEPTH {
                let nested_prefix = path(&redacted_keys);
                self.resume_chain(Some((leaf.raw, leaf.has_escapes)));
                let nested = self.json(text, &nested_prefix, depth + 1);
                self.resume_chain(None);
                if let Ok(nested) = nested {
                    if let Some(new_text) = nested {
                        let at = splices.len();
                        splices.push_json_string(leaf.raw, &new_text);
                        if body {
                            let whole = Some((at, resume::ReplayKind::Nested));
                            self.resume_replay((leaf.raw, leaf.has_escapes), before_leaf, whole);
                        }
                    }
                    continue;
                }
            }
            let context = match &context_key {
                Some((node, key)) if !leaf.is_key && *node == leaf.node => Some(key.as_slice()),
                _ => None,
            };
            // One hash pass (over the bytes as written) keys the field and its place in
            // joined matching.
            let text_key = self.scratch.cache.raw_key(raw);
            let content = depth > 0
                || outline
                    .nearest_key(doc, leaf.node)
                    .is_some_and(|k| CONTENT_KEYS.iter().any(|c| c.eq_ignore_ascii_case(k)));
            if !leaf.is_key && content && self.joins() {
                if depth == 0 {
                    // A message is the top-level element holding the field (`$.messages[3]`).
                    self.message =
                        (self.documents << 32) | u64::from(outline.ancestor_at_depth(leaf.node, 2));
                }
                self.scratch
                    .joined_fields
                    .push(text, self.message, text_key);
                self.resume_piece(text_key, (leaf.raw, leaf.has_escapes), text.len());
            }
            let before = self.findings.len();
            let splices_before = splices.len();
            // A masked number becomes a string (the mask is not a number): escaped whole.
            let leaf_raw = (!leaf.is_number).then_some(splice::RawLeaf {
                raw,
                span: leaf.raw,
                splices: &mut splices,
            });
            let rewrite = self.scan(text, context, text_key, leaf_raw, &|| path(&redacted_keys));
            if leaf.is_key {
                let scanner = &self.policy.scanner;
                context_key = self
                    .scratch
                    .cache
                    .key_arms(text_key, text, || scanner.arms_any(text))
                    .then(|| (leaf.node, text.to_vec()));
            }
            if leaf.is_key && self.findings.len() > before {
                redacted_keys.push(leaf.node);
                // The key's own findings were rendered before it was known to be secret.
                let hidden = path(&redacted_keys);
                for finding in self.findings.iter_mut().skip(before) {
                    finding.path.clone_from(&hidden);
                }
            }
            let at = splices.len();
            match &rewrite {
                Some(new_text) if leaf.is_number => {
                    splices.push_json_string_for(leaf.raw, new_text);
                }
                Some(new_text) => splices.push_json_string(leaf.raw, new_text),
                None => {}
            }
            if body {
                let kind = match leaf.is_number {
                    true => resume::ReplayKind::Number,
                    false => resume::ReplayKind::String,
                };
                let whole = rewrite.is_some().then_some((at, kind));
                let spliced = splices.since(splices_before);
                self.resume_replay((leaf.raw, leaf.has_escapes), before, whole);
                self.resume_replay_spans(leaf.raw, whole.is_none(), spliced);
            }
        }
        if body {
            let end = outline.strings.len();
            self.resume_mark(outline, end, &splices, &redacted_keys, &limits_before);
            self.resume_end(doc, outline, &splices, &redacted_keys);
        }
        put_slot(&mut self.scratch.decoded, depth, decoded);
        if !outline.runs.is_empty() {
            self.piece_runs(doc, outline, prefix, &redacted_keys);
        }
        // The body's rewrite, if its root members keep their names, is answered for by the
        // body's outline when the relay edits fields (`relay::parsed`).
        let names_kept = depth == 0
            && splices.len() > 0
            && self.scratch.body_parsed == Some((doc.as_ptr() as usize, doc.len()))
            && relay::parsed::root_names_kept(outline, splices.spans());
        let rewritten = splices.apply(doc);
        if let Some(out) = rewritten.as_ref().filter(|_| names_kept) {
            self.scratch.body_rewrite = Some((out.as_ptr() as usize, out.len()));
        }
        rewritten
    }

    /// Inspects `text` as one field; returns the rewritten text if a finding rewrote something.
    pub fn text(&mut self, text: &[u8], path: &str) -> Option<Vec<u8>> {
        let text_key = self.scratch.cache.text_key(text);
        if self.joins() {
            self.documents += 1;
            self.message = self.documents << 32;
            self.scratch
                .joined_fields
                .push(text, self.message, text_key);
        }
        self.scan(text, None, text_key, None, &|| path.to_string())
    }

    /// Scans one field (with an optional key as context) and records its findings;
    /// `text_key` is its cache key, if the request is cached (of its bytes as written, for a
    /// JSON string `leaf`, whose masks may then be spliced into those bytes: `splice`).
    fn scan(
        &mut self,
        text: &[u8],
        context: Option<&[u8]>,
        text_key: Option<u128>,
        leaf: Option<splice::RawLeaf<'_>>,
        path: &dyn Fn() -> String,
    ) -> Option<Vec<u8>> {
        let policy = self.policy;
        let mut found = std::mem::take(&mut self.scratch.found);
        found.clear();
        let keyed = leaf.as_ref().map_or(text, |l| l.raw);
        let key = self.scratch.cache.field_key(keyed, context, text_key);
        self.inspect_field(text, context, key, &mut found);
        if found.is_empty() {
            self.scratch.found = found;
            return None;
        }
        let mut hits = std::mem::take(&mut self.scratch.hits);
        hits.clear();
        hits.extend(found.iter().map(|f| f.hit));
        let rewrites = self.record(&found, &path());
        let result = match leaf {
            _ if !(rewrites && policy.mode == Mode::Enforce) => None,
            Some(leaf) if leaf.raw.len() >= splice::MIN_SPLICED_BYTES => {
                self.splice(text, key, &hits, leaf)
            }
            _ => Some(rewrite::apply_masks(
                policy,
                self.tier,
                text,
                &hits,
                &mut self.tokens,
            )),
        };
        self.scratch.hits = hits;
        self.scratch.found = found;
        result
    }

    /// Records `found` as findings at `path`, each with its action on the tier; returns whether
    /// any of those actions rewrites.
    fn record(&mut self, found: &[Found], path: &str) -> bool {
        let mut rewrites = false;
        for f in found {
            let action = self.policy.action(f.hit.detector, self.tier);
            rewrites |= action.rewrites();
            self.findings.push(Finding {
                detector: f.hit.detector,
                path: path.to_string(),
                span: f.hit.span,
                action,
                fingerprint: f.fingerprint,
                via: f.via,
                origin: f.hit.origin,
            });
        }
        rewrites
    }

    /// Records the findings in `text` as one field at `path`, rewriting nothing, without the
    /// cache or joined matching: the response path's inspection of model output.
    pub fn findings_only(&mut self, text: &[u8], path: &str) {
        let mut found = std::mem::take(&mut self.scratch.found);
        found.clear();
        self.inspect_field(text, None, None, &mut found);
        self.record(&found, path);
        self.scratch.found = found;
    }

    /// A field's hits (sorted, one per span and detector) and the limits its layers reach:
    /// from the cache when the field was inspected before, else collected and remembered.
    fn inspect_field(
        &mut self,
        text: &[u8],
        context: Option<&[u8]>,
        key: Option<u128>,
        found: &mut Vec<Found>,
    ) {
        if let Some(key) = key {
            if self.scratch.cache.lookup(key, found, &mut self.limits) {
                return;
            }
        }
        let before = self.limits;
        self.collect(text, context, Source::Field, 0, found);
        // Plain hits sort before folded or decoded ones at the same span, so duplicates keep the plain one.
        // Among hits alike in all three (one run's hits all take the run's span), the least
        // fingerprint is kept, so the survivor does not depend on the order hits came in.
        found.sort_unstable_by_key(|f| (f.hit.span, f.hit.detector, f.via, f.fingerprint));
        found.dedup_by_key(|f| (f.hit.span, f.hit.detector));
        fallback::drop_covered(found, self.policy, |f| f.hit);
        if let Some(key) = key {
            let reached = self.limits.since(&before);
            self.scratch.cache.remember(key, found, reached);
        }
    }

    /// Every hit in `text` and the layers inside it, mapped to spans of `text`.
    fn collect(
        &mut self,
        text: &[u8],
        context: Option<&[u8]>,
        source: Source,
        depth: usize,
        out: &mut Vec<Found>,
    ) {
        let policy = self.policy;
        let keyed_len = context.map_or(0, |k| k.len() + 2);
        (self.scratch.scan.tally).add(source, Pass::Plain, keyed_len + text.len());
        let key = &policy.key;
        let mut plain = |hit: Hit| {
            let value = hit.span.of(text);
            out.push(Found {
                hit,
                fingerprint: fingerprint::fingerprint(key, value),
                via: Via::Plain,
            });
        };
        // Folded before the plain scan, so the protected-index searches read this fold
        // rather than make their own. Taken, not borrowed: decoded segments below recurse into
        // `collect` with their own.
        let mut folded = std::mem::take(&mut self.scratch.folded);
        steps::count(Step::Fold, text.len());
        let changed = policy.folder.fold(text, &mut folded);
        match context {
            None => policy.scanner.scan_folded(
                text,
                Some(FoldedText {
                    folded: &folded,
                    changed,
                }),
                &mut self.scratch.scan,
                &mut plain,
            ),
            Some(key_text) => {
                let mut keyed = std::mem::take(&mut self.scratch.keyed_value);
                keyed.clear();
                keyed.extend_from_slice(key_text);
                keyed.extend_from_slice(b": ");
                let skip = keyed.len();
                keyed.extend_from_slice(text);
                policy
                    .scanner
                    .scan(&keyed, &mut self.scratch.scan, &mut |hit| {
                        // Findings in the key alone belong to the key's own scan.
                        if hit.span.end > skip {
                            plain(Hit {
                                span: Span::new(
                                    hit.span.start.max(skip) - skip,
                                    hit.span.end - skip,
                                ),
                                ..hit
                            });
                        }
                    });
                self.scratch.keyed_value = keyed;
            }
        }

        // Enciphered keywords the plain scan met, as offsets into `text` (none in clean text:
        // nothing allocated).
        let offset = context.map_or(0, |k| k.len() + 2);
        let hints: Vec<_> = (self.scratch.scan.hints().iter())
            .filter(|h| h.start >= offset)
            .map(|h| KeywordHint {
                start: h.start - offset,
                end: h.end - offset,
                ..*h
            })
            .collect();

        if changed {
            let folded_text = folded.text();
            (self.scratch.scan.tally).add(source, Pass::Folded, folded_text.len());
            policy
                .scanner
                .scan_patterns(folded_text, &mut self.scratch.scan, &mut |hit| {
                    let value = hit.span.of(folded_text);
                    out.push(Found {
                        hit: Hit {
                            span: folded.original_span(hit.span),
                            ..hit
                        },
                        fingerprint: fingerprint::fingerprint(key, value),
                        via: Via::Normalized,
                    });
                });
        }
        self.scratch.folded = folded;

        // A long text's classes, marked once for the respelled layers and the decoder's gate
        // (boxed: a short field's `None` is a word to move, not the classes' size).
        let classes = TextClasses::boxed(text);
        if depth < MAX_DECODE_DEPTH {
            let mut respelled = Vec::new();
            respell::find_classified(text, classes.as_deref(), &mut respelled);
            self.unwrapped(respelled, depth, out);
        }
        if depth == 0 && !hints.is_empty() {
            self.deciphered(text, &hints, out);
        }
        let mut segments = Vec::new();
        steps::count(Step::Decode, text.len());
        let limits = decode::Limits::default();
        let stats = decode::find_segments_in(text, classes.as_deref(), &limits, &mut segments);
        drop(classes);
        self.limits.decode_size += u32::try_from(stats.over_budget).unwrap_or(u32::MAX);
        self.limits.binary += u32::try_from(stats.binary).unwrap_or(u32::MAX);
        self.limits.segments += u32::from(stats.truncated);
        if depth >= MAX_DECODE_DEPTH {
            self.limits.decode_depth += u32::from(!segments.is_empty());
            return;
        }
        self.unwrapped(segments, depth, out);
    }

    /// Hits in the text around enciphered keywords, read deciphered (`layers::ciphers`), that
    /// the other layers did not find: not the same value, and no finding of the same detector
    /// as written inside the run (an id as written, rotated, can read as another valid id). A field as written only, and the patterns only (no
    /// further layers): an enciphered keyword also occurs by chance in ordinary text, and the
    /// ciphers undo themselves, so reading a deciphered run again would give back the field's
    /// own findings with the whole run as their span.
    fn deciphered(&mut self, text: &[u8], hints: &[KeywordHint], out: &mut Vec<Found>) {
        let policy = self.policy;
        let mut runs = Vec::new();
        steps::count(Step::Ciphers, text.len());
        ciphers::find(text, hints, &mut runs);
        let before = out.len();
        for run in &runs {
            (self.scratch.scan.tally).add(Source::Deciphered, Pass::Plain, run.text.len());
            policy
                .scanner
                .scan(&run.text, &mut self.scratch.scan, &mut |hit| {
                    out.push(Found {
                        hit: Hit {
                            span: run.span,
                            ..hit
                        },
                        fingerprint: fingerprint::fingerprint(&policy.key, hit.span.of(&run.text)),
                        via: Via::Decoded(run.wrapping),
                    });
                });
        }
        let mut i = before;
        while let Some(f) = out.get(i) {
            // Earlier findings, deciphered ones of other runs included (a named cipher's
            // readings overlap each other and ROT13's).
            let seen = out.get(..i).unwrap_or_default().iter().any(|s| {
                s.hit.detector == f.hit.detector
                    && (s.fingerprint == f.fingerprint
                        || (f.hit.span.start <= s.hit.span.start
                            && s.hit.span.end <= f.hit.span.end))
            });
            if seen {
                out.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Hits inside each decoded or respelled run, mapped to the run: the whole run carries the
    /// secret, so the finding (and any mask) covers it.
    fn unwrapped(&mut self, runs: Vec<Unwrapped>, depth: usize, out: &mut Vec<Found>) {
        for run in runs {
            let mut inner = Vec::new();
            self.collect(
                &run.text,
                None,
                Source::Run(run.wrapping),
                depth + 1,
                &mut inner,
            );
            out.extend(inner.into_iter().map(|f| Found {
                hit: Hit {
                    span: run.span,
                    ..f.hit
                },
                fingerprint: f.fingerprint,
                via: Via::Decoded(run.wrapping),
            }));
        }
    }
}
