//! Undoing ROT13 and text written backwards (whole, or word by word).
//!
//! Every other layer finds its runs by their shape (`%41`, a base64 run, `A.K.I.A`). A
//! rotated or reversed text has no shape: it is letters and words like any other, so trying
//! each cipher on every word would cost a decoding of every field per cipher. Instead the
//! policy's own keywords and phrases are enciphered when the scanner is built
//! ([`hint_patterns`]): `akia` becomes `nxvn` (ROT13) and `aika` (reversed), and the first
//! [`HINT_LEN`] bytes of these forms join the keyword automaton that already reads every
//! byte. Only where one occurs ([`KeywordHint`]) is the text around it deciphered
//! ([`find`]) and scanned like a decoded run; the finding, and any mask, covers that run.
//!
//! The price is the automaton's size: the default policy's 768 keywords and phrases fill its
//! table to about half of its limit, and the two forms cut to [`HINT_LEN`] bytes add about
//! 1,000 patterns (the automata's heap grows from 2.39 to about 3.8 MB; see
//! `benches/RESULTS.md`). Forms holding a space or fewer than three different bytes are left
//! out: they occur in ordinary text (` let`, `aaaaa`) and each occurrence costs a scan.
//! Whole forms (ROT13 alone, uncut, already overflows), or more
//! ciphers (ROT47, Atbash, Caesar shifts: each another copy of every keyword), overflow the
//! table, and the automaton falls back to the slower compact one for every byte of every
//! request. So those stay open (`docs/threat-model.md`).
//!
//! What this does not find either: an enciphered secret with no keyword of the policy on its
//! line (a reversed card number alone; ROT13 leaves digits as they are, so a rotated card is
//! found plain); keywords shorter than [`MIN_HINT_LEN`], whose enciphered forms are too common
//! in ordinary text.

use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::scan::scanner::KeywordHint;
use crate::engine::span::Span;

/// A way of enciphering text that [`find`] undoes. The discriminant is the hint id the
/// scanner reports ([`KeywordHint::hint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cipher {
    /// Letters rotated by 13 (their own inverse), digits kept. (ROT18, digits rotated by 5
    /// too, is not read: it would turn allowlisted example keys into new ones.)
    Rot13 = 0,
    /// Characters in reverse order: the whole text, or each word.
    Reversed = 1,
    /// A cipher named in the text (`ROT47`, `Atbash`, `Caesar`, `shift back by …`): the text
    /// after the name read with every Caesar shift, Atbash and ROT47 ([`NAMES`]).
    Named = 2,
}

/// The ciphers whose forms of every keyword join the automaton.
const CIPHERS: [Cipher; 2] = [Cipher::Rot13, Cipher::Reversed];

/// Names of ciphers and of shifting, as a request asking a model to decode names them: ROT47,
/// Atbash and Caesar shifts other than 13 have no hints of their own (a copy of every keyword
/// per cipher overflows the automaton's table), so the name is the gate. They join the
/// automaton as they are (a few dozen patterns); a text naming none is not deciphered.
pub const NAMES: [&str; 22] = [
    "atbash",
    "caesar",
    "cipher",
    "cypher",
    "rot47",
    "rot-47",
    "rot 47",
    "rot1",
    "rot2",
    "rot3",
    "rot4",
    "rot5",
    "rot6",
    "rot7",
    "rot8",
    "rot9",
    "shift back",
    "shifted back",
    "shift by",
    "shifted by",
    "rotated by",
    "rotate by",
];
/// Bytes read after a cipher's name (and before it, where it follows the text), in its field.
const NAMED_REACH: usize = 2048;

/// Bytes of each enciphered keyword in the automaton: enough to be rare in ordinary text,
/// few enough that the automaton stays a table (see the module documentation).
pub const HINT_LEN: usize = 5;
/// Shortest enciphered keyword added to the automaton: three-letter forms (`xrl` for `key`)
/// occur in ordinary words too often to be worth a deciphering each.
pub const MIN_HINT_LEN: usize = 4;
/// Bytes deciphered on each side of an enciphered keyword, within its line: a keyword's
/// secret lies next to it (the detectors' own reach is similar).
const REACH: usize = 256;
/// Deciphered runs per text; a text full of enciphered keywords gets this many.
const MAX_RUNS: usize = 16;

impl Cipher {
    fn from_hint(hint: u32) -> Option<Cipher> {
        match hint {
            2 => Some(Cipher::Named),
            _ => CIPHERS.get(usize::try_from(hint).ok()?).copied(),
        }
    }

