//! The cache's keyed hash: two polynomial hashes over GF(2^61 − 1) with secret per-VM keys.
//!
//! Every field of every cached request is hashed (a re-sent conversation is mostly old
//! fields), so this hash sets the price of an old byte. SipHash-1-3 cost ~1.5 GB/s natively
//! and a tenth of a warm request; this runs several times faster because each 28 bytes cost
//! four independent multiplications per key and one reduction, not a chain of rounds.
//! The resume prefix hash ([`PrefixHasher`]), one pass over a re-sent conversation's old
//! bytes, first compresses each 64 bytes with NH (its own bound, stated there).
//!
//! **Why nobody can craft a collision.** The input (a sequence of length-prefixed parts) is
//! cut into 56-bit chunks `c_1 … c_n`, injectively: each part's length is a chunk of its own
//! before its bytes, which are zero-padded to a multiple of four chunks. Each half of the output is
//! `H_k = k^n + c_1·k^(n−1) + … + c_n  (mod p)`, `p = 2^61 − 1`, for a key `k` drawn uniformly
//! from the host's randomness when the VM starts (`random_key`). For two different inputs,
//! `H_k − H'_k` is a nonzero polynomial in `k` of degree at most `max(n, n')` (the leading
//! `k^n` term makes inputs of different lengths differ too), so it has at most that many roots:
//! the two inputs collide for at most `n / p` of the keys. The two halves use independent keys,
//! so a pair collides with probability at most `(n / p)^2`: below 2^-88 for a 1 MiB field
//! (n ≈ 150 000). This is the classic polynomial universal hash (Carter–Wegman); the bound
//! holds for inputs chosen without knowledge of the keys, and the keys and the hashes never
//! leave the VM (they key a map; nothing reports them), so a caller cannot learn them: the only
//! outward sign of a collision would be a cache hit in the caller's own partition, and finding
//! one takes about 2^88 tries. It is not a MAC against someone who sees outputs.
//!
//! The trade-off: the key could be recovered from enough known (input, hash) pairs, which is why
//! hashes must stay inside the VM, and the bound degrades linearly with the input's length,
//! which the engine's body limit keeps small.

/// The Mersenne prime 2^61 − 1.
const P: u64 = (1 << 61) - 1;

/// Bytes per chunk: below 2^61, so chunks are distinct field elements.
const CHUNK: usize = 7;

/// Chunks per step of the unrolled loop (each step: four products and one reduction per key).
const LANES: usize = 4;

const MASK56: u64 = (1 << 56) - 1;

/// `x mod p`, partly: the result is below 2^62 for any `x` below 2^124.
#[inline(always)]
fn fold(x: u128) -> u64 {
    let low = (x as u64) & P;
    let high = (x >> 61) as u64; // below 2^63
    let sum = low as u128 + high as u128; // below 2^64 + 2^61
    ((sum as u64) & P) + ((sum >> 61) as u64)
}

/// Fully reduced: the canonical value below p.
fn reduce(x: u64) -> u64 {
    let y = (x & P) + (x >> 61);
    if y >= P {
        y - P
    } else {
        y
    }
}

fn mul(a: u64, b: u64) -> u64 {
    fold(u128::from(a) * u128::from(b))
}

/// `a·b mod p`, partly (below 2^61 + 8), for `a` below 2^62 and `b` below 2^61, from 32-bit
/// halves: wasm has no 64×64→128 multiply, so a `u128` product there is a call to
/// `__multi3` (a full 128-bit product through the shadow stack); this is four inline
/// `i64.mul`s. With `a = a1·2^32 + a0`, `b = b1·2^32 + b0` and `2^64 ≡ 8 (mod p)`:
/// `a·b ≡ 8·a1·b1 + (a1·b0 + a0·b1)·2^32 + a0·b0`, the middle term's bits above 29 wrapping
/// round by `2^61 ≡ 1`. Same residues as [`mul`] (tested).
#[inline(always)]
fn mul_halves(a: u64, b: u64) -> u64 {
    const LOW32: u64 = (1 << 32) - 1;
    let (a1, a0) = (a >> 32, a & LOW32); // a1 < 2^30
    let (b1, b0) = (b >> 32, b & LOW32); // b1 < 2^29
    let high = (a1 * b1) << 3; // < 2^62
    let mid = a1 * b0 + a0 * b1; // < 2^62 + 2^61
    let low = a0 * b0; // < 2^64
    let sum = high // < 2^62
        + (mid >> 29) // < 2^34
        + ((mid & ((1 << 29) - 1)) << 32) // < 2^61
        + (low & P) // < 2^61
        + (low >> 61); // < 8: the total is below 2^63 + 2^35
    (sum & P) + (sum >> 61)
}

