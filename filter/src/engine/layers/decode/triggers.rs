//! The bytes that make a word worth a close look without a long base64 run: a `%` that starts
//! a valid `%XX`, a `\` that starts a `\uXXXX` (after any number of backslashes), and the `:`
//! of `data:`. The finder decodes nothing else a word holds: a word needs a valid `%XX` to be
//! percent-decoded, two `\u` escapes to be unescaped, and a data URL starts with `data:`.
//!
//! Every `%`, `\` and `:` was a trigger before (issue 16, seventeenth round): in code and
//! JSON most are `::`, `key: value`, `x % n` or `\"`, and each made the finder read a word
//! that held nothing, ~1 000–1 400 wasm instructions a word with the gate's search.

use super::escapes::{percent_escape, unicode_escape};

/// Whether the `%`, `\` or `:` at `at` may open an encoding the finder decodes.
fn opens_encoding(text: &[u8], at: usize) -> bool {
    match text.get(at) {
        Some(b'%') => percent_escape(text, at).is_some(),
        Some(b'\\') => unicode_escape(text, at).is_some(),
        Some(b':') => at
            .checked_sub(4)
            .and_then(|start| text.get(start..at))
            .is_some_and(|word| word.eq_ignore_ascii_case(b"data")),
        _ => false,
    }
}

/// The first trigger of `text` at or after `from` (see the module documentation).
///
/// The search for the first candidate byte is inline and the loop past a candidate that is
/// no trigger is not: most short fields hold none, and their search costs what it did when
/// every candidate byte was a trigger (a loop here cost them ~35 wasm instructions each).
#[inline(always)]
pub(in crate::engine::layers) fn next_trigger(text: &[u8], from: usize) -> Option<usize> {
    let at = from + memchr::memchr3(b'%', b'\\', b':', text.get(from..)?)?;
    match opens_encoding(text, at) {
        true => Some(at),
        false => next_trigger_past(text, at + 1),
    }
}

/// [`next_trigger`] after a candidate byte that was none.
#[inline(never)]
fn next_trigger_past(text: &[u8], from: usize) -> Option<usize> {
    let mut from = from;
    loop {
        let at = from + memchr::memchr3(b'%', b'\\', b':', text.get(from..)?)?;
        if opens_encoding(text, at) {
            return Some(at);
        }
        from = at + 1;
    }
}

/// [`opens_encoding`] for the gate's tests, which walk a text byte by byte.
#[cfg(test)]
pub(in crate::engine::layers) fn is_trigger(text: &[u8], at: usize) -> bool {
    opens_encoding(text, at)
}
