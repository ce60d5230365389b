//! Winnowing (Schleimer, Wilkerson, Aiken, SIGMOD 2003: the MOSS scheme), with keyed k-gram hashes.
//!
//! Every k consecutive units (a k-gram) get a hash; in every window of `w` consecutive k-gram
//! hashes, the minimum is selected (the rightmost on ties). *Robust* winnowing keeps the
//! previous selection while it is still in the window and still minimal, so runs of equal
//! hashes (repeated lines) do not select a fingerprint per position.
//!
//! The guarantee: two texts sharing a run of at least `w + k - 1` units share a fingerprint, and
//! a shared run of `L` units shares about `2L / (w + 1)` of them; nothing shorter than `k` units
//! is ever matched. So `k` sets the noise floor (shorter coincidences are invisible) and `w` trades
//! index size (density `2 / (w + 1)`) against the shortest copy that is always found.
//!
//! The k-gram hash is a polynomial rolling hash over the unit values (one multiply-add per unit),
//! then keyed ([`Mixer`](super::keyed::Mixer)) so the selected values depend on the index's key.
//! Selection uses a monotone queue: linear time whatever `w` is.
//!
//! **Only small hashes are fingerprints.** A selection is the minimum of `w` hashes, so it is
//! almost always small: below `2^(64 − t)` for the largest `t` with `(1 − 2^−t)^w ≤ 1/500`
//! ([`threshold_bits`]: t = 1 for w ≥ 9, 2 for w ≥ 22, 3 for w ≥ 47). The rare selection above
//! that bound is not stored (at most 0.2 % of them), and in exchange a request's k-gram above
//! it is never looked up: the matcher skips half (comments), three quarters (code) or seven
//! eighths (prose) of its lookups for free. A stored fingerprint is the hash shifted left by
//! `t`, so its bits stay uniform for the index's buckets.

use super::keyed::Key;
use std::collections::VecDeque;

/// The rolling hash base: an odd 64-bit constant with well-mixed bits.
const BASE: u64 = 0x9E37_79B9_7F4A_7C15;

/// k-gram length and window size of one view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Units per k-gram (≥ 1).
    pub k: usize,
    /// k-grams per window (≥ 1).
    pub w: usize,
    /// The fewest distinct unit values a k-gram needs to be fingerprinted (0 or 1: all are).
    pub min_distinct: usize,
}

/// The top bits every fingerprint of a stream with window `w` has clear (see the module doc).
pub fn threshold_bits(w: usize) -> u32 {
    match w {
        47.. => 3,
        22.. => 2,
        9.. => 1,
        _ => 0,
    }
}

/// The stored fingerprint of a k-gram hash, if it is small enough to be one.
#[inline]
fn fingerprint(hash: u64, bits: u32) -> Option<u64> {
    (hash != LOW_ENTROPY && hash.checked_shr(64 - bits).unwrap_or(0) == 0)
        .then(|| hash.checked_shl(bits).unwrap_or(hash))
}

/// Reusable buffers for [`fingerprints`].
#[derive(Debug, Default)]
pub struct Scratch {
    hashes: Vec<u64>,
    queue: VecDeque<usize>,
}

/// Appends to `out` the selected fingerprints of `values`: (keyed hash, index of the k-gram's
/// first unit). A text shorter than one window still gives its minimum; one shorter than `k`
/// units gives nothing.
pub fn fingerprints(
    key: &Key,
    domain: u8,
    values: &[u64],
    params: Params,
    scratch: &mut Scratch,
    out: &mut Vec<(u64, u32)>,
) {
    let k = params.k.max(1);
    kgram_hashes(
        key,
        domain,
        values,
        k,
        params.min_distinct,
        &mut scratch.hashes,
    );
    let hashes = &scratch.hashes;
    if hashes.is_empty() {
        return;
    }
    let bits = threshold_bits(params.w);
    let w = params.w.max(1).min(hashes.len());
    let queue = &mut scratch.queue;
    queue.clear();
    let mut last: Option<usize> = None;
    for (j, &h) in hashes.iter().enumerate() {
        while queue
            .back()
            .is_some_and(|&b| hashes.get(b).is_some_and(|&v| v >= h))
        {
            queue.pop_back();
        }
        queue.push_back(j);
        if j + 1 < w {
            continue;
        }
        let first = j + 1 - w;
        while queue.front().is_some_and(|&f| f < first) {
            queue.pop_front();
        }
        let Some(&min) = queue.front() else { continue };
        let min_hash = hashes.get(min).copied().unwrap_or(u64::MAX);
        let keep_last =
            last.is_some_and(|l| l >= first && hashes.get(l).is_some_and(|&v| v == min_hash));
        if !keep_last && last != Some(min) && min_hash != LOW_ENTROPY {
            if let Some(fp) = fingerprint(min_hash, bits) {
                out.push((fp, u32::try_from(min).unwrap_or(u32::MAX)));
            }
            last = Some(min);
        }
    }
}

/// The hash given to a k-gram with too few distinct units: never selected.
const LOW_ENTROPY: u64 = u64::MAX;

