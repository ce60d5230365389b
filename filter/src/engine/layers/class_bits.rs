//! Which bytes of a long field are of one class, marked in one pass, 64 to a word, so that a
//! layer looking for long runs of the class (`case_fold`'s keys typed in one case, `regroup`'s
//! runs of capitals, digits and separators) finds them with bit operations instead of probing
//! and walking the field byte by byte (issue 16, fourteenth round: those walks cost 30–45 wasm
//! instructions per byte of log lines, whose timestamps and ids are many short runs).
//!
//! The class is a nibble table (two 16-entry tables, a byte is in the class when the entries
//! of its low and its high nibble share a bit), so that wasm's `simd128` classifies 16 bytes
//! with two swizzles; the portable path reads the same two tables per byte, so both give the
//! same bits. [`ClassBits::first_run`] is exactly [`crate::engine::bytes::first_run_of`] to the
//! end of the text (the tests compare them).

use crate::engine::bytes::first_run_of;
use std::borrow::Cow;

/// A set of bytes as two nibble tables: `b` is a member when `low[b & 15] & high[b >> 4] != 0`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByteClass {
    low: [u8; 16],
    high: [u8; 16],
}

impl ByteClass {
    /// The class of the bytes `member` marks. At most eight distinct sets of low nibbles may
    /// occur among the high nibbles (each takes one bit); built in a `const`, so a class that
    /// needs more fails the build.
    // Evaluated at compile time: an index out of bounds would fail the build, not a request.
    #[allow(clippy::indexing_slicing)]
    /// `member`: a [`byte_class_table!`] whose entry is not 0 for a member.
    pub(crate) const fn of(member: &[u8; 256]) -> ByteClass {
        let mut low = [0u8; 16];
        let mut high = [0u8; 16];
        // The distinct low-nibble sets (bit `l` of a `u16`: low nibble `l` is a member).
        let mut sets = [0u16; 8];
        let mut used = 0;
        let mut h = 0;
        while h < 16 {
            let mut set = 0u16;
            let mut l = 0;
            while l < 16 {
                if member[h * 16 + l] != 0 {
                    set |= 1 << l;
                }
                l += 1;
            }
            if set != 0 {
                let mut bit = 0;
                while bit < used && sets[bit] != set {
                    bit += 1;
                }
                if bit == used {
                    sets[bit] = set;
                    used += 1;
                }
                high[h] |= 1 << bit;
                let mut l = 0;
                while l < 16 {
                    if set & (1 << l) != 0 {
                        low[l] |= 1 << bit;
                    }
                    l += 1;
                }
            }
            h += 1;
        }
        ByteClass { low, high }
    }

    /// The class of the bytes whose `table` entry has `bit` set (one class of a layer's
    /// [`byte_class_table!`]).
    pub(crate) const fn of_bit(table: &[u8; 256], bit: u8) -> ByteClass {
        let mut member = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            // Compile time: an index out of bounds would fail the build.
            #[allow(clippy::indexing_slicing)]
            {
                member[b] = table[b] & bit;
            }
            b += 1;
        }
        ByteClass::of(&member)
    }

    /// Whether `b` is a member (the portable classification).
    #[inline(always)]
    pub(super) fn has(&self, b: u8) -> bool {
        let low = self.low.get(usize::from(b & 15)).copied().unwrap_or(0);
        let high = self.high.get(usize::from(b >> 4)).copied().unwrap_or(0);
        low & high != 0
    }
}

/// Bit `i` of word `i / 64`: whether byte `i` of the text is of the class.
#[derive(Debug, Default, Clone)]
pub(crate) struct ClassBits {
    words: Vec<u64>,
    len: usize,
}

impl ClassBits {
    /// Marks the bytes of `text` that are of `class`.
    pub(crate) fn of(text: &[u8], class: &ByteClass) -> ClassBits {
        let mut words = Vec::with_capacity(text.len() / 64 + 1);
        let mut chunks = text.chunks_exact(64);
        for chunk in &mut chunks {
            words.push(block_bits(chunk, class));
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            words.push(portable_bits(tail, class));
        }
        ClassBits {
            words,
            len: text.len(),
        }
    }