/// One key's powers: `k`, `k^2`, `k^3`, `k^4`.
#[derive(Debug, Clone, Copy)]
struct Powers([u64; LANES]);

impl Powers {
    fn of(k: u64) -> Powers {
        let k = reduce(k);
        let k2 = reduce(mul(k, k));
        let k3 = reduce(mul(k2, k));
        let k4 = reduce(mul(k3, k));
        Powers([k, k2, k3, k4])
    }
}

/// The per-VM keys of the hash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldKeys {
    a: Powers,
    b: Powers,
    /// The NH keys of the prefix hash's two halves ([`PrefixHasher`]).
    nh_a: NhKey,
    nh_b: NhKey,
}

impl FieldKeys {
    /// Keys from 128 random bits (each below p, nonzero); the NH keys drawn from SHA-256 of
    /// them (counter mode), so they are as unpredictable as the seed.
    pub(crate) fn new(seed: (u64, u64)) -> FieldKeys {
        let nonzero = |x: u64| reduce(x).max(1);
        FieldKeys {
            a: Powers::of(nonzero(seed.0)),
            b: Powers::of(nonzero(seed.1)),
            nh_a: NhKey::derive(seed, 0),
            nh_b: NhKey::derive(seed, 1),
        }
    }

    pub(crate) fn hasher(&self) -> FieldHasher {
        FieldHasher {
            keys: *self,
            a: 1,
            b: 1,
        }
    }
}

/// A hash being computed: both polynomials so far (each below 2^62).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldHasher {
    keys: FieldKeys,
    a: u64,
    b: u64,
}

/// Bytes per step of the unrolled loop.
const BLOCK: usize = CHUNK * LANES;

/// The four 56-bit little-endian chunks of a block of [`BLOCK`] bytes, read as four 8-byte
/// words (the last one from a byte early, shifted).
#[inline(always)]
fn block_chunks(block: &[u8]) -> [u64; LANES] {
    let word = |at: usize| {
        block
            .get(at..)
            .and_then(<[u8]>::first_chunk::<8>)
            .map_or(0, |w| u64::from_le_bytes(*w))
    };
    [
        word(0) & MASK56,
        word(CHUNK) & MASK56,
        word(2 * CHUNK) & MASK56,
        word(BLOCK - 8) >> 8,
    ]
}

impl FieldHasher {
    /// Absorbs one chunk (below 2^56).
    #[inline(always)]
    fn one(&mut self, c: u64) {
        let [ka, ..] = self.keys.a.0;
        let [kb, ..] = self.keys.b.0;
        self.a = fold(u128::from(self.a) * u128::from(ka) + u128::from(c));
        self.b = fold(u128::from(self.b) * u128::from(kb) + u128::from(c));
    }

    /// Absorbs four chunks: `h·k^4 + c0·k^3 + c1·k^2 + c2·k + c3` per key ([`step`]).
    #[inline(always)]
    fn four(&mut self, c: [u64; LANES]) {
        self.a = step(self.a, &self.keys.a, c);
        self.b = step(self.b, &self.keys.b, c);
    }

    /// Absorbs `bytes` as chunks (the caller has absorbed their length first), four at a time:
    /// the last step's missing chunks are zeros (the length tells them from real ones).
    fn chunks(&mut self, bytes: &[u8]) {
        let mut blocks = bytes.chunks_exact(BLOCK);
        for block in &mut blocks {
            self.four(block_chunks(block));
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut block = [0u8; BLOCK];
            if let Some(to) = block.get_mut(..rest.len()) {
                to.copy_from_slice(rest);
            }
            self.four(block_chunks(&block));
        }
    }

