//! Whether a text holds one of a detector group's keywords, for joined matching's edge test
//! (`straddle.rs`).
//!
//! The scanner runs a detector with keywords only around their occurrences in the text it
//! scans (ASCII case-insensitive; `scan/scanner.rs`), so such a detector finds nothing in a
//! window of fields that holds none of them, whatever its runs of letters and digits. Json's
//! keys and values joined end to end make runs long enough for the token shapes at most
//! edges (issue 16: 285 of 1 042 windows scanned on a 64 KiB json body); their keywords
//! (`sk-proj-`, `ghp_`, ...) are rare.

/// The keywords of the detectors sharing one finding shape, ASCII lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeywordGate {
    keywords: Vec<Box<[u8]>>,
}

impl KeywordGate {
    /// The gate of one detector: `None` (no gate) for a detector without keywords, which the
    /// scanner may run anywhere.
    pub(crate) fn of(keywords: &[String]) -> Option<KeywordGate> {
        if keywords.is_empty() || keywords.iter().any(String::is_empty) {
            return None;
        }
        let mut gate = KeywordGate {
            keywords: keywords
                .iter()
                .map(|k| k.as_bytes().to_ascii_lowercase().into_boxed_slice())
                .collect(),
        };
        gate.keywords.sort();
        gate.keywords.dedup();
        Some(gate)
    }

    /// The gate of detectors sharing a shape: open where any one's keyword is, and none if
    /// one of them has none.
    pub(crate) fn union(a: Option<KeywordGate>, b: Option<KeywordGate>) -> Option<KeywordGate> {
        let (mut a, b) = (a?, b?);
        a.keywords.extend(b.keywords);
        a.keywords.sort();
        a.keywords.dedup();
        Some(a)
    }

    /// Whether `text` holds one of the keywords, ASCII case-insensitively.
    pub(crate) fn occurs_in(&self, text: &[u8]) -> bool {
        self.keywords.iter().any(|k| occurs(k, text))
    }
}

/// Whether `keyword` (lowercased, not empty) occurs in `text` in any ASCII case.
fn occurs(keyword: &[u8], text: &[u8]) -> bool {
    let Some(&first) = keyword.first() else {
        return true;
    };
    let upper = first.to_ascii_uppercase();
    memchr::memchr2_iter(first, upper, text).any(|at| {
        text.get(at..at + keyword.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(keyword))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(keywords: &[&str]) -> Option<KeywordGate> {
        KeywordGate::of(&keywords.iter().map(|k| k.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn finds_keywords_in_any_case_and_unions_gates() {
        let g = gate(&["sk-proj-", "Ghp_"]).unwrap();
        assert!(g.occurs_in(b"key SK-Proj-abc"));
        assert!(g.occurs_in(b"ghp_"));
        assert!(!g.occurs_in(b"sk-pro"));
        assert!(!g.occurs_in(b"gh p_ sk_proj-"));
        assert!(gate(&[]).is_none());
        assert!(KeywordGate::union(gate(&["a1"]), None).is_none());
        let both = KeywordGate::union(gate(&["a1"]), gate(&["b2"])).unwrap();
        assert!(both.occurs_in(b"xB2") && both.occurs_in(b"A1") && !both.occurs_in(b"ab12"));
    }
}
