//! Undoing text cut apart to hide it: a key hard-wrapped across lines or string literals,
//! characters interleaved with separators, digit groups joined by unusual separators.
//!
//! Three families, all read as chains of alphanumeric *tokens* and the *glue* between them:
//!
//! * **wrapped**: glue holding a line break (`\n`, `\r\n`, or the two-character escapes
//!   `\n`/`\r\n` of text escaped once more), with indentation, quotes, `+` or `\` around it
//!   (`"AKIA…" +\n  "…"`, Python's implicit `("AKIA…"\n "…")`, a quoted-printable soft
//!   break `=\r\n`), or two quotes joined by an
//!   optional `+` on one line (`"AKIA…" + "…"`). One token next to the glue must hold a digit
//!   (prose breaks lines between words every few words; keys, card numbers and ids hold
//!   digits), and the rejoined text keeps up to [`CONTEXT`] bytes of words and single
//!   spaces around the cut so detectors needing a prefix (`card 4916 …`) still see it.
//! * **interleaved**: single characters (ASCII letters and digits, or any one non-ASCII
//!   character) with the same 1 to 3 separator bytes between each two (`A.K.I.A`, `A-K-I-A`,
//!   `A_K_I_A`, `A | K | I`, `机.密`), at least [`MIN_JOINED`] characters.
//!   (Single spaces are [`super::respell`]'s `spaced` family.)
//! * **grouped**: at least four groups of the same length (3 to 6) with one of `.` `-` `_`
//!   `/` `:` between them, half of them holding a digit: `4916.3385.0612.4576`,
//!   `AKIA-R7UZ-3WQ4-…`. UUIDs, dates, versions and phone numbers have unequal groups.
//!
//! Each chain becomes one [`Unwrapped`] run (the walker scans its rejoined text and maps any
//! finding to the whole run). Work is one pass over the bytes; runs share the respelled
//! budget ([`MAX_RESPELLED_RUNS`]).

use super::class_bits::{ByteClass, ClassBits};
use super::class_windows::LazyWindows;
use super::text_classes::TextClasses;
use super::wrap_candidates::{may_cut_at, Marked};
use crate::engine::layers::profile::{self, Profile};
use crate::engine::layers::{class_bit, Unwrapped, Wrapping};
use crate::engine::limits::MAX_RESPELLED_RUNS;
use crate::engine::span::Span;
use std::ops::Range;

/// Fewest alphanumeric characters a rejoined run must hold.
const MIN_JOINED: usize = 8;
/// Bytes of words and single spaces kept on each side of a wrapped cut.
const CONTEXT: usize = 40;
/// Most single digits an interleaved run may hold (a card has 19 at most, an id 18).
const MAX_DIGIT_PIECES: usize = 24;
/// Shortest piece before a wrapped cut (unless both sides are digit groups).
const MIN_WRAPPED_PIECE: usize = 8;
/// Longest glue of a wrapped cut (indentation included).
const MAX_WRAP_GLUE: usize = 24;

const fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Bits of [`CLASSES`]: the byte classes the interleave gate tests, one table read per byte,
/// eight bytes' classes to a word ([`crate::engine::bytes::next_class_window`]).
const TOKEN: u8 = 1;
const WORDISH: u8 = 2;
const SEPARATOR: u8 = 4;
const CONTINUATION: u8 = 8;
const SPACE: u8 = 16;

/// Each byte's classes, built from the predicates themselves (so they cannot disagree).
// Evaluated at compile time: an index out of bounds would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
const CLASS_TABLE: [u8; 256] = byte_class_table!(|byte| class_bit(is_token(byte), TOKEN)
    | class_bit(is_wordish(byte), WORDISH)
    | class_bit(is_separator(byte), SEPARATOR)
    | class_bit(byte & 0xC0 == 0x80, CONTINUATION)
    | class_bit(byte == b' ', SPACE));
static CLASSES: [u8; 256] = CLASS_TABLE;
/// The classes [`interleave_bits`] reads, for the gate over a long text ([`ClassWindows`]).
const INTERLEAVE_CLASSES: [ByteClass; 4] = [
    ByteClass::of_bit(&CLASS_TABLE, TOKEN),
    ByteClass::of_bit(&CLASS_TABLE, WORDISH),
    ByteClass::of_bit(&CLASS_TABLE, SEPARATOR),
    ByteClass::of_bit(&CLASS_TABLE, CONTINUATION | SPACE),
];

/// Whether `b` is of any class in `bits` (one table read).
#[cfg(test)]
fn class(b: u8, bits: u8) -> bool {
    CLASSES.get(usize::from(b)).copied().unwrap_or(0) & bits != 0
}

/// Finds the rejoined runs of `text` and appends them to `out`.
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    find_profiled(text, Profile::everything(), None, out);
}