/// The fingerprint of *every* k-gram of `values`, in order, with `None` for the k-grams that
/// cannot be one (too low in entropy, or a hash above the stream's bound). The matcher looks each of them up: a document's selected
/// fingerprints inside a copy are found whatever the text around the copy makes the text's own
/// winnowing select, so a short copy yields all of the (about `2 / (w + 1)` per unit) selections
/// its document made there, not only those both sides agree on.
pub fn all_kgrams<'s>(
    key: &Key,
    domain: u8,
    values: &[u64],
    params: Params,
    scratch: &'s mut Scratch,
) -> impl Iterator<Item = Option<u64>> + 's {
    kgram_hashes(
        key,
        domain,
        values,
        params.k.max(1),
        params.min_distinct,
        &mut scratch.hashes,
    );
    let bits = threshold_bits(params.w);
    scratch.hashes.iter().map(move |&h| fingerprint(h, bits))
}

/// The keyed hash of every k-gram of `values` (none when there are fewer than `k` units), or
/// [`LOW_ENTROPY`] for a k-gram with fewer than `min_distinct` distinct unit values (counted in
/// 256 buckets of the value, so a rare bucket collision undercounts; both sides count alike).
fn kgram_hashes(
    key: &Key,
    domain: u8,
    values: &[u64],
    k: usize,
    min_distinct: usize,
    out: &mut Vec<u64>,
) {
    out.clear();
    if values.len() < k {
        return;
    }
    let mut counts = [0u16; 256];
    let mut distinct = 0usize;
    let bucket = |v: u64| (v ^ (v >> 8) ^ (v >> 16) ^ (v >> 32)) as u8 as usize;
    let mixer = key.mixer(domain);
    let mut top = 1u64; // BASE^(k-1)
    for _ in 1..k {
        top = top.wrapping_mul(BASE);
    }
    let mut h = 0u64;
    for (i, &v) in values.iter().enumerate() {
        if i >= k {
            let old = values.get(i - k).copied().unwrap_or(0);
            h = h.wrapping_sub(old.wrapping_mul(top));
            if let Some(c) = counts.get_mut(bucket(old)) {
                *c = c.saturating_sub(1);
                distinct -= usize::from(*c == 0);
            }
        }
        if let Some(c) = counts.get_mut(bucket(v)) {
            distinct += usize::from(*c == 0);
            *c = c.saturating_add(1);
        }
        h = h.wrapping_mul(BASE).wrapping_add(v);
        if i + 1 >= k {
            out.push(if distinct < min_distinct {
                LOW_ENTROPY
            } else {
                mixer.mix(h).min(LOW_ENTROPY - 1)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[u64], k: usize, w: usize) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        fingerprints(
            &Key([7; 16]),
            0,
            values,
            Params {
                k,
                w,
                min_distinct: 0,
            },
            &mut Scratch::default(),
            &mut out,
        );
        out
    }

    fn pseudo(n: usize, seed: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % 40
            })
            .collect()
    }

    #[test]
    fn every_window_holds_a_selection() {
        let values = pseudo(2000, 1);
        let (k, w) = (5, 16);
        let fps = run(&values, k, w);
        let positions: Vec<usize> = fps.iter().map(|&(_, p)| p as usize).collect();
        assert!(positions.windows(2).all(|p| p[0] < p[1]));
        for start in 0..=(values.len() - k + 1 - w) {
            assert!(
                positions.iter().any(|&p| p >= start && p < start + w),
                "window {start}"
            );
        }
        let density = fps.len() as f64 / (values.len() - k + 1) as f64;
        assert!((density - 2.0 / (w as f64 + 1.0)).abs() < 0.04, "{density}");
    }

    #[test]
    fn a_shared_run_shares_fingerprints() {
        let (k, w) = (5, 16);
        let shared = pseudo(200, 9);
        let mut a = pseudo(300, 2);
        a.extend(&shared);
        let mut b = shared.clone();
        b.extend(pseudo(100, 3));
        let fa: std::collections::HashSet<u64> = run(&a, k, w).into_iter().map(|f| f.0).collect();
        let common = run(&b, k, w)
            .into_iter()
            .filter(|f| fa.contains(&f.0))
            .count();
        assert!(common >= 200 * 2 / (w + 1) / 2, "{common}");
    }

    #[test]
    fn low_entropy_kgrams_are_never_selected() {
        let mut out = Vec::new();
        let table: Vec<u64> = (0..400).map(|i| [1, 2, 1, 3][i % 4]).collect();
        let params = Params {
            k: 8,
            w: 4,
            min_distinct: 4,
        };
        fingerprints(
            &Key([7; 16]),
            0,
            &table,
            params,
            &mut Scratch::default(),
            &mut out,
        );
        assert!(out.is_empty());
        fingerprints(
            &Key([7; 16]),
            0,
            &pseudo(400, 5),
            params,
            &mut Scratch::default(),
            &mut out,
        );
        assert!(out.len() > 100);
    }

    #[test]
    fn short_texts_and_repeats() {
        assert!(run(&[1, 2, 3], 5, 4).is_empty());
        assert_eq!(run(&[1, 2, 3, 4, 5, 6], 5, 4).len(), 1);
        let repeated = run(&vec![3; 500], 5, 16).len();
        assert!(
            repeated <= 500 / 16 + 1,
            "robust winnowing keeps an equal minimum: {repeated}"
        );
    }
}