    /// How findings inside the deciphered run name the layer.
    fn wrapping(self) -> Wrapping {
        match self {
            Cipher::Reversed => Wrapping::Reversed,
            Cipher::Rot13 | Cipher::Named => Wrapping::Rotated,
        }
    }

    /// The enciphered form of one (ASCII-lower-cased) keyword.
    fn encipher_keyword(self, keyword: &[u8]) -> Vec<u8> {
        match self {
            Cipher::Reversed => reversed_chars(keyword),
            Cipher::Rot13 => keyword.iter().map(|&b| rot13(b)).collect(),
            Cipher::Named => keyword.to_vec(),
        }
    }

    /// The deciphered readings of `run`, appended to `out` as runs of `span`.
    fn decipher(self, run: &[u8], span: Span, out: &mut Vec<Unwrapped>) {
        let mut push = |text: Vec<u8>| {
            out.push(Unwrapped {
                span,
                wrapping: self.wrapping(),
                text,
            });
        };
        match self {
            Cipher::Reversed => {
                let whole = reversed_chars(run);
                let by_word = reversed_words(run);
                if by_word != whole {
                    push(by_word);
                }
                push(whole);
            }
            Cipher::Rot13 => push(run.iter().map(|&b| rot13(b)).collect()),
            Cipher::Named => {
                // Every shift but 13 (ROT13 has hints of its own), Atbash, ROT47.
                for by in (1..26).filter(|&by| by != 13) {
                    push(run.iter().map(|&b| shift(b, by)).collect());
                }
                push(run.iter().map(|&b| atbash(b)).collect());
                push(run.iter().map(|&b| rot47(b)).collect());
            }
        }
    }

    /// How far around a hint of this cipher the text is deciphered.
    fn reach(self) -> usize {
        match self {
            Cipher::Named => NAMED_REACH,
            Cipher::Rot13 | Cipher::Reversed => REACH,
        }
    }
}

/// An ASCII letter shifted `by` places in its alphabet (`by` below 26).
fn shift(b: u8, by: u8) -> u8 {
    match b {
        b'a'..=b'z' => b'a' + (b - b'a' + by) % 26,
        b'A'..=b'Z' => b'A' + (b - b'A' + by) % 26,
        _ => b,
    }
}

/// An ASCII letter mirrored in its alphabet (`a` and `z`).
fn atbash(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => b'z' - (b - b'a'),
        b'A'..=b'Z' => b'Z' - (b - b'A'),
        _ => b,
    }
}

/// Printable ASCII (`!` to `~`) rotated by 47.
fn rot47(b: u8) -> u8 {
    match b {
        b'!'..=b'~' => b'!' + (b - b'!' + 47) % 94,
        _ => b,
    }
}

fn rot13(b: u8) -> u8 {
    shift(b, 13)
}

/// `bytes` with its characters in reverse order (UTF-8 kept whole; invalid bytes as U+FFFD).
fn reversed_chars(bytes: &[u8]) -> Vec<u8> {
    let mut out = String::with_capacity(bytes.len());
    out.extend(String::from_utf8_lossy(bytes).chars().rev());
    out.into_bytes()
}

/// `bytes` with each whitespace-separated word reversed in place.
fn reversed_words(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let word_len = rest
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_len);
        out.extend(reversed_chars(word));
        let gap = after
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(after.len());
        let (spaces, next) = after.split_at(gap);
        out.extend_from_slice(spaces);
        rest = next;
    }
    out
}

/// The enciphered forms of `keywords` (ASCII-lower-cased, as the automaton holds them) to add
/// to the keyword automaton, each with its hint id: the first [`HINT_LEN`] bytes of the forms
/// of keywords of at least [`MIN_HINT_LEN`] bytes with three letters (or non-ASCII characters)
/// in them, where the form differs from the keyword.
pub fn hint_patterns<K: AsRef<[u8]>>(keywords: &[K]) -> Vec<(Vec<u8>, u32)> {
    let mut hints = Vec::new();
    for keyword in keywords {
        let keyword = keyword.as_ref();
        let distinctive = keyword
            .iter()
            .filter(|b| b.is_ascii_alphabetic() || !b.is_ascii())
            .count()
            >= 3;
        if keyword.len() < MIN_HINT_LEN || !distinctive {
            continue;
        }
        for cipher in CIPHERS {
            let mut form = cipher.encipher_keyword(keyword);
            form.truncate(HINT_LEN);
            // A form with a space (` let` of `tel `, `on in`) is an ordinary word too often, and
            // one of fewer than three different bytes (`aaaaa`) a run of filler.
            if !form.eq_ignore_ascii_case(keyword)
                && !form.iter().any(u8::is_ascii_whitespace)
                && distinct_folded_bytes(&form) >= 3
            {
                hints.push((form, cipher as u32));
            }
        }
    }
    for name in NAMES {
        hints.push((name.as_bytes().to_vec(), Cipher::Named as u32));
    }
    hints
}

