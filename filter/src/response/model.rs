//! Model substitution: did the response come from the model the request asked for?
//!
//! A relay can answer a request for `gpt-4o` with a cheaper model and still bill for the
//! expensive one; the vendors' responses name the model that answered, and relays rarely
//! bother to rewrite it. The requested model is the request body's top-level `model`
//! (OpenAI, Anthropic) or the path's `models/NAME:` (Gemini). The reported one is the
//! response's top-level `model` (chat completions, Responses, Anthropic message) or
//! `modelVersion` (Gemini), or `response.model` / `message.model` in the first events of a
//! stream (`response.created`, `message_start`).
//!
//! Names are compared after [`normalize`]: lowercase, without a `models/` prefix, and
//! without the suffixes vendors add when they resolve an alias: a date (`-2024-08-06`,
//! `-20241022`, `@20241022`, `-05-20`), a version number (`-002`), `-latest`. So `gpt-4o`
//! matches `gpt-4o-2024-08-06` and `claude-3-5-sonnet-latest` matches
//! `claude-3-5-sonnet-20241022`, while `gpt-4o` never matches `gpt-4o-mini`.

use crate::engine::body::json::{Outline, PathStep};

/// Longest model name considered (longer: not a model name; not compared).
const MAX_MODEL_LEN: usize = 128;

/// The model a request asks for, if it names one.
pub fn requested(path: &str, body: &[u8]) -> Option<String> {
    requested_in(path, body, None)
}

/// [`requested`], reading the body's top level from `parsed` (its outline under the strict
/// grammar, the inspection's: `Scratch::body_outline`) when given instead of parsing it again.
pub fn requested_in(path: &str, body: &[u8], parsed: Option<&Outline>) -> Option<String> {
    if let Some(at) = path.find("/models/") {
        let name = path.get(at + "/models/".len()..)?;
        let name = name.split([':', '?', '/']).next()?;
        return valid(name.as_bytes());
    }
    if let Some(outline) = parsed {
        return top_level(body, outline, &[b"model"]);
    }
    memchr::memmem::find(body, b"\"model\"")?;
    let mut outline = Outline::default();
    outline.parse(body).ok()?;
    top_level(body, &outline, &[b"model"])
}

/// The model a response document (or one streamed event) reports, if it names one.
pub fn reported(doc: &[u8], outline: &Outline) -> Option<String> {
    top_level(doc, outline, &[b"model", b"modelVersion"]).or_else(|| nested(doc, outline))
}

fn valid(name: &[u8]) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_MODEL_LEN
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._/@:".contains(b));
    ok.then(|| String::from_utf8_lossy(name).into_owned())
}

fn key<'d>(doc: &'d [u8], outline: &Outline, node: u32) -> Option<(u32, &'d [u8])> {
    let n = outline.nodes.get(node as usize)?;
    match n.step {
        PathStep::Key(raw) => Some((n.parent, doc.get(raw.range())?)),
        _ => None,
    }
}

/// A string value directly under the root whose key is one of `names`.
fn top_level(doc: &[u8], outline: &Outline, names: &[&[u8]]) -> Option<String> {
    outline.strings.iter().filter(|l| !l.is_key).find_map(|l| {
        let (parent, name) = key(doc, outline, l.node)?;
        (parent == 0 && names.contains(&name))
            .then(|| valid(doc.get(l.raw.range())?))
            .flatten()
    })
}

/// `response.model` or `message.model`, the object at the root's `response` / `message`.
fn nested(doc: &[u8], outline: &Outline) -> Option<String> {
    outline.strings.iter().filter(|l| !l.is_key).find_map(|l| {
        let (parent, name) = key(doc, outline, l.node)?;
        let (grand, outer) = key(doc, outline, parent)?;
        (name == b"model" && grand == 0 && matches!(outer, b"response" | b"message"))
            .then(|| valid(doc.get(l.raw.range())?))
            .flatten()
    })
}

/// A model name without what vendors add when resolving an alias (see the module docs).
pub fn normalize(model: &str) -> String {
    let mut name = model.trim().to_ascii_lowercase();
    if let Some(rest) = name.strip_prefix("models/") {
        name = rest.to_string();
    }
    loop {
        let before = name.len();
        for suffix in ["-latest"] {
            if let Some(rest) = name.strip_suffix(suffix) {
                name.truncate(rest.len());
            }
        }
        let cut = dated_suffix(&name);
        name.truncate(name.len() - cut);
        if name.len() == before {
            return name;
        }
    }
}

