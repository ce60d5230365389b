//! A check of a whole regex match that its finding must pass, run before the capture search
//! that finds the finding's span (issue 16, adversarial inputs).
//!
//! A card detector's match is a byte before the number (`(?:^|[^\w.])`) and the `secret` group.
//! Each candidate costs the search that found it, then a capture search (the lazy DFA over the
//! match again, then the backtracker), and only then the validator, which in digit-heavy text
//! rejects most candidates on their length or Luhn digit. When no byte outside the group can
//! be a digit ([`regex_facts::outside_secret_bytes`]), the finding's digits are the match's
//! (or the finding is the whole match, when the group stayed out). So the validators' digit
//! rule ([`Validator::luhn_digit_counts`]) can be checked on the match first, and a candidate
//! it rejects needs no capture search: the validators would reject its finding anyway.

use crate::engine::scan::validators::{luhn_count_within, Validator};
use std::ops::RangeInclusive;
use std::sync::OnceLock;

/// The digit rule a detector's findings must pass, checked on whole matches when its regex
/// allows; read from the pattern on the detector's first candidate.
#[derive(Debug)]
pub(super) struct DigitPrecheck {
    /// How many digits a finding holds, when its validators need Luhn digits.
    counts: Option<RangeInclusive<usize>>,
    /// Whether the rule holds for whole matches (`None`: not read yet).
    applies: OnceLock<bool>,
}

impl DigitPrecheck {
    /// The rule of `validators` (all of which a finding must pass).
    pub(super) fn of(validators: &[Validator]) -> DigitPrecheck {
        let counts = validators
            .iter()
            .filter_map(Validator::luhn_digit_counts)
            .reduce(|a, b| *a.start().max(b.start())..=*a.end().min(b.end()));
        DigitPrecheck {
            counts,
            applies: OnceLock::new(),
        }
    }

    /// False when `matched`, a whole match of `pattern` (always the same detector's: what its
    /// tree says is kept), cannot hold a finding the validators accept; true when it may, or
    /// when the rule cannot be checked on whole matches.
    pub(super) fn may_pass(&self, pattern: &str, matched: &[u8]) -> bool {
        let Some(counts) = &self.counts else {
            return true;
        };
        let applies = *self.applies.get_or_init(|| {
            let outside = regex_facts::parse(pattern)
                .ok()
                .and_then(|hir| regex_facts::outside_secret_bytes(&hir));
            outside.is_some_and(|set| !(b'0'..=b'9').any(|d| set.contains(d)))
        });
        !applies || luhn_count_within(matched, counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = r"(?:^|[^\w.])(?P<secret>4\d{3}(?:[ -]?\d{4}){3})\b";

    #[test]
    fn rejects_only_what_the_validators_would() {
        let card = || DigitPrecheck::of(&[Validator::PaymentCard]);
        let visa = card();
        assert!(visa.may_pass(CARD, b" 4111 1111 1111 1111"));
        assert!(!visa.may_pass(CARD, b" 4111 1111 1111 1112"));
        assert!(
            !visa.may_pass(CARD, b"(4111 1111 1111 1111 1111"),
            "20 digits"
        );
        // Digits outside the group, or no group: no precheck.
        let outside = r"9(?P<secret>\d{16})";
        assert!(card().may_pass(outside, b"94111111111111112"));
        assert!(card().may_pass(r"\d{16}", b"4111111111111112"));
        // Validators without a digit rule: no precheck.
        let entropy = DigitPrecheck::of(&[Validator::MinEntropy(1.0)]);
        assert!(entropy.may_pass(CARD, b" 4111 1111 1111 1112"));
        // Rules meet: Luhn's 2..=32 and a card's 12..=19.
        let both = DigitPrecheck::of(&[Validator::Luhn, Validator::PaymentCardOther]);
        assert!(!both.may_pass(CARD, b" 4111 1111 1111 1111 1111 1111 1113"));
    }
}
