//! Undoing spellings that hide text without encoding it: HTML character
//! references (`&#65;&#x4B;`), `\xNN` byte escapes, and characters spaced
//! out one by one (`A K I A R 7 ...`).
//!
//! Each respelled run becomes a segment, like a decoded base64 run: the
//! walker scans its plain form and maps any finding to the run as written.

use crate::engine::layers::profile::{self, Profile};
use crate::engine::layers::spaced_gate::{self, PairGate};
use crate::engine::layers::text_classes::TextClasses;
use crate::engine::layers::{Unwrapped, Wrapping};
use crate::engine::span::Span;
use memchr::memmem;
use std::ops::Range;

/// Fewest bytes a spaced-out run must join to be read as one word.
const MIN_SPACED: usize = 8;
use crate::engine::limits::MAX_RESPELLED_RUNS;

/// Finds the respelled runs of `text` (at most [`MAX_RESPELLED_RUNS`]). The walk calls
/// [`find_classified`]; this is for the tests, benches and fuzz targets.
#[cfg(any(test, feature = "bench-hooks"))]
pub fn find(text: &[u8], out: &mut Vec<Unwrapped>) {
    find_classified(text, TextClasses::boxed(text).as_deref(), out);
}

/// [`find`] with the text's classes ([`TextClasses::boxed`]: a long text's, read by the probing
/// gates `spaced` and `spelled` and by the layers that find runs; a short text's layers are
/// compiled without them).
pub fn find_classified(text: &[u8], classes: Option<&TextClasses>, out: &mut Vec<Unwrapped>) {
    match classes {
        Some(classes) => find_with(text, Some(classes), out),
        None => find_with(text, None, out),
    }
}

#[inline(always)]
fn find_with(text: &[u8], classes: Option<&TextClasses>, out: &mut Vec<Unwrapped>) {
    use crate::engine::steps::{count, Step};
    count(Step::Respell, text.len());
    // What a short field holds, once: a layer whose trigger is absent finds nothing, and is
    // not called (each condition below is that layer's own precondition).
    let profile = Profile::of(text);
    // Every escape below starts with `&`, `\` or `=`: one pass tells most prose has none.
    if profile.has(profile::ESCAPE) && memchr::memchr3(b'&', b'\\', b'=', text).is_some() {
        count(Step::Escapes, text.len());
        escapes(text, out);
    }
    if may_space_out(text, profile) {
        count(Step::Spaced, text.len());
        match classes {
            Some(classes) => {
                let gate = spaced_gate::Classified::new(text, classes, MIN_SPACED);
                spaced(text, &gate, out);
            }
            None => spaced(text, &spaced_gate::Walked(text), out),
        }
    }
    count(Step::Rejoin, text.len());
    super::rejoin::find_profiled(text, profile, classes, out);
    // Non-ASCII separators, and tag characters, are non-ASCII.
    if profile.has(profile::HIGH) {
        count(Step::Separators, text.len());
        super::separators::find(text, out);
    }
    // `recase`'s gate: a digit, or a lower-case letter before an upper-case one.
    if profile.has(profile::DIGIT | profile::UPPER) {
        count(Step::Recase, text.len());
        super::recase::find(text, out);
    }
    if profile.has(profile::HIGH) {
        count(Step::Tags, text.len());
        super::tags::find(text, out);
    }
    count(Step::ByteLists, text.len());
    match classes {
        Some(c) => super::byte_lists::find_in_classes(text, &c.list_bytes, out),
        None => super::byte_lists::find(text, out),
    }
    count(Step::Families, text.len());
    super::families::find_profiled(text, profile, classes, out);
    out.truncate(MAX_RESPELLED_RUNS);
}

/// Whether [`spaced`] may report a run in `text`: a run joins at least two pieces (each at
/// most 4 bytes) with single spaces into [`MIN_SPACED`] bytes; ASCII pieces are one byte each.
fn may_space_out(text: &[u8], profile: Profile) -> bool {
    let shortest = match profile.has(profile::HIGH) {
        true => MIN_SPACED + 1,
        false => 2 * MIN_SPACED - 1,
    };
    profile.has(profile::SPACE) && text.len() >= shortest
}

