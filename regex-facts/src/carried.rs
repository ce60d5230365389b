//! Facts as a built configuration carries them: each keyed to the pattern and keywords
//! it was read from and to [`FACTS_VERSION`], so that stale facts, or facts of a pattern
//! edited after the build, are never used.

use crate::{finding_shape, parse, unusable, RegexFacts, FACTS_VERSION};
use crate::{Anchor, ByteSet, FindingShape, RequiredRun};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One regex's facts as a configuration carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarriedFacts {
    /// [`key`] of the pattern and keywords the facts were read from.
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    longest: Option<usize>,
    /// [`ByteSet`] as 64 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bytes: Option<String>,
    /// [`RequiredRun`]: its class as 64 hex digits, and its length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run: Option<(String, usize)>,
    /// [`Anchor`]s as `[keyword index, bytes back]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    anchors: Option<Vec<(usize, usize)>>,
    /// [`FindingShape`]: its bytes as 64 hex digits, and its shortest length; only for a
    /// detector that joins (each costs load time to read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shape: Option<(String, usize)>,
    /// [`FindingShape::start`]: each class as 64 hex digits (absent: none known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<Vec<String>>,
}

/// Carried facts by detector id.
pub type FactsById = BTreeMap<String, CarriedFacts>;

impl CarriedFacts {
    pub fn new(pattern: &str, keywords: &[String], facts: &RegexFacts) -> CarriedFacts {
        CarriedFacts {
            key: key(pattern, keywords),
            longest: facts.longest_match,
            bytes: facts.required_bytes.as_ref().map(to_hex),
            run: facts
                .required_run
                .as_ref()
                .map(|run| (to_hex(&run.class), run.len)),
            anchors: facts
                .anchors
                .as_ref()
                .map(|anchors| anchors.iter().map(|a| (a.keyword, a.back)).collect()),
            shape: facts
                .shape
                .as_ref()
                .map(|shape| (to_hex(&shape.bytes), shape.min_len)),
            start: facts
                .shape
                .as_ref()
                .filter(|shape| !shape.start.is_empty())
                .map(|shape| shape.start.iter().map(to_hex).collect()),
        }
    }

    /// The facts, if they were read from `pattern` and `keywords` by this version.
    pub fn facts_for(&self, pattern: &str, keywords: &[String]) -> Option<RegexFacts> {
        if self.key != key(pattern, keywords) {
            return None;
        }
        let shape = match &self.shape {
            Some((hex, min_len)) => Some(FindingShape {
                bytes: from_hex(hex)?,
                min_len: *min_len,
                start: (self.start.iter().flatten())
                    .map(|hex| from_hex(hex))
                    .collect::<Option<Vec<_>>>()?,
            }),
            None => None,
        };
        let bytes = match &self.bytes {
            Some(hex) => Some(from_hex(hex)?),
            None => None,
        };
        let run = match &self.run {
            Some((hex, len)) => Some(RequiredRun {
                class: from_hex(hex)?,
                len: *len,
            }),
            None => None,
        };
        let anchors = self.anchors.as_ref().map(|anchors| {
            anchors
                .iter()
                .map(|&(keyword, back)| Anchor { keyword, back })
                .collect::<Vec<_>>()
        });
        // An anchor naming a keyword the detector does not have would arm nothing.
        if anchors
            .iter()
            .flatten()
            .any(|anchor| anchor.keyword >= keywords.len())
        {
            return None;
        }
        Some(RegexFacts {
            longest_match: self.longest,
            required_bytes: bytes,
            required_run: run,
            anchors,
            shape,
        })
    }
}

/// The facts of every usable detector regex (ASCII, parses, passes [`unusable`]), by detector
/// id; `detectors` gives each detector's id, regex and keywords, and whether it joins (its
/// [`FindingShape`] is then read too).
pub fn read_all<'a>(
    detectors: impl IntoIterator<Item = (&'a str, &'a str, &'a [String], bool)>,
) -> FactsById {
    detectors
        .into_iter()
        .filter_map(|(id, pattern, keywords, joins)| {
            let hir = parse(pattern).ok().filter(|_| pattern.is_ascii())?;
            if unusable(&hir).is_some() {
                return None;
            }
            let mut facts = RegexFacts::read(&hir, keywords);
            facts.shape = joins.then(|| finding_shape(&hir)).map(|mut shape| {
                // Its keywords gate a detector's joined edges; its start is not read (each
                // class costs load time).
                if !keywords.is_empty() {
                    shape.start.clear();
                }
                shape
            });
            Some((id.to_string(), CarriedFacts::new(pattern, keywords, &facts)))
        })
        .collect()
}

