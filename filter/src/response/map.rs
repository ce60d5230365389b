//! The restore map: the tokens one request sent out, and the originals to put back.
//!
//! Built while the request is rewritten (`tokenize`), read while its response streams back,
//! then dropped with the request: nothing is kept between requests (the keyed hash makes
//! tokens stable without state). Its `Debug` shows only counts, so a verdict printed in a log
//! or a test failure never shows an original; stats only ever see counts too.
//!
//! - **No collisions**: a token already taken by a different value gets a longer code.
//! - **Only restorable originals are kept**: a token whose class the tier does not restore
//!   keeps just a digest of its value (to detect collisions), never the value.
//! - **Bounded**: at most [`MAX_TOKENS`] distinct values and [`MAX_ORIGINAL_BYTES`] of
//!   originals per request. Past that, `mint` refuses and the caller masks the value instead:
//!   irreversible, but nothing leaves and no token goes out that could not be restored.
//! - A request holds few tokens, so lookups are a linear scan over short byte strings.

use super::token::{self, Digest, MAX_CODE_LEN, MIN_CODE_LEN};
use crate::policy::HmacKey;

/// Most distinct tokenized values in one request.
pub const MAX_TOKENS: usize = 256;
/// Most bytes of originals kept for one request.
pub const MAX_ORIGINAL_BYTES: usize = 64 * 1024;

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    token: Box<[u8]>,
    digest: Digest,
    /// The original, when the tier restores this token's class.
    original: Option<Box<[u8]>>,
}

/// The tokens of one request. Empty (and not allocated) for a request without any.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RestoreMap {
    entries: Vec<Entry>,
    original_bytes: usize,
    /// Longest restorable token, for how much of a stream's tail can be held back.
    longest: usize,
    /// Values masked instead of tokenized because the map was full.
    pub(crate) refused: u32,
}

impl std::fmt::Debug for RestoreMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RestoreMap({} tokens, {} restorable)",
            self.entries.len(),
            self.restorable()
        )
    }
}

impl RestoreMap {
    /// Writes the token for `value` into `out`; `restore` keeps the original for the response.
    /// False (and `out` empty) when the map is full or every code length collides: mask instead.
    pub(crate) fn mint(
        &mut self,
        key: &HmacKey,
        prefix: &str,
        value: &[u8],
        restore: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        let digest = token::digest(key, value);
        let mut code_len = MIN_CODE_LEN;
        while code_len <= MAX_CODE_LEN {
            token::write(prefix, &digest, code_len, out);
            match self.entries.iter_mut().find(|e| *e.token == **out) {
                Some(entry) if entry.digest == digest => {
                    if restore && entry.original.is_none() {
                        return self.keep_original(value, out);
                    }
                    return true;
                }
                Some(_) => code_len += 2,
                None => return self.insert(digest, value, restore, out),
            }
        }
        out.clear();
        self.refused += 1;
        false
    }

    fn insert(&mut self, digest: Digest, value: &[u8], restore: bool, out: &mut Vec<u8>) -> bool {
        let room = self.entries.len() < MAX_TOKENS
            && (!restore || self.original_bytes + value.len() <= MAX_ORIGINAL_BYTES);
        if !room {
            out.clear();
            self.refused += 1;
            return false;
        }
        self.entries.push(Entry {
            token: out.as_slice().into(),
            digest,
            original: None,
        });
        if restore {
            return self.keep_original(value, out);
        }
        true
    }

    /// Records the original for the entry of token `out` (just found or inserted).
    fn keep_original(&mut self, value: &[u8], out: &mut Vec<u8>) -> bool {
        if self.original_bytes + value.len() > MAX_ORIGINAL_BYTES {
            // The token is out already in this request unrestorable: keep it that way.
            return true;
        }
        if let Some(entry) = self.entries.iter_mut().find(|e| *e.token == **out) {
            entry.original = Some(value.into());
            self.original_bytes += value.len();
            self.longest = self.longest.max(out.len());
        }
        true
    }

