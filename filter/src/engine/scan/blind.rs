//! Digit-blind patterns: a detector regex with every digit class and digit literal widened to
//! `[0-9]`, for the always-on set's lazy DFA.
//!
//! The set's states are products over a dozen patterns, and the card, date and octet patterns
//! branch on digit values (`5[1-5]`, `2720`, `0[1-9]|1[0-2]`, `25[0-5]`): every new number
//! reaches a new combination of live branches, so a VM's lazy DFA determinises new states on
//! almost every body it has not seen (three quarters of the set's cost on fresh json and prose,
//! issue 16's thirteenth round). Blind to digit values, the same patterns reach a few states that
//! the first bodies teach it, and stay there.
//!
//! A blind pattern's language holds its original's (a widened class matches more, assertions are
//! untouched), so it reports every match end its original does, and some more. The scanner
//! checks a blind pattern's ends by the original pattern alone over the same window
//! ([`crate::engine::scan::scanner`]), so what is armed is what the exact set armed.

use crate::engine::scan::scanner::{set_config, set_regex, syntax_config, RegexLimits};
use regex_automata::hybrid;
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind};

/// The always-on set's lazy DFA over its patterns made blind, and which of them that widened.
#[derive(Debug)]
pub struct BlindSet {
    pub dfa: hybrid::dfa::DFA,
    /// Per pattern, whether its ends in `dfa` are a blind pattern's (to be checked by the
    /// original) rather than exact.
    pub widened: Box<[bool]>,
    /// Per pattern, its longest match ([`regex_syntax::hir::Properties::maximum_len`]): an
    /// exact end's match starts within it.
    pub longest: Box<[Option<usize>]>,
}

impl BlindSet {
    /// The set of `patterns` made blind. A pattern that does not parse leaves the set exact
    /// (whose build then reports why).
    pub fn build(
        patterns: &[&str],
        limits: RegexLimits,
    ) -> Result<BlindSet, Box<hybrid::BuildError>> {
        let config = syntax_config();
        let parsed: Option<Vec<Hir>> = (patterns.iter())
            .map(|p| syntax::parse_with(p, &config).ok())
            .collect();
        let exact = |limits| {
            let dfa = set_regex(patterns, limits)?;
            let widened = patterns.iter().map(|_| false).collect();
            Ok(BlindSet {
                dfa,
                widened,
                longest: Box::new([]),
            })
        };
        let Some(parsed) = parsed else {
            return exact(limits);
        };
        let blinded: Vec<Option<Hir>> = parsed.iter().map(blind).collect();
        let hirs: Vec<&Hir> = (blinded.iter().zip(&parsed))
            .map(|(blinded, original)| blinded.as_ref().unwrap_or(original))
            .collect();
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .nfa_size_limit(Some(limits.nfa_bytes))
                    .which_captures(thompson::WhichCaptures::None),
            )
            .build_many_from_hir(&hirs);
        let Ok(nfa) = nfa else {
            return exact(limits);
        };
        let built = hybrid::dfa::Builder::new()
            .configure(set_config(limits.set_cache_bytes))
            .build_from_nfa(nfa);
        let Ok(dfa) = built else {
            return exact(limits);
        };
        let widened: Box<[bool]> = blinded.iter().map(Option::is_some).collect();
        let longest = parsed
            .iter()
            .map(|hir| hir.properties().maximum_len())
            .collect();
        Ok(BlindSet {
            dfa,
            widened,
            longest,
        })
    }
}

/// `hir` blind to digit values, or `None` when blinding changes nothing (its ends are exact).
pub fn blind(hir: &Hir) -> Option<Hir> {
    let widened = widen(hir);
    (widened != *hir).then_some(widened)
}

fn digits() -> Hir {
    Hir::class(Class::Bytes(ClassBytes::new([ClassBytesRange::new(
        b'0', b'9',
    )])))
}

/// Whether `class` holds digits only.
fn digits_only(class: &Class) -> bool {
    match class {
        Class::Bytes(bytes) => {
            (bytes.ranges().iter()).all(|r| r.start().is_ascii_digit() && r.end().is_ascii_digit())
        }
        Class::Unicode(chars) => {
            (chars.ranges().iter()).all(|r| r.start().is_ascii_digit() && r.end().is_ascii_digit())
        }
    }
}

