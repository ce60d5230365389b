//! The bucket directory of a records index: where each of `2^b` buckets' entries start, in
//! about 1.4 bits per bucket instead of a 32-bit offset each.
//!
//! The counts are written in unary, bucket after bucket (the upper half of Elias–Fano coding):
//! one `1` bit per entry of the bucket, then a `0` that ends it, least significant bit of each
//! little-endian u64 word first, the last word padded with `1`s. Bucket `j` ends at its zero,
//! the `j`-th zero; the ones before bucket `j`'s first bit are its first entry's index. A load
//! samples the position of every [`GROUP`]-th bucket (8 bytes per 512 buckets), so a lookup
//! skips at most 511 zeros by word popcounts. Cheap buckets are what let a bucket hold under
//! one entry on average, so the bucket's bits are implicit and an entry stores fewer.

use crate::protected::container::IndexError;

/// Buckets per sampled position.
pub(crate) const GROUP: u64 = 512;

/// The words of the directory of entries whose buckets are `buckets` (non-decreasing, each
/// under `bucket_count`).
pub(crate) fn encode(
    buckets: impl Iterator<Item = u64>,
    bucket_count: u64,
    entries: u64,
) -> Vec<u64> {
    let bits = entries + bucket_count;
    let mut words = vec![u64::MAX; usize::try_from(bits.div_ceil(64)).unwrap_or(0)];
    let mut buckets = buckets.peekable();
    let mut before = 0u64;
    for j in 0..bucket_count {
        while buckets.next_if(|&b| b == j).is_some() {
            before += 1;
        }
        // Bucket j's zero follows the `before` ones of buckets 0..=j and the j zeros before it.
        let zero = before + j;
        if let Some(w) = words.get_mut((zero / 64) as usize) {
            *w &= !(1u64 << (zero % 64));
        }
    }
    words
}

/// A loaded directory's sampled positions: the first bit of bucket `GROUP · g`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Directory {
    starts: Vec<u64>,
}

/// Word `i` of the directory's bytes.
#[inline]
fn word(bytes: &[u8], i: u64) -> Option<u64> {
    let at = usize::try_from(i).ok()?.checked_mul(8)?;
    bytes
        .get(at..at.checked_add(8)?)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
}

/// The position of the `k`-th (from 0) set bit of `x`, which has more than `k`: halves
/// chosen by popcount down to a byte, then at most 7 bits cleared.
#[inline]
fn select(mut x: u64, k: u64) -> u64 {
    let mut k = k as u32;
    let mut at = 0;
    for width in [32u32, 16, 8] {
        let low = (x & ((1u64 << width) - 1)).count_ones();
        if k >= low {
            k -= low;
            x >>= width;
            at += width;
        }
    }
    for _ in 0..k {
        x &= x.wrapping_sub(1);
    }
    u64::from(at + x.trailing_zeros())
}

/// The position of the `k`-th (from 0) zero bit at or after bit `from`.
#[inline]
fn next_zero(bytes: &[u8], from: u64, mut k: u64) -> Option<u64> {
    let mut i = from / 64;
    let mut zeros = !word(bytes, i)? & (u64::MAX << (from % 64));
    loop {
        let n = u64::from(zeros.count_ones());
        if n > k {
            return Some(i * 64 + select(zeros, k));
        }
        k -= n;
        i += 1;
        zeros = !word(bytes, i)?;
    }
}

impl Directory {
    /// Checks the directory `bytes` (exactly its words) of `bucket_count` buckets holding
    /// `entries` entries and samples its positions: `bucket_count` zeros, the last one ending
    /// the `entries + bucket_count` bits, so every bucket's range lies inside the entries.
    pub(crate) fn load(
        bytes: &[u8],
        bucket_count: u64,
        entries: u64,
    ) -> Result<Directory, IndexError> {
        let malformed = IndexError::Malformed("the bucket directory does not match the entries");
        let bits = entries + bucket_count;
        if bytes.len() as u64 != bits.div_ceil(64) * 8 {
            return Err(malformed);
        }
        let mut starts =
            Vec::with_capacity(usize::try_from(bucket_count.div_ceil(GROUP)).unwrap_or(0));
        starts.push(0);
        let mut seen = 0u64;
        let mut last = None;
        for i in 0..bits.div_ceil(64) {
            let zeros = !word(bytes, i).ok_or(malformed.clone())?;
            let n = u64::from(zeros.count_ones());
            // Bucket GROUP·g starts after zero number GROUP·g − 1 (from 0).
            let mut want = GROUP * starts.len() as u64 - 1;
            while want < seen + n && want + 1 < bucket_count {
                starts.push(i * 64 + select(zeros, want - seen) + 1);
                want += GROUP;
            }
            if n > 0 {
                last = Some(i * 64 + 63 - u64::from(zeros.leading_zeros()));
            }
            seen += n;
        }
        if seen != bucket_count || last != bits.checked_sub(1) {
            return Err(malformed);
        }
        Ok(Directory { starts })
    }

    /// The entries of bucket `bucket`: the range of their indexes.
    #[inline]
    pub(crate) fn range(&self, bytes: &[u8], bucket: u64) -> Option<std::ops::Range<usize>> {
        let start = *self.starts.get(usize::try_from(bucket / GROUP).ok()?)?;
        let k = bucket % GROUP;
        let first = if k == 0 {
            start
        } else {
            next_zero(bytes, start, k - 1)? + 1
        };
        let end = next_zero(bytes, first, 0)?;
        Some(usize::try_from(first - bucket).ok()?..usize::try_from(end - bucket).ok()?)
    }

    /// Heap bytes of the samples.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.starts.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn every_bucket_range_round_trips() {
        // Buckets of 0 to 3 entries, over several groups and a partial last word.
        let bucket_count = 3 * GROUP + 77;
        let mut buckets = Vec::new();
        for j in 0..bucket_count {
            for _ in 0..(j * 7 % 11) % 4 {
                buckets.push(j);
            }
        }
        let n = buckets.len() as u64;
        let words = bytes(&encode(buckets.iter().copied(), bucket_count, n));
        let dir = Directory::load(&words, bucket_count, n).unwrap();
        let mut at = 0;
        for j in 0..bucket_count {
            let count = buckets.iter().filter(|&&b| b == j).count();
            assert_eq!(dir.range(&words, j), Some(at..at + count), "bucket {j}");
            at += count;
        }
        assert_eq!(dir.range(&words, bucket_count), None);
    }

    #[test]
    fn select_finds_every_set_bit() {
        for x in [1u64, u64::MAX, 0x8000_0000_0000_0001, 0xF0F0_1234_8765_0F0F] {
            let mut bits = (0..64).filter(|b| x >> b & 1 == 1);
            for k in 0..u64::from(x.count_ones()) {
                assert_eq!(select(x, k), bits.next().unwrap(), "{x:x} {k}");
            }
        }
    }

    #[test]
    fn a_directory_that_does_not_match_its_entries_is_refused() {
        let words = bytes(&encode([0, 0, 2].into_iter(), 4, 3));
        assert!(Directory::load(&words, 4, 3).is_ok());
        assert!(Directory::load(&words, 4, 2).is_err());
        assert!(Directory::load(&words, 3, 3).is_err());
        let mut flipped = words.clone();
        flipped[0] ^= 1;
        assert!(Directory::load(&flipped, 4, 3).is_err());
        assert!(Directory::load(&words[..4], 4, 3).is_err());
    }
}