    /// The original behind `token`, if it is one of this request's restorable tokens.
    pub fn original(&self, token: &[u8]) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|e| *e.token == *token)
            .and_then(|e| e.original.as_deref())
    }

    /// Whether `tail` is the start (not the whole) of one of this request's restorable tokens.
    pub fn could_begin(&self, tail: &[u8]) -> bool {
        tail.len() < self.longest
            && self.entries.iter().any(|e| {
                e.original.is_some() && e.token.len() > tail.len() && e.token.starts_with(tail)
            })
    }

    /// Length of the longest restorable token (0: nothing to restore).
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// How many tokens can be restored.
    pub fn restorable(&self) -> usize {
        self.entries.iter().filter(|e| e.original.is_some()).count()
    }

    /// How many tokens went out.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn key() -> HmacKey {
        HmacKey::new(b"test-key-0123456789".to_vec())
    }

    /// A map holding `values` as restorable tokens, and their tokens in order.
    pub(crate) fn map_of(prefix: &str, values: &[&str]) -> (RestoreMap, Vec<String>) {
        let mut map = RestoreMap::default();
        let mut tokens = Vec::new();
        for v in values {
            let mut out = Vec::new();
            assert!(map.mint(&key(), prefix, v.as_bytes(), true, &mut out));
            tokens.push(String::from_utf8(out).unwrap());
        }
        (map, tokens)
    }

    #[test]
    fn mints_and_restores() {
        let (map, tokens) = map_of("EMAIL", &["a@x.example", "b@x.example", "a@x.example"]);
        assert_eq!(tokens[0], tokens[2]);
        assert_ne!(tokens[0], tokens[1]);
        assert_eq!(map.len(), 2);
        assert_eq!(
            map.original(tokens[1].as_bytes()),
            Some(&b"b@x.example"[..])
        );
        assert_eq!(map.original(b"[EMAIL_0000]"), None);
        assert!(map.could_begin(b"[EM"));
        assert!(map.could_begin(&tokens[0].as_bytes()[..tokens[0].len() - 1]));
        assert!(!map.could_begin(tokens[0].as_bytes()));
        assert!(!map.could_begin(b"[PHONE"));
        assert_eq!(format!("{map:?}"), "RestoreMap(2 tokens, 2 restorable)");
    }

    #[test]
    fn collisions_get_longer_codes() {
        // Find two values whose 4-character codes collide, then mint both.
        let key = key();
        let mut seen = std::collections::HashMap::new();
        let mut pair = None;
        let mut scratch = Vec::new();
        for i in 0..5_000_000u32 {
            let value = format!("user{i}@northwind.example");
            token::write("E", &token::digest(&key, value.as_bytes()), 4, &mut scratch);
            if let Some(first) = seen.insert(scratch.clone(), value.clone()) {
                pair = Some((first, value));
                break;
            }
        }
        let (a, b) = pair.expect("a 20-bit collision within 5M values");
        let mut map = RestoreMap::default();
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        assert!(map.mint(&key, "E", a.as_bytes(), true, &mut ta));
        assert!(map.mint(&key, "E", b.as_bytes(), true, &mut tb));
        assert_eq!(ta.len(), "[E_".len() + 4 + 1);
        assert_eq!(
            tb.len(),
            "[E_".len() + 6 + 1,
            "the later value extends its code"
        );
        assert_eq!(map.original(&ta), Some(a.as_bytes()));
        assert_eq!(map.original(&tb), Some(b.as_bytes()));
        // Minting again in the same order gives the same tokens.
        let mut again = Vec::new();
        assert!(map.mint(&key, "E", b.as_bytes(), true, &mut again));
        assert_eq!(again, tb);
    }

    #[test]
    fn unrestorable_tokens_keep_no_original() {
        let mut map = RestoreMap::default();
        let mut out = Vec::new();
        assert!(map.mint(&key(), "PHONE", b"+48 601 234 567", false, &mut out));
        assert_eq!(map.original(&out), None);
        assert_eq!(map.restorable(), 0);
        assert!(!map.could_begin(b"[PH"));
        // Restorable later in the same request (another tier rule): the original is kept then.
        assert!(map.mint(&key(), "PHONE", b"+48 601 234 567", true, &mut out));
        assert_eq!(map.original(&out), Some(&b"+48 601 234 567"[..]));
    }

    #[test]
    fn bounded() {
        let mut map = RestoreMap::default();
        let mut out = Vec::new();
        for i in 0..MAX_TOKENS {
            assert!(map.mint(&key(), "N", format!("value {i}").as_bytes(), true, &mut out));
        }
        assert!(!map.mint(&key(), "N", b"one too many", true, &mut out));
        assert!(out.is_empty());
        assert_eq!(map.refused, 1);
        let mut big = RestoreMap::default();
        let value = vec![b'a'; MAX_ORIGINAL_BYTES];
        assert!(big.mint(&key(), "N", &value, true, &mut out));
        assert!(!big.mint(&key(), "N", b"b", true, &mut out));
    }
}
