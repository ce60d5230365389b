//! Putting originals back into one piece of text.
//!
//! A token is looked up only when it is whole (`[` ... `]`, token bytes between, no longer
//! than the longest token): anything else, including a token of another request or a token
//! this tier does not restore, is copied through as it is. Where the original lands decides
//! how it is written: as itself in plain text, or escaped for the inside of a JSON string in
//! text that is JSON source (tool-call arguments), so a quote or backslash in an original
//! cannot break the arguments the client parses.

use super::map::RestoreMap;
use super::token::is_token_byte;
use crate::engine::body::json;

/// How an original is written where its token stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// As itself (content text).
    Text,
    /// JSON-escaped: the text is JSON source and the token sat inside one of its strings.
    JsonString,
}

/// Appends `text` to `out` with every restorable token replaced; returns how many were.
pub fn restore_all(map: &RestoreMap, text: &[u8], landing: Landing, out: &mut Vec<u8>) -> usize {
    let (restored, held) = restore(map, text, landing, false, out);
    debug_assert_eq!(held, 0);
    restored
}

/// As [`restore_all`], but the tail that could still be the start of a token is not appended:
/// returns (tokens restored, length of that tail). The tail is at most one token long.
pub fn restore_partial(
    map: &RestoreMap,
    text: &[u8],
    landing: Landing,
    out: &mut Vec<u8>,
) -> (usize, usize) {
    restore(map, text, landing, true, out)
}

fn restore(
    map: &RestoreMap,
    text: &[u8],
    landing: Landing,
    hold: bool,
    out: &mut Vec<u8>,
) -> (usize, usize) {
    let longest = map.longest();
    let mut restored = 0;
    let mut copied = 0;
    let mut from = 0;
    while let Some(at) = text
        .get(from..)
        .and_then(|rest| memchr::memchr(b'[', rest))
        .map(|i| i + from)
    {
        let rest = text.get(at..).unwrap_or_default();
        let window = rest.get(..longest).unwrap_or(rest);
        // The candidate runs while token bytes follow the bracket.
        let run = window
            .iter()
            .skip(1)
            .position(|&b| !is_token_byte(b))
            .map_or(window.len(), |i| i + 1);
        match window.get(run) {
            Some(b']') => {
                let candidate = window.get(..=run).unwrap_or_default();
                if let Some(original) = map.original(candidate) {
                    out.extend_from_slice(text.get(copied..at).unwrap_or_default());
                    match landing {
                        Landing::Text => out.extend_from_slice(original),
                        Landing::JsonString => json::escape_into(original, out),
                    }
                    restored += 1;
                    copied = at + candidate.len();
                    from = copied;
                    continue;
                }
            }
            None if hold && run == rest.len() && map.could_begin(rest) => {
                out.extend_from_slice(text.get(copied..at).unwrap_or_default());
                return (restored, rest.len());
            }
            _ => {}
        }
        from = at + 1;
    }
    out.extend_from_slice(text.get(copied..).unwrap_or_default());
    (restored, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::map::tests::map_of;

    fn all(map: &RestoreMap, text: &str, landing: Landing) -> String {
        let mut out = Vec::new();
        restore_all(map, text.as_bytes(), landing, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn replaces_whole_tokens_only() {
        let (map, t) = map_of("EMAIL", &["marta@northwind.example", "jo\"e\\@x.example"]);
        let open = &t[0][..t[0].len() - 1];
        let text = format!("Write to {} and {}, cc [EMAIL_0000] and {open}", t[0], t[1]);
        assert_eq!(
            all(&map, &text, Landing::Text),
            format!("Write to marta@northwind.example and jo\"e\\@x.example, cc [EMAIL_0000] and {open}")
        );
        let json_text = all(
            &map,
            &format!(r#"{{"to":"{}"}}"#, t[1]),
            Landing::JsonString,
        );
        assert_eq!(json_text, r#"{"to":"jo\"e\\@x.example"}"#);
        let parsed: serde_json::Value = serde_json::from_str(&json_text).unwrap();
        assert_eq!(parsed["to"], "jo\"e\\@x.example");
        // Brackets inside brackets, a token glued to text, a prefix of a token at the end.
        let glued = format!("[[{}]]{}{}", t[0], t[0], &t[0][..5]);
        assert_eq!(
            all(&map, &glued, Landing::Text),
            format!(
                "[[marta@northwind.example]]marta@northwind.example{}",
                &t[0][..5]
            )
        );
    }

    #[test]
    fn holds_back_only_a_possible_token_start() {
        let (map, t) = map_of("EMAIL", &["marta@northwind.example"]);
        for cut in 1..t[0].len() {
            let text = format!("hi {}", &t[0][..cut]);
            let mut out = Vec::new();
            let (n, held) = restore_partial(&map, text.as_bytes(), Landing::Text, &mut out);
            assert_eq!((n, held), (0, cut), "cut {cut}");
            assert_eq!(out, b"hi ");
        }
        for text in ["hi [", "hi [X", "hi [EMAIL_ZZZZ", "hi [EMAILS", "[EMAIL_x"] {
            let mut out = Vec::new();
            let (_, held) = restore_partial(&map, text.as_bytes(), Landing::Text, &mut out);
            let expect_held = usize::from(text == "hi [");
            assert_eq!(held, expect_held, "{text}");
        }
        // Nothing restorable: nothing is ever held.
        let empty = RestoreMap::default();
        let mut out = Vec::new();
        assert_eq!(
            restore_partial(&empty, b"a [EMA", Landing::Text, &mut out),
            (0, 0)
        );
        assert_eq!(out, b"a [EMA");
    }
}