fn widen(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Literal(literal) if literal.0.iter().any(u8::is_ascii_digit) => {
            let bytes = literal.0.iter().map(|&b| match b.is_ascii_digit() {
                true => digits(),
                false => Hir::literal([b]),
            });
            Hir::concat(bytes.collect())
        }
        HirKind::Class(class) if digits_only(class) => digits(),
        HirKind::Repetition(repetition) => {
            let mut repetition = repetition.clone();
            repetition.sub = Box::new(widen(&repetition.sub));
            Hir::repetition(repetition)
        }
        HirKind::Capture(capture) => {
            let mut capture = capture.clone();
            capture.sub = Box::new(widen(&capture.sub));
            Hir::capture(capture)
        }
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(widen).collect()),
        // Branches that became the same are kept once: `5[1-5]\d{2}|22[3-9]\d` both read
        // four digits, and a branch twice over is two threads in every state.
        HirKind::Alternation(branches) => {
            let mut kept: Vec<Hir> = Vec::with_capacity(branches.len());
            for branch in branches.iter().map(widen) {
                if !kept.contains(&branch) {
                    kept.push(branch);
                }
            }
            Hir::alternation(kept)
        }
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => hir.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code
    use super::*;
    use regex_automata::meta::Regex;

    fn exact_and_blind(pattern: &str) -> (Regex, Option<Regex>) {
        let hir = regex_facts::parse(pattern).unwrap();
        let build = |hir: &Hir| {
            Regex::builder()
                .syntax(crate::engine::scan::scanner::syntax_config())
                .build_from_hir(hir)
                .unwrap()
        };
        (build(&hir), blind(&hir).as_ref().map(build))
    }

    #[test]
    fn digit_values_are_widened_and_nothing_else() {
        let (_, blind) = exact_and_blind(r"(?:^|[^\w.])(?P<secret>5[1-5]\d{2}|2720)[ -]x\b");
        let blind = blind.unwrap();
        for text in ["0000 x", "9999-x", " 1234 x"] {
            assert!(blind.is_match(text), "{text}");
        }
        for text in ["000a x", "0000_x", "00000 x", "a1234 x", ".1234 x"] {
            assert!(!blind.is_match(text), "{text}");
        }
        // Without digit values to widen there is nothing to check.
        assert!(exact_and_blind(r"\d{1,3}(?:\.\d{1,3}){3}").1.is_none());
        assert!(exact_and_blind(r"[A-Z]{2}\d{2}").1.is_none());
    }

    const SAMPLES: [&[u8]; 6] = [
        b"5249 6301 8827 1419",
        b"2223003122003222",
        b"11010519491231002X",
        b"44019919990101123",
        b"::ffff:192.168.10.1",
        b"FE80::1",
    ];

    #[test]
    fn a_blind_pattern_matches_wherever_its_original_does() {
        let patterns = [
            r"(?:^|[^\w.])(?P<secret>(?:5[1-5]\d{2}|222[1-9]|22[3-9]\d|2[3-6]\d{2}|27[01]\d|2720)(?:[ -]?\d{4}){3})\b",
            r"\b[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]\b",
            r"(?:^|[^\w:.%])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)|[Ff][Ee]80::",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0xb11d_0d16_1750_0014);
        for pattern in patterns {
            let (exact, blind) = exact_and_blind(pattern);
            let blind = blind.unwrap();
            let (mut matched, mut widened) = (0, 0);
            for _ in 0..20_000 {
                // Groups of digits (cards, dates, octets) between the bytes around them.
                let mut text = Vec::new();
                for _ in 0..rng.below(8) {
                    if rng.below(3) == 0 {
                        // A match of some pattern, one digit of it changed.
                        let mut piece = rng.pick(&SAMPLES).to_vec();
                        let at = rng.below(piece.len());
                        if piece[at].is_ascii_digit() {
                            piece[at] = b'0' + rng.below(10) as u8;
                        }
                        text.extend(piece);
                    }
                    for _ in 0..rng.pick(&[0, 1, 2, 3, 4, 4, 4, 4, 4, 18]) {
                        text.push(rng.pick(b"0123456789012555"));
                    }
                    match rng.below(3) {
                        0 => {}
                        1 => text.push(b' '),
                        _ => text.push(rng.pick(b"-.:xFfEe")),
                    }
                }
                let (e, b) = (exact.is_match(&text), blind.is_match(&text));
                assert!(b || !e, "{pattern} {:?}", String::from_utf8_lossy(&text));
                matched += usize::from(e);
                widened += usize::from(b && !e);
            }
            assert!(
                matched > 20 && widened > 20,
                "{pattern}: {matched} {widened}"
            );
        }
    }
}
