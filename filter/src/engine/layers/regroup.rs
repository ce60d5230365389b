//! Keys regrouped with single spaces (`AKIA R7UZ 3WQ4 XK2M 6PLD`) and characters cut apart
//! by separators that change from one to the next (`A-K.I_A R/7`, `4.9-1_6…`).
//!
//! [`super::rejoin`] reads groups and single characters joined by one repeated separator
//! other than a space; [`super::respell`] single characters spaced out. What is left is a
//! space between groups (prose has spaces between words, so groups must be of equal width,
//! hold a digit and a letter, or be 13 digits at least, in capitals and digits), and mixed separators (two
//! distinct ones at least, as one repeated separator is the other layers'). A chain of
//! pieces is:
//!
//! * **groups**: at least [`MIN_GROUPS`] pieces of equal width (3 to 8; the last may be
//!   shorter) with one separator byte between each two, a space among them or two distinct
//!   separators, at least [`MIN_JOINED`] characters holding both digits and letters, or at
//!   [`MIN_NUMBER`] to [`MAX_NUMBER`] digits in groups of 4 to 6 (a card or an id);
//! * **single characters**: at least [`MIN_JOINED`] one-character pieces, one separator byte
//!   between each two, two distinct separators at least.
//!
//! Cost on clean text: candidates are runs of at least [`MIN_RUN`] capitals, digits and
//! separators, found by probing every [`MIN_RUN`]-th byte ([`first_run_of`]); prose breaks
//! such runs with its lower-case letters. Lower-case keys cut this way are not read.

use super::class_bits::{ByteClass, ClassBits, Runs};
use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;
use std::borrow::Cow;

/// Shortest run of capitals, digits and separators looked at.
pub(super) const MIN_RUN: usize = 14;
/// Fewest characters a chain must join.
const MIN_JOINED: usize = 8;
/// Fewest digits of a grouped chain of digits only (a card number has 13 at least).
const MIN_NUMBER: usize = 13;
/// Most digits of a grouped chain of digits only (a card number has 19 at most).
const MAX_NUMBER: usize = 19;
/// Fewest groups of a grouped chain.
const MIN_GROUPS: usize = 3;
/// Widths of a group.
const GROUP_WIDTHS: std::ops::RangeInclusive<usize> = 3..=8;
/// Chains read per text.
const MAX_RUNS: usize = 16;

const fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'-' | b'.' | b'_' | b'/' | b'|' | b':' | b',' | b';' | b'+' | b'~' | b'*' | b'\\'
    )
}

const fn is_piece_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

const fn is_run_byte(b: u8) -> bool {
    is_piece_byte(b) || is_separator(b)
}

/// [`is_run_byte`] as a class.
pub(super) const RUN_BYTES: ByteClass = ByteClass::of(&byte_class_table!(|b| is_run_byte(b) as u8));

/// Appends the regrouped and mixed-separator chains of `text` to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    find_in(text, Runs::of(text, &RUN_BYTES, is_run_byte), out);
}

/// [`find`] in a long text's bits of [`RUN_BYTES`] (its shared classes).
pub(super) fn find_in_classes(text: &[u8], bits: &ClassBits, out: &mut Vec<Unwrapped>) {
    let runs: Runs<fn(u8) -> bool> = Runs::Classified(Cow::Borrowed(bits));
    find_in(text, runs, out);
}

/// The chains of the candidates in `runs` (runs of at least [`MIN_RUN`] run bytes).
fn find_in(text: &[u8], runs: Runs<impl Fn(u8) -> bool + Copy>, out: &mut Vec<Unwrapped>) {
    let mut from = 0;
    let mut chains = 0;
    // Reused across runs: timestamps and capitals in logs make many short candidates.
    let mut pieces: Vec<Piece> = Vec::new();
    while chains < MAX_RUNS {
        let Some((start, end)) = runs.next(from, MIN_RUN) else {
            return;
        };
        chains += chains_in(text, start, end, &mut pieces, out);
        from = end.max(start + 1);
    }
}

/// One piece of a run and the separator byte after it (`None`: two or more, or the end).
#[derive(Clone, Copy)]
struct Piece {
    span: Span,
    separator: Option<u8>,
}

/// Reads the chains of `text[start..end]`; returns how many it appended.
fn chains_in(
    text: &[u8],
    start: usize,
    end: usize,
    pieces: &mut Vec<Piece>,
    out: &mut Vec<Unwrapped>,
) -> usize {
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    pieces.clear();
    let mut added = 0;
    let mut i = start;
    while i < end {
        if !is_piece_byte(at(i)) {
            i += 1;
            continue;
        }
        let piece_start = i;
        while i < end && is_piece_byte(at(i)) {
            i += 1;
        }
        let sep_start = i;
        while i < end && is_separator(at(i)) {
            i += 1;
        }
        let separator = (i - sep_start == 1 && i < end).then(|| at(sep_start));
        pieces.push(Piece {
            span: Span::new(piece_start, sep_start),
            separator,
        });
        if separator.is_none() {
            added += chain(text, pieces, out);
            pieces.clear();
        }
    }
    added + chain(text, pieces, out)
}