/// [`find`], skipping each family whose bytes `profile` (the text's) says are absent;
/// `classes`: a long text's, whose wrapped candidates are read from them.
pub(super) fn find_profiled(
    text: &[u8],
    profile: Profile,
    classes: Option<&TextClasses>,
    out: &mut Vec<Unwrapped>,
) {
    // Every cut starts at one of these bytes (`wrapped`'s candidates).
    if profile.has(profile::WRAP) {
        match classes {
            Some(c) => wrapped_classified(text, &c.wrap_candidates, out),
            None => wrapped(text, out),
        }
    }
    if may_interleave_run(text, profile) {
        interleaved(text, out, Walk::AroundHits);
    }
    // Every chain holds glue (`next_group_hit` finds none without it).
    if profile.has(profile::GLUE) {
        grouped(text, out, Walk::AroundHits);
    }
}

/// Whether [`interleaved`] may report a run in `text`: a run holds at least three pieces of
/// [`MIN_JOINED`] bytes in all, with the same separator (1 to 3 separator bytes, not one
/// space) between each two. So the text is at least `MIN_JOINED + 2` bytes long and holds a
/// separator other than a space, or two spaces in a row.
fn may_interleave_run(text: &[u8], profile: Profile) -> bool {
    text.len() >= MIN_JOINED + 2
        && (profile.has(profile::SEPARATOR) || profile.may_have_double_space(text))
}

/// How [`interleaved`] and [`grouped`] walk a text: over every word, or only from a point
/// before each of their gate's hits where the walk over every word is known to pass (the
/// same runs, found without visiting the words in between).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    #[cfg(test)]
    Everywhere,
    AroundHits,
}

/// Whether `text` may hold an [`interleaved`] run (a gate: one branch-free pass). A run's first
/// piece is alone (an ASCII letter or digit after a byte that is not part of a word, or the
/// last byte of a non-ASCII character) and is followed by its separator: one byte that is not a
/// single space, or at least two (single spaces alone are the `spaced` family's).
#[cfg(test)]
fn may_interleave(text: &[u8]) -> bool {
    next_interleave_hit(text, 0).is_some()
}

/// The window test of [`may_interleave`] at the bytes `before`, `last` (a piece's last byte),
/// `sep` and `next` (the definition [`interleave_lanes`] computes eight at a time).
#[cfg(test)]
fn piece_then_separator(before: u8, last: u8, sep: u8, next: u8) -> bool {
    let alone = (class(last, TOKEN) & !class(before, WORDISH)) | class(last, CONTINUATION);
    alone & class(sep, SEPARATOR) & ((sep != b' ') | class(next, SEPARATOR))
}

/// The last byte of the first piece at or after `from` that passes [`may_interleave`]'s test.
///
/// Hits are sparse but the bytes tested are not (spaces, word ends): eight positions at a time.
fn next_interleave_hit(text: &[u8], from: usize) -> Option<usize> {
    crate::engine::bytes::next_class_window(text, from, &CLASSES, b' ', interleave_lanes)
}

/// [`interleave_lanes`] on 64 positions, from [`INTERLEAVE_CLASSES`]' bits. Its last class
/// joins two that no byte shares: a continuation byte is never a separator, and a space
/// always is, so with [`SEPARATOR`] it tells them apart.
#[inline(always)]
fn interleave_bits(before: &[u64; 4], last: &[u64; 4], sep: &[u64; 4], next: &[u64; 4]) -> u64 {
    let [token, _, _, continuation_or_space] = *last;
    let continuation = continuation_or_space & !last[2];
    let [_, wordish_before, _, _] = *before;
    let [_, _, separator, continuation_or_space] = *sep;
    let space = continuation_or_space & separator;
    let alone = (token & !wordish_before) | continuation;
    alone & separator & (!space | next[2])
}

/// [`piece_then_separator`] on eight positions: lane `i` of each argument holds the classes of
/// the `i`-th position's byte `before`, `last`, `sep` and `next`; a lane's low bit says it hits.
#[inline(always)]
fn interleave_lanes(before: u64, last: u64, sep: u64, next: u64) -> u64 {
    const LOW: u64 = u64::from_le_bytes([1; 8]);
    let bit = |lanes: u64, class: u8| lanes >> class.trailing_zeros() & LOW;
    let alone = (bit(last, TOKEN) & !bit(before, WORDISH)) | bit(last, CONTINUATION);
    alone & bit(sep, SEPARATOR) & (!bit(sep, SPACE) | bit(next, SEPARATOR))
}

/// Whether `text` may hold a [`grouped`] run (a gate): four groups of 3 to 6 characters put the
/// same glue byte at three places `width + 1` apart.
#[cfg(test)]
fn may_group(text: &[u8]) -> bool {
    next_group_hit(text, 0).is_some()
}

/// The bytes of [`is_group_glue`], for the gate's search.
const GROUP_GLUE_BYTES: [u8; 5] = *b".-_/:";

/// The first glue byte at or after `from` that starts a [`may_group`] hit: the same byte again
/// one and two steps further on, a step being a group width plus one (4 to 7). Glue is rare in
/// most text, so it is found eight bytes at a time and only its places are tested.
fn next_group_hit(text: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let g = crate::engine::byte_set::next_in(text, at, &GROUP_GLUE_BYTES)?;
        let glue = text.get(g);
        let repeats = |step: usize| text.get(g + step) == glue && text.get(g + 2 * step) == glue;
        if (4..=7).any(repeats) {
            return Some(g);
        }
        at = g + 1;
    }
}

