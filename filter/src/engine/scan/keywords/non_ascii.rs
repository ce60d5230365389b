//! Where a pattern with a non-ASCII byte can match: the windows of a text within reach of
//! its non-ASCII bytes.
//!
//! Such a pattern's every match holds one of the text's non-ASCII bytes, so its table only
//! needs to scan the bytes that lie within a pattern's length of one. Texts are mostly ASCII
//! (code, JSON, English prose): for them the windows are none, found by a word-at-a-time
//! test of eight bytes at once. In text that is mostly non-ASCII (CJK) the windows merge into
//! one that covers the whole text. The same runs of non-ASCII bytes tell the ASCII
//! patterns' table what it can skip.

use std::ops::Range;

/// Bit 7 of each byte of a little-endian word: set for a non-ASCII byte.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The position of the first byte at or after `from` whose high bit is `high` (set: a
/// non-ASCII byte), tested eight bytes at a time.
fn next_with_high_bit(text: &[u8], from: usize, high: bool) -> Option<usize> {
    let rest = text.get(from..)?;
    let flip = if high { 0 } else { u64::MAX };
    let mut words = rest.chunks_exact(8);
    let mut skipped = 0;
    for word in words.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let wanted = (u64::from_le_bytes(bytes) ^ flip) & HIGH_BITS;
        if wanted != 0 {
            // The lowest set bit is the first such byte (little-endian order).
            return Some(from + skipped + (wanted.trailing_zeros() / 8) as usize);
        }
        skipped += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|b| b.is_ascii() != high)
        .map(|i| from + skipped + i)
}

/// The position of the first non-ASCII byte at or after `from`.
fn next_non_ascii(text: &[u8], from: usize) -> Option<usize> {
    next_with_high_bit(text, from, true)
}

/// The maximal runs of non-ASCII bytes of `text`, in text order.
pub(super) fn runs(text: &[u8]) -> Runs<'_> {
    Runs { text, from: 0 }
}

/// Iterator of [`runs`].
#[derive(Debug)]
pub(super) struct Runs<'a> {
    text: &'a [u8],
    /// Where the search for the next run resumes.
    from: usize,
}

impl Iterator for Runs<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let start = next_non_ascii(self.text, self.from)?;
        let end = next_with_high_bit(self.text, start, false).unwrap_or(self.text.len());
        self.from = end;
        Some(start..end)
    }
}

/// The windows around a text's runs of non-ASCII bytes, merged as the runs come, in which
/// every match of a pattern of at most `reach` bytes that holds a non-ASCII byte lies.
///
/// A match `[s, e)` that holds the non-ASCII byte at `p` has `e - reach <= s <= p` and
/// `p < e <= s + reach`, so it lies in `p + 1 - reach .. p + reach`. Windows that overlap or
/// touch are merged, so each match lies in exactly one window and is reported once.
#[derive(Debug)]
pub(super) struct WindowMerger {
    reach: usize,
    len: usize,
    open: Option<Range<usize>>,
}

impl WindowMerger {
    pub(super) fn new(text_len: usize, reach: usize) -> WindowMerger {
        WindowMerger {
            reach: reach.max(1),
            len: text_len,
            open: None,
        }
    }

    /// Takes the next run; returns the window it closes, if it starts a new one.
    pub(super) fn add(&mut self, run: &Range<usize>) -> Option<Range<usize>> {
        let around = (run.start + 1).saturating_sub(self.reach)
            ..(run.end.saturating_sub(1) + self.reach).min(self.len);
        match &mut self.open {
            Some(open) if around.start <= open.end => {
                open.end = around.end;
                None
            }
            open => open.replace(around),
        }
    }

    /// The last window, once every run was added.
    pub(super) fn finish(&mut self) -> Option<Range<usize>> {
        self.open.take()
    }
}

/// The windows of [`WindowMerger`] over all of `text`'s runs, in text order.
pub(super) fn windows(text: &[u8], reach: usize) -> Windows<'_> {
    Windows {
        runs: runs(text),
        merger: WindowMerger::new(text.len(), reach),
    }
}

/// Iterator of [`windows`].
#[derive(Debug)]
pub(super) struct Windows<'a> {
    runs: Runs<'a>,
    merger: WindowMerger,
}

impl Iterator for Windows<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        for run in self.runs.by_ref() {
            if let Some(closed) = self.merger.add(&run) {
                return Some(closed);
            }
        }
        self.merger.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The windows by definition: every non-ASCII byte's own window, merged where they overlap or touch.
    fn reference(text: &[u8], reach: usize) -> Vec<Range<usize>> {
        let mut merged: Vec<Range<usize>> = Vec::new();
        for (p, _) in text.iter().enumerate().filter(|(_, b)| !b.is_ascii()) {
            let own = (p + 1).saturating_sub(reach)..(p + reach).min(text.len());
            match merged.last_mut() {
                Some(last) if own.start <= last.end => last.end = own.end,
                _ => merged.push(own),
            }
        }
        merged
    }

    #[test]
    fn runs_are_the_maximal_runs_of_non_ascii_bytes() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x7275_6e73_0000_0001);
        for _ in 0..300 {
            let text: Vec<u8> = (0..rng.below(70))
                .map(|_| {
                    if rng.below(3) == 0 {
                        0x80 | rng.pick(b"ab")
                    } else {
                        b'x'
                    }
                })
                .collect();
            let mut expected: Vec<Range<usize>> = Vec::new();
            for (p, _) in text.iter().enumerate().filter(|(_, b)| !b.is_ascii()) {
                match expected.last_mut() {
                    Some(last) if last.end == p => last.end = p + 1,
                    _ => expected.push(p..p + 1),
                }
            }
            assert_eq!(runs(&text).collect::<Vec<_>>(), expected, "{text:?}");
        }
    }

    #[test]
    fn finds_every_non_ascii_byte_word_at_a_time() {
        let mut text = vec![b'a'; 40];
        for p in 0..40 {
            text[p] = 0xe6;
            assert_eq!(next_non_ascii(&text, 0), Some(p));
            assert_eq!(next_non_ascii(&text, p), Some(p));
            assert_eq!(next_non_ascii(&text, p + 1), None);
            text[p] = b'a';
        }
        assert_eq!(next_non_ascii(&text, 41), None);
    }

    #[test]
    fn windows_match_their_definition() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x5eed_0a5c_11f0_0d01);
        for _ in 0..500 {
            let len = rng.below(120);
            let density = 1 + rng.below(30);
            let text: Vec<u8> = (0..len)
                .map(|_| if rng.below(density) == 0 { 0xe6 } else { b'x' })
                .collect();
            let reach = 1 + rng.below(12);
            let got: Vec<_> = windows(&text, reach).collect();
            assert_eq!(got, reference(&text, reach), "reach {reach}, text {text:?}");
        }
    }

    #[test]
    fn an_ascii_text_has_no_window_and_a_cjk_text_one() {
        assert_eq!(
            windows(b"plain ascii text, longer than a word", 6).count(),
            0
        );
        let cjk = "机密文件，不得外传".as_bytes();
        assert_eq!(windows(cjk, 6).collect::<Vec<_>>(), vec![0..cjk.len()]);
    }
}
