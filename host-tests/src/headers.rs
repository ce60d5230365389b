//! Header maps as the host keeps them, and their proxy-wasm wire format:
//! u32 LE pair count, then (u32 LE key length, u32 LE value length) per pair,
//! then each key and each value followed by a NUL byte.
//!
//! Keys are compared ASCII case-insensitively and stored lowercased when the
//! filter adds or replaces them (as Envoy does with `LowerCaseString`).

/// Every value of header `key` (ASCII case-insensitive) in `pairs`, in order.
pub fn values_of<'a, 'k>(
    pairs: &'a [(String, String)],
    key: &'k str,
) -> impl Iterator<Item = &'a str> + use<'a, 'k> {
    pairs
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// The first value of header `key` (ASCII case-insensitive) in `pairs`.
pub fn value_of<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    values_of(pairs, key).next()
}

/// An ordered multimap of header names to values, byte-exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl HeaderMap {
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    /// Builds a map from string pairs, keeping keys exactly as given.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> HeaderMap {
        HeaderMap {
            pairs: pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_ref().as_bytes().to_vec(),
                        v.as_ref().as_bytes().to_vec(),
                    )
                })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs as (lossy) UTF-8 strings, in order.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    /// The first value of `key`, bytes.
    pub fn get_bytes(&self, key: &[u8]) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `key`, as a (lossy) string.
    pub fn get(&self, key: &str) -> Option<String> {
        self.get_bytes(key.as_bytes())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Every value of `key`, in order.
    pub fn get_all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes()))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// Appends a pair (the key lowercased).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        self.pairs.push((key.to_ascii_lowercase(), value.to_vec()));
    }

    /// Sets the first occurrence of `key` to `value` and drops later ones; adds
    /// the pair when absent.
    pub fn replace(&mut self, key: &[u8], value: &[u8]) {
        match self
            .pairs
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some(first) => {
                if let Some(pair) = self.pairs.get_mut(first) {
                    pair.1 = value.to_vec();
                }
                let mut index = 0;
                self.pairs.retain(|(k, _)| {
                    let keep = index <= first || !k.eq_ignore_ascii_case(key);
                    index += 1;
                    keep
                });
            }
            None => self.add(key, value),
        }
    }

    /// Removes every occurrence of `key`.
    pub fn remove(&mut self, key: &[u8]) {
        self.pairs.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    /// The proxy-wasm wire format of this map.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.pairs.len() as u32).to_le_bytes());
        for (k, v) in &self.pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in &self.pairs {
            out.extend_from_slice(k);
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
    }

    /// Parses the wire format. An empty input is an empty map (the SDK's own
    /// convention); anything truncated or missing its NUL terminators is an error.
    /// Keys are lowercased, as Envoy does for maps the filter sets.
    pub fn deserialize(bytes: &[u8]) -> Result<HeaderMap, String> {
        if bytes.is_empty() {
            return Ok(HeaderMap::new());
        }
        let read_u32 = |at: usize| -> Result<usize, String> {
            bytes
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| u32::from_le_bytes(b) as usize)
                .ok_or_else(|| format!("header map truncated at byte {at}"))
        };
        let count = read_u32(0)?;
        let mut sizes = Vec::with_capacity(count.min(1024));
        for n in 0..count {
            sizes.push((read_u32(4 + n * 8)?, read_u32(8 + n * 8)?));
        }
        let mut p = 4 + count * 8;
        let mut take = |len: usize| -> Result<Vec<u8>, String> {
            let data = bytes
                .get(p..p + len)
                .ok_or_else(|| format!("header map truncated at byte {p}"))?
                .to_vec();
            if bytes.get(p + len) != Some(&0) {
                return Err(format!("header map: missing NUL after string at byte {p}"));
            }
            p += len + 1;
            Ok(data)
        };
        let mut map = HeaderMap::new();
        for (klen, vlen) in sizes {
            let k = take(klen)?;
            let v = take(vlen)?;
            map.add(&k, &v);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_round_trip() {
        let map = HeaderMap::from_pairs(&[(":method", "GET"), ("x-a", "")]);
        let wire = map.serialize();
        assert_eq!(
            wire,
            [
                2, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, b':', b'm', b'e', b't',
                b'h', b'o', b'd', 0, b'G', b'E', b'T', 0, b'x', b'-', b'a', 0, 0
            ]
        );
        assert_eq!(HeaderMap::deserialize(&wire).unwrap(), map);
        assert!(HeaderMap::deserialize(&wire[..wire.len() - 1]).is_err());
        assert!(HeaderMap::deserialize(&[]).unwrap().is_empty());
    }

    #[test]
    fn replace_keeps_first_position_and_drops_duplicates() {
        let mut map = HeaderMap::from_pairs(&[("a", "1"), ("B", "2"), ("c", "3"), ("b", "4")]);
        map.replace(b"b", b"x");
        assert_eq!(
            map.to_pairs(),
            [("a", "1"), ("B", "x"), ("c", "3")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
        map.remove(b"A");
        assert_eq!(map.len(), 2);
        map.replace(b"New", b"y");
        assert_eq!(map.get("new").as_deref(), Some("y"));
    }
}
