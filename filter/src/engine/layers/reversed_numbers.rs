//! Card numbers and resident ids written backwards with nothing around them that
//! [`super::ciphers`] would notice (no keyword of the policy, reversed, on the line).
//!
//! A reversed number is read only when its checksum holds backwards and not forwards:
//! 13 to 19 digits that pass the Luhn check reversed, or 17 digits and a check character
//! (`X` allowed, which reversed comes first) that pass GB 11643 reversed. The checksum is
//! the gate that keeps timestamps, order numbers and phone numbers from being read twice;
//! a number valid both ways is found as written.
//!
//! Cost on clean text: candidates are runs of at least [`MIN_DIGITS`] digits, found by
//! probing every [`MIN_DIGITS`]-th byte ([`first_run_of`]).

use crate::engine::bytes::first_run_of;
use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::scan::validators::{cn_resident_id, luhn_digits};
use crate::engine::span::Span;

/// Fewest digits of a card number.
pub(super) const MIN_DIGITS: usize = 13;
/// Most digits of a card number.
const MAX_DIGITS: usize = 19;
/// Digits of a resident id before its check character.
const ID_DIGITS: usize = 17;
/// Numbers read per text.
const MAX_RUNS: usize = 8;

/// Appends the numbers of `text` that validate only backwards, reversed, to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    let mut from = 0;
    let mut runs = 0;
    while runs < MAX_RUNS {
        let Some(start) = first_run_of(text, from, text.len(), MIN_DIGITS, |b| b.is_ascii_digit())
        else {
            return;
        };
        let rest = text.get(start..).unwrap_or_default();
        let end = start
            + rest
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(rest.len());
        from = end.max(start + 1);
        let word_edge = |i: Option<usize>| {
            i.and_then(|i| text.get(i))
                .is_none_or(|b| !b.is_ascii_alphanumeric())
        };
        // A reversed id starts with its check character, which may be an `X`.
        let check_x = start > 0 && matches!(text.get(start - 1), Some(b'X' | b'x'));
        let span_start = if check_x && end - start == ID_DIGITS {
            start - 1
        } else {
            start
        };
        if !word_edge(span_start.checked_sub(1)) || !word_edge(Some(end)) {
            continue;
        }
        let Some(number) = text.get(span_start..end) else {
            continue;
        };
        let reversed: Vec<u8> = number.iter().rev().copied().collect();
        let card = (MIN_DIGITS..=MAX_DIGITS).contains(&number.len())
            && luhn_digits(&reversed)
            && !luhn_digits(number);
        let id =
            number.len() == ID_DIGITS + 1 && cn_resident_id(&reversed) && !cn_resident_id(number);
        if card || id {
            out.push(Unwrapped {
                span: Span::new(span_start, end),
                wrapping: Wrapping::Reversed,
                text: reversed,
            });
            runs += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        crate::engine::layers::texts_found(find, text)
    }

    #[test]
    fn reads_numbers_valid_only_backwards() {
        let card = "5105105105105100";
        let reversed: String = card.chars().rev().collect();
        assert_eq!(found(&format!("pay with {reversed} today")), [card]);
        let id = "11010519491231002X";
        let reversed: String = id.chars().rev().collect();
        assert_eq!(found(&format!("证件 {reversed}")), [id]);
    }

    #[test]
    fn leaves_numbers_valid_forwards_or_not_at_all_alone() {
        for clean in [
            "pay with 5105105105105100 today",
            "timestamp 1733480000000 and order 4916338506124578",
            "id 11010519491231002X as written",
            "hash a1b2c3d4e5f60718293041526",
        ] {
            assert_eq!(found(clean), Vec::<String>::new(), "{clean}");
        }
    }
}