/// How many different bytes `form` holds, ASCII case folded (a form is at most [`HINT_LEN`]
/// bytes, so pairwise is cheaper than sorting a copy, and this runs per keyword at every load).
fn distinct_folded_bytes(form: &[u8]) -> usize {
    let seen_before = |i: usize, b: &u8| {
        form.get(..i)
            .is_some_and(|before| before.iter().any(|a| a.eq_ignore_ascii_case(b)))
    };
    form.iter()
        .enumerate()
        .filter(|&(i, b)| !seen_before(i, b))
        .count()
}

/// Deciphers the text around each enciphered keyword of `text` (`hints`, as the scanner found
/// them) and appends the readings to `out`: per cipher, the stretch of the hint's line within
/// [`REACH`] bytes of it (a named cipher: its field within [`NAMED_REACH`]), overlapping
/// stretches merged.
pub fn find(text: &[u8], hints: &[KeywordHint], out: &mut Vec<Unwrapped>) {
    let mut windows: Vec<(Cipher, Span)> = hints
        .iter()
        .filter_map(|h| {
            let cipher = Cipher::from_hint(h.hint)?;
            Some((cipher, window(text, h.start, h.end, cipher.reach())))
        })
        .collect();
    windows.sort_unstable();
    let mut merged: Vec<(Cipher, Span)> = Vec::with_capacity(windows.len());
    for (cipher, span) in windows {
        match merged.last_mut() {
            Some((c, last)) if *c == cipher && span.start <= last.end => {
                last.end = last.end.max(span.end);
            }
            _ => merged.push((cipher, span)),
        }
    }
    for (cipher, span) in merged.into_iter().take(MAX_RUNS) {
        cipher.decipher(span.of(text), span, out);
    }
}

