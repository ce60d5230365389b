//! Base32 (RFC 4648): the standard alphabet (`A-Z2-7`), `base32hex` (`0-9A-V`), either in
//! lower case, with or without `=` padding.
//!
//! No gate of its own: base32 characters are base64 characters, so a base32 run is already
//! one of the decoder's base64 candidates, found by the same probe that skips ordinary words
//! ([`super::WordGate`]). Only such a candidate written in one alphabet and one case, of a
//! length base32 can have, is decoded, and only a text-like decoding is kept, before base64 is
//! tried on it. An AWS key id (`AKIA` and `A-Z2-7`) is valid base32 too: it decodes to a dozen
//! near-random bytes, which are not text.

/// Shortest run decoded: 16 characters are 10 bytes.
pub(super) const MIN_BASE32_LEN: usize = 16;
/// Longest `=` padding (a last group of one byte: 2 characters and 6 `=`).
const MAX_PADDING: usize = 6;

/// Which of RFC 4648's two base32 alphabets, and in which case, a run is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    Standard { lower: bool },
    Hex { lower: bool },
}

impl Alphabet {
    /// The alphabet every character of `run` belongs to (standard first), if there is one.
    fn of(run: &[u8]) -> Option<Alphabet> {
        [
            Alphabet::Standard { lower: false },
            Alphabet::Standard { lower: true },
            Alphabet::Hex { lower: false },
            Alphabet::Hex { lower: true },
        ]
        .into_iter()
        .find(|alphabet| run.iter().all(|&b| alphabet.value(b).is_some()))
    }

    /// The 5-bit value of character `b`.
    fn value(self, b: u8) -> Option<u8> {
        let (letters_from, letters_to, digits_from, digits_to, lower) = match self {
            Alphabet::Standard { lower } => (b'A', b'Z', b'2', b'7', lower),
            Alphabet::Hex { lower } => (b'A', b'V', b'0', b'9', lower),
        };
        let letter = if lower {
            b.is_ascii_lowercase().then(|| b.to_ascii_uppercase())
        } else {
            b.is_ascii_uppercase().then_some(b)
        };
        let digit_value = |d: u8| match self {
            Alphabet::Standard { .. } => 26 + (d - b'2'),
            Alphabet::Hex { .. } => d - b'0',
        };
        let letter_value = |l: u8| match self {
            Alphabet::Standard { .. } => l - b'A',
            Alphabet::Hex { .. } => 10 + (l - b'A'),
        };
        match (letter, b) {
            (Some(l), _) if (letters_from..=letters_to).contains(&l) => Some(letter_value(l)),
            (_, d) if (digits_from..=digits_to).contains(&d) => Some(digit_value(d)),
            _ => None,
        }
    }
}

/// Whether `chars` base32 characters (padding excluded) can end a base32 text: the last group
/// holds 2, 4, 5, 7 or 8 of them.
fn valid_length(chars: usize) -> bool {
    matches!(chars % 8, 0 | 2 | 4 | 5 | 7)
}

/// Decodes `run` (characters only, no padding) into `out`; `None` if it is not base32.
pub(super) fn decode_into(run: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if run.len() < MIN_BASE32_LEN || !valid_length(run.len()) {
        return None;
    }
    let alphabet = Alphabet::of(run)?;
    out.reserve(run.len() * 5 / 8);
    let (mut bits, mut held) = (0u32, 0u32);
    for &b in run {
        bits = (bits << 5) | u32::from(alphabet.value(b)?);
        held += 5;
        if held >= 8 {
            held -= 8;
            out.push(u8::try_from((bits >> held) & 0xff).unwrap_or(0));
            bits &= (1 << held) - 1;
        }
    }
    Some(())
}

/// The `=` padding at the start of `after` (at most [`MAX_PADDING`] bytes).
pub(super) fn padding(after: &[u8]) -> usize {
    after
        .iter()
        .take(MAX_PADDING)
        .take_while(|&&b| b == b'=')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 base32 of `bytes`, standard or hex alphabet, unpadded.
    fn encode(bytes: &[u8], hex: bool) -> String {
        let alphabet: &[u8] = if hex {
            b"0123456789ABCDEFGHIJKLMNOPQRSTUV"
        } else {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        };
        let mut out = String::new();
        let (mut bits, mut held) = (0u32, 0u32);
        for &b in bytes {
            bits = (bits << 8) | u32::from(b);
            held += 8;
            while held >= 5 {
                held -= 5;
                out.push(alphabet[((bits >> held) & 31) as usize] as char);
            }
        }
        if held > 0 {
            out.push(alphabet[((bits << (5 - held)) & 31) as usize] as char);
        }
        out
    }

    fn decoded(run: &str) -> Option<String> {
        let mut out = Vec::new();
        decode_into(run.as_bytes(), &mut out)?;
        String::from_utf8(out).ok()
    }

    #[test]
    fn rfc_4648_test_vectors() {
        // RFC 4648 section 10, padding removed.
        assert_eq!(encode(b"foobar", false), "MZXW6YTBOI");
        assert_eq!(encode(b"foobar", true), "CPNMUOJ1E8");
        let text = "the key is in the vault";
        for hex in [false, true] {
            let run = encode(text.as_bytes(), hex);
            assert_eq!(decoded(&run).as_deref(), Some(text));
            assert_eq!(decoded(&run.to_lowercase()).as_deref(), Some(text));
        }
    }

    #[test]
    fn other_runs_are_not_base32() {
        // Mixed case, a digit outside the alphabet, an impossible length, too short.
        for run in [
            "MZXW6ytbOIQGC3TEEBZW",
            "MZXW6YTBOIQGC3TEEBZ1",
            "MZXW6YTBOIQGC3TEEBZWKA",
            "MZXW6YTBOI",
        ] {
            assert_eq!(decoded(run), None, "{run}");
        }
        assert_eq!(padding(b"======== x"), MAX_PADDING);
        assert_eq!(padding(b"=== x"), 3);
    }
}
