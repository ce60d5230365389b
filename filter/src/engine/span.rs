//! The engine's one span type: where something is in a text, as a half-open byte range.
//!
//! Hits, findings, JSON strings, multipart parts, decoded and respelled runs and folded
//! text all point back into the bytes they came from with a [`Span`]. It is `Copy`, unlike
//! `Range<usize>`, so it travels by value through the stages, and it reads its bytes with
//! [`Span::of`], which makes a span that does not fit its text a loud bug in debug builds
//! rather than silently empty bytes.

use std::ops::Range;

/// Bytes `start..end` of some text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    pub const fn range(self) -> Range<usize> {
        self.start..self.end
    }

    pub const fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(self) -> bool {
        self.end <= self.start
    }

    /// This span moved `by` bytes to the right (a span of a part, placed in the whole).
    pub const fn shifted(self, by: usize) -> Span {
        Span::new(self.start.saturating_add(by), self.end.saturating_add(by))
    }

    /// The bytes of `text` under this span. Every span the engine makes fits the text it was
    /// made for; one that does not is a bug, caught in debug builds, and reads as no bytes.
    pub fn of(self, text: &[u8]) -> &[u8] {
        let bytes = text.get(self.range());
        debug_assert!(
            bytes.is_some(),
            "span {self:?} outside a text of {} bytes",
            text.len()
        );
        bytes.unwrap_or_default()
    }
}

impl From<Range<usize>> for Span {
    fn from(range: Range<usize>) -> Span {
        Span::new(range.start, range.end)
    }
}
