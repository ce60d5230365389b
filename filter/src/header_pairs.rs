//! A header map as the proxy-wasm host hands it over whole (`proxy_get_header_map_pairs`),
//! looked up without further host calls.
//!
//! Why: each host call is a crossing between the wasm engine and the proxy (in Envoy, V8 ↔
//! C++), and each value the host returns is one more call back into the module's allocator.
//! A request reads a dozen headers (host, path, content type and encoding, the credential
//! headers of key theft and of the cache's caller, content length); one call for all of them
//! replaces a dozen.
//!
//! A lookup answers as Envoy's `proxy_get_header_map_value` does: the first value of the name,
//! the name compared ASCII case-insensitively (Envoy lower-cases both).
//!
//! Wire format (proxy-wasm ABI 0.2.1): u32 LE pair count, then per pair its u32 LE key and
//! value lengths, then each key and each value followed by a NUL byte.

use std::ops::Range;

/// The pairs of one header map, as byte ranges into the host's buffer.
#[derive(Debug, Default)]
pub struct HeaderPairs {
    raw: Vec<u8>,
    pairs: Vec<(Range<usize>, Range<usize>)>,
}

impl HeaderPairs {
    /// Reads the wire format; `None` if it is malformed (then every header reads as absent to
    /// the caller, as a map the host could not give).
    pub fn parse(raw: Vec<u8>) -> Option<HeaderPairs> {
        if raw.is_empty() {
            return Some(HeaderPairs::default());
        }
        let word = |at: usize| -> Option<usize> {
            let bytes: [u8; 4] = raw.get(at..at.checked_add(4)?)?.try_into().ok()?;
            usize::try_from(u32::from_le_bytes(bytes)).ok()
        };
        let count = word(0)?;
        // Each pair takes at least 10 bytes (two lengths, two NULs): bounds the allocation.
        if count > raw.len() / 10 {
            return None;
        }
        let mut pairs = Vec::with_capacity(count);
        let mut data = count.checked_mul(8)?.checked_add(4)?;
        for i in 0..count {
            let at = i.checked_mul(8)?.checked_add(4)?;
            let (key_len, value_len) = (word(at)?, word(at.checked_add(4)?)?);
            let key = data..data.checked_add(key_len)?;
            let value_start = key.end.checked_add(1)?;
            let value = value_start..value_start.checked_add(value_len)?;
            data = value.end.checked_add(1)?;
            if data > raw.len() {
                return None;
            }
            pairs.push((key, value));
        }
        Some(HeaderPairs { raw, pairs })
    }

    /// The first value of header `name`, as bytes.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.pairs.iter().find_map(|(key, value)| {
            let key = self.raw.get(key.clone())?;
            key.eq_ignore_ascii_case(name.as_bytes())
                .then(|| self.raw.get(value.clone()))
                .flatten()
        })
    }

    /// The first value of header `name`, as (lossy) UTF-8.
    pub fn get_string(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(pairs: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend_from_slice(k.as_bytes());
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
    }

    #[test]
    fn finds_the_first_value_of_a_name_in_any_case() {
        let raw = wire(&[
            (":path", b"/v1/chat"),
            ("authorization", b"Bearer a"),
            ("x-empty", b""),
            ("authorization", b"Bearer b"),
            ("x-odd", b"\xff\xfe"),
        ]);
        let map = HeaderPairs::parse(raw).unwrap();
        assert_eq!(map.get(":path"), Some(&b"/v1/chat"[..]));
        assert_eq!(map.get("Authorization"), Some(&b"Bearer a"[..]));
        assert_eq!(map.get("x-empty"), Some(&b""[..]));
        assert_eq!(map.get("x-odd"), Some(&b"\xff\xfe"[..]));
        assert_eq!(map.get_string("x-odd").as_deref(), Some("\u{fffd}\u{fffd}"));
        assert_eq!(map.get("host"), None);
    }

    #[test]
    fn an_empty_buffer_is_an_empty_map() {
        let map = HeaderPairs::parse(Vec::new()).unwrap();
        assert_eq!(map.get(":path"), None);
        let map = HeaderPairs::parse(wire(&[])).unwrap();
        assert_eq!(map.get(":path"), None);
    }

    #[test]
    fn malformed_buffers_are_refused_without_panicking() {
        let good = wire(&[("a", b"1"), ("bb", b"22")]);
        for cut in 1..good.len() {
            assert!(HeaderPairs::parse(good[..cut].to_vec()).is_none(), "{cut}");
        }
        let mut huge = good.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(HeaderPairs::parse(huge).is_none());
        let mut long_key = good;
        long_key[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(HeaderPairs::parse(long_key).is_none());
    }
}
