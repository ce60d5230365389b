//! A gate over a long field's byte classes, 64 positions at a time: the first position where a
//! test of the classes of the bytes before it, at it and one and two after it holds. It is
//! [`crate::engine::bytes::next_class_window`] on a text classified first (each class a
//! [`super::class_bits::ClassBits`]-style bitmap, marked 16 bytes per step in wasm), so that
//! `recase`'s pair gate and `rejoin`'s interleave gate, which walk a whole clean field finding
//! nothing, read 64 positions per step instead of eight (issue 16, fifteenth round: the two
//! walks cost ~18 wasm instructions per byte of prose, a third of an 8 KiB prose request's
//! layers). [`LazyWindows`] classifies only when a search walks 256 bytes without a hit.
//!
//! The classes are bits of the layer's own class table ([`ByteClass::of_bit`]), so the two
//! gates cannot disagree; positions outside the text have the classes of a pad byte, as in
//! `next_class_window`.

use super::class_bits::{chunk_bits_of, portable_bits, ByteClass};

/// Every class's bits of one text, one `[u64; K]` per 64 bytes (the last one's bits past the
/// end, and every word past it, hold the pad byte's classes).
#[derive(Debug)]
pub(crate) struct ClassWindows<const K: usize> {
    words: Vec<[u64; K]>,
    /// The pad byte's classes, all 64 bits each.
    pad: [u64; K],
    len: usize,
}

impl<const K: usize> ClassWindows<K> {
    /// Classifies `text`; `pad` is the byte whose classes positions outside it take.
    pub(crate) fn of(text: &[u8], classes: &[ByteClass; K], pad: u8) -> ClassWindows<K> {
        let pad = classes.map(|c| if c.has(pad) { u64::MAX } else { 0 });
        let mut words = Vec::with_capacity(text.len() / 64 + 2);
        chunk_bits_of(text, classes, |bits| words.push(bits));
        let tail = text.chunks_exact(64).remainder();
        let used = tail.len();
        if used > 0 {
            // The bits past the end are the pad byte's.
            let past = u64::MAX << used;
            let mut word = classes.map(|c| portable_bits(tail, &c));
            for (w, p) in word.iter_mut().zip(pad) {
                *w |= p & past;
            }
            words.push(word);
        }
        ClassWindows {
            words,
            pad,
            len: text.len(),
        }
    }

    fn word(&self, w: Option<usize>) -> [u64; K] {
        w.and_then(|w| self.words.get(w))
            .copied()
            .unwrap_or(self.pad)
    }

    /// The first position `i` from `from` (before the end) where `test` hits. `test(before,
    /// here, next, after)` gets, for 64 consecutive positions `i`, each class's bits of
    /// positions `i - 1`, `i`, `i + 1` and `i + 2` (bit `j` for the `j`-th position) and
    /// returns the positions that hit.
    #[inline(always)]
    pub(crate) fn next(
        &self,
        from: usize,
        test: impl Fn(&[u64; K], &[u64; K], &[u64; K], &[u64; K]) -> u64,
    ) -> Option<usize> {
        if from >= self.len {
            return None;
        }
        let mut w = from / 64;
        let mut mask = u64::MAX << (from % 64);
        let mut previous = self.word(w.checked_sub(1));
        let mut here = self.word(Some(w));
        while w * 64 < self.len {
            let ahead = self.word(Some(w + 1));
            let mut before = [0; K];
            let mut next = [0; K];
            let mut after = [0; K];
            for k in 0..K {
                let (p, h, a) = (at(&previous, k), at(&here, k), at(&ahead, k));
                set(&mut before, k, h << 1 | p >> 63);
                set(&mut next, k, h >> 1 | a << 63);
                set(&mut after, k, h >> 2 | a << 62);
            }
            let hits = test(&before, &here, &next, &after) & mask;
            if hits != 0 {
                let i = w * 64 + hits.trailing_zeros() as usize;
                return (i < self.len).then_some(i);
            }
            (previous, here) = (here, ahead);
            w += 1;
            mask = u64::MAX;
        }
        None
    }
}

/// Bytes walked from a search's start before the text is classified.
const WALKED: usize = 256;