    /// Absorbs one part: its length, then its bytes. Sequences of parts are encoded injectively.
    pub(crate) fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.one((bytes.len() as u64) & MASK56);
        self.chunks(bytes);
        self
    }

    /// Absorbs a 128-bit value (another hash) as one part.
    pub(crate) fn value(&mut self, value: u128) -> &mut Self {
        self.part(&value.to_le_bytes())
    }

    /// The 122-bit hash, as a 128-bit key.
    pub(crate) fn finish(&self) -> u128 {
        (u128::from(reduce(self.a)) << 64) | u128::from(reduce(self.b))
    }
}

/// One key's step of four chunks (below 2^62 each): `h·k^4 + c0·k^3 + c1·k^2 + c2·k + c3`,
/// partly reduced (below 2^62), with one reduction; in wasm, [`four_halves`].
#[inline(always)]
fn step(h: u64, k: &Powers, c: [u64; LANES]) -> u64 {
    if cfg!(target_arch = "wasm32") {
        return four_halves(h, k, c);
    }
    let [k1, k2, k3, k4] = k.0;
    let [c0, c1, c2, c3] = c;
    // Each product is below 2^123 (h < 2^62, k < 2^61) or 2^117; the sum below 2^124.
    // The chunks' terms first: only the last addition waits for the previous step.
    let chunks = u128::from(c0) * u128::from(k3)
        + u128::from(c1) * u128::from(k2)
        + (u128::from(c2) * u128::from(k1) + u128::from(c3));
    fold(chunks + u128::from(h) * u128::from(k4))
}

/// One step of [`step`] with each product from [`mul_halves`]: the same
/// residue (each term below 2^61 + 8, the sum below 2^63 + 2^56, folded below 2^62).
#[inline(always)]
fn four_halves(h: u64, k: &Powers, c: [u64; LANES]) -> u64 {
    let [k1, k2, k3, k4] = k.0;
    let [c0, c1, c2, c3] = c;
    let sum = mul_halves(c0, k3) + mul_halves(c1, k2) + mul_halves(c2, k1) + c3 + mul_halves(h, k4);
    (sum & P) + (sum >> 61)
}

/// Bytes one NH pass compresses to 64 bits: 16 words of 32 bits, 8 products.
const NH_BYTES: usize = 64;

/// Bytes per step of the prefix hash: two NH outputs, four 32-bit chunks for the polynomial.
const NH_STRIDE: usize = 2 * NH_BYTES;

/// One half's NH key: 16 words.
#[derive(Debug, Clone, Copy)]
struct NhKey([u32; NH_BYTES / 4]);

impl NhKey {
    fn derive(seed: (u64, u64), half: u8) -> NhKey {
        use sha2::{Digest, Sha256};
        let mut words = [0u32; NH_BYTES / 4];
        for (counter, out) in (0u8..).zip(words.chunks_mut(8)) {
            let mut h = Sha256::new();
            h.update(b"airlock prefix NH key");
            h.update(seed.0.to_le_bytes());
            h.update(seed.1.to_le_bytes());
            h.update([half, counter]);
            let digest = h.finalize();
            for (w, bytes) in out.iter_mut().zip(digest.chunks_exact(4)) {
                let mut b = [0u8; 4];
                b.copy_from_slice(bytes);
                *w = u32::from_le_bytes(b);
            }
        }
        NhKey(words)
    }

    /// NH of one [`NH_BYTES`] block: `Σ (m[2i] + k[2i] mod 2^32)·(m[2i+1] + k[2i+1] mod 2^32)
    /// mod 2^64` over its little-endian words (Black et al., UMAC): for two different blocks
    /// and a uniform key, equal with probability at most 2^-32.
    #[inline(always)]
    fn nh(&self, block: &[u8; NH_BYTES]) -> u64 {
        let mut sum = 0u64;
        for (pair, k) in block.chunks_exact(8).zip(self.0.chunks_exact(2)) {
            let w = pair
                .first_chunk::<8>()
                .map_or(0, |b| u64::from_le_bytes(*b));
            let (k0, k1) = match *k {
                [k0, k1] => (k0, k1),
                _ => (0, 0),
            };
            let x = u64::from((w as u32).wrapping_add(k0));
            let y = u64::from(((w >> 32) as u32).wrapping_add(k1));
            sum = sum.wrapping_add(x * y);
        }
        sum
    }
}