/// The stretch of `text` deciphered around a keyword at `start..end`: its line, at most
/// `reach` bytes either side, cut at whitespace where the reach ends inside the line. A named
/// cipher's stretch crosses lines (`Atbash:` on a line of its own, the text below it).
fn window(text: &[u8], start: usize, end: usize, reach: usize) -> Span {
    let end = end.min(text.len());
    let start = start.min(end);
    let crosses_lines = reach > REACH;
    let is_break = |b: &u8| !crosses_lines && (*b == b'\n' || *b == b'\r');
    let from = start.saturating_sub(reach);
    let before = text.get(from..start).unwrap_or_default();
    let line_start = before.iter().rposition(is_break).map(|p| from + p + 1);
    let first = line_start.unwrap_or_else(|| {
        // Cut at whitespace, so no word is read from its middle (unless there is none).
        let cut = before.iter().position(u8::is_ascii_whitespace);
        if from == 0 {
            0
        } else {
            cut.map_or(from, |p| from + p + 1)
        }
    });
    let to = end.saturating_add(reach).min(text.len());
    let after = text.get(end..to).unwrap_or_default();
    let line_end = after.iter().position(is_break).map(|p| end + p);
    let last = line_end.unwrap_or_else(|| {
        let cut = after.iter().rposition(u8::is_ascii_whitespace);
        if to == text.len() {
            to
        } else {
            cut.map_or(to, |p| end + p)
        }
    });
    Span::new(first.min(start), last.max(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_different_bytes_case_folded() {
        for (form, distinct) in [(&b""[..], 0), (b"aaaaa", 1), (b"aAbB-", 3), (b"XrL", 3)] {
            let mut sorted = form.to_ascii_lowercase();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(distinct_folded_bytes(form), distinct);
            assert_eq!(sorted.len(), distinct);
        }
    }

    fn encipher(cipher: Cipher, text: &str) -> String {
        String::from_utf8(cipher.encipher_keyword(text.as_bytes())).unwrap()
    }

    #[test]
    fn each_cipher_round_trips() {
        let text = "Key id AKIAR7UZ3WQ4XK2M6PLD, ok? ~{[|]}";
        for cipher in CIPHERS {
            let enciphered = encipher(cipher, text);
            assert_ne!(enciphered, text, "{cipher:?}");
            let mut out = Vec::new();
            let span = Span::new(0, enciphered.len());
            cipher.decipher(enciphered.as_bytes(), span, &mut out);
            let readings: Vec<String> = out
                .into_iter()
                .map(|u| String::from_utf8(u.text).unwrap())
                .collect();
            assert!(
                readings.iter().any(|r| r == text),
                "{cipher:?}: {readings:?}"
            );
        }
    }

    #[test]
    fn a_named_cipher_reads_every_shift_atbash_and_rot47() {
        let text = b"Key id AKIAR7UZ3WQ4XK2M6PLD, card 4916338506124576.";
        let mut readings = Vec::new();
        Cipher::Named.decipher(text, Span::new(0, text.len()), &mut readings);
        let readings: Vec<Vec<u8>> = readings.into_iter().map(|u| u.text).collect();
        assert_eq!(readings.len(), 26);
        for encipher in [
            |b: u8| shift(b, 3),
            |b: u8| shift(b, 23),
            |b: u8| shift(b, 1),
            atbash,
            rot47,
        ] {
            let enciphered: Vec<u8> = text.iter().map(|&b| encipher(b)).collect();
            let mut out = Vec::new();
            Cipher::Named.decipher(&enciphered, Span::new(0, text.len()), &mut out);
            assert!(out.iter().any(|u| u.text == text));
        }
    }

    #[test]
    fn names_are_hints() {
        let hints = hint_patterns(&[&b"akia"[..]]);
        assert!(hints
            .iter()
            .any(|(p, h)| p == b"atbash" && *h == Cipher::Named as u32));
        assert_eq!(Cipher::from_hint(Cipher::Named as u32), Some(Cipher::Named));
    }

    #[test]
    fn known_forms() {
        assert_eq!(encipher(Cipher::Rot13, "sk-proj-"), "fx-cebw-");
        assert_eq!(encipher(Cipher::Reversed, "【机密】"), "】密机【");
        assert_eq!(reversed_words(b"TERCES POT  now"), b"SECRET TOP  won");
    }

    #[test]
    fn hints_skip_short_and_unchanged_keywords() {
        let hints = hint_patterns(&[&b"key"[..], b"akia", b"1234", b"abba", b"confidential"]);
        let forms: Vec<&[u8]> = hints
            .iter()
            .filter(|(_, h)| *h != Cipher::Named as u32)
            .map(|(p, _)| p.as_slice())
            .collect();
        assert!(forms.contains(&&b"nxvn"[..]));
        assert!(forms.contains(&&b"pbasv"[..]));
        assert!(forms
            .iter()
            .all(|f| (MIN_HINT_LEN..=HINT_LEN).contains(&f.len())));
        // `abba` reversed is itself; `1234` has no letters.
        assert!(!hints
            .iter()
            .any(|(p, h)| *h == Cipher::Reversed as u32 && p == b"abba"));
        assert!(!forms.contains(&&b"4321"[..]));
    }

    #[test]
    fn windows_stay_in_the_line_and_merge() {
        let text = b"first line\nsee nxvn here and nxvn there\nlast";
        let at = |needle: &[u8], from: usize| {
            from + text[from..]
                .windows(needle.len())
                .position(|w| w == needle)
                .unwrap()
        };
        let a = at(b"nxvn", 0);
        let b = at(b"nxvn", a + 1);
        let hints = [
            KeywordHint {
                hint: Cipher::Rot13 as u32,
                start: a,
                end: a + 4,
            },
            KeywordHint {
                hint: Cipher::Rot13 as u32,
                start: b,
                end: b + 4,
            },
        ];
        let mut out = Vec::new();
        find(text, &hints, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].span.of(text), b"see nxvn here and nxvn there");
        assert_eq!(out[0].text, b"frr akia urer naq akia gurer");
    }

    #[test]
    fn long_lines_are_cut_at_whitespace() {
        let filler = "word ".repeat(100);
        let text = format!("{filler}nxvn{filler}");
        let start = filler.len();
        let span = window(text.as_bytes(), start, start + 4, REACH);
        let run = span.of(text.as_bytes());
        assert!(run.len() <= 2 * REACH + 4);
        assert!(
            run.starts_with(b"word") && run.ends_with(b"word"),
            "{run:?}"
        );
    }
}
