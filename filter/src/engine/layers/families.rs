//! The fourth round's evasion families, behind one hook in [`super::respell::find`]: keys
//! typed in the other case ([`case_fold`]), keys regrouped or cut by changing separators
//! ([`regroup`]), numbers and letters spelled as words ([`spelled`]), card numbers and ids
//! written backwards ([`reversed_numbers`]), uuencode and ASCII85 ([`uu85`]).
//!
//! Each family has its own gate that reads about one byte in N of clean text (a probe every
//! N bytes via [`crate::engine::bytes::first_run_of`], or a `memchr` for a rare byte), so
//! the hook costs close to nothing where none of them occurs. Their runs share the
//! respelled budget ([`crate::engine::limits::MAX_RESPELLED_RUNS`], applied by the caller).

use super::profile::{self, Profile};
use super::{case_fold, regroup, reversed_numbers, spelled, uu85, Unwrapped};

/// Appends every family's runs in `text` to `out`.
#[cfg(test)]
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    find_profiled(text, Profile::everything(), out);
}

/// [`find`], skipping a family whose bytes `profile` (the text's) says are absent.
pub fn find_profiled(text: &[u8], profile: Profile, out: &mut Vec<Unwrapped>) {
    // `case_fold` reads runs around digits, and runs of capitals, digits, `-` and `_`.
    if profile.has(profile::DIGIT | profile::UPPER | profile::GLUE) {
        case_fold::find(text, out);
    }
    regroup::find(text, out);
    spelled::find(text, out);
    reversed_numbers::find(text, out);
    uu85::find(text, out);
}

/// The maximal run of `member` bytes of `text` around `at` (empty at `at` if `text[at]` is not one).
pub(super) fn run_around(
    text: &[u8],
    at: usize,
    member: impl Fn(u8) -> bool,
) -> std::ops::Range<usize> {
    let is = |i: usize| text.get(i).is_some_and(|&b| member(b));
    let mut start = at;
    while start > 0 && is(start - 1) {
        start -= 1;
    }
    let mut end = at;
    while is(end) {
        end += 1;
    }
    start..end.max(start)
}