/// HTML references, `\x` and `\u` escapes, quoted-printable: each read only if `text` holds
/// its trigger.
fn escapes(text: &[u8], out: &mut Vec<Unwrapped>) {
    let has = |needle: &[u8]| memmem::find(text, needle).is_some();
    if memchr::memchr(b'&', text).is_some() && (has(b"&#") || has(b"&amp;")) {
        words(text, Wrapping::HtmlReference, html_references, out);
    }
    // Not `memmem`: its searcher is built per call, which costs more than most fields' scan.
    let hex_escape = memchr::memchr_iter(b'\\', text).any(|at| text.get(at + 1) == Some(&b'x'));
    if hex_escape {
        words(text, Wrapping::HexEscape, hex_escapes, out);
    }
    // `\u0041KIA…`: one JSON escape in a word (the decoder wants two), as in a JSON body
    // read as text because it did not parse.
    let unicode_escape = memchr::memchr_iter(b'\\', text).any(|at| text.get(at + 1) == Some(&b'u'));
    if unicode_escape {
        words(text, Wrapping::UnicodeEscape, unicode_escapes, out);
    }
    // Quoted-printable (`=41=4B`, a mail part's transfer encoding) shares `=` with
    // assignments and padding: only words with two escapes in a row are read.
    let qp_pair = |at: usize| {
        text.get(at + 3) == Some(&b'=')
            && text
                .get(at + 1..at + 3)
                .is_some_and(|h| h.iter().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')))
    };
    if memchr::memchr_iter(b'=', text).any(qp_pair) {
        words(text, Wrapping::HexEscape, quoted_printable, out);
    }
}

/// A word with quoted-printable escapes (`=4B`, upper-case hex as RFC 2045 writes them),
/// at least two in a row.
fn quoted_printable(word: &[u8]) -> Option<Vec<u8>> {
    let escape = |at: usize| -> Option<u8> {
        let hex = |b: u8| {
            matches!(b, b'0'..=b'9' | b'A'..=b'F')
                .then(|| crate::engine::bytes::hex_val(b))
                .flatten()
        };
        match word.get(at..at + 3) {
            Some([b'=', hi, lo]) => Some(hex(*hi)? << 4 | hex(*lo)?),
            _ => None,
        }
    };
    if !(0..word.len()).any(|at| escape(at).is_some() && escape(at + 3).is_some()) {
        return None;
    }
    let mut plain = Vec::with_capacity(word.len());
    let mut i = 0;
    while let Some(&b) = word.get(i) {
        match escape(i) {
            Some(byte) => {
                plain.push(byte);
                i += 3;
            }
            None => {
                plain.push(b);
                i += 1;
            }
        }
    }
    Some(plain)
}

/// A word with `\uXXXX` escapes, unescaped as JSON (lone surrogates become U+FFFD).
fn unicode_escapes(word: &[u8]) -> Option<Vec<u8>> {
    let escape = word
        .windows(6)
        .any(|w| matches!(w, [b'\\', b'u', hex @ ..] if hex.iter().all(u8::is_ascii_hexdigit)));
    if !escape {
        return None;
    }
    let mut plain = Vec::with_capacity(word.len());
    crate::engine::body::json::unescape(word, &mut plain);
    (plain != word).then_some(plain)
}

/// Applies `decode` to every whitespace-separated word; keeps the words it changed.
fn words(
    text: &[u8],
    wrapping: Wrapping,
    decode: fn(&[u8]) -> Option<Vec<u8>>,
    out: &mut Vec<Unwrapped>,
) {
    let mut start = 0;
    for word in text.split(|b| b.is_ascii_whitespace()) {
        let span = Span::new(start, start + word.len());
        start = span.end + 1;
        if out.len() >= MAX_RESPELLED_RUNS {
            return;
        }
        if let Some(text) = decode(word) {
            out.push(Unwrapped {
                span,
                wrapping,
                text,
            });
        }
    }
}

/// `&#65;`, `&#x4B;` (semicolon optional) and the common named references.
fn html_references(word: &[u8]) -> Option<Vec<u8>> {
    const NAMED: [(&[u8], &str); 6] = [
        (b"amp;", "&"),
        (b"lt;", "<"),
        (b"gt;", ">"),
        (b"quot;", "\""),
        (b"apos;", "'"),
        (b"nbsp;", " "),
    ];
    let mut plain = Vec::with_capacity(word.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = word.get(i) {
        let rest = word.get(i + 1..).unwrap_or_default();
        if b == b'&' {
            if let Some((ch, used)) = numeric_reference(rest) {
                let mut buf = [0u8; 4];
                plain.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += 1 + used;
                changed = true;
                continue;
            }
            if let Some((name, value)) = NAMED.iter().find(|(name, _)| rest.starts_with(name)) {
                plain.extend_from_slice(value.as_bytes());
                i += 1 + name.len();
                changed = true;
                continue;
            }
        }
        plain.push(b);
        i += 1;
    }
    changed.then_some(plain)
}

/// `#65;` or `#x4B;` after an `&`: the character and the bytes used.
fn numeric_reference(rest: &[u8]) -> Option<(char, usize)> {
    let body = rest.strip_prefix(b"#")?;
    let (digits, radix, skip) = match body.first() {
        Some(b'x' | b'X') => (body.get(1..).unwrap_or_default(), 16, 2),
        _ => (body, 10, 1),
    };
    let len = digits
        .iter()
        .take(7)
        .take_while(|b| char::from(**b).is_digit(radix))
        .count();
    let text = std::str::from_utf8(digits.get(..len)?).ok()?;
    let code = u32::from_str_radix(text, radix).ok()?;
    let ch = char::from_u32(code)?;
    let semicolon = usize::from(digits.get(len) == Some(&b';'));
    (len > 0).then_some((ch, skip + len + semicolon))
}

/// `\x41\x4b`: each escape is one byte (so `\xe6\x9c\xba` is UTF-8 for 机).
fn hex_escapes(word: &[u8]) -> Option<Vec<u8>> {
    let mut plain = Vec::with_capacity(word.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = word.get(i) {
        if b == b'\\' && matches!(word.get(i + 1), Some(b'x' | b'X')) {
            let hex = word
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                plain.push(byte);
                i += 4;
                changed = true;
                continue;
            }
        }
        plain.push(b);
        i += 1;
    }
    changed.then_some(plain)
}

/// Runs of single characters separated by single spaces: `A K I A 1 2 3 4`.
///
/// Two adjacent printable ASCII bytes belong to one piece of at least two
/// characters, so no run holds them; and a run of [`MIN_SPACED`] bytes and at
/// least two pieces spans at least `MIN_SPACED + 1` bytes. So only every
/// `MIN_SPACED`-th byte pair is probed, and only around a probe that is not
/// such a pair is the text cut into pieces ([`spaced_in`]): most prose is
/// never split at its spaces.
fn spaced(text: &[u8], gate: &impl PairGate, out: &mut Vec<Unwrapped>) {
    let stride = MIN_SPACED;
    let is_word_pair = |at: usize| gate.is_word_pair(at);
    // A run holds no word pair and spans more than `MIN_SPACED` bytes: none holds the probe
    // when the nearest pairs on either side start at most `MIN_SPACED` bytes apart (the usual
    // case at a space between words).
    let no_run_fits = |probe: usize| {
        let before = gate.last_pair(probe.saturating_sub(MIN_SPACED), probe);
        before.is_some_and(|before| {
            gate.first_pair(probe + 1, before + MIN_SPACED + 1)
                .is_some()
        })
    };
    // Inside a run a whitespace byte is one space between two pieces: a probe on any other
    // (indentation, a line break) is in no run, without looking for pairs around it.
    let is_blank = |at: usize| gate.is_blank(at);
    let in_no_run = |probe: usize| {
        is_blank(probe)
            && (text.get(probe) != Some(&b' ')
                || probe == 0
                || is_blank(probe - 1)
                || is_blank(probe + 1)
                || probe + 1 >= text.len())
    };
    let mut probe = 0;
    while let Some(next) = gate.next_probe(probe) {
        probe = next;
        if probe + 1 >= text.len() {
            break;
        }
        if is_word_pair(probe) || in_no_run(probe) || no_run_fits(probe) {
            probe += stride;
            continue;
        }
        // The stretch around the probe without a word pair, with the pairs that bound it: a
        // pair's piece has two characters, so the pieces inside are cut exactly as in `text`.
        let start = gate.last_pair(0, probe).unwrap_or(0);
        let end = gate
            .first_pair(probe + 1, text.len())
            .map_or(text.len(), |at| at + 2);
        spaced_in(text, start..end, out);
        probe = (probe + stride).max(end);
    }
}

/// [`spaced`] within `range` of `text`: the range is cut at every space; a run is a
/// sequence of pieces that are one non-whitespace character each. Anything else (a word,
/// an empty piece from a double space, a line break) ends the run.
fn spaced_in(text: &[u8], range: Range<usize>, out: &mut Vec<Unwrapped>) {
    let mut run: Option<(usize, usize, Vec<u8>)> = None; // start, end, plain
    let Some(region) = text.get(range.clone()) else {
        return;
    };
    let mut piece_start = range.start;
    let piece_ends = memchr::memchr_iter(b' ', region)
        .map(|at| range.start + at)
        .chain(std::iter::once(range.end));
    for piece_end in piece_ends {
        let piece = text.get(piece_start..piece_end).unwrap_or_default();
        if is_one_character(piece) {
            match run.as_mut() {
                Some((_, run_end, plain)) if *run_end + 1 == piece_start => {
                    *run_end = piece_end;
                    plain.extend_from_slice(piece);
                }
                _ => {
                    flush(&mut run, out);
                    run = Some((piece_start, piece_end, piece.to_vec()));
                }
            }
        } else {
            flush(&mut run, out);
        }
        piece_start = piece_end + 1;
    }
    flush(&mut run, out);
}

/// One UTF-8 character that is not whitespace.
fn is_one_character(piece: &[u8]) -> bool {
    match piece {
        [b] => !b.is_ascii_whitespace() && b.is_ascii(),
        [first, ..] if piece.len() <= 4 && *first >= 0xC0 => std::str::from_utf8(piece)
            .ok()
            .and_then(|s| {
                let mut chars = s.chars();
                let c = chars.next()?;
                (chars.next().is_none() && !c.is_whitespace()).then_some(())
            })
            .is_some(),
        _ => false,
    }
}

fn flush(run: &mut Option<(usize, usize, Vec<u8>)>, out: &mut Vec<Unwrapped>) {
    if let Some((start, end, plain)) = run.take() {
        if plain.len() >= MIN_SPACED && out.len() < MAX_RESPELLED_RUNS {
            out.push(Unwrapped {
                span: Span::new(start, end),
                wrapping: Wrapping::Spaced,
                text: plain,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plains(text: &str) -> Vec<(String, Wrapping, String)> {
        let mut out = Vec::new();
        find(text.as_bytes(), &mut out);
        out.into_iter()
            .map(|r| {
                (
                    text[r.span.range()].to_string(),
                    r.wrapping,
                    String::from_utf8_lossy(&r.text).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn html_references_are_decoded() {
        let got = plains("key &#65;&#x4B;&#73;A1 and &amp; done");
        assert_eq!(
            got[0],
            (
                "&#65;&#x4B;&#73;A1".into(),
                Wrapping::HtmlReference,
                "AKIA1".into()
            )
        );
        assert_eq!(got[1].2, "&");
        assert!(plains("R&D and AT&T").is_empty());
    }

    #[test]
    fn hex_escapes_are_decoded_as_bytes() {
        let got = plains(r"x \x41\x4b\x49\x41 \xe6\x9c\xba\xe5\xaf\x86");
        assert_eq!(got[0].2, "AKIA");
        assert_eq!(got[1].2, "机密");
    }

    #[test]
    fn spaced_characters_are_joined() {
        let got = plains("key: A K I A R 7 U Z 3 W end");
        assert_eq!(
            got,
            vec![(
                "A K I A R 7 U Z 3 W".into(),
                Wrapping::Spaced,
                "AKIAR7UZ3W".into()
            )]
        );
        assert_eq!(plains("机 密 文 件 内 部 资 料")[0].2, "机密文件内部资料");
        assert!(plains("I am a b c fine, a short run").is_empty());
        assert!(plains("Please review this function and explain why.").is_empty());
    }

    /// [`find`] without the profile: every layer called, as each layer's own gate decides.
    fn find_every_layer(text: &[u8], out: &mut Vec<Unwrapped>) {
        if memchr::memchr3(b'&', b'\\', b'=', text).is_some() {
            escapes(text, out);
        }
        spaced(text, &spaced_gate::Walked(text), out);
        super::super::rejoin::find(text, out);
        super::super::separators::find(text, out);
        super::super::recase::find(text, out);
        super::super::tags::find(text, out);
        super::super::byte_lists::find(text, out);
        super::super::families::find(text, out);
        out.truncate(MAX_RESPELLED_RUNS);
    }

    #[test]
    fn skipping_by_profile_finds_what_every_layer_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x2545_f491_4f6c_dd1d);
        // Pieces that set off each layer, alone or cut short, and plain words around them;
        // single characters and separators often, so that runs just long enough occur.
        let pieces = [
            "a",
            "B",
            "7",
            "机",
            " ",
            " ",
            " ",
            "  ",
            ".",
            "-",
            "_",
            ":",
            ",",
            "/",
            "|",
            "word",
            "id",
            "\n",
            "\\n",
            "\r\n",
            "\t",
            "\"",
            "\\",
            "&#65;",
            "&amp;",
            "\\x41",
            "=4B",
            "AKIA",
            "Q3EG",
            "4916",
            "cOnFiD",
            "C0NF1D",
            "\u{00b7}",
            "\u{2022}",
            "\u{e0041}",
            "41:4b",
            "\\101",
            "0x41",
            "seven",
            "one",
            "~",
            "<~",
            "M86)E",
            "4111 1111",
            "akiaq2zt6wm4lx7b3nrd",
            "GHP_4K9Z",
        ];
        // Single characters with one separator between them, as long as the shortest runs.
        let characters = ["a", "7", "é", "机", "😀"];
        let separators = [" ", "  ", ".", "-", " | ", "\t"];
        let mut found = 0;
        for round in 0..40_000 {
            let text: String = match round % 2 {
                0 => (0..rng.below(80)).map(|_| rng.pick(&pieces)).collect(),
                _ => {
                    let separator = rng.pick(&separators);
                    let run: Vec<&str> =
                        (0..rng.below(12)).map(|_| rng.pick(&characters)).collect();
                    run.join(separator)
                }
            };
            let (mut fast, mut every) = (Vec::new(), Vec::new());
            find(text.as_bytes(), &mut fast);
            find_every_layer(text.as_bytes(), &mut every);
            assert_eq!(fast, every, "{text:?}");
            found += fast.len();
        }
        assert!(found > 2_000, "{found} runs found");
    }

    #[test]
    fn probing_finds_what_cutting_everything_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x853c_49e6_748f_ea9b);
        // Spaced letters, words, double spaces, line breaks and a 3-byte character.
        let pieces = [
            "a", "B", "7", "word", "", "x\ny", "机", "😀", "is", "\t", "\n", "\"k\":", "\r\n",
        ];
        // Mostly single ASCII characters: runs whose probes all fall on spaces.
        let ascii = ["a", "B", "7", "x", "word", "", "\n", "  "];
        let mut runs = 0;
        let mut classified = 0;
        for round in 0..20000 {
            // Long texts too, whose gate reads their classes.
            let count = match round % 4 {
                0 | 1 => rng.below(40),
                _ => rng.below(160),
            };
            let set: &[&str] = if round % 2 == 0 { &pieces } else { &ascii };
            let text = (0..count)
                .map(|_| rng.pick(set))
                .collect::<Vec<_>>()
                .join(" ");
            let text = text.as_bytes();
            let mut probed = Vec::new();
            spaced(text, &spaced_gate::Walked(text), &mut probed);
            let mut everything = Vec::new();
            spaced_in(text, 0..text.len(), &mut everything);
            assert_eq!(probed, everything, "{:?}", String::from_utf8_lossy(text));
            if let Some(classes) = TextClasses::of(text) {
                let mut read = Vec::new();
                let gate = spaced_gate::Classified::new(text, &classes, MIN_SPACED);
                spaced(text, &gate, &mut read);
                assert_eq!(read, everything, "{:?}", String::from_utf8_lossy(text));
                classified += 1;
            }
            runs += everything.len();
        }
        assert!(runs > 2000, "{runs} runs");
        assert!(classified > 2000, "{classified} classified");
    }
}
