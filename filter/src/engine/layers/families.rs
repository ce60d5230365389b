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
use super::text_classes::TextClasses;
use super::{case_fold, regroup, reversed_numbers, spelled, uu85, Unwrapped};

/// Appends every family's runs in `text` to `out`.
#[cfg(test)]
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    find_profiled(text, Profile::everything(), None, out);
}

/// [`find`], skipping a family whose bytes `profile` (the text's) says are absent, and reading
/// a long text's `classes` where a family probes.
pub fn find_profiled(
    text: &[u8],
    profile: Profile,
    classes: Option<&TextClasses>,
    out: &mut Vec<Unwrapped>,
) {
    // `case_fold` reads runs around digits, and runs of capitals, digits, `-` and `_`.
    if profile.has(profile::DIGIT | profile::UPPER | profile::GLUE) {
        match classes {
            Some(c) => case_fold::find_in_classes(text, &c.lower_or_digit, &c.upper_key, out),
            None => case_fold::find(text, out),
        }
    }
    // A chain is at least `regroup::MIN_RUN` run bytes, and joins capitals or digits.
    if text.len() >= regroup::MIN_RUN && profile.has(profile::DIGIT | profile::UPPER) {
        match classes {
            Some(c) => regroup::find_in_classes(text, &c.run_bytes, out),
            None => regroup::find(text, out),
        }
    }
    spelled::find_classified(text, classes, out);
    // A reversed number is a run of at least `reversed_numbers::MIN_DIGITS` digits.
    if text.len() >= reversed_numbers::MIN_DIGITS && profile.has(profile::DIGIT) {
        reversed_numbers::find(text, out);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::layers::Wrapping;
    use crate::engine::test_rng::TestRng;

    /// What the gated families report.
    const WRAPPINGS: [Wrapping; 3] = [Wrapping::Rejoined, Wrapping::Reversed, Wrapping::Uuencode];

    /// Every family called, as its own gate decides (no length or profile gate here).
    fn every_family(text: &[u8], out: &mut Vec<Unwrapped>) {
        case_fold::find(text, out);
        regroup::find(text, out);
        spelled::find(text, out);
        reversed_numbers::find(text, out);
        uu85::find(text, out);
    }

    /// Short texts around the gates' lengths (`regroup`'s 14 run bytes, `reversed_numbers`'
    /// 13 digits, `uu85`'s 13-byte lines), made of the runs they look for, cut short or not:
    /// the profiled hook finds exactly what every family finds, and the gates do skip. `AB1 CD2
    /// EF3 G4` is a chain exactly `regroup::MIN_RUN` long. (A 13-digit number is not one for
    /// `reversed_numbers`: an odd count reads the same to Luhn both ways.)
    #[test]
    fn gated_families_find_what_ungated_ones_find() {
        let mut rng = TestRng::new(0x51a7_e0f5_4e1d_0c3b);
        let pieces: [&[u8]; 25] = [
            b"7",
            b"1",
            b"0",
            b"B",
            b"Q",
            b"a",
            b"x",
            b" ",
            b"-",
            b".",
            b"_",
            b":",
            b"/",
            b"AKIA R7UZ 3WQ4 XK2M",
            b"AB1 CD2 EF3 G4",
            b"A-K.I_A R/7",
            b"4.9-1_6",
            b"1111111111111114",
            b"0015015015015015",
            b"(<&%S<W=O<F0 ",
            b")=&]P<V5C<F5T",
            b"<~87cURD]i,\"Ebo80~>",
            b"word",
            b"pending",
            b"\xc3\xa9",
        ];
        let mut boundary = Vec::new();
        regroup::find(b"AB1 CD2 EF3 G4", &mut boundary);
        assert_eq!(boundary.len(), 1);
        let (mut skipped, mut found) = (0, [0; 3]);
        for _ in 0..40_000 {
            // Near a boundary most of the time, anywhere up to 64 bytes otherwise.
            let len = match rng.below(3) {
                0 => rng.below(65),
                _ => 10 + rng.below(7),
            };
            let mut text = Vec::new();
            while text.len() < len {
                text.extend_from_slice(rng.pick(&pieces));
            }
            if rng.below(2) == 0 {
                text.truncate(len);
            }
            let profile = Profile::of(&text);
            let (mut gated, mut every) = (Vec::new(), Vec::new());
            find_profiled(&text, profile, TextClasses::of(&text).as_ref(), &mut gated);
            every_family(&text, &mut every);
            assert_eq!(gated, every, "{}", String::from_utf8_lossy(&text));
            let regroup_gate =
                text.len() >= regroup::MIN_RUN && profile.has(profile::DIGIT | profile::UPPER);
            let reversed_gate =
                text.len() >= reversed_numbers::MIN_DIGITS && profile.has(profile::DIGIT);
            skipped += usize::from(!regroup_gate) + usize::from(!reversed_gate);
            for (count, wrapping) in found.iter_mut().zip(WRAPPINGS) {
                *count += every.iter().filter(|u| u.wrapping == wrapping).count();
            }
        }
        assert!(skipped > 10_000, "{skipped}");
        assert!(found.iter().all(|&n| n > 100), "{found:?}");
    }
}
