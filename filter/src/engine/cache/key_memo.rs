//! Whether a JSON key arms a detector, remembered by the key's bytes for one request.
//!
//! A key that arms a detector is context for its value (`walk/mod.rs`), and telling costs a
//! run of the keyword automaton (~700 wasm instructions for `role` or `content`). A cached
//! request remembers the answer by the key's cache key; an uncached one has no such key, yet
//! its keys repeat just as much (`role`, `content` and `type` in every message). So the first
//! few short keys of a request are remembered by their bytes: the answer is a function of the
//! policy and the key's text alone, and a request has one policy.

/// Most distinct keys remembered per request (past these, keys are tested as before).
const MAX_KEYS: usize = 32;

/// Longest key remembered: longer ones are rare and each would cost its compare.
const MAX_KEY_BYTES: usize = 48;

#[derive(Debug, Default)]
pub(crate) struct KeyMemo {
    /// The remembered keys' bytes, end to end.
    bytes: Vec<u8>,
    /// Each key's span in `bytes` and its answer.
    keys: Vec<(u32, u32, bool)>,
}

impl KeyMemo {
    /// Forgets every key (a new request, perhaps under another policy).
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.keys.clear();
    }

    /// The answer for `key`: remembered, else `arms()` (remembered while there is room).
    pub(crate) fn arms(&mut self, key: &[u8], arms: impl FnOnce() -> bool) -> bool {
        if key.len() > MAX_KEY_BYTES {
            return arms();
        }
        let bytes = &self.bytes;
        let known = self.keys.iter().find(|&&(start, end, _)| {
            (end - start) as usize == key.len()
                && bytes.get(start as usize..end as usize) == Some(key)
        });
        if let Some(&(_, _, answer)) = known {
            return answer;
        }
        let answer = arms();
        if self.keys.len() < MAX_KEYS {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(key);
            let span = (u32::try_from(start), u32::try_from(self.bytes.len()));
            if let (Ok(start), Ok(end)) = span {
                self.keys.push((start, end, answer));
            }
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_the_test_does_and_tests_each_short_key_once() {
        let mut memo = KeyMemo::default();
        let mut rng = crate::engine::test_rng::TestRng::new(0x51d3_77a0_c2e4_9b15);
        let names = [
            "role", "content", "api_key", "type", "", "rol", "password", "x",
        ];
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        let arms = |k: &str| k.contains("key") || k.contains("pass") || k.len() > MAX_KEY_BYTES;
        let mut tests = 0;
        for _ in 0..2000 {
            let key = match rng.below(10) {
                0 => long.as_str(),
                _ => rng.pick(&names),
            };
            let answer = memo.arms(key.as_bytes(), || {
                tests += 1;
                arms(key)
            });
            assert_eq!(answer, arms(key), "{key:?}");
        }
        // The short keys once each; the long one every time it came.
        assert!(tests >= names.len() && tests < names.len() + 400, "{tests}");
        memo.clear();
        assert!(memo.arms(b"api_key", || true));
    }
}
