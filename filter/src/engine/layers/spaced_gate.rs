//! What `respell`'s spaced-out gate reads around its probes: which positions start a word pair
//! (two printable ASCII bytes in a row, which no spaced-out run holds) and which bytes are
//! blank. Read byte by byte in a short text, and in a long one from its classes
//! ([`TextClasses`]), where the gate also skips every probe outside a long stretch without
//! word pairs at once ([`SpacedGate::next_probe`]; issue 16, sixteenth round: the walked gate
//! cost ~11 wasm instructions a byte of prose, a probe every 8 bytes).

use super::class_bits::ClassBits;
use super::text_classes::TextClasses;

/// A text's word pairs and blanks, walked or classified: the same answers.
pub(super) enum SpacedGate<'t> {
    Walked(&'t [u8]),
    Classified {
        text: &'t [u8],
        classes: &'t TextClasses,
        /// The positions in a stretch of at least `stride` positions without a word pair.
        gaps: ClassBits,
        stride: usize,
    },
}

impl<'t> SpacedGate<'t> {
    /// The gate of `text` probed every `stride` bytes: its classes if it has them.
    pub(super) fn of(text: &'t [u8], classes: Option<&'t TextClasses>, stride: usize) -> Self {
        match classes {
            Some(classes) => SpacedGate::Classified {
                text,
                classes,
                gaps: classes.word_pairs.in_gaps(stride),
                stride,
            },
            None => SpacedGate::Walked(text),
        }
    }

    /// The first of the probes `probe`, `probe + stride`, ... that the gate must look at (any
    /// other is skipped by its tests). A probe `p` at or past `stride` that is no word pair and
    /// may hold a run has no pair in `p - stride..p`, or the nearest one there, `b`, has none
    /// after it up to `b + stride`: either way `p` lies in `stride` positions in a row
    /// without a pair, a gap. Each gap of at least `stride` holds a probe, so the first probe
    /// at or after the first gap position is the one. `None`: no probe from `probe` on.
    #[inline(always)]
    pub(super) fn next_probe(&self, probe: usize) -> Option<usize> {
        match self {
            SpacedGate::Walked(_) => Some(probe),
            SpacedGate::Classified { gaps, stride, .. } => {
                if probe < *stride {
                    return Some(probe);
                }
                let gap = gaps.first_from(probe)?;
                Some(probe + (gap - probe).div_ceil(*stride) * stride)
            }
        }
    }

    /// Whether bytes `at` and `at + 1` are both printable ASCII.
    #[inline(always)]
    pub(super) fn is_word_pair(&self, at: usize) -> bool {
        match self {
            SpacedGate::Walked(text) => is_plain(text, at) && is_plain(text, at + 1),
            SpacedGate::Classified { classes, .. } => classes.word_pairs.is(at),
        }
    }

    /// Whether byte `at` is ASCII whitespace (read as written: the classified gate asks
    /// only at the few probes it does not skip).
    #[inline(always)]
    pub(super) fn is_blank(&self, at: usize) -> bool {
        let (SpacedGate::Walked(text) | SpacedGate::Classified { text, .. }) = self;
        text.get(at).is_some_and(u8::is_ascii_whitespace)
    }

    /// The last word pair in `lowest..end`, if any.
    pub(super) fn last_pair(&self, lowest: usize, end: usize) -> Option<usize> {
        match self {
            SpacedGate::Walked(_) => (lowest..end).rev().find(|&at| self.is_word_pair(at)),
            SpacedGate::Classified { classes, .. } => classes
                .word_pairs
                .last_before(end)
                .filter(|&at| at >= lowest),
        }
    }

    /// The first word pair in `from..end`, if any.
    pub(super) fn first_pair(&self, from: usize, end: usize) -> Option<usize> {
        match self {
            SpacedGate::Walked(_) => (from..end).find(|&at| self.is_word_pair(at)),
            SpacedGate::Classified { classes, .. } => {
                classes.word_pairs.first_from(from).filter(|&at| at < end)
            }
        }
    }
}

fn is_plain(text: &[u8], at: usize) -> bool {
    text.get(at).is_some_and(u8::is_ascii_graphic)
}