/// Names the facts' source: FNV-1a (64 bits) of the version, the pattern and the keywords.
/// Not a defence against forgery (whoever can edit the configuration can edit the
/// detectors): it keeps stale facts, or facts of an edited pattern, from being used.
fn key(pattern: &str, keywords: &[String]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator no pattern or keyword holds, so the parts cannot run together.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(&FACTS_VERSION.to_le_bytes());
    eat(pattern.as_bytes());
    for keyword in keywords {
        eat(keyword.as_bytes());
    }
    format!("{hash:016x}")
}

fn to_hex(set: &ByteSet) -> String {
    let mut bits = [0u8; 32];
    for b in set.iter() {
        if let Some(byte) = bits.get_mut(usize::from(b / 8)) {
            *byte |= 1 << (b % 8);
        }
    }
    bits.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Read at every load, for every carried set (a load reads some 400): one pass over the digits.
fn from_hex(hex: &str) -> Option<ByteSet> {
    if hex.len() != 64 {
        return None;
    }
    let mut set = ByteSet::empty();
    for (i, pair) in (0u8..).zip(hex.as_bytes().chunks_exact(2)) {
        let &[high, low] = pair else {
            return None;
        };
        let byte = nibble(high)? << 4 | nibble(low)?;
        for bit in (0..8u8).filter(|bit| byte >> bit & 1 == 1) {
            set.insert(i * 8 + bit);
        }
    }
    Some(set)
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carried(pattern: &str, keywords: &[&str]) -> (CarriedFacts, RegexFacts) {
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        let facts = RegexFacts::read(&parse(pattern).unwrap(), &keywords);
        (CarriedFacts::new(pattern, &keywords, &facts), facts)
    }

    #[test]
    fn carried_facts_read_back_as_they_were_written() {
        for (pattern, keywords) in [
            (r"\b(?:AC|SK)[a-f0-9]{32}:[A-Za-z0-9]{32}\b", &[][..]),
            (r"\+[1-9]\d{7,14}", &[]),
            (r"\b(?:ghp|gho)_[A-Za-z0-9]{36}", &["ghp_", "gho_"]),
            (r"(?i)secret\s*=\s*\S+", &["secret"]),
        ] {
            let (carried, facts) = carried(pattern, keywords);
            let json = serde_json::to_string(&carried).unwrap();
            let back: CarriedFacts = serde_json::from_str(&json).unwrap();
            let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
            assert_eq!(back.facts_for(pattern, &keywords), Some(facts), "{json}");
        }
    }

    #[test]
    fn a_joining_detectors_shape_reads_back_with_its_start() {
        let iban = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}\b";
        let card = r"(?:^|[^\w.])(?P<secret>4\d{3}(?:[ -]?\d{4}){3})\b";
        let email = r"[a-z]+@[a-z]+\.com";
        let all = read_all([("iban", iban, &[][..], true), ("card", card, &[], true)]);
        let all = all
            .into_iter()
            .chain(read_all([("email", email, &[][..], true)]));
        for (id, carried) in all {
            let pattern = [iban, card, email][["iban", "card", "email"]
                .iter()
                .position(|&i| i == id)
                .unwrap()];
            let json = serde_json::to_string(&carried).unwrap();
            let back: CarriedFacts = serde_json::from_str(&json).unwrap();
            let shape = back.facts_for(pattern, &[]).unwrap().shape.unwrap();
            assert_eq!(shape, finding_shape(&parse(pattern).unwrap()), "{json}");
            assert_eq!(shape.start.len(), if id == "email" { 1 } else { 4 }, "{id}");
        }
    }

    #[test]
    fn facts_of_another_pattern_or_keyword_list_are_not_used() {
        let (carried, _) = carried(r"\bpat[A-Za-z0-9]{14}", &["pat"]);
        let keywords = vec!["pat".to_string()];
        assert!(carried
            .facts_for(r"\bpat[A-Za-z0-9]{14}", &keywords)
            .is_some());
        assert!(carried
            .facts_for(r"\bpat[A-Za-z0-9]{15}", &keywords)
            .is_none());
        assert!(carried
            .facts_for(
                r"\bpat[A-Za-z0-9]{14}",
                &["pa".to_string(), "t".to_string()]
            )
            .is_none());
        let mut bad = carried.clone();
        bad.anchors = Some(vec![(3, 0)]);
        assert!(bad.facts_for(r"\bpat[A-Za-z0-9]{14}", &keywords).is_none());
    }

    #[test]
    fn byte_sets_survive_hex() {
        let set = ByteSet::of_class(&regex_syntax::hir::Class::Bytes(
            regex_syntax::hir::ClassBytes::new([
                regex_syntax::hir::ClassBytesRange::new(0, 3),
                regex_syntax::hir::ClassBytesRange::new(b'0', b'9'),
                regex_syntax::hir::ClassBytesRange::new(250, 255),
            ]),
        ))
        .unwrap();
        assert_eq!(from_hex(&to_hex(&set)), Some(set.clone()));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&to_hex(&set).to_uppercase()), Some(set.clone()));
        assert_eq!(from_hex(&format!("{}g", &to_hex(&set)[1..])), None);
    }
}