/// Appends the chains found in one stretch of pieces joined by single separators.
fn chain(text: &[u8], pieces: &[Piece], out: &mut Vec<Unwrapped>) -> usize {
    let mut added = 0;
    let mut i = 0;
    while i < pieces.len() {
        let Some(first) = pieces.get(i) else { break };
        let width = first.span.len();
        // The longest stretch of pieces of this width from `i`, and a shorter last piece.
        let mut j = i + 1;
        while pieces.get(j).is_some_and(|p| p.span.len() == width) {
            j += 1;
        }
        if pieces.get(j).is_some_and(|p| p.span.len() < width) && width > 1 {
            j += 1;
        }
        let stretch = pieces.get(i..j).unwrap_or_default();
        if let Some(run) = read(text, stretch, width) {
            out.push(run);
            added += 1;
        }
        i = j.max(i + 1);
    }
    added
}

/// The stretch's joined text, if it is a grouped or a single-character chain.
fn read(text: &[u8], stretch: &[Piece], width: usize) -> Option<Unwrapped> {
    let (first, last) = (stretch.first()?, stretch.last()?);
    // Separators between pieces of the stretch (not after its last).
    let separators = stretch
        .get(..stretch.len() - 1)?
        .iter()
        .filter_map(|p| p.separator);
    // Whether a space is among them, and two distinct ones (no per-call table to clear: most
    // stretches read are a few pieces of a log line's timestamp).
    let (mut space, mut mixed, mut first_separator) = (false, false, None);
    for s in separators {
        space |= s == b' ';
        mixed |= first_separator.is_some_and(|first| first != s);
        first_separator = first_separator.or(Some(s));
    }
    let joined_len: usize = stretch.iter().map(|p| p.span.len()).sum();
    let shaped_as_groups =
        GROUP_WIDTHS.contains(&width) && stretch.len() >= MIN_GROUPS && (space || mixed);
    let single = width == 1 && mixed;
    if !(shaped_as_groups || single) || joined_len < MIN_JOINED {
        return None;
    }
    let any_in = |test: fn(&u8) -> bool| stretch.iter().any(|p| p.span.of(text).iter().any(test));
    let digits = any_in(u8::is_ascii_digit);
    let letters = any_in(u8::is_ascii_alphabetic);
    // As cards and ids are printed: groups of 4 to 6, 13 to 19 digits (groups of three
    // are thousands, of eight binary octets; longer chains are tables).
    let number =
        !letters && (4..=6).contains(&width) && (MIN_NUMBER..=MAX_NUMBER).contains(&joined_len);
    let grouped = shaped_as_groups && digits && (letters || number);
    if !(grouped || single) {
        return None;
    }
    let mut joined = Vec::with_capacity(joined_len);
    for p in stretch {
        joined.extend_from_slice(p.span.of(text));
    }
    Some(Unwrapped {
        span: Span::new(first.span.start, last.span.end),
        wrapping: Wrapping::Rejoined,
        text: joined,
    })
}

#[cfg(test)]
mod tests {
    use super::super::class_bits::found_either_way;
    use super::*;

    fn found(text: &str) -> Vec<String> {
        crate::engine::layers::texts_found(find, text)
    }

    #[test]
    fn classified_texts_chain_what_probed_texts_chain() {
        let pieces: [&[u8]; 12] = [
            b"AKIA Q2ZT 6WM4 LX7B 3NRD",
            b"A-K.I_A/Q:2,Z;T+6~W*M 4 L",
            b"4.9-1_6.3-3_8.5-0_6.1-2_4.5-7_6",
            b"3201 0619 8704 1523 74",
            b"2026-11-05T12:34:56.789Z INFO  ",
            b"words in prose ",
            b"GET",
            b" ",
            b"-",
            b"Q",
            b"7",
            "\u{e9}".as_bytes(),
        ];
        let chains = found_either_way(0x7e_9a0b, &pieces, &RUN_BYTES, is_run_byte, find_in);
        assert!(chains > 5_000, "{chains}");
    }

    #[test]
    fn joins_groups_with_spaces_and_mixed_separators() {
        assert_eq!(
            found("key: AKIA Q2ZT 6WM4 LX7B 3NRD thanks"),
            ["AKIAQ2ZT6WM4LX7B3NRD"]
        );
        assert_eq!(
            found("id AKIAQ2 ZT6WM4.LX7B3N-RD"),
            ["AKIAQ2ZT6WM4LX7B3NRD"]
        );
        assert_eq!(
            found("A-K.I_A/Q:2,Z;T+6~W*M 4 L-X.7_B/3 N R D"),
            ["AKIAQ2ZT6WM4LX7B3NRD"]
        );
        assert_eq!(
            found("4.9-1_6.3-3_8.5-0_6.1-2_4.5-7_6"),
            ["4916338506124576"]
        );
        assert_eq!(found("id 3201 0619 8704 1523 74"), ["320106198704152374"]);
    }

    #[test]
    fn leaves_prose_tables_and_repeated_separators_alone() {
        for clean in [
            "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
            "scores 100 200 300 400 500 and 600",
            "TODO: FIX THIS ASAP; ALSO CHECK CI",
            "phone 0612 3456 7890 is too short for a card",
            "01000001 01001011 01001001 01000001 are binary octets",
            "1234 5678 9012 3456 7890 1234 is longer than a card",
            "A.K.I.A.Q.2.Z.T.6 is one repeated separator",
            "v1.2.3-rc.4 and 2024-05-06 12:30:00",
            "ISO 8601, RFC 3339, HTTP 1.1",
        ] {
            assert_eq!(found(clean), Vec::<String>::new(), "{clean}");
        }
    }
}
