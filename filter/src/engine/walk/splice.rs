//! Masks spliced into a JSON string as written, not the whole string escaped again.
//!
//! A rewritten JSON string used to be unescaped, masked and escaped back whole: on a
//! re-sent conversation whose old fields hold findings (an email every few KiB), every
//! request re-escaped most of its old text. When the string's escapes are the ones the
//! rewrite would write back (what JSON encoders emit), the masked string is the string as
//! written with each masked span's bytes replaced, so only those spans are spliced. Where a
//! hit's edges lie in the bytes as written is a function of those bytes, so the cache keeps
//! it with the field's findings (keyed on the bytes as written, `cache::raw_key`); a new
//! field pays one read of its bytes as written to show its escapes are canonical
//! (`json::canonical_offsets`), and a field inspected without the cache is spliced too.
//!
//! The result is byte for byte the old one: the escapes are checked to be what `escape_into`
//! writes (so escaping each piece gives the piece as written) and every hit edge to fall on
//! a character boundary outside any escape (so the pieces escape independently).

use crate::engine::body::json;
use crate::engine::scan::scanner::Hit;
use crate::engine::span::Span;
use crate::engine::verdict::rewrite::{self, Splices};
use crate::engine::walk::Walk;

/// Shortest string (bytes as written) whose masks are spliced: escaping a short string again
/// costs less than the bookkeeping of splicing it.
pub(crate) const MIN_SPLICED_BYTES: usize = 256;

/// A JSON string as written: its bytes between the quotes, where they lie in the document,
/// and the document's replacements.
pub(crate) struct RawLeaf<'a> {
    pub raw: &'a [u8],
    pub span: Span,
    pub splices: &'a mut Splices,
}

impl Walk<'_, '_> {
    /// Rewrites the field `text` (the unescaped `leaf`) for `hits` (all of its hits, sorted):
    /// into `leaf.splices` when the masks can be spliced into the bytes as written (`None`
    /// returned), else the rewritten text, to be escaped whole.
    pub(super) fn splice(
        &mut self,
        text: &[u8],
        key: Option<u128>,
        hits: &[Hit],
        leaf: RawLeaf<'_>,
    ) -> Option<Vec<u8>> {
        let mut replacements: Vec<(Span, Vec<u8>)> = Vec::new();
        rewrite::for_each_replacement(
            self.policy,
            self.tier,
            text,
            hits,
            &mut self.tokens,
            &mut |span, bytes| replacements.push((span, bytes.to_vec())),
        );
        let map = self.raw_map(key, text, leaf.raw, hits);
        let at = |offset: usize| {
            let map = map.as_deref()?;
            let i = map.binary_search_by_key(&offset, |&(t, _)| t).ok()?;
            map.get(i).map(|&(_, r)| leaf.span.start + r)
        };
        let spliced: Option<Vec<(Span, Vec<u8>)>> = (replacements.iter())
            .map(|(span, bytes)| {
                let mut escaped = Vec::with_capacity(bytes.len());
                json::escape_into(bytes, &mut escaped);
                Some((Span::new(at(span.start)?, at(span.end)?), escaped))
            })
            .collect();
        if let Some(spliced) = spliced {
            for (span, bytes) in spliced {
                leaf.splices.push_raw(span, bytes);
            }
            return None;
        }
        let mut out = Vec::with_capacity(text.len() + 32);
        let mut done = 0;
        for (span, bytes) in &replacements {
            out.extend_from_slice(text.get(done..span.start).unwrap_or_default());
            out.extend_from_slice(bytes);
            done = span.end;
        }
        out.extend_from_slice(text.get(done..).unwrap_or_default());
        Some(out)
    }

    /// Where the edges of `hits` lie in `raw`, as (text offset, raw offset) pairs sorted by
    /// text offset: from the cache, else worked out (and kept there, with a `key`); `None` if
    /// the masks cannot be spliced into `raw` (its escapes are not the ones a rewrite writes).
    fn raw_map(
        &mut self,
        key: Option<u128>,
        text: &[u8],
        raw: &[u8],
        hits: &[Hit],
    ) -> Option<Vec<(usize, usize)>> {
        let cached = key.and_then(|key| self.scratch.cache.raw_map(key).map(<[_]>::to_vec));
        if let Some(map) = cached {
            self.scratch.cache.count_spliced();
            return Some(map);
        }
        let mut edges: Vec<usize> = hits
            .iter()
            .flat_map(|h| [h.span.start, h.span.end])
            .collect();
        edges.sort_unstable();
        edges.dedup();
        // An edge inside a character would cut it: escaping the pieces apart would differ.
        let inside_char = |&e: &usize| text.get(e).is_some_and(|&b| b & 0xC0 == 0x80);
        if edges.iter().any(inside_char) {
            return None;
        }
        // The escapes checked to be canonical and the edges placed in one read of `raw`.
        let mut offsets = Vec::with_capacity(edges.len());
        if !json::canonical_offsets(raw, &edges, &mut offsets) {
            return None;
        }
        let map: Vec<(usize, usize)> = edges.into_iter().zip(offsets).collect();
        if let Some(key) = key {
            self.scratch.cache.keep_raw_map(key, &map);
        }
        Some(map)
    }
}
