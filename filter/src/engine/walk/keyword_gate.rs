//! Whether a text holds what a detector group's findings need besides their runs, for joined
//! matching's edge test (`straddle.rs`): one of its keywords, or else the classes its findings
//! start with.
//!
//! The scanner runs a detector with keywords only around their occurrences in the text it
//! scans (ASCII case-insensitive; `scan/scanner.rs`), so such a detector finds nothing in a
//! window of fields that holds none of them, whatever its runs of letters and digits. Json's
//! keys and values joined end to end make runs long enough for the token shapes at most
//! edges (issue 16: 285 of 1 042 windows scanned on a 64 KiB json body); their keywords
//! (`sk-proj-`, `ghp_`, ...) are rare.
//!
//! A detector without keywords finds nothing in a window that holds no place where its
//! findings' leading classes ([`regex_facts::leading_classes`]) follow each other: an IBAN
//! starts with two capitals and two digits, which json's runs of digits then capitals
//! (`C5929383INTEGRATION`) do not hold (issue 16: the last 114 windows of that body).

use regex_facts::ByteSet;

/// What one of the detectors sharing a finding shape needs in a text (any one will do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeywordGate {
    needles: Vec<Needle>,
    /// All the needles in one pass, when one of them starts with a class memchr cannot
    /// search (a finding's capitals or digits) and they fit in 64 places.
    one_pass: Option<Box<ShiftAnd>>,
}

/// The needles' places as bits of one word (shift-and): reading a byte, place `i` of a
/// needle is reached if place `i - 1` was reached before it and the byte is in class `i`.
/// About eight wasm instructions a byte, for every needle at once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShiftAnd {
    /// Bit `p` of entry `b`: byte `b` is in the class of place `p`.
    table: [u64; 256],
    /// Each needle's first place (reached by any byte of its class).
    first: u64,
    /// Each needle's last place (reached: the needle occurs).
    last: u64,
}

/// A sequence of byte classes some stretch of the text must match, byte by byte: a keyword
/// (each byte in both ASCII cases) or a finding's leading classes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Needle {
    /// Class `i`: bit `b % 64` of word `b / 64` is set if byte `b` may stand at place `i`.
    classes: Box<[[u64; 4]]>,
    /// The first class's bytes when it has one or two (a keyword's first byte in both
    /// cases), for memchr's search.
    first: Option<(u8, u8)>,
}

/// A start gate needs at least this many classes: one class alone is every run's first byte.
const MIN_START: usize = 2;

impl KeywordGate {
    /// The gate of one detector: `None` (no gate) for a detector without keywords, which the
    /// scanner may run anywhere.
    pub(crate) fn of(keywords: &[String]) -> Option<KeywordGate> {
        if keywords.is_empty() || keywords.iter().any(String::is_empty) {
            return None;
        }
        let needles = keywords.iter().map(|k| Needle::keyword(k.as_bytes()));
        Some(KeywordGate::sorted(needles.collect()))
    }

    /// The gate of a detector every finding of which starts with bytes of `start`, one per
    /// class in turn (`None`, no gate, for fewer than [`MIN_START`] classes).
    pub(crate) fn starting(start: &[ByteSet]) -> Option<KeywordGate> {
        // A start of digit classes only (a card's `4\d{3}`) lies in nearly every long run of
        // digits, which the shape's run test already asks for: searching for it closed few
        // windows and cost adv-digits +0.3 %, cjk-escaped 8 KiB +0.7 % (issue 16).
        let any_digit = |class: &ByteSet| class.iter().any(|b| b.is_ascii_digit());
        if start.len() < MIN_START || start.iter().all(any_digit) {
            return None;
        }
        let classes = start.iter().map(|class| bits_of(class.iter())).collect();
        Some(KeywordGate::sorted(vec![Needle::of(classes)]))
    }

    /// The gate of detectors sharing a shape: open where any one's is, and none if one of them
    /// has none.
    pub(crate) fn union(a: Option<KeywordGate>, b: Option<KeywordGate>) -> Option<KeywordGate> {
        let (mut a, b) = (a?, b?);
        a.needles.extend(b.needles);
        Some(KeywordGate::sorted(a.needles))
    }

    fn sorted(mut needles: Vec<Needle>) -> KeywordGate {
        needles.sort();
        needles.dedup();
        let one_pass = (needles.iter().any(|n| n.first.is_none()))
            .then(|| ShiftAnd::of(&needles))
            .flatten();
        KeywordGate { needles, one_pass }
    }

    /// Whether `text` holds one of the needles.
    pub(crate) fn occurs_in(&self, text: &[u8]) -> bool {
        match &self.one_pass {
            Some(one_pass) => one_pass.occurs_in(text),
            None => self.needles.iter().any(|n| n.occurs_in(text)),
        }
    }
}

impl ShiftAnd {
    fn of(needles: &[Needle]) -> Option<Box<ShiftAnd>> {
        let mut out = Box::new(ShiftAnd {
            table: [0; 256],
            first: 0,
            last: 0,
        });
        let mut place = 0u32;
        for needle in needles {
            if needle.classes.is_empty() {
                return None;
            }
            out.first |= 1u64.checked_shl(place)?;
            for class in needle.classes.iter() {
                let bit = 1u64.checked_shl(place)?;
                for (b, entry) in (0..=255u8).zip(out.table.iter_mut()) {
                    if holds(class, b) {
                        *entry |= bit;
                    }
                }
                place += 1;
            }
            out.last |= 1u64.checked_shl(place - 1)?;
        }
        Some(out)
    }