/// A running hash over a document from its start that yields the hash of any prefix of it
/// ending at or after the strides absorbed so far, in one pass over the document for all its
/// prefixes.
///
/// Each half is a polynomial over GF(2^61 − 1) (its own key, as in the module doc) whose
/// chunks are, per [`NH_BYTES`] block of the document (the last one zero-padded), that block's
/// NH under the half's own NH key, as two 32-bit chunks; then the prefix's length; after the
/// seed's parts. Reading a 64-byte block costs 8 products of 32-bit words per half, where
/// hashing its bytes as 56-bit chunks cost about 10 products of 61-bit numbers (in wasm, four
/// `i64.mul` each): the pass over a re-sent conversation's old bytes, once per request, is
/// the one cost per old byte resuming leaves.
///
/// **Collisions.** Two different prefixes of the same length differ in some block; their
/// hashes' halves agree only if that block's NH agrees (probability at most 2^-32 over the NH
/// key) or, the chunk sequences being different, the polynomial collides (at most `n / p`, `n`
/// chunks). Prefixes of different lengths are different chunk sequences (the length chunk).
/// So a half collides with probability at most `2^-32 + n / 2^61`, and both, their keys
/// independent, at most about 2^-64 for a 1 MiB body: weaker than the field hash's 2^-88,
/// still far beyond reach of someone who cannot see the hashes (they never leave the VM).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PrefixHasher {
    keys: FieldKeys,
    a: u64,
    b: u64,
    /// Bytes absorbed (whole strides).
    absorbed: usize,
}

impl PrefixHasher {
    pub(crate) fn new(seed: FieldHasher) -> PrefixHasher {
        PrefixHasher {
            keys: seed.keys,
            a: seed.a,
            b: seed.b,
            absorbed: 0,
        }
    }

    /// Absorbs one stride: each half's two NH outputs as four chunks.
    #[inline(always)]
    fn stride(&mut self, first: &[u8; NH_BYTES], second: &[u8; NH_BYTES]) {
        let chunks = |key: &NhKey| {
            let (x, y) = (key.nh(first), key.nh(second));
            [x >> 32, x & 0xffff_ffff, y >> 32, y & 0xffff_ffff]
        };
        let (ca, cb) = (chunks(&self.keys.nh_a), chunks(&self.keys.nh_b));
        self.a = step(self.a, &self.keys.a, ca);
        self.b = step(self.b, &self.keys.b, cb);
    }

    /// The hash of `doc[..end]`, absorbing the whole strides before `end`; `None` if `end`
    /// lies past `doc` or before the strides absorbed already.
    pub(crate) fn prefix(&mut self, doc: &[u8], end: usize) -> Option<u128> {
        let to = end - end % NH_STRIDE;
        if to > self.absorbed {
            for stride in doc.get(self.absorbed..to)?.chunks_exact(NH_STRIDE) {
                let (first, second) = stride.split_at(NH_BYTES);
                if let (Ok(first), Ok(second)) = (first.try_into(), second.try_into()) {
                    self.stride(first, second);
                }
            }
            self.absorbed = to;
        }
        let tail = doc.get(self.absorbed..end)?;
        let mut h = *self;
        if !tail.is_empty() {
            let mut padded = [0u8; NH_STRIDE];
            padded.get_mut(..tail.len())?.copy_from_slice(tail);
            let (first, second) = padded.split_at(NH_BYTES);
            if let (Ok(first), Ok(second)) = (first.try_into(), second.try_into()) {
                h.stride(first, second);
            }
        }
        let mut out = FieldHasher {
            keys: h.keys,
            a: h.a,
            b: h.b,
        };
        out.one((end as u64) & MASK56);
        Some(out.finish())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code
    use super::*;

    /// The polynomial evaluated the slow way: Horner over the chunks, one per step.
    fn reference(keys: (u64, u64), parts: &[&[u8]]) -> u128 {
        let mut chunks = Vec::new();
        for part in parts {
            let start = chunks.len();
            chunks.push(part.len() as u64);
            for c in part.chunks(CHUNK) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                chunks.push(u64::from_le_bytes(w));
            }
            // Zero chunks up to a multiple of four.
            while (chunks.len() - start - 1) % LANES != 0 {
                chunks.push(0);
            }
        }
        let horner = |k: u64| {
            let k = u128::from(reduce(k).max(1));
            let mut h: u128 = 1;
            for &c in &chunks {
                h = (h * k + u128::from(c)) % u128::from(P);
            }
            h as u64
        };
        (u128::from(horner(keys.0)) << 64) | u128::from(horner(keys.1))
    }

