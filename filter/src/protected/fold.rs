//! The one door to the engine's Unicode folding, for fingerprinting.
//!
//! Protected text and request text must be folded identically, and identically to what the
//! scanner sees, so fullwidth letters, homoglyphs and invisible characters do not hide a copy.
//! The engine's [`Folder`](crate::engine::layers::fold::Folder) does that; this wrapper is
//! the only place this module names an engine path, so moving the engine's files touches one line.
//! The trade-off: folding allocates a map of the folded bytes back to the original ones, so it is
//! only run when the text is not plain ASCII (the normalizer's own fast path). A text the engine
//! has folded already is read through [`Folded::of_engine`] rather than folded again: for text
//! that is not ASCII (CJK, say) the fold costs as much as a whole index search.

use crate::engine::layers::fold::{Folded as EngineFolded, Folder as EngineFolder};
use crate::engine::Span;

/// Folds text like the scanner does and maps folded offsets back to the original.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    normalizer: EngineFolder,
    folded: EngineFolded,
}

/// The folded form of one text: either the text itself or a folded copy with a map.
pub struct Folded<'a> {
    folded: &'a EngineFolded,
    original: &'a [u8],
    changed: bool,
}

impl Folder {
    /// A folder with the engine's tables built.
    pub fn new() -> Folder {
        Folder::default()
    }

    /// Folds `text`; the result borrows this folder's buffer until dropped.
    pub fn fold<'a>(&'a mut self, text: &'a [u8]) -> Folded<'a> {
        let changed = self.normalizer.fold(text, &mut self.folded);
        Folded::of_engine(text, &self.folded, changed)
    }
}

impl<'a> Folded<'a> {
    /// `original` as the engine's folder left it in `folded`, `changed` being what its
    /// `fold` returned: the same view [`Folder::fold`] gives, without folding again.
    pub fn of_engine(original: &'a [u8], folded: &'a EngineFolded, changed: bool) -> Folded<'a> {
        Folded {
            folded,
            original,
            changed,
        }
    }

    /// The folded bytes (the original ones when folding changed nothing).
    pub fn text(&self) -> &[u8] {
        if self.changed {
            self.folded.text()
        } else {
            self.original
        }
    }

    /// The original byte span that folded bytes `[start, end)` came from.
    pub fn original_span(&self, start: usize, end: usize) -> Span {
        if self.changed {
            self.folded.original_span(Span::new(start, end))
        } else {
            Span::new(start.min(self.original.len()), end.min(self.original.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fullwidth_folds_and_maps_back() {
        let mut folder = Folder::new();
        let text = "x ＡＢＣ y".as_bytes();
        let folded = folder.fold(text);
        assert_eq!(folded.text(), b"x ABC y");
        let span = folded.original_span(2, 5);
        assert_eq!(std::str::from_utf8(&text[span.range()]).unwrap(), "ＡＢＣ");
    }

    #[test]
    fn ascii_is_identity() {
        let mut folder = Folder::new();
        let folded = folder.fold(b"plain text");
        assert_eq!(folded.text(), b"plain text");
        assert_eq!(folded.original_span(6, 10), Span::new(6, 10));
    }
}