    /// [`ClassBits::of`] for each of `classes`, in one pass: each 16 bytes loaded once.
    pub(crate) fn of_each<const K: usize>(text: &[u8], classes: &[ByteClass; K]) -> [ClassBits; K] {
        let mut each: [Vec<u64>; K] = [(); K].map(|()| Vec::with_capacity(text.len() / 64 + 1));
        let mut push = |bits: [u64; K]| {
            for (words, bits) in each.iter_mut().zip(bits) {
                words.push(bits);
            }
        };
        chunk_bits_of(text, classes, &mut push);
        let tail = text.chunks_exact(64).remainder();
        if !tail.is_empty() {
            push(classes.map(|class| portable_bits(tail, &class)));
        }
        each.map(|words| ClassBits {
            words,
            len: text.len(),
        })
    }

    /// The bits of the positions `i` where `i` and `i + 1` are both members.
    pub(crate) fn pairs(&self) -> ClassBits {
        let next = self.words.iter().skip(1).chain(std::iter::once(&0));
        let words = self
            .words
            .iter()
            .zip(next)
            .map(|(&word, &next)| word & (word >> 1 | next << 63))
            .collect();
        ClassBits {
            words,
            len: self.len,
        }
    }

    /// The bits of the positions that lie in a run of at least `n` (1..=64) non-members,
    /// counting every position past the end as a non-member. Inlined, so that a caller's
    /// constant `n` makes the shifts constants.
    #[inline(always)]
    pub(crate) fn in_gaps(&self, n: usize) -> ClassBits {
        let n = n.clamp(1, 64);
        let mut previous = 0u64;
        let mut words = Vec::with_capacity(self.words.len());
        for (w, &word) in self.words.iter().enumerate() {
            let next = self.words.get(w + 1).copied().unwrap_or(0);
            let starts = starts_of_runs(!word, !next, n);
            // Each start covers itself and the `n - 1` positions after it, across words.
            let mut covered = u128::from(starts) << 64 | u128::from(previous);
            let mut width = 1;
            while width < n {
                covered |= covered << width.min(n - width);
                width += width.min(n - width);
            }
            words.push((covered >> 64) as u64);
            previous = starts;
        }
        ClassBits {
            words,
            len: self.len,
        }
    }