    #[test]
    fn the_unrolled_hash_is_the_polynomial() {
        let mut rng = crate::engine::test_rng::TestRng::new(11);
        let mut next = || rng.below(usize::MAX) as u64;
        for _ in 0..300 {
            let keys = (next(), next());
            let parts: Vec<Vec<u8>> = (0..1 + next() % 3)
                .map(|_| (0..next() % 200).map(|_| next() as u8).collect())
                .collect();
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let mut h = FieldKeys::new(keys).hasher();
            for p in &refs {
                h.part(p);
            }
            assert_eq!(h.finish(), reference(keys, &refs));
        }
        // Extreme keys and chunks: the lazy reductions must not overflow.
        for k in [1, P - 1, P, P + 1, u64::MAX] {
            let data = [0xffu8; 97];
            let mut h = FieldKeys::new((k, k)).hasher();
            h.part(&data);
            assert_eq!(h.finish(), reference((k, k), &[&data]));
        }
    }

    /// The prefix hash the slow way: NH of each zero-padded 64-byte block, word by word, as
    /// two chunks, zero chunks to a whole stride, then the length, by Horner after the seed.
    fn reference_prefix(seed: (u64, u64), part: &[u8], doc: &[u8]) -> u128 {
        let keys = FieldKeys::new(seed);
        let mut started = keys.hasher();
        started.part(part);
        let half = |k: u64, nh: &NhKey, start: u64| {
            let k = u128::from(reduce(k).max(1));
            let mut chunks = Vec::new();
            let mut padded = doc.to_vec();
            while !padded.len().is_multiple_of(NH_STRIDE) {
                padded.push(0);
            }
            for block in padded.chunks(NH_BYTES) {
                let mut x = 0u64;
                for i in 0..8 {
                    let w =
                        |j: usize| u32::from_le_bytes(block[4 * j..4 * j + 4].try_into().unwrap());
                    let a = u64::from(w(2 * i).wrapping_add(nh.0[2 * i]));
                    let b = u64::from(w(2 * i + 1).wrapping_add(nh.0[2 * i + 1]));
                    x = x.wrapping_add(a * b);
                }
                chunks.extend([x >> 32, x & 0xffff_ffff]);
            }
            chunks.push(doc.len() as u64);
            let mut h = u128::from(reduce(start));
            for c in chunks {
                h = (h * k + u128::from(c)) % u128::from(P);
            }
            h as u64
        };
        (u128::from(half(seed.0, &keys.nh_a, started.a)) << 64)
            | u128::from(half(seed.1, &keys.nh_b, started.b))
    }

    #[test]
    fn the_prefix_hash_is_nh_under_the_polynomial() {
        let mut rng = crate::engine::test_rng::TestRng::new(23);
        let mut next = || rng.below(usize::MAX) as u64;
        for round in 0..200 {
            let seed = (next(), next());
            let doc: Vec<u8> = (0..next() % 600).map(|_| next() as u8).collect();
            let end = if round % 3 == 0 {
                doc.len()
            } else {
                (next() as usize) % (doc.len() + 1)
            };
            let mut h = FieldKeys::new(seed).hasher();
            h.part(b"seed");
            let got = PrefixHasher::new(h).prefix(&doc, end).unwrap();
            assert_eq!(got, reference_prefix(seed, b"seed", &doc[..end]), "{round}");
        }
        // Extreme words and keys: the wrapping sums must not lose a bit.
        let doc = [0xffu8; 300];
        for k in [0, 1, u64::MAX] {
            let mut h = FieldKeys::new((k, k)).hasher();
            h.part(b"");
            assert_eq!(
                PrefixHasher::new(h).prefix(&doc, 300).unwrap(),
                reference_prefix((k, k), b"", &doc)
            );
        }
        // The NH keys of the two halves differ, and with the seed.
        let (one, two) = (FieldKeys::new((1, 2)), FieldKeys::new((1, 3)));
        assert_ne!(one.nh_a.0, one.nh_b.0);
        assert_ne!(one.nh_a.0, two.nh_a.0);
    }