/// The glue of a wrapped cut starting at `at` (just after a token): its end, if it is one.
fn wrap_glue_end(text: &[u8], at: usize) -> Option<usize> {
    let limit = (at + MAX_WRAP_GLUE).min(text.len());
    let mut i = at;
    let (mut breaks, mut quotes) = (0, 0);
    while i < limit {
        match text.get(i..) {
            Some([b'\n', ..]) => breaks += 1,
            Some([b'\\', b'n', ..]) | Some([b'\\', b'r', b'\\', b'n', ..]) => {
                breaks += 1;
                i += if text.get(i + 1) == Some(&b'r') { 3 } else { 1 };
            }
            Some([b'"' | b'\'', ..]) => quotes += 1,
            // `=` before a break: a quoted-printable soft line break.
            Some([b' ' | b'\t' | b'\r' | b'+' | b'\\' | b'=', ..]) => {}
            _ => break,
        }
        i += 1;
    }
    let next_is_token = text.get(i).copied().is_some_and(is_token);
    let glued = breaks > 0 || quotes == 2 || quotes == 4;
    (i > at && glued && next_is_token && breaks <= 2).then_some(i)
}

/// Whether the token `left` may continue in the token starting at `right`: a long left piece
/// (a key is cut after several characters) or digit groups on both sides (a card), and a right
/// piece that does not start a statement of its own (`NAME=`, `name:`, `call(`).
fn wrap_may_join(text: &[u8], left: Range<usize>, right: usize) -> bool {
    let right_end = token_end(text, right);
    let digits = |r: Range<usize>| {
        text.get(r)
            .is_some_and(|t| t.iter().all(u8::is_ascii_digit))
    };
    let long = left.len() >= MIN_WRAPPED_PIECE || (digits(left) && digits(right..right_end));
    let after = (right_end..text.len())
        .find(|&i| text.get(i) != Some(&b' '))
        .and_then(|i| text.get(i));
    let statement = text.get(right_end) == Some(&b'_') || matches!(after, Some(b'=' | b':' | b'('));
    long && !statement
}

/// Start of the token ending at `end`.
fn token_start(text: &[u8], end: usize) -> usize {
    (0..end)
        .rev()
        .find(|&i| !text.get(i).copied().is_some_and(is_token))
        .map_or(0, |i| i + 1)
}

fn token_end(text: &[u8], start: usize) -> usize {
    end_of(text, start, is_token)
}

/// The first offset from `start` whose byte is not `class` (tight loop over the slice).
fn end_of(text: &[u8], start: usize, class: fn(u8) -> bool) -> usize {
    text.get(start..)
        .and_then(|rest| rest.iter().position(|&b| !class(b)))
        .map_or(text.len(), |p| start + p)
}

/// The first offset from `start` whose byte is `class`, if any.
fn next_of(text: &[u8], start: usize, class: fn(u8) -> bool) -> Option<usize> {
    text.get(start..)?
        .iter()
        .position(|&b| class(b))
        .map(|p| start + p)
}

/// Words and single spaces before `at`, at most [`CONTEXT`] bytes back.
fn context_before(text: &[u8], at: usize) -> usize {
    let floor = at.saturating_sub(CONTEXT);
    let mut start = at;
    while start > floor {
        let b = text.get(start - 1).copied().unwrap_or(b'\n');
        let space_ok = b == b' ' && start >= 2 && text.get(start - 2) != Some(&b' ');
        if !(is_token(b) || matches!(b, b'_' | b'-' | b'=' | b':') || space_ok) {
            break;
        }
        start -= 1;
    }
    start
}

fn context_after(text: &[u8], at: usize) -> usize {
    let ceiling = (at + CONTEXT).min(text.len());
    let mut end = at;
    while end < ceiling {
        let b = text.get(end).copied().unwrap_or(b'\n');
        let space_ok = b == b' ' && text.get(end + 1) != Some(&b' ');
        if !(is_token(b) || matches!(b, b'_' | b'-' | b'=' | b':') || space_ok) {
            break;
        }
        end += 1;
    }
    end
}

fn has_digit(bytes: &[u8]) -> bool {
    bytes.iter().any(u8::is_ascii_digit)
}

/// Hard-wrapped and string-concatenated tokens (see the module documentation).
fn wrapped(text: &[u8], out: &mut Vec<Unwrapped>) {
    let may_cut = |at| may_cut_at(text, at, MAX_WRAP_GLUE, MIN_WRAPPED_PIECE);
    wrapped_from(text, candidates(text), may_cut, out, true);
}

