//! Keyed hashing under a per-index key: the [`Mixer`] keys every stored fingerprint and cell hash
//! (index format 2); SipHash-1-3 ([`Key::hash_bytes`]) remains for build-time bookkeeping (the
//! duplicate-row check).
//!
//! A per-index random 128-bit key means an index's hashes cannot be compared with another
//! index's, nor looked up in a table precomputed for all indexes. It does not hide anything from
//! whoever holds the index: the key is in the file, because the matcher needs it. So the mixer
//! need not be a PRF, only key-dependent and cheap: every k-gram and every candidate value of
//! every request is hashed, and SipHash per k-gram was once the cost of the whole search.

use siphasher::sip::SipHasher13;
use std::hash::Hasher;

/// A 128-bit hashing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(pub [u8; 16]);

impl Key {
    /// The key's two 64-bit halves.
    fn halves(&self) -> (u64, u64) {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        for (i, byte) in self.0.iter().enumerate() {
            if let Some(slot) = if i < 8 {
                a.get_mut(i)
            } else {
                b.get_mut(i - 8)
            } {
                *slot = *byte;
            }
        }
        (u64::from_le_bytes(a), u64::from_le_bytes(b))
    }

    /// A hasher under this key.
    fn hasher(&self) -> SipHasher13 {
        let (k0, k1) = self.halves();
        SipHasher13::new_with_keys(k0, k1)
    }

    /// The keyed hash of a 64-bit value in a domain (a small tag separating uses).
    pub fn hash_u64(&self, domain: u8, value: u64) -> u64 {
        let mut h = self.hasher();
        h.write_u8(domain);
        h.write_u64(value);
        h.finish()
    }

    /// A hasher in a domain, to feed bytes in pieces: the same result as [`Key::hash_bytes`] of
    /// their concatenation (SipHash buffers partial words).
    pub fn start(&self, domain: u8) -> SipHasher13 {
        let mut h = self.hasher();
        h.write_u8(domain);
        h
    }

    /// The keyed hash of bytes in a domain.
    pub fn hash_bytes(&self, domain: u8, bytes: &[u8]) -> u64 {
        let mut h = self.hasher();
        h.write_u8(domain);
        h.write(bytes);
        h.finish()
    }
}

/// A cheap keyed bijection of 64-bit values: the k-gram hashes of the documents index (format 2).
///
/// Every k-gram of every request is hashed, so the hash must cost a few instructions, not a
/// SipHash (which made the prose stream, one k-gram per character, the cost of the whole search).
/// Two MurmurHash3 finalizers around the key halves: a bijection that differs per key and
/// domain, so fingerprints of one index say nothing about another's and no table precomputed
/// without the key fits. It is not a PRF; nothing here needs one, because the key is in the
/// file for the matcher anyway (see the module's threat model).
#[derive(Debug, Clone, Copy)]
pub struct Mixer {
    k0: u64,
    k1: u64,
}

impl Key {
    /// The mixer of this key in a domain.
    pub fn mixer(&self, domain: u8) -> Mixer {
        let (k0, k1) = self.halves();
        Mixer {
            k0: k0 ^ u64::from(domain).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            k1,
        }
    }
}

impl Mixer {
    /// The keyed hash of `value`.
    #[inline]
    pub fn mix(&self, value: u64) -> u64 {
        fmix(fmix(value ^ self.k0) ^ self.k1)
    }
}

/// MurmurHash3's 64-bit finalizer: a bijection with full avalanche.
#[inline]
fn fmix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_domains_separate() {
        let a = Key([1; 16]);
        let b = Key([2; 16]);
        assert_ne!(a.hash_u64(0, 7), b.hash_u64(0, 7));
        assert_ne!(a.hash_u64(0, 7), a.hash_u64(1, 7));
        assert_eq!(a.hash_bytes(3, b"x"), a.hash_bytes(3, b"x"));
        let mut pieces = a.start(4);
        for piece in [&b"anna"[..], b"", b"nova", b"k123456789"] {
            pieces.write(piece);
        }
        assert_eq!(pieces.finish(), a.hash_bytes(4, b"annanovak123456789"));
        assert_ne!(a.mixer(1).mix(7), b.mixer(1).mix(7));
        assert_ne!(a.mixer(1).mix(7), a.mixer(2).mix(7));
        assert_eq!(a.mixer(1).mix(7), a.mixer(1).mix(7));
    }
}
