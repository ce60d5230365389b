//! What `respell`'s spaced-out gate reads around its probes: which positions start a word pair
//! (two printable ASCII bytes in a row, which no spaced-out run holds) and which bytes are
//! blank. A short text's pairs are read byte by byte ([`Walked`]); a long one's come from its
//! classes ([`Classified`], [`TextClasses`]), where the gate also skips at once every probe
//! outside a long stretch without word pairs ([`PairGate::next_probe`]; issue 16, sixteenth
//! round: the walked gate cost ~11 wasm instructions a byte of prose, a probe every 8 bytes).
//! Generic, so that a short text's gate compiles to the walk it was.

use super::class_bits::ClassBits;
use super::text_classes::TextClasses;

/// A text's word pairs and blanks: each implementation answers the same.
pub(super) trait PairGate {
    /// The text.
    fn text(&self) -> &[u8];

    /// Whether bytes `at` and `at + 1` are both printable ASCII.
    fn is_word_pair(&self, at: usize) -> bool;

    /// The last word pair in `lowest..end`, if any.
    fn last_pair(&self, lowest: usize, end: usize) -> Option<usize>;

    /// The first word pair in `from..end`, if any.
    fn first_pair(&self, from: usize, end: usize) -> Option<usize>;

    /// The first of the probes `probe`, `probe + stride`, ... that the gate must look at (the
    /// others are skipped by its tests); `None`: none from `probe` on.
    fn next_probe(&self, probe: usize) -> Option<usize> {
        Some(probe)
    }

    /// Whether byte `at` is ASCII whitespace (read as written: the classified gate asks only
    /// at the few probes it does not skip).
    #[inline(always)]
    fn is_blank(&self, at: usize) -> bool {
        self.text().get(at).is_some_and(u8::is_ascii_whitespace)
    }
}

/// A short text's gate: every byte read as written.
pub(super) struct Walked<'t>(pub(super) &'t [u8]);

impl PairGate for Walked<'_> {
    fn text(&self) -> &[u8] {
        self.0
    }

    #[inline(always)]
    fn is_word_pair(&self, at: usize) -> bool {
        let plain = |at: usize| self.0.get(at).is_some_and(u8::is_ascii_graphic);
        plain(at) && plain(at + 1)
    }

    fn last_pair(&self, lowest: usize, end: usize) -> Option<usize> {
        (lowest..end).rev().find(|&at| self.is_word_pair(at))
    }

    fn first_pair(&self, from: usize, end: usize) -> Option<usize> {
        (from..end).find(|&at| self.is_word_pair(at))
    }
}

/// A long text's gate, read in its classes.
pub(super) struct Classified<'t> {
    text: &'t [u8],
    classes: &'t TextClasses,
    /// The positions in a stretch of at least `stride` positions without a word pair.
    gaps: ClassBits,
    stride: usize,
}

impl<'t> Classified<'t> {
    /// The gate of `text` (whose classes are `classes`) probed every `stride` bytes.
    pub(super) fn new(text: &'t [u8], classes: &'t TextClasses, stride: usize) -> Self {
        Classified {
            text,
            classes,
            gaps: classes.word_pairs.in_gaps(stride),
            stride,
        }
    }
}

impl PairGate for Classified<'_> {
    fn text(&self) -> &[u8] {
        self.text
    }

    #[inline(always)]
    fn is_word_pair(&self, at: usize) -> bool {
        self.classes.word_pairs.is(at)
    }

    fn last_pair(&self, lowest: usize, end: usize) -> Option<usize> {
        let last = self.classes.word_pairs.last_before(end);
        last.filter(|&at| at >= lowest)
    }

    fn first_pair(&self, from: usize, end: usize) -> Option<usize> {
        let first = self.classes.word_pairs.first_from(from);
        first.filter(|&at| at < end)
    }

    /// A probe `p` at or past `stride` that is no word pair and may hold a run has no pair in
    /// `p - stride..p`, or the nearest one there, `b`, has none after it up to `b + stride`:
    /// either way `p` lies in `stride` positions in a row without a pair, a gap. Each gap of at
    /// least `stride` holds a probe, so the first probe at or after the first gap position is
    /// the one.
    #[inline(always)]
    fn next_probe(&self, probe: usize) -> Option<usize> {
        if probe < self.stride {
            return Some(probe);
        }
        let gap = self.gaps.first_from(probe)?;
        Some(probe + (gap - probe).div_ceil(self.stride) * self.stride)
    }
}