    #[test]
    fn the_products_from_halves_are_the_products() {
        let mut rng = crate::engine::test_rng::TestRng::new(17);
        let mut next = || rng.below(usize::MAX) as u64;
        let edges = [0, 1, 2, P - 1, P, P + 1, (1 << 61) + 7, (1 << 62) - 1];
        let mut pairs: Vec<(u64, u64)> = (0..20_000).map(|_| (next() >> 2, next() >> 3)).collect();
        for a in edges {
            for b in edges.iter().filter(|&&b| b < 1 << 61) {
                pairs.push((a, *b));
            }
        }
        for (a, b) in pairs {
            let halves = mul_halves(a, b);
            assert!(halves < (1 << 61) + 8, "{a} {b}");
            assert_eq!(reduce(halves), reduce(mul(a, b)), "{a} {b}");
        }
        for _ in 0..5_000 {
            let keys = FieldKeys::new((next(), next()));
            let h = next() >> 2;
            let c = [next() >> 8, next() >> 8, next() >> 8, next() >> 8];
            let step = |h: u64, k: &Powers| {
                let [k1, k2, k3, k4] = k.0;
                let x = u128::from(c[0]) * u128::from(k3)
                    + u128::from(c[1]) * u128::from(k2)
                    + u128::from(c[2]) * u128::from(k1)
                    + u128::from(c[3])
                    + u128::from(h) * u128::from(k4);
                reduce(fold(x))
            };
            let got = four_halves(h, &keys.a, c);
            assert!(got < 1 << 62);
            assert_eq!(reduce(got), step(h, &keys.a));
        }
    }

    #[test]
    fn parts_are_length_prefixed_and_padding_is_not_ambiguous() {
        let keys = FieldKeys::new((0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321));
        let hash = |parts: &[&[u8]]| {
            let mut h = keys.hasher();
            for p in parts {
                h.part(p);
            }
            h.finish()
        };
        assert_ne!(hash(&[b"ab", b"c"]), hash(&[b"a", b"bc"]));
        assert_ne!(hash(&[b"abc"]), hash(&[b"abc\0"]));
        assert_ne!(hash(&[b""]), hash(&[]));
        assert_ne!(hash(&[b"\0\0\0\0\0\0\0"]), hash(&[b"\0\0\0\0\0\0"]));
        assert_eq!(hash(&[b"same"]), hash(&[b"same"]));
    }

    #[test]
    fn a_prefix_hashes_alike_however_it_is_reached_and_unlike_other_prefixes() {
        let keys = FieldKeys::new((0x0123_4567_89ab_cdef, 0x7654_3210_fedc_ba98));
        let mut rng = crate::engine::test_rng::TestRng::new(5);
        let doc: Vec<u8> = (0..700).map(|_| rng.below(4) as u8).collect();
        let fresh = |doc: &[u8], end: usize| PrefixHasher::new(keys.hasher()).prefix(doc, end);
        let mut running = PrefixHasher::new(keys.hasher());
        let mut seen = std::collections::HashSet::new();
        for end in (0..=doc.len()).step_by(3) {
            let h = running.prefix(&doc, end).unwrap();
            assert_eq!(Some(h), fresh(&doc, end), "{end}");
            assert!(seen.insert(h), "two prefixes collided at {end}");
            // Another document with the same prefix: the same hash; one byte changed: another.
            let mut other = doc[..end].to_vec();
            other.extend_from_slice(b"tail");
            assert_eq!(fresh(&other, end), Some(h));
            if end > 0 {
                other[rng.below(end)] ^= 0x10;
                assert_ne!(fresh(&other, end), Some(h), "{end}");
            }
        }
        // Zero bytes that pad alike are told apart by the length.
        let zeros = [0u8; 60];
        assert_ne!(fresh(&zeros, 29), fresh(&zeros, 30));
        assert_eq!(running.prefix(&doc, 1), None, "behind the absorbed blocks");
        assert_eq!(fresh(&doc, doc.len() + 1), None);
    }
}
