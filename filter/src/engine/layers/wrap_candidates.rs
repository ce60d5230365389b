//! Which line breaks and quotes may start one of `rejoin`'s wrapped cuts, told from the bytes
//! next to them without going back to the token the cut would follow.
//!
//! A cut's glue runs from just after a token to the next token, and holds only glue bytes
//! (`rejoin::wrap_glue_end`). So a candidate whose nearest byte after it that is not glue is
//! not a token, or whose nearest such byte before it is neither a token nor glue while a token
//! lies within a glue's reach before that, cannot be in a cut's glue. In code and JSON most
//! candidates are of that kind (`",\n`, `": "`, `);\n`), and each cost ~600 wasm instructions
//! to fail (issue 16, seventeenth round); this test reads a few bytes.
//! A cut after a piece shorter than `rejoin`'s shortest that is not digits fails too (Python's
//! `import os\nimport json`).

use super::class_bits::{ByteClass, ClassBits};

/// The bytes a wrapped cut is looked for from (`rejoin::wrapped`'s `memchr3`), marked in the
/// shared classes of a long text (`TextClasses`): in code and JSON they are every few bytes,
/// and a search restarted at each cost more than reading their bits.
pub(crate) const CANDIDATES: ByteClass = ByteClass::of(&byte_class_table!(|b| matches!(
    b,
    b'\n' | b'"' | b'\\'
) as u8));

/// A cut's glue bytes ([`is_glue`]) and tokens (ASCII letters and digits).
const GLUE: ByteClass = ByteClass::of(&byte_class_table!(|b| is_glue(b) as u8));
const TOKENS: ByteClass = ByteClass::of(&byte_class_table!(|b| b.is_ascii_alphanumeric() as u8));

/// A text's glue and tokens marked, for [`may_cut_at`] by bit search: where candidates are a few
/// bytes apart (pretty-printed JSON, code), one pass over the text costs less than walking the
/// bytes around each.
pub(super) struct Marked {
    glue: ClassBits,
    tokens: ClassBits,
}

impl Marked {
    /// Marked if `candidates` (the text's) are dense enough to pay for it.
    pub(super) fn if_dense(text: &[u8], candidates: &ClassBits) -> Option<Marked> {
        (candidates.count() * DENSE > text.len()).then(|| {
            let [glue, tokens] = ClassBits::of_each(text, &[GLUE, TOKENS]);
            Marked { glue, tokens }
        })
    }

    /// [`may_cut_at`], read in the bits.
    pub(super) fn may_cut_at(
        &self,
        text: &[u8],
        at: usize,
        reach: usize,
        min_piece: usize,
    ) -> bool {
        // After: glue up to a token, within the glue's length.
        let next = self.glue.first_non_member_from(at);
        if !next.is_some_and(|q| q <= at + reach && self.tokens.is(q)) {
            return false;
        }
        // Before: glue back to a token, or else no token within reach before the other byte.
        let floor = at.saturating_sub(reach);
        let Some(last) = self.glue.last_non_member_before(at).filter(|&k| k >= floor) else {
            return true;
        };
        if !self.tokens.is(last) {
            return self.tokens.last_before(last).is_none_or(|t| t < floor);
        }
        piece_may_join(text, last, min_piece)
    }
}

/// Candidates per byte above which a text's glue and tokens are marked: one in `DENSE` bytes.
const DENSE: usize = 8;

/// Bits of [`KINDS`].
const TOKEN: u8 = 1;
const DIGIT: u8 = 2;

/// Each byte's kinds: one table read per byte of the piece before a cut.
static KINDS: [u8; 256] = byte_class_table!(|b| super::class_bit(b.is_ascii_alphanumeric(), TOKEN)
    | super::class_bit(b.is_ascii_digit(), DIGIT));

fn kind(text: &[u8], at: usize) -> u8 {
    text.get(at)
        .and_then(|&b| KINDS.get(usize::from(b)))
        .copied()
        .unwrap_or(0)
}

/// The bytes of a cut's glue (`rejoin::wrap_glue_end`, whose escapes `\n` and `\r\n` start
/// with the glue byte `\` and go on with a token).
const fn is_glue(b: u8) -> bool {
    matches!(
        b,
        b'\n' | b'"' | b'\'' | b' ' | b'\t' | b'\r' | b'+' | b'\\' | b'='
    )
}

/// Whether the candidate at `at` may be inside a wrapped cut's glue that follows a piece a cut
/// may join; false only when it cannot. `reach`: the longest glue, and how far back a cut's
/// start is looked for; `min_piece`: the shortest piece before a cut, unless it is digits
/// (`rejoin::wrap_may_join`).
pub(super) fn may_cut_at(text: &[u8], at: usize, reach: usize, min_piece: usize) -> bool {
    // After: glue up to a token, within the glue's length.
    let after = text.get(at..).unwrap_or_default().iter().take(reach + 1);
    let next = after.copied().find(|&b| !is_glue(b));
    if !next.is_some_and(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    // Before: glue back to a token, or else no token within reach before the other byte (the
    // cut's start is then looked for no further back than the candidate itself).
    let floor = at.saturating_sub(reach);
    let before = text.get(floor..at).unwrap_or_default();
    let Some(last) = before.iter().rposition(|&b| !is_glue(b)) else {
        return true;
    };
    if !before.get(last).is_some_and(u8::is_ascii_alphanumeric) {
        return before
            .get(..last)
            .is_some_and(|rest| !rest.iter().any(u8::is_ascii_alphanumeric));
    }
    piece_may_join(text, floor + last, min_piece)
}

/// Whether the piece ending at `last` may be joined: at least `min_piece` bytes, or digits
/// (which may join digits).
fn piece_may_join(text: &[u8], last: usize, min_piece: usize) -> bool {
    let mut digits = true;
    for back in 0..min_piece {
        let Some(i) = last.checked_sub(back) else {
            return digits;
        };
        let k = kind(text, i);
        if k & TOKEN == 0 {
            return digits;
        }
        digits &= k & DIGIT != 0;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_rng::TestRng;

    /// The test read in the bits is the test read in the bytes, at every position of texts of
    /// glue, tokens, digits and other bytes (and past their ends).
    #[test]
    fn marked_is_the_walk() {
        let mut rng = TestRng::new(0x3a11_c0de);
        let bytes = b"\n\"'\\ \t\r+=aZ09,:;()x_-\xc3\xa9";
        let (mut may, mut not) = (0, 0);
        for _ in 0..400 {
            let len = rng.below(400);
            let text: Vec<u8> = (0..len).map(|_| rng.pick(bytes)).collect();
            let [glue, tokens] = ClassBits::of_each(&text, &[GLUE, TOKENS]);
            let marked = Marked { glue, tokens };
            for at in 0..len + 3 {
                let (reach, piece) = (1 + rng.below(30), 1 + rng.below(10));
                let walked = may_cut_at(&text, at, reach, piece);
                assert_eq!(marked.may_cut_at(&text, at, reach, piece), walked, "{at}");
                may += usize::from(walked);
                not += usize::from(!walked);
            }
        }
        assert!(may > 5_000 && not > 5_000, "{may} {not}");
    }
}