/// [`wrapped`] over a long text's `candidates` (marked in its shared classes); where they are
/// dense, each is tested in the text's glue and tokens, marked once ([`Marked`]).
fn wrapped_classified(text: &[u8], candidates: &ClassBits, out: &mut Vec<Unwrapped>) {
    match Marked::if_dense(text, candidates) {
        Some(marked) => {
            let may_cut = |at| marked.may_cut_at(text, at, MAX_WRAP_GLUE, MIN_WRAPPED_PIECE);
            wrapped_from(text, candidates.members(), may_cut, out, true);
        }
        None => {
            let may_cut = |at| may_cut_at(text, at, MAX_WRAP_GLUE, MIN_WRAPPED_PIECE);
            wrapped_from(text, candidates.members(), may_cut, out, true);
        }
    }
}

/// The bytes [`wrapped`] looks for a cut from, found by search.
fn candidates(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr3_iter(b'\n', b'"', b'\\', text)
}

/// [`wrapped`]; `skip_failed`: pass over the candidates whose cut is known to fail, or cannot
/// be in a cut's glue (`may_cut`: [`may_cut_at`] or [`Marked::may_cut_at`]) (the tests compare
/// the walks).
fn wrapped_from(
    text: &[u8],
    candidates: impl Iterator<Item = usize>,
    may_cut: impl Fn(usize) -> bool,
    out: &mut Vec<Unwrapped>,
    skip_failed: bool,
) {
    let mut done = 0;
    // The last cut that failed: its glue start and the first token at or after it. Every
    // candidate before that token and within a glue's length of the start goes back to the
    // same start, and would fail the same way (`",\n    "` between JSON members: five
    // candidates, two starts).
    let mut failed: Option<(usize, usize)> = None;
    for c in candidates {
        if c < done || out.len() >= MAX_RESPELLED_RUNS {
            continue;
        }
        if skip_failed && !may_cut(c) {
            continue;
        }
        let known = failed.filter(|_| skip_failed);
        if known.is_some_and(|(start, token)| c < token && c - start < MAX_WRAP_GLUE) {
            continue;
        }
        // Back over glue bytes to the token the cut follows.
        let glue_start = (0..=c)
            .rev()
            .take(MAX_WRAP_GLUE)
            .find(|&i| i == 0 || text.get(i - 1).copied().is_some_and(is_token))
            .unwrap_or(c);
        if glue_start == 0 || glue_start < done {
            continue;
        }
        // Only a start found after a token: one found by giving up (no token within reach
        // back) is each candidate's own.
        let after_token = glue_start > 0 && text.get(glue_start - 1).copied().is_some_and(is_token);
        // The first token within a glue's length (no later candidate goes back that far): a
        // bounded look, so text without tokens (CJK) is not read to its end per failure.
        let fails = |start: usize| {
            after_token.then(|| {
                let reach = text.get(start..text.len().min(start + MAX_WRAP_GLUE));
                let reach = reach.unwrap_or_default();
                let token = reach.iter().position(|&b| is_token(b));
                (start, start + token.unwrap_or(reach.len()))
            })
        };
        let Some(first_glue_end) = wrap_glue_end(text, glue_start) else {
            failed = fails(glue_start);
            continue;
        };
        let left = token_start(text, glue_start);
        if !wrap_may_join(text, left..glue_start, first_glue_end) {
            failed = fails(glue_start);
            continue;
        }
        failed = None;
        let mut digit = has_digit(text.get(left..glue_start).unwrap_or_default());
        // Follow the chain: token, glue, token, glue, ...
        let mut cuts = vec![(glue_start, first_glue_end)];
        let mut right_end = token_end(text, first_glue_end);
        digit |= has_digit(text.get(first_glue_end..right_end).unwrap_or_default());
        while let Some(next) = wrap_glue_end(text, right_end)
            .filter(|&next| wrap_may_join(text, token_start(text, right_end)..right_end, next))
        {
            cuts.push((right_end, next));
            let end = token_end(text, next);
            digit |= has_digit(text.get(next..end).unwrap_or_default());
            right_end = end;
        }
        done = right_end;
        if !digit {
            continue;
        }
        let start = context_before(text, left);
        let end = context_after(text, right_end);
        let mut joined = Vec::with_capacity(end - start);
        let mut from = start;
        for (cut_start, cut_end) in cuts {
            joined.extend_from_slice(text.get(from..cut_start).unwrap_or_default());
            from = cut_end;
        }
        joined.extend_from_slice(text.get(from..end).unwrap_or_default());
        if joined.iter().filter(|b| is_token(**b)).count() >= MIN_JOINED {
            out.push(Unwrapped {
                span: Span::new(start, end),
                wrapping: Wrapping::Rejoined,
                text: joined,
            });
        }
    }
}

/// Separators between interleaved single characters.
pub(super) const fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\n'
            | b'\r'
            | b'.'
            | b'-'
            | b'_'
            | b'|'
            | b','
            | b'/'
            | b'*'
            | b':'
            | b';'
            | b'~'
            | b'+'
    )
}