    fn occurs_in(&self, text: &[u8]) -> bool {
        let mut reached = 0u64;
        for &b in text {
            // A needle's last place shifts into the next one's first, which `first` sets
            // anyway: the needles do not run together.
            let class = self.table.get(usize::from(b)).copied().unwrap_or(0);
            reached = (reached << 1 | self.first) & class;
            if reached & self.last != 0 {
                return true;
            }
        }
        false
    }
}

impl Needle {
    /// A keyword, matched in any ASCII case.
    fn keyword(keyword: &[u8]) -> Needle {
        let classes = keyword.iter().map(|&b| {
            let (lower, upper) = (b.to_ascii_lowercase(), b.to_ascii_uppercase());
            bits_of([lower, upper].into_iter())
        });
        Needle::of(classes.collect())
    }

    fn of(classes: Box<[[u64; 4]]>) -> Needle {
        let first = classes.first().and_then(members);
        Needle { classes, first }
    }

    fn occurs_in(&self, text: &[u8]) -> bool {
        let Some((first, rest)) = self.classes.split_first() else {
            return true;
        };
        let follows = |at: usize| {
            text.get(at + 1..at + 1 + rest.len())
                .is_some_and(|t| t.iter().zip(rest.iter()).all(|(&b, class)| holds(class, b)))
        };
        let last_start = text.len().saturating_sub(rest.len());
        let text = text.get(..last_start).unwrap_or_default();
        // A keyword's first byte in either case: memchr's search (as the keyword gate did).
        match self.first {
            Some((a, b)) => memchr::memchr2_iter(a, b, text).any(follows),
            None => (text.iter().enumerate()).any(|(at, &b)| holds(first, b) && follows(at)),
        }
    }
}

/// The one or two bytes of `class`, if it has no more.
fn members(class: &[u64; 4]) -> Option<(u8, u8)> {
    let count: u32 = class.iter().map(|w| w.count_ones()).sum();
    let mut bytes = (0..=255u8).filter(|&b| holds(class, b));
    match count {
        1 => bytes.next().map(|a| (a, a)),
        2 => Some((bytes.next()?, bytes.next()?)),
        _ => None,
    }
}

fn bits_of(bytes: impl Iterator<Item = u8>) -> [u64; 4] {
    let mut bits = [0u64; 4];
    for b in bytes {
        if let Some(w) = bits.get_mut(usize::from(b / 64)) {
            *w |= 1 << (b % 64);
        }
    }
    bits
}

fn holds(class: &[u64; 4], b: u8) -> bool {
    class
        .get(usize::from(b / 64))
        .is_some_and(|w| w >> (b % 64) & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(keywords: &[&str]) -> Option<KeywordGate> {
        KeywordGate::of(&keywords.iter().map(|k| k.to_string()).collect::<Vec<_>>())
    }

    fn start(pattern: &str) -> Option<KeywordGate> {
        let hir = regex_facts::parse(pattern).unwrap();
        KeywordGate::starting(&regex_facts::leading_classes(&hir))
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

    #[test]
    fn finds_a_findings_leading_classes() {
        let iban = start(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}\b").unwrap();
        assert!(iban.occurs_in(b"DE89"));
        assert!(iban.occurs_in(b"x,\"NL91ABNA0417164300"));
        assert!(!iban.occurs_in(b"C5929383INTEGRATION"));
        assert!(!iban.occurs_in(b"de89 D189 DE8") && !iban.occurs_in(b""));
        assert!(start(r"\d+x").is_none(), "one class alone gates nothing");
        assert!(
            start(r"4\d{3}").is_none(),
            "digits only: found in every run of them"
        );
        let either = KeywordGate::union(start(r"ab\d"), gate(&["Zq"])).unwrap();
        assert!(either.occurs_in(b"..ab7") && either.occurs_in(b"zQ") && !either.occurs_in(b"ab"));
    }

    /// The gate's search against every place tried in turn, over seeded texts.
    #[test]
    fn occurs_where_some_place_matches() {
        let gates = [
            start(r"[A-Z]{2}\d{2}").unwrap(),
            start(r"4\d{3}x").unwrap(),
            gate(&["ab", "b"]).unwrap(),
            KeywordGate::union(start(r"[Z0A]{2}4q"), gate(&["ab", "b9"])).unwrap(),
            KeywordGate::union(start(r"[A-Z]{2}\d{2}"), start(r"[4a]b")).unwrap(),
        ];
        assert!(gates[0].one_pass.is_some() && gates[2].one_pass.is_none());
        assert!(gates[1].one_pass.is_none(), "a single first byte: memchr");
        assert!(gates[3].one_pass.is_some() && gates[4].one_pass.is_some());
        let alphabet = b"aAbB4Z09 qx";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 9) as usize;
            let text: Vec<u8> = (0..len)
                .map(|i| alphabet[(seed >> (8 + 4 * i)) as usize % alphabet.len()])
                .collect();
            for g in &gates {
                let slow = g.needles.iter().any(|n| {
                    (0..text.len()).any(|at| {
                        n.classes.len() <= text.len() - at
                            && n.classes.iter().zip(&text[at..]).all(|(c, &b)| holds(c, b))
                    })
                });
                assert_eq!(
                    g.occurs_in(&text),
                    slow,
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }
}
