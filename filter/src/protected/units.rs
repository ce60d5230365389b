//! A normalized view of a text: a sequence of units, each with the original bytes it came from.
//!
//! Both views ([`text_view`](super::text_view): characters; [`code_view`](super::code_view):
//! tokens) produce this shape, so winnowing and matching do not care which view they work on.
//! Offsets are 32-bit (texts are far below 4 GiB; larger offsets saturate), which halves the map.

use crate::engine::Span;

/// Units (each a 64-bit value) and, for each, its original byte span `[start, end)`.
#[derive(Debug, Clone, Default)]
pub struct Units {
    /// The unit values; equal values mean equal normalized units.
    pub values: Vec<u64>,
    /// The original byte span of each unit; non-decreasing.
    pub spans: Vec<(u32, u32)>,
    /// Views with identifiers (code) only: per unit, a hash of the identifier's own name, or 0
    /// for a unit that is not a renameable identifier. Empty in the other views. Winnowing uses
    /// it to tell which placeholders of one k-gram stand for the same name
    /// ([`winnow`](super::winnow)), so a consistent rename keeps the k-gram's hash.
    pub names: Vec<u64>,
}

impl Units {
    /// Empties both arrays, keeping their capacity.
    pub fn clear(&mut self) {
        self.values.clear();
        self.spans.clear();
        self.names.clear();
    }

    /// Appends a unit.
    pub fn push(&mut self, value: u64, span: Span) {
        self.values.push(value);
        self.spans.push((narrow(span.start), narrow(span.end)));
    }

    /// Appends a unit of a view with identifiers: `name` is the identifier's name hash, 0 for
    /// other units. A view uses either this or [`Units::push`] for all its units.
    pub fn push_named(&mut self, value: u64, name: u64, span: Span) {
        self.names.push(name);
        self.push(value, span);
    }

    /// The number of units.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no units.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The original byte span covered by units `[first, last]` (inclusive), if they exist.
    pub fn original_span(&self, first: usize, last: usize) -> Option<Span> {
        let start = self.spans.get(first)?.0;
        let end = self.spans.get(last)?.1;
        Some(Span::new(widen(start), widen(end.max(start))))
    }
}

fn narrow(offset: usize) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

fn widen(offset: u32) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}