/// Length of the character piece at `at`: an ASCII letter or digit, or one non-ASCII
/// character (CJK, brackets such as `【`); 0 if none starts there.
fn piece_len(text: &[u8], at: usize) -> usize {
    match text.get(at).copied() {
        Some(b) if is_token(b) => 1,
        Some(b) if b >= 0xC0 => {
            let len = if b >= 0xF0 {
                4
            } else if b >= 0xE0 {
                3
            } else {
                2
            };
            let whole = text.get(at..at + len).is_some_and(|c| {
                std::str::from_utf8(c).is_ok_and(|c| !c.chars().all(char::is_whitespace))
            });
            if whole {
                len
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// Whether `b` may be part of a word (so a character next to it is not alone).
const fn is_wordish(b: u8) -> bool {
    is_token(b) || b >= 0x80
}

/// The lone character piece at `at` (none of its neighbours is part of a word): its length.
fn lone_piece(text: &[u8], at: usize) -> usize {
    let len = piece_len(text, at);
    let alone = len > 0
        && !text.get(at + len).copied().is_some_and(is_wordish)
        && (at == 0 || !text.get(at - 1).copied().is_some_and(is_wordish));
    if alone {
        len
    } else {
        0
    }
}

/// Where the walk over every word of [`interleaved`] starts the run it reads through the
/// piece at `word`, if the walk is at `floor` (a word boundary) and no piece in between
/// passes [`may_interleave`]'s test: a piece that does not start a run of its own can still
/// be in one of pieces with single spaces between them (read, then dropped as `spaced`'s),
/// which would end where another separator follows. So back over such pieces.
fn run_start_before(text: &[u8], floor: usize, word: usize) -> usize {
    let mut start = word;
    while start >= floor + 2 && text.get(start - 1) == Some(&b' ') {
        let end = start - 1;
        let piece = (1..=4)
            .take_while(|&len| end >= floor + len)
            .map(|len| end - len)
            .find(|&at| lone_piece(text, at) == end - at);
        match piece {
            Some(at) => start = at,
            None => break,
        }
    }
    start
}

/// Single characters with separators between them (`A.K.I.A…`, `【.机.密.】`).
///
/// A word can start a run only if its piece passes [`may_interleave`]'s test, or it is a piece
/// with one space after it (a run of single spaces, which is read and dropped): so the walk
/// goes from one such hit to the next ([`Walk::AroundHits`]), backing from each over the
/// spaced pieces that may lead to it ([`run_start_before`]).
fn interleaved(text: &[u8], out: &mut Vec<Unwrapped>, walk: Walk) {
    // Long clean text is classified once a search walks far without a hit.
    let mut hits = LazyWindows::new(text, &INTERLEAVE_CLASSES, b' ');
    let mut i = 0;
    while out.len() < MAX_RESPELLED_RUNS {
        if walk == Walk::AroundHits {
            // `i` is a word boundary: 0, or a byte that is not part of a word.
            let Some(last) = hits.next(i, next_interleave_hit, interleave_bits) else {
                return;
            };
            // The piece ending at `last` (an ASCII character, or a character's last byte).
            let piece = (last.saturating_sub(3).max(i)..=last)
                .rev()
                .find(|&at| text.get(at).is_some_and(|&b| !(0x80..0xC0).contains(&b)))
                .unwrap_or(last);
            if lone_piece(text, piece) != last + 1 - piece {
                // Not a word of its own (a CJK word's last character, say): the walk over
                // every word passes it without a run, whatever led to it.
                i = end_of(text, last, is_wordish);
                continue;
            }
            i = run_start_before(text, i, piece);
        }
        // Words are skipped whole: only a one-character word can start a run.
        let Some(word) = next_of(text, i, is_wordish) else {
            return;
        };
        let word_end = end_of(text, word, is_wordish);
        i = word;
        let first = lone_piece(text, i);
        if first == 0 || word_end != i + first {
            i = word_end.max(i + 1);
            continue;
        }
        let start = i;
        let mut plain = b". ".to_vec();
        plain.extend_from_slice(text.get(i..i + first).unwrap_or_default());
        let mut end = i + first;
        let mut pieces = 1usize;
        // The same separator all along (`A.K.I.A`, not the `e.g. i.e.` of prose).
        let mut separator: Option<&[u8]> = None;
        loop {
            let seps = (end..(end + 3).min(text.len()))
                .take_while(|&k| text.get(k).copied().is_some_and(is_separator))
                .count();
            let next = end + seps;
            let this = text.get(end..next).unwrap_or_default();
            let len = lone_piece(text, next);
            if seps == 0 || len == 0 || separator.is_some_and(|s| s != this) {
                break;
            }
            separator = Some(this);
            plain.extend_from_slice(text.get(next..next + len).unwrap_or_default());
            pieces += 1;
            end = next + len;
        }
        // Single spaces alone are the `spaced` family's. The run is read between `. ` and ` .`
        // so that a lone word in it does not pass for a word alone on its line.
        // Counted in bytes: four CJK characters say as much as eight letters. Digits alone
        // in a long run or a comma-separated list are data (`[2, 2, 3, …]`), not a number cut up.
        let digits_only = plain
            .get(2..)
            .is_some_and(|p| p.iter().all(u8::is_ascii_digit));
        let data = digits_only
            && (pieces > MAX_DIGIT_PIECES || separator.is_some_and(|s| s.contains(&b',')));
        if plain.len() - 2 >= MIN_JOINED && pieces >= 3 && separator != Some(b" ") && !data {
            plain.extend_from_slice(b" .");
            out.push(Unwrapped {
                span: Span::new(start, end),
                wrapping: Wrapping::Rejoined,
                text: plain,
            });
        }
        i = end.max(i + 1);
    }
}

/// The bytes that may join [`grouped`] groups.
pub(super) const fn is_group_glue(b: u8) -> bool {
    matches!(b, b'.' | b'-' | b'_' | b'/' | b':')
}

/// Equal groups joined by one separator (`4916.3385.0612.4576`).
///
/// A chain of groups is made of token and glue bytes only, so the walk over every token
/// passes every token after a byte that is neither; and a reported chain holds a
/// [`may_group`] hit. So with [`Walk::AroundHits`] the walk starts at the last such token
/// before each hit (or where it is, if that is later).
fn grouped(text: &[u8], out: &mut Vec<Unwrapped>, walk: Walk) {
    const MIN_GROUPS: usize = 4;
    let is_glue = is_group_glue;
    let mut hit: Option<usize> = None;
    let mut i = 0;
    while out.len() < MAX_RESPELLED_RUNS {
        if walk == Walk::AroundHits && hit.is_none_or(|h| h < i) {
            let Some(h) = next_group_hit(text, i) else {
                return;
            };
            hit = Some(h);
            i = (i..h)
                .rev()
                .find(|&k| !text.get(k).is_some_and(|&b| is_token(b) || is_glue(b)))
                .map_or(i, |k| k + 1);
        }
        // Tokens are visited whole, so each starts after a byte that is not a token's.
        let Some(start) = next_of(text, i, is_token) else {
            return;
        };
        i = start;
        let first_end = token_end(text, i);
        let width = first_end - i;
        if !(3..=6).contains(&width) || !text.get(first_end).copied().is_some_and(is_glue) {
            i = first_end;
            continue;
        }
        let mut end = first_end;
        let mut groups = 1;
        let mut digits = usize::from(has_digit(text.get(i..first_end).unwrap_or_default()));
        let mut glue = None;
        while let Some(&g) = text
            .get(end)
            .filter(|&&g| is_glue(g) && glue.is_none_or(|x| x == g))
        {
            let next_end = token_end(text, end + 1);
            if next_end - (end + 1) != width {
                break;
            }
            glue = Some(g);
            digits += usize::from(has_digit(text.get(end + 1..next_end).unwrap_or_default()));
            groups += 1;
            end = next_end;
        }
        if (3..=6).contains(&width) && groups >= MIN_GROUPS && digits * 2 >= groups {
            let plain: Vec<u8> = text
                .get(i..end)
                .unwrap_or_default()
                .iter()
                .copied()
                .filter(|&b| is_token(b))
                .collect();
            out.push(Unwrapped {
                span: Span::new(i, end),
                wrapping: Wrapping::Rejoined,
                text: plain,
            });
        }
        i = end.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_class_table_agrees_with_the_predicates() {
        for b in 0..=255u8 {
            assert_eq!(super::class(b, super::TOKEN), super::is_token(b), "{b}");
            assert_eq!(super::class(b, super::WORDISH), super::is_wordish(b), "{b}");
            assert_eq!(
                super::class(b, super::SEPARATOR),
                super::is_separator(b),
                "{b}"
            );
            assert_eq!(
                super::class(b, super::CONTINUATION),
                b & 0xC0 == 0x80,
                "{b}"
            );
            assert_eq!(super::class(b, super::SPACE), b == b' ', "{b}");
        }
    }

    use super::*;

    #[test]
    fn the_interleave_gate_tests_every_window_a_walk_tests() {
        let mut rng = crate::engine::test_rng::TestRng::new(0xbb67_ae85_84ca_a73b);
        let bytes = [
            b'a', b'Z', b'7', b' ', b'.', b'-', b'|', b'=', 0xe6, 0x9c, 0xba, b'\n', b',',
        ];
        for _ in 0..3000 {
            let len = rng.below(60);
            let text: Vec<u8> = (0..len).map(|_| rng.pick(&bytes)).collect();
            let at = |i: usize| text.get(i).copied().unwrap_or(b' ');
            for from in 0..=len + 1 {
                let walk = (from..text.len()).find(|&p| {
                    let before = p.checked_sub(1).map_or(b' ', at);
                    piece_then_separator(before, at(p), at(p + 1), at(p + 2))
                });
                assert_eq!(next_interleave_hit(&text, from), walk, "{text:?} {from}");
            }
        }
    }

    /// The classified gate against the eight-lane walk, every start of texts of 0 to 700
    /// bytes; and the joined class splits as [`interleave_bits`] splits it.
    #[test]
    fn classified_interleave_hits_are_the_walked_ones() {
        for b in 0..=255u8 {
            let joined = class(b, CONTINUATION | SPACE);
            assert_eq!(
                joined && !class(b, SEPARATOR),
                class(b, CONTINUATION),
                "{b}"
            );
            assert_eq!(joined && class(b, SEPARATOR), class(b, SPACE), "{b}");
        }
        let pieces: [&[u8]; 14] = [
            b"a",
            b"Z",
            b"7",
            b" ",
            b".",
            b"-",
            b"|",
            b"=",
            b"\xe6\x9c\xba",
            b"\n",
            b",",
            b"word",
            b"  ",
            b"\x9c",
        ];
        let gate = super::super::class_windows::Gate {
            walked: next_interleave_hit,
            classes: INTERLEAVE_CLASSES,
            bits: interleave_bits,
        };
        let hits = super::super::class_windows::same_hits(0x1eaf, &pieces, &gate);
        assert!(hits > 10_000, "{hits}");
    }

    #[test]
    fn the_group_gate_finds_the_first_window_of_the_same_glue() {
        for b in 0..=255u8 {
            assert_eq!(GROUP_GLUE_BYTES.contains(&b), is_group_glue(b), "{b}");
        }
        let mut rng = crate::engine::test_rng::TestRng::new(0x3c6e_f372_fe94_f82b);
        for _ in 0..3000 {
            let len = rng.below(120);
            let text: Vec<u8> = (0..len).map(|_| rng.pick(b"a1.-_/:. x")).collect();
            let at = |i: usize| text.get(i).copied().unwrap_or(b' ');
            // The gate's definition, one window at a time.
            let window = |i: usize, step: usize| {
                is_group_glue(at(i)) && at(i) == at(i + step) && at(i) == at(i + 2 * step)
            };
            for from in [0, 1, 5, 30, 90] {
                let walk = (from..text.len()).find(|&i| (4..=7).any(|step| window(i, step)));
                assert_eq!(next_group_hit(&text, from), walk);
            }
        }
    }

    fn joined(text: &str) -> Vec<String> {
        super::super::texts_found(find, text)
    }

    #[test]
    fn wrapped_keys_are_rejoined() {
        for wrapped in [
            "key AKIAXXXX2345\nYYYYZZZZ end",
            "key AKIAXXXX2345\r\nYYYYZZZZ end",
            "key AKIAXXXX2345\n    YYYYZZZZ end",
            "key AKIAXXXX2345\\nYYYYZZZZ end",
            "key \"AKIAXXXX2345\" +\n  \"YYYYZZZZ\" end",
            "key (\"AKIAXXXX2345\"\n     \"YYYYZZZZ\") end",
            "key \"AKIAXXXX2345\" + \"YYYYZZZZ\" end",
        ] {
            let got = joined(wrapped);
            assert!(
                got.iter().any(|j| j.contains("AKIAXXXX2345YYYYZZZZ")),
                "{wrapped:?}: {got:?}"
            );
        }
        let three = joined("k AKIA1111X\n2222YYYY9\n3333 end");
        assert!(
            three.iter().any(|j| j.contains("AKIA1111X2222YYYY93333")),
            "{three:?}"
        );
        let card = joined("card 4916 3385\n0612 4576 thanks");
        assert!(
            card.iter().any(|j| j.contains("4916 33850612 4576")),
            "{card:?}"
        );
    }

    /// Tokens, glue and near misses of wrapped cuts.
    const WRAP_PIECES: &[&str] = &[
        "AKIAXXXX2345",
        "YYYYZZZZ",
        "4916",
        "name",
        "a1",
        "\"",
        "'",
        "+",
        "\\",
        "\\n",
        "=",
        "\n",
        "\r\n",
        " ",
        "    ",
        ",",
        ":",
        "(",
        "{",
        "x_",
        "value9",
        "",
        "号",
        "，，，，，，，，",
        "\\r\\n",
        "\t",
        ";",
        ")",
        "1234",
        "\"+\n    \"",
        "                ",
    ];

    // Characters one by one on their own lines (a separator read as a line break), where
    // no token lies within a glue's length before a candidate.
    /// [`may_cut_at`] on `text`, as [`wrapped`] tests its candidates.
    fn walked(text: &[u8]) -> impl Fn(usize) -> bool + '_ {
        move |at| may_cut_at(text, at, MAX_WRAP_GLUE, MIN_WRAPPED_PIECE)
    }

    const WRAP_LINES: &[&str] = &["号", "号", "，", "\n", "\n", "3", "20", "1"];

    #[test]
    fn skipping_failed_cuts_finds_what_every_candidate_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x3c6e_f372_fe94_f82b);
        let mut runs = 0;
        for round in 0..20000 {
            let set = if round % 2 == 0 {
                WRAP_PIECES
            } else {
                WRAP_LINES
            };
            let text: String = (0..rng.below(80)).map(|_| rng.pick(set)).collect();
            let text = text.as_bytes();
            let (mut skipping, mut every) = (Vec::new(), Vec::new());
            wrapped_from(text, candidates(text), walked(text), &mut skipping, true);
            wrapped_from(text, candidates(text), walked(text), &mut every, false);
            assert_eq!(skipping, every, "{:?}", String::from_utf8_lossy(text));
            runs += every.len();
        }
        assert!(runs > 1000, "{runs} runs");
    }

    /// Long texts (classified) of the same pieces: the candidates read from the shared classes
    /// find what searching every candidate without skipping finds.
    #[test]
    fn classified_candidates_find_what_every_candidate_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x510e_527f_ade6_82d1);
        let (mut runs, mut dense) = (0, 0);
        for round in 0..1500 {
            let set = if round % 2 == 0 {
                WRAP_PIECES
            } else {
                WRAP_LINES
            };
            let len = super::super::class_bits::MAX_PROBED + 1 + rng.below(1200);
            let mut text = String::new();
            while text.len() < len {
                text.push_str(rng.pick(set));
            }
            let text = text.as_bytes();
            let classes = TextClasses::of(text).expect("long");
            let (mut classified, mut every) = (Vec::new(), Vec::new());
            wrapped_classified(text, &classes.wrap_candidates, &mut classified);
            wrapped_from(text, candidates(text), walked(text), &mut every, false);
            assert_eq!(classified, every, "{:?}", String::from_utf8_lossy(text));
            let marked = Marked::if_dense(text, &classes.wrap_candidates);
            dense += usize::from(marked.is_some());
            runs += every.len();
        }
        assert!(runs > 1000 && dense > 300, "{runs} runs, {dense} dense");
    }

    #[test]
    fn prose_line_breaks_are_left_alone() {
        assert!(joined("Dear team,\nplease review the plan\nby Friday.").is_empty());
        assert!(joined("print(\"hello\")\nprint(\"world\")").is_empty());
        assert!(joined("DB_HOST=db01\nDB_PASSWORD=summer2024\nX=1").is_empty());
        assert!(joined("build_id = a1b2c3d4e5f6\nname = other").is_empty());
    }

    #[test]
    fn gates_pass_every_text_with_a_run() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x9e37_79b9_7f4a_7c15);
        let pieces = [
            "A", "k", "7", "机", "word", "4916", "AKIA", "abc", "12345", "", "e.g", "【",
        ];
        let seps = [
            ".", "-", " ", "  ", " | ", "_", "/", ":", ", ", "\n", "\t", "=", "...",
        ];
        for _ in 0..5000 {
            let count = rng.below(24);
            let text: String = (0..count)
                .map(|_| format!("{}{}", rng.pick(&pieces), rng.pick(&seps)))
                .collect();
            let text = text.as_bytes();
            let (mut interleaved_runs, mut grouped_runs) = (Vec::new(), Vec::new());
            interleaved(text, &mut interleaved_runs, Walk::Everywhere);
            grouped(text, &mut grouped_runs, Walk::Everywhere);
            let shown = String::from_utf8_lossy(text);
            assert!(
                interleaved_runs.is_empty() || may_interleave(text),
                "{shown:?}"
            );
            assert!(grouped_runs.is_empty() || may_group(text), "{shown:?}");
        }
    }

    #[test]
    fn walking_around_hits_finds_what_walking_everywhere_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x6a09_e667_f3bc_c908);
        let pieces = [
            "A", "k", "7", "机", "word", "4916", "AKIA", "abc", "12345", "", "e.g", "【", "中文",
            "x", "b2", "é",
        ];
        let seps = [
            ".", "-", " ", " ", " ", "  ", " | ", "_", "/", ":", ", ", "\n", "\t", "=", "...",
            "--", " .",
        ];
        for _ in 0..20000 {
            let count = rng.below(40);
            let text: String = (0..count)
                .map(|_| format!("{}{}", rng.pick(&pieces), rng.pick(&seps)))
                .collect();
            let text = text.as_bytes();
            let shown = String::from_utf8_lossy(text);
            for family in [interleaved, grouped] {
                let (mut around, mut everywhere) = (Vec::new(), Vec::new());
                family(text, &mut around, Walk::AroundHits);
                family(text, &mut everywhere, Walk::Everywhere);
                assert_eq!(around, everywhere, "{shown:?}");
            }
        }
    }

    #[test]
    fn interleaved_and_grouped() {
        assert_eq!(joined("key A.K.I.A.R.7.U.Z.3 end"), [". AKIAR7UZ3 ."]);
        assert_eq!(joined("A - K - I - A - 1 - 2 - 3 - 4"), [". AKIA1234 ."]);
        assert_eq!(joined("【.机.密.】 ok"), [". 【机密】 ."]);
        assert!(joined("中文.的.句子").is_empty());
        assert_eq!(joined("card 4916.3385.0612.4576 ok"), ["4916338506124576"]);
        assert!(joined("e.g. i.e. U.S.A. 1.2.3").is_empty());
        assert!(
            joined("A K I A 1 2 3 4").is_empty(),
            "single spaces are `spaced`"
        );
        for clean in [
            "id 123e4567-e89b-12d3-a456-426614174000",
            "on 2024-01-15 at 10.0.0.12",
            "call 555-123-4567",
            "version 1.22.3",
            "table [2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 68]",
            "digits 2.2.2.2.2.2.3.2.2.2.2.2.2.2.2.2.2.2.2.2.2.2.2.2.2.2.2",
        ] {
            assert!(joined(clean).is_empty(), "{clean}");
        }
    }
}
