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

use super::class_bits::ByteClass;

/// The bytes a wrapped cut is looked for from (`rejoin::wrapped`'s `memchr3`), marked in the
/// shared classes of a long text (`TextClasses`): in code and JSON they are every few bytes,
/// and a search restarted at each cost more than reading their bits.
pub(crate) const CANDIDATES: ByteClass = ByteClass::of(&byte_class_table!(|b| matches!(
    b,
    b'\n' | b'"' | b'\\'
) as u8));

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
    let last = floor + last;
    // The piece before the cut ends at `last`: long enough, or digits (which may join digits).
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
