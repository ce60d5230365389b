//! Keyed fingerprints: a stable name for a secret that does not reveal it.
//!
//! The same value gives the same fingerprint under the same key, so an
//! operator can correlate "this key leaked from ten services" without anyone
//! ever logging the key. Unkeyed hashes of short values (card numbers, phone
//! numbers) can be brute-forced, so a fingerprint is always an HMAC.

use crate::policy::HmacKey;
use hmac::Mac;

pub(crate) fn fingerprint(key: &HmacKey, value: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    // HMAC accepts keys of any length, so keying cannot fail; keep the zero fingerprint if it ever did.
    if let Some(mut mac) = key.mac() {
        mac.update(value);
        let tag = mac.finalize().into_bytes();
        for (slot, byte) in out.iter_mut().zip(tag.iter()) {
            *slot = *byte;
        }
    }
    out
}

/// Lowercase hex of a fingerprint.
pub fn fingerprint_hex(fp: &[u8; 8]) -> String {
    crate::engine::lower_hex(fp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_stable() {
        let a = HmacKey::new(b"0123456789abcdef".to_vec());
        let b = HmacKey::new(b"fedcba9876543210".to_vec());
        assert_eq!(fingerprint(&a, b"v"), fingerprint(&a, b"v"));
        assert_ne!(fingerprint(&a, b"v"), fingerprint(&b, b"v"));
        assert_ne!(fingerprint(&a, b"v"), fingerprint(&a, b"w"));
        assert_eq!(
            fingerprint_hex(&[0, 1, 0xab, 0xff, 0, 0, 0, 0x10]),
            "0001abff00000010"
        );
    }
}