    /// Whether byte `i` is of the class (false past the end).
    #[inline(always)]
    pub(crate) fn is(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w >> (i % 64) & 1 != 0)
    }

    /// The first position at or after `from` whose bit is `set` (members when true), if any
    /// before the end.
    fn next(&self, from: usize, set: bool) -> Option<usize> {
        let mut w = from / 64;
        let flip = if set { 0 } else { u64::MAX };
        let mut word = (self.words.get(w)? ^ flip) & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                let at = w * 64 + word.trailing_zeros() as usize;
                return (at < self.len).then_some(at);
            }
            w += 1;
            word = self.words.get(w)? ^ flip;
        }
    }

    /// The last position before `end` (and before the text's end) whose bit is `set`, if any.
    fn previous(&self, end: usize, set: bool) -> Option<usize> {
        let last = end.min(self.len).checked_sub(1)?;
        let mut w = last / 64;
        let flip = if set { 0 } else { u64::MAX };
        let mut word = (self.words.get(w)? ^ flip) & (u64::MAX >> (63 - last % 64));
        loop {
            if word != 0 {
                return Some(w * 64 + 63 - word.leading_zeros() as usize);
            }
            w = w.checked_sub(1)?;
            word = self.words.get(w)? ^ flip;
        }
    }

    /// The last member before `end`, if any.
    pub(crate) fn last_before(&self, end: usize) -> Option<usize> {
        self.previous(end, true)
    }

    /// The first member at or after `from`, if any.
    pub(crate) fn first_from(&self, from: usize) -> Option<usize> {
        self.next(from, true)
    }

    /// The first non-member at or after `from`, if any before the end.
    pub(crate) fn first_non_member_from(&self, from: usize) -> Option<usize> {
        self.next(from, false)
    }

    /// The last non-member before `end` (and before the text's end), if any.
    pub(crate) fn last_non_member_before(&self, end: usize) -> Option<usize> {
        self.previous(end, false)
    }

    /// How many members.
    pub(crate) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The members in order, each found by bit search (a word's bits, lowest first).
    pub(crate) fn members(&self) -> impl Iterator<Item = usize> + '_ {
        let mut from = 0;
        std::iter::from_fn(move || {
            let at = self.next(from, true)?;
            from = at + 1;
            Some(at)
        })
    }

    /// The maximal run of members around `at` (the run ending at `at` if byte `at` is not
    /// one): `families::run_around` with the class's predicate.
    pub(crate) fn run_around(&self, at: usize) -> std::ops::Range<usize> {
        if at > self.len {
            return at..at;
        }
        let start = self.previous(at, false).map_or(0, |i| i + 1);
        start..self.run_end(at)
    }

    /// The first non-member at or after `at` (the end of the text if none): where the run of
    /// members from `at` ends.
    pub(crate) fn run_end(&self, at: usize) -> usize {
        self.next(at, false)
            .unwrap_or(self.len)
            .max(at.min(self.len))
    }

    /// The start of the first run of at least `n` (≥ 1) members that lies at or after `from`
    /// (counted from `from`): `first_run_of(text, from, text.len(), n, member)`. That is the
    /// first `s ≥ from` whose `n` bytes from `s` on are all members; for `n` up to 64 each
    /// word's such starts are found at once ([`starts_of_runs`]), not run by run. Inlined, so
    /// that a caller's constant `n` makes the shifts constants.
    #[inline(always)]
    pub(crate) fn first_run(&self, from: usize, n: usize) -> Option<usize> {
        self.first_run_before(from, usize::MAX, n)
    }

    /// [`ClassBits::first_run`] if it starts before `before`; a run starting at or after
    /// `before` may be answered or not (the search stops at the word holding `before`).
    #[inline(always)]
    pub(crate) fn first_run_before(&self, from: usize, before: usize, n: usize) -> Option<usize> {
        let n = n.max(1);
        if n > 64 {
            return self.first_run_by_runs(from, before, n);
        }
        let mut w = from / 64;
        let mut mask = u64::MAX << (from % 64);
        loop {
            if w.saturating_mul(64) >= before {
                return None;
            }
            let word = *self.words.get(w)?;
            let next = self.words.get(w + 1).copied().unwrap_or(0);
            let starts = starts_of_runs(word, next, n) & mask;
            if starts != 0 {
                let at = w * 64 + starts.trailing_zeros() as usize;
                return (at < self.len).then_some(at);
            }
            w += 1;
            mask = u64::MAX;
        }
    }

    /// [`ClassBits::first_run`] one maximal run at a time (any `n`).
    fn first_run_by_runs(&self, from: usize, before: usize, n: usize) -> Option<usize> {
        let mut at = from;
        loop {
            let start = self.next(at, true).filter(|&start| start < before)?;
            let end = self.run_end(start);
            if end - start >= n {
                return Some(start);
            }
            at = end + 1;
        }
    }
}

/// Longest text whose runs are found by probing; a longer one is classified first.
pub(crate) const MAX_PROBED: usize = 256;

/// The runs of at least some length of one class in one text, found by probing every
/// n-th byte ([`first_run_of`], cheaper on a short text) or in the text's [`ClassBits`]
/// (cheaper on a long one, where probes land in many short runs and walk them): the same runs.
/// Generic over the predicate, so that a probe's test is inlined (not called through a pointer).
pub(crate) enum Runs<'t, F: Fn(u8) -> bool> {
    Probed {
        text: &'t [u8],
        member: F,
    },
    /// The text's own bits, or a long text's shared ones ([`super::text_classes`]).
    Classified(Cow<'t, ClassBits>),
}

