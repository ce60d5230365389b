//! The token codec: how a reversible token is spelled.
//!
//! A token is `[` PREFIX `_` CODE `]`, e.g. `[EMAIL_7Q2F]`. The prefix names the kind of
//! value (set per detector, `token: {prefix: EMAIL}`); the code is the start of an HMAC of
//! the value under the policy's hashing key, in Crockford base32 (no `I`, `L`, `O`, `U`:
//! models copy it without "correcting" look-alikes). So the same value gives the same token
//! in every request and every turn, with no state kept between requests, and nobody without
//! the key can tell which value a token stands for.
//!
//! Four code characters (20 bits) keep tokens short, which models copy faithfully. A
//! collision between two different values of one request is resolved by the map
//! (`map.rs`) by lengthening the code two characters at a time, up to [`MAX_CODE_LEN`].
//! Brackets, capitals, digits and `_` need no escaping in JSON, so a token reads the same
//! in every string it can land in.

use crate::policy::HmacKey;
use hmac::Mac;

/// The code alphabet: Crockford base32.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Longest prefix a policy may set (the compiler checks it).
pub const MAX_PREFIX_LEN: usize = 24;
/// Code length of a token without collision.
pub const MIN_CODE_LEN: usize = 4;
/// Longest code (60 bits); past it a colliding value is masked instead.
pub const MAX_CODE_LEN: usize = 12;
/// Longest token: `[`, prefix, `_`, code, `]`.
pub const MAX_TOKEN_LEN: usize = MAX_PREFIX_LEN + MAX_CODE_LEN + 3;

/// Separates token codes from the audit fingerprints made with the same key.
const DOMAIN: &[u8] = b"airlock.token.v1\0";

/// The keyed digest a value's tokens are cut from.
pub(crate) type Digest = [u8; 32];

pub(crate) fn digest(key: &HmacKey, value: &[u8]) -> Digest {
    let mut out = [0u8; 32];
    // HMAC accepts keys of any length, so keying cannot fail.
    if let Some(mut mac) = key.mac() {
        mac.update(DOMAIN);
        mac.update(value);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// Writes the token for `digest` with a `code_len`-character code into `out` (cleared first).
pub(crate) fn write(prefix: &str, digest: &Digest, code_len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.push(b'[');
    out.extend_from_slice(prefix.as_bytes());
    out.push(b'_');
    for i in 0..code_len.min(MAX_CODE_LEN) {
        // 5 bits at a time, from the front of the digest.
        let bit = i * 5;
        let pair = u16::from_be_bytes([
            digest.get(bit / 8).copied().unwrap_or(0),
            digest.get(bit / 8 + 1).copied().unwrap_or(0),
        ]);
        let index = (pair >> (11 - bit % 8)) & 0x1f;
        out.push(ALPHABET.get(usize::from(index)).copied().unwrap_or(b'0'));
    }
    out.push(b']');
}

/// A byte that may appear between a token's brackets.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
}

/// Whether `prefix` is a valid token prefix: an ASCII capital, then capitals, digits or `_`.
pub fn valid_prefix(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_uppercase)
        && bytes.len() <= MAX_PREFIX_LEN
        && bytes.iter().all(|&b| is_token_byte(b))
}

/// The prefix a detector gets when the policy sets none: its id in capitals, `-` as `_`.
pub fn default_prefix(detector_id: &str) -> String {
    let mut prefix = String::with_capacity(MAX_PREFIX_LEN);
    for c in detector_id.chars() {
        if prefix.len() >= MAX_PREFIX_LEN {
            break;
        }
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => prefix.push(c.to_ascii_uppercase()),
            _ => prefix.push('_'),
        }
    }
    if !prefix.starts_with(|c: char| c.is_ascii_uppercase()) {
        prefix.insert(0, 'T');
        prefix.truncate(MAX_PREFIX_LEN);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &[u8]) -> HmacKey {
        HmacKey::new(k.to_vec())
    }

    fn token(prefix: &str, value: &[u8], len: usize) -> String {
        let mut out = Vec::new();
        write(prefix, &digest(&key(b"k1"), value), len, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn same_value_same_token_other_value_other_token() {
        let a = token("EMAIL", b"marta.kowalski@northwind.example", 4);
        assert_eq!(a, token("EMAIL", b"marta.kowalski@northwind.example", 4));
        assert_ne!(a, token("EMAIL", b"marta.kowalsky@northwind.example", 4));
        assert_eq!(a.len(), "[EMAIL_".len() + 4 + 1);
        assert!(a.starts_with("[EMAIL_") && a.ends_with(']'));
    }

    #[test]
    fn the_key_changes_every_token() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write("P", &digest(&key(b"k1"), b"v"), 12, &mut a);
        write("P", &digest(&key(b"k2"), b"v"), 12, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn longer_codes_extend_shorter_ones() {
        let short = token("PHONE", b"+48 601 234 567", 4);
        let long = token("PHONE", b"+48 601 234 567", 8);
        assert_eq!(short.trim_end_matches(']'), &long[..short.len() - 1]);
    }

    #[test]
    fn codes_use_only_crockford_letters() {
        for i in 0..200u32 {
            let t = token("X", &i.to_le_bytes(), MAX_CODE_LEN);
            let code = &t[3..t.len() - 1];
            assert_eq!(code.len(), MAX_CODE_LEN);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{t}");
            assert!(!code.contains(['I', 'L', 'O', 'U']));
        }
    }

    #[test]
    fn codes_spread_over_the_alphabet() {
        let mut seen = [false; 32];
        for i in 0..400u32 {
            let t = token("X", &i.to_le_bytes(), 4);
            for b in t[3..7].bytes() {
                let at = ALPHABET.iter().position(|&a| a == b).unwrap();
                seen[at] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("EMAIL"));
        assert!(valid_prefix("IBAN_DE"));
        assert!(!valid_prefix("email"));
        assert!(!valid_prefix("_EMAIL"));
        assert!(!valid_prefix("9LIVES"));
        assert!(!valid_prefix(""));
        assert!(!valid_prefix(&"A".repeat(MAX_PREFIX_LEN + 1)));
        assert_eq!(default_prefix("email-address"), "EMAIL_ADDRESS");
        assert_eq!(default_prefix("3ds-code"), "T3DS_CODE");
        assert!(valid_prefix(&default_prefix(&"x".repeat(80))));
        assert!(valid_prefix(&default_prefix("9")));
    }
}