/// Length of a trailing `-YYYY-MM-DD`, `-YYYYMMDD`, `@YYYYMMDD`, `-MM-DD` or `-NNN` (0: none).
fn dated_suffix(name: &str) -> usize {
    let b = name.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let ends = |pattern: &[usize], seps: &[u8]| -> Option<usize> {
        // `pattern`: digit-run lengths from the end; each run is preceded by a separator.
        let mut at = b.len();
        for &len in pattern.iter() {
            let start = at.checked_sub(len)?;
            if !digits(b.get(start..at)?) {
                return None;
            }
            let sep = start.checked_sub(1)?;
            if !seps.contains(b.get(sep)?) {
                return None;
            }
            at = sep;
        }
        // The name must keep something before the suffix.
        (at > 0).then(|| b.len() - at)
    };
    ends(&[2, 2, 4], b"-")
        .or_else(|| ends(&[8], b"-@"))
        .or_else(|| ends(&[2, 2], b"-").filter(|_| b.len() > 6))
        .or_else(|| ends(&[3], b"-"))
        .unwrap_or(0)
}

/// Whether a response that reports `reported` answers a request for `requested`.
pub fn same(requested: &str, reported: &str) -> bool {
    normalize(requested) == normalize(reported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_dates_match() {
        for (asked, got) in [
            ("gpt-4o", "gpt-4o-2024-08-06"),
            ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
            ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022"),
            ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
            ("claude-3-5-sonnet@20240620", "claude-3-5-sonnet-20240620"),
            ("gemini-2.5-flash", "models/gemini-2.5-flash"),
            ("gemini-1.5-pro", "gemini-1.5-pro-002"),
            ("GPT-4o", "gpt-4o"),
        ] {
            assert!(same(asked, got), "{asked} vs {got}");
        }
        for (asked, got) in [
            ("gpt-4o", "gpt-4o-mini"),
            ("gpt-4o", "gpt-3.5-turbo-0125"),
            ("claude-opus-4-1", "claude-3-haiku-20240307"),
            ("gemini-2.5-pro", "gemini-2.5-flash"),
            ("o3", "o3-mini"),
        ] {
            assert!(!same(asked, got), "{asked} vs {got}");
        }
        // A name that is all suffix keeps its digits.
        assert_eq!(normalize("2024"), "2024");
        assert_eq!(normalize("gpt-4"), "gpt-4");
    }

    fn outline(doc: &str) -> Outline {
        let mut o = Outline::default();
        o.parse(doc.as_bytes()).unwrap();
        o
    }

    #[test]
    fn where_models_are_named() {
        let chat = r#"{"id":"c","model":"gpt-4o-mini","choices":[{"message":{"model":"x"}}]}"#;
        assert_eq!(
            reported(chat.as_bytes(), &outline(chat)).as_deref(),
            Some("gpt-4o-mini")
        );
        let gemini = r#"{"candidates":[],"modelVersion":"gemini-2.5-flash"}"#;
        assert_eq!(
            reported(gemini.as_bytes(), &outline(gemini)).as_deref(),
            Some("gemini-2.5-flash")
        );
        let created = r#"{"type":"response.created","response":{"id":"r","model":"gpt-4.1"}}"#;
        assert_eq!(
            reported(created.as_bytes(), &outline(created)).as_deref(),
            Some("gpt-4.1")
        );
        let start = r#"{"type":"message_start","message":{"model":"claude-x"}}"#;
        assert_eq!(
            reported(start.as_bytes(), &outline(start)).as_deref(),
            Some("claude-x")
        );
        let delta = r#"{"type":"content_block_delta","delta":{"text":"model"}}"#;
        assert_eq!(reported(delta.as_bytes(), &outline(delta)), None);
        let body = br#"{"messages":[{"content":"\"model\": \"x\""}],"model":"gpt-4o"}"#;
        assert_eq!(
            requested("/v1/chat/completions", body).as_deref(),
            Some("gpt-4o")
        );
        assert_eq!(
            requested(
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                b"{}"
            )
            .as_deref(),
            Some("gemini-2.5-flash")
        );
        assert_eq!(
            requested("/v1/chat/completions", br#"{"tools":[{"model":"x"}]}"#),
            None
        );
        assert_eq!(requested("/v1/chat/completions", b"not json"), None);
    }
}