impl<'t, F: Fn(u8) -> bool + Copy> Runs<'t, F> {
    /// `class` and `member` are the same set of bytes; probed up to [`MAX_PROBED`] bytes.
    pub(crate) fn of(text: &'t [u8], class: &ByteClass, member: F) -> Runs<'t, F> {
        match text.len() > MAX_PROBED {
            true => Runs::Classified(Cow::Owned(ClassBits::of(text, class))),
            false => Runs::Probed { text, member },
        }
    }

    /// The first run of at least `n` members counted from `from`: its start and its end.
    #[inline(always)]
    pub(crate) fn next(&self, from: usize, n: usize) -> Option<(usize, usize)> {
        match self {
            Runs::Probed { text, member } => {
                let start = first_run_of(text, from, text.len(), n, *member)?;
                let rest = text.get(start..).unwrap_or_default();
                let end = rest.iter().position(|&b| !member(b));
                Some((start, start + end.unwrap_or(rest.len())))
            }
            Runs::Classified(bits) => {
                let start = bits.first_run(from, n)?;
                Some((start, bits.run_end(start)))
            }
        }
    }
}

/// For a layer's test: what `find_in` reads in 6 000 seeded texts of up to 900 bytes made of
/// `pieces` is the same with the runs probed and classified; returns how many runs it read.
#[cfg(test)]
pub(crate) fn found_either_way(
    seed: u64,
    pieces: &[&[u8]],
    class: &ByteClass,
    member: fn(u8) -> bool,
    find_in: impl Fn(&[u8], Runs<fn(u8) -> bool>, &mut Vec<super::Unwrapped>),
) -> usize {
    let mut rng = crate::engine::test_rng::TestRng::new(seed);
    let mut found = 0;
    for _ in 0..6_000 {
        let mut text = Vec::new();
        let len = rng.below(900);
        while text.len() < len {
            text.extend_from_slice(rng.pick(pieces));
        }
        let (mut probed, mut classified) = (Vec::new(), Vec::new());
        find_in(
            &text,
            Runs::Probed {
                text: &text,
                member,
            },
            &mut probed,
        );
        let bits = ClassBits::of(&text, class);
        find_in(&text, Runs::Classified(Cow::Owned(bits)), &mut classified);
        assert_eq!(probed, classified, "{}", String::from_utf8_lossy(&text));
        found += probed.len();
    }
    found
}

/// Bit `i` set when bits `i..i + n` of `word` followed by `next` are all set (`n` in 1..=64):
/// a window of `k` set bits is widened to `2k` by an and with itself shifted by `k`, then to
/// `n` by one shift of `n - k` (the two windows overlap).
#[inline(always)]
fn starts_of_runs(word: u64, next: u64, n: usize) -> u64 {
    let mut t = u128::from(word) | u128::from(next) << 64;
    let mut covered = 1;
    while covered * 2 <= n {
        t &= t >> covered;
        covered *= 2;
    }
    if covered < n {
        t &= t >> (n - covered);
    }
    t as u64
}

/// The bits of 64 bytes.
#[inline(always)]
pub(super) fn block_bits(chunk: &[u8], class: &ByteClass) -> u64 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        wasm_simd::bits(chunk, class)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        portable_bits(chunk, class)
    }
}

/// Each whole 64 bytes' bits in each of `classes`, handed to `each` in order (the tail of
/// fewer than 64 bytes is left to the caller): each 16 bytes loaded once for all classes, the
/// tables once.
#[inline(always)]
pub(super) fn chunk_bits_of<const K: usize>(
    text: &[u8],
    classes: &[ByteClass; K],
    each: impl FnMut([u64; K]),
) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        wasm_simd::chunk_bits_of(text, classes, each);
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let mut each = each;
        for chunk in text.chunks_exact(64) {
            each(classes.map(|class| portable_bits(chunk, &class)));
        }
    }
}