/// A gate over one text that walks ([`crate::engine::bytes::next_class_window`], the layer's
/// `walk`) while hits come within [`WALKED`] bytes, and classifies the text ([`ClassWindows`])
/// at the first search that walks that far without one: a field whose hits are dense (log
/// lines), or whose layer stops early (the respelled budget spent), is never classified, and
/// a clean one is read 64 positions a step after its first 256 bytes. The same hits either way.
pub(crate) struct LazyWindows<'t, const K: usize> {
    text: &'t [u8],
    classes: &'t [ByteClass; K],
    pad: u8,
    windows: Option<ClassWindows<K>>,
}

impl<'t, const K: usize> LazyWindows<'t, K> {
    /// `pad` as for [`ClassWindows::of`]; `walk` below must use the same pad byte.
    pub(crate) fn new(text: &'t [u8], classes: &'t [ByteClass; K], pad: u8) -> Self {
        LazyWindows {
            text,
            classes,
            pad,
            windows: None,
        }
    }

    /// The first hit from `from`: `walk(text, from)` is the walking gate, `test` the same test
    /// on classified bits ([`ClassWindows::next`]).
    #[inline(always)]
    pub(crate) fn next(
        &mut self,
        from: usize,
        walk: impl Fn(&[u8], usize) -> Option<usize>,
        test: impl Fn(&[u64; K], &[u64; K], &[u64; K], &[u64; K]) -> u64,
    ) -> Option<usize> {
        if let Some(windows) = &self.windows {
            return windows.next(from, test);
        }
        let end = from.saturating_add(WALKED);
        let Some(head) = self.text.get(..end) else {
            // Fewer than `WALKED` bytes left: the walk over the whole text.
            return walk(self.text, from);
        };
        // A hit whose four bytes all lie in `head` is the text's; none before `end - 2` in
        // `head` means none there in the text (the same bytes), so the answer is at or past it.
        let resume = end - 2;
        if let Some(hit) = walk(head, from).filter(|&hit| hit < resume) {
            return Some(hit);
        }
        let windows = self
            .windows
            .insert(ClassWindows::of(self.text, self.classes, self.pad));
        windows.next(resume, test)
    }
}

fn at<const K: usize>(word: &[u64; K], k: usize) -> u64 {
    word.get(k).copied().unwrap_or(0)
}

fn set<const K: usize>(word: &mut [u64; K], k: usize, bits: u64) {
    if let Some(slot) = word.get_mut(k) {
        *slot = bits;
    }
}

/// A layer's gate as a test reads it: the walk, the classes (padded with a space) and the bit test.
#[cfg(test)]
pub(crate) struct Gate<const K: usize> {
    pub walked: fn(&[u8], usize) -> Option<usize>,
    pub classes: [ByteClass; K],
    pub bits: BitTest<K>,
}

/// A gate's test on 64 positions' classes: before, at, one and two after.
#[cfg(test)]
pub(crate) type BitTest<const K: usize> = fn(&[u64; K], &[u64; K], &[u64; K], &[u64; K]) -> u64;

/// For a layer's test: on seeded texts of `pieces` (lengths 0 to 700, every `from`), the
/// classified gate and the lazy one (asked in order, as the layers ask it) find what the
/// eight-lane walk finds. Returns how many searches hit.
#[cfg(test)]
pub(crate) fn same_hits<const K: usize>(seed: u64, pieces: &[&[u8]], gate: &Gate<K>) -> usize {
    let mut rng = crate::engine::test_rng::TestRng::new(seed);
    let mut hits = 0;
    for _ in 0..1_500 {
        let mut text = Vec::new();
        let len = rng.below(700);
        while text.len() < len {
            text.extend_from_slice(rng.pick(pieces));
        }
        if rng.below(2) == 0 {
            text.truncate(len);
        }
        let windows = ClassWindows::of(&text, &gate.classes, b' ');
        let mut lazy = LazyWindows::new(&text, &gate.classes, b' ');
        for from in 0..=text.len() + 1 {
            let want = (gate.walked)(&text, from);
            let context = || format!("{from} {}", String::from_utf8_lossy(&text));
            assert_eq!(windows.next(from, gate.bits), want, "{}", context());
            assert_eq!(
                lazy.next(from, gate.walked, gate.bits),
                want,
                "{}",
                context()
            );
            hits += usize::from(want.is_some());
        }
    }
    hits
}