/// The bits of up to 64 bytes, one table pair read per byte.
pub(super) fn portable_bits(bytes: &[u8], class: &ByteClass) -> u64 {
    bytes
        .iter()
        .enumerate()
        .fold(0, |bits, (i, &b)| bits | u64::from(class.has(b)) << i)
}

/// The wasm SIMD classification: 16 bytes per step, two swizzles and a bitmask.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_simd {
    use super::ByteClass;
    use core::arch::wasm32::{
        i64x2, i8x16_bitmask, i8x16_swizzle, u8x16_ne, u8x16_shr, u8x16_splat, v128, v128_and,
    };

    #[inline(always)]
    fn load(bytes: &[u8]) -> v128 {
        let word = |part: Option<&[u8]>| {
            part.and_then(|p| <[u8; 8]>::try_from(p).ok())
                .map_or(0, i64::from_le_bytes)
        };
        i64x2(word(bytes.get(..8)), word(bytes.get(8..16)))
    }

    /// The bits of 64 bytes.
    #[inline(always)]
    pub(super) fn bits(chunk: &[u8], class: &ByteClass) -> u64 {
        let low = load(&class.low);
        let high = load(&class.high);
        let nibble = u8x16_splat(15);
        let zero = u8x16_splat(0);
        let mut bits = 0u64;
        for (i, block) in chunk.chunks(16).enumerate() {
            let v = load(block);
            let lo = i8x16_swizzle(low, v128_and(v, nibble));
            let hi = i8x16_swizzle(high, u8x16_shr(v, 4));
            let member = u8x16_ne(v128_and(lo, hi), zero);
            bits |= u64::from(i8x16_bitmask(member)) << (16 * i);
        }
        bits
    }

    /// [`super::chunk_bits_of`]: per 16 bytes one load and one nibble split for every class.
    #[inline(always)]
    pub(super) fn chunk_bits_of<const K: usize>(
        text: &[u8],
        classes: &[ByteClass; K],
        mut each: impl FnMut([u64; K]),
    ) {
        let tables = classes.map(|class| (load(&class.low), load(&class.high)));
        let nibble = u8x16_splat(15);
        let zero = u8x16_splat(0);
        for chunk in text.chunks_exact(64) {
            let mut bits = [0u64; K];
            for (i, block) in chunk.chunks_exact(16).enumerate() {
                let v = load(block);
                let (low_nibbles, high_nibbles) = (v128_and(v, nibble), u8x16_shr(v, 4));
                for (bits, (low, high)) in bits.iter_mut().zip(&tables) {
                    let lo = i8x16_swizzle(*low, low_nibbles);
                    let hi = i8x16_swizzle(*high, high_nibbles);
                    let member = u8x16_ne(v128_and(lo, hi), zero);
                    *bits |= u64::from(i8x16_bitmask(member)) << (16 * i);
                }
            }
            each(bits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_rng::TestRng;

    const LOWER_OR_DIGIT: ByteClass = ByteClass::of(&byte_class_table!(
        |b| (b.is_ascii_lowercase() || b.is_ascii_digit()) as u8
    ));
    const SEPARATORS: ByteClass = ByteClass::of(&byte_class_table!(|b| (b.is_ascii_uppercase()
        || b.is_ascii_digit()
        || matches!(
            b,
            b' ' | b'-' | b'.' | b'_' | b'/' | b'|' | b':' | b',' | b';' | b'+'
        )) as u8));

    #[test]
    fn the_nibble_tables_hold_exactly_the_class() {
        for b in 0..=255u8 {
            let want = b.is_ascii_lowercase() || b.is_ascii_digit();
            assert_eq!(LOWER_OR_DIGIT.has(b), want, "{b}");
        }
    }

    fn texts(rng: &mut TestRng, len: usize) -> Vec<u8> {
        let alphabet = b"ab0Z9 -._:\xc3\x80xyzQ";
        (0..len)
            .map(|_| match rng.below(8) {
                0 => rng.below(256) as u8,
                _ => rng.pick(alphabet),
            })
            .collect()
    }

    #[test]
    fn bits_are_the_class_at_every_length_and_alignment() {
        let mut rng = TestRng::new(0xc1a5_5b17);
        let whole = texts(&mut rng, 200);
        for class in [LOWER_OR_DIGIT, SEPARATORS] {
            for start in 0..64 {
                for len in 0..=80 {
                    let text = &whole[start..start + len];
                    let bits = ClassBits::of(text, &class);
                    for i in 0..len + 70 {
                        let want = text.get(i).is_some_and(|&b| class.has(b));
                        assert_eq!(bits.is(i), want, "{start} {len} {i}");
                    }
                    for from in 0..=len + 1 {
                        let end = (from..len).find(|&i| !class.has(text[i])).unwrap_or(len);
                        assert_eq!(bits.run_end(from), end.max(from.min(len)));
                    }
                }
            }
        }
    }

    #[test]
    fn runs_around_and_members_before_are_the_walked_ones() {
        let mut rng = TestRng::new(0xa2b0_17d5);
        for _ in 0..1_000 {
            let len = rng.below(300);
            let text = texts(&mut rng, len);
            let bits = ClassBits::of(&text, &SEPARATORS);
            let member = |b: u8| SEPARATORS.has(b);
            for at in 0..len + 66 {
                let walked = super::super::families::run_around(&text, at, member);
                assert_eq!(bits.run_around(at), walked, "{at}");
                let before = (0..at.min(len)).rev().find(|&i| member(text[i]));
                assert_eq!(bits.last_before(at), before, "{at}");
                assert_eq!(bits.first_from(at), (at..len).find(|&i| member(text[i])));
            }
            let members: Vec<usize> = (0..len).filter(|&i| member(text[i])).collect();
            assert_eq!(bits.members().collect::<Vec<_>>(), members);
        }
    }

    #[test]
    fn each_class_of_one_pass_is_its_own_pass() {
        let mut rng = TestRng::new(0x0e4c_4a55);
        for _ in 0..300 {
            let len = rng.below(500);
            let text = texts(&mut rng, len);
            let [a, b] = ClassBits::of_each(&text, &[LOWER_OR_DIGIT, SEPARATORS]);
            let (one, two) = (
                ClassBits::of(&text, &LOWER_OR_DIGIT),
                ClassBits::of(&text, &SEPARATORS),
            );
            assert_eq!((a.words, a.len), (one.words, one.len));
            assert_eq!((b.words, b.len), (two.words, two.len));
        }
    }

    #[test]
    fn gaps_are_the_runs_of_non_members() {
        let mut rng = TestRng::new(0x9a95_0f11);
        for _ in 0..1_000 {
            let len = rng.below(400);
            let text = texts(&mut rng, len);
            let bits = ClassBits::of(&text, &LOWER_OR_DIGIT);
            let non_member = |i: usize| i >= len || !LOWER_OR_DIGIT.has(text[i]);
            for n in [1, 2, 7, 8, 9, 33, 64] {
                let gaps = bits.in_gaps(n);
                for i in 0..len {
                    let covered = (i.saturating_sub(n - 1)..=i)
                        .any(|s| s + n <= len + n && (s..s + n).all(non_member));
                    assert_eq!(gaps.is(i), covered, "{n} {i}");
                }
            }
        }
    }

    #[test]
    fn first_run_is_first_run_of() {
        let mut rng = TestRng::new(0x5eed_0fb1);
        for _ in 0..3_000 {
            let len = rng.below(700);
            let text = texts(&mut rng, len);
            for class in [LOWER_OR_DIGIT, SEPARATORS] {
                let bits = ClassBits::of(&text, &class);
                for _ in 0..8 {
                    let from = rng.below(len + 2);
                    let most = if rng.below(4) == 0 { 80 } else { 24 };
                    let n = 1 + rng.below(most);
                    let want = first_run_of(&text, from, text.len(), n, |b| class.has(b));
                    assert_eq!(bits.first_run(from, n), want, "{from} {n}");
                }
            }
        }
    }
}
