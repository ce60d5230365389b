//! Restoring a whole JSON response: every string value, wherever the vendor put it.
//!
//! Walking every string rather than a list of vendor paths covers chat completions
//! (`choices[].message.content`, `tool_calls[].function.arguments`), the Responses API
//! (`output[]` items: message text, `function_call.arguments`), Anthropic (`content[].text`,
//! `tool_use.input`) and Gemini (`parts[].text`, `functionCall.args`) with one rule, and
//! whatever field the next API version adds. A string whose text is itself JSON (tool-call
//! arguments) is restored inside: each original is escaped for the inner string it lands in,
//! then the whole is escaped again for the outer one. Object keys are left alone. Bytes
//! outside the strings that changed are copied through unchanged.

use super::inspect::{self, Inspector};
use super::map::RestoreMap;
use super::text::{restore_all, Landing};
use crate::engine::body::json::{self, Outline, SyntaxError};
use crate::engine::verdict::rewrite::Splices;

/// JSON inside a string inside JSON, at most this deep, is restored as JSON.
const MAX_NESTED: usize = 2;

/// `doc` with every token of `map` restored, `None` if nothing changed; an error if `doc` is
/// not JSON (the caller passes it on as it is: the tokens stay, nothing leaks).
pub fn restore_document(
    map: &RestoreMap,
    doc: &[u8],
    restored: &mut usize,
) -> Result<Option<Vec<u8>>, SyntaxError> {
    restore_nested(map, doc, 0, restored)
}

/// As [`restore_document`], but first each model-output string (`inspect::is_output`) is
/// inspected, and masked where the tier says so, before its tokens are restored.
pub fn inspect_and_restore(
    map: &RestoreMap,
    doc: &[u8],
    inspector: &mut Inspector<'_>,
    restored: &mut usize,
) -> Result<Option<Vec<u8>>, SyntaxError> {
    let mut outline = Outline::default();
    outline.parse(doc)?;
    let mut splices = Splices::default();
    let (mut text, mut masked, mut out) = (Vec::new(), Vec::new(), Vec::new());
    for leaf in outline.strings.iter().filter(|l| !l.is_key) {
        let raw = doc.get(leaf.raw.range()).unwrap_or_default();
        let inspected = inspect::is_output(doc, &outline, leaf.node);
        if !inspected && memchr::memchr(b'[', raw).is_none() && !leaf.has_escapes {
            continue;
        }
        let text = leaf.text(doc, &mut text);
        let mut changed = false;
        let text = if inspected {
            masked.clear();
            inspector.pass(text, false, &mut masked);
            changed = masked != text;
            masked.as_slice()
        } else {
            text
        };
        match restore_string(map, text, 0, restored, &mut out) {
            Some(new_text) => splices.push_json_string(leaf.raw, new_text),
            None if changed => splices.push_json_string(leaf.raw, text),
            None => {}
        }
    }
    Ok(splices.apply(doc))
}

fn restore_nested(
    map: &RestoreMap,
    doc: &[u8],
    depth: usize,
    restored: &mut usize,
) -> Result<Option<Vec<u8>>, SyntaxError> {
    let mut outline = Outline::default();
    outline.parse(doc)?;
    let mut splices = Splices::default();
    let mut text = Vec::new();
    let mut out = Vec::new();
    for leaf in outline.strings.iter().filter(|l| !l.is_key) {
        let raw = doc.get(leaf.raw.range()).unwrap_or_default();
        if memchr::memchr(b'[', raw).is_none() && !leaf.has_escapes {
            continue;
        }
        let text = leaf.text(doc, &mut text);
        if let Some(new_text) = restore_string(map, text, depth, restored, &mut out) {
            splices.push_json_string(leaf.raw, new_text);
        }
    }
    Ok(splices.apply(doc))
}

/// The restored text of one string, `None` if it holds no restorable token.
pub(super) fn restore_string<'o>(
    map: &RestoreMap,
    text: &[u8],
    depth: usize,
    restored: &mut usize,
    out: &'o mut Vec<u8>,
) -> Option<&'o [u8]> {
    memchr::memchr(b'[', text)?;
    if depth < MAX_NESTED && json::looks_like_json(text) {
        if let Ok(nested) = restore_nested(map, text, depth + 1, restored) {
            *out = nested?;
            return Some(out);
        }
    }
    out.clear();
    let n = restore_all(map, text, Landing::Text, out);
    *restored += n;
    (n > 0).then_some(out.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::map::tests::map_of;
    use serde_json::{json, Value};

    fn restore(map: &RestoreMap, doc: &Value) -> Value {
        let bytes = serde_json::to_vec(doc).unwrap();
        let mut n = 0;
        match restore_document(map, &bytes, &mut n).unwrap() {
            Some(out) => serde_json::from_slice(&out).unwrap(),
            None => doc.clone(),
        }
    }

    #[test]
    fn every_vendor_shape() {
        let (map, t) = map_of(
            "EMAIL",
            &["marta@northwind.example", "o\"brien\\@x.example"],
        );
        let (a, b) = (&t[0], &t[1]);
        let args = serde_json::to_string(&json!({"to": b, "cc": [a]})).unwrap();
        let chat = json!({"choices": [{"message": {"content": format!("Mail {a}."),
            "tool_calls": [{"function": {"name": "send", "arguments": args}}]}}]});
        let out = restore(&map, &chat);
        assert_eq!(
            out["choices"][0]["message"]["content"],
            "Mail marta@northwind.example."
        );
        let inner: Value = serde_json::from_str(
            out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            inner,
            json!({"to": "o\"brien\\@x.example", "cc": ["marta@northwind.example"]})
        );

        let responses = json!({"output": [
            {"type": "message", "content": [{"type": "output_text", "text": format!("{a}{b}")}]},
            {"type": "function_call", "arguments": format!("{{\"to\":\"{a}\"}}")}]});
        let out = restore(&map, &responses);
        assert_eq!(
            out["output"][0]["content"][0]["text"],
            "marta@northwind.exampleo\"brien\\@x.example"
        );
        assert_eq!(
            out["output"][1]["arguments"],
            "{\"to\":\"marta@northwind.example\"}"
        );

        let anthropic = json!({"content": [{"type": "tool_use", "input": {"to": b}},
            {"type": "text", "text": a}]});
        let out = restore(&map, &anthropic);
        assert_eq!(out["content"][0]["input"]["to"], "o\"brien\\@x.example");
        assert_eq!(out["content"][1]["text"], "marta@northwind.example");

        let gemini = json!({"candidates": [{"content": {"parts": [{"text": a},
            {"functionCall": {"name": "send", "args": {"to": a}}}]}}]});
        let out = restore(&map, &gemini);
        assert_eq!(
            out["candidates"][0]["content"]["parts"][1]["functionCall"]["args"]["to"],
            "marta@northwind.example"
        );
    }

    #[test]
    fn escaped_tokens_keys_and_strangers() {
        let (map, t) = map_of("EMAIL", &["marta@northwind.example"]);
        let escaped = t[0].replace('[', "\\u005b").replace(']', "\\u005D");
        let doc = format!(
            r#"{{"{}": "x", "text": "{escaped} [EMAIL_0000]", "n": 1.50}}"#,
            t[0]
        );
        let mut n = 0;
        let out = restore_document(&map, doc.as_bytes(), &mut n)
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
        let expected = format!(
            r#"{{"{}": "x", "text": "marta@northwind.example [EMAIL_0000]", "n": 1.50}}"#,
            t[0]
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        // Nothing to restore: no copy.
        assert_eq!(
            restore_document(&map, br#"{"a": "[b]"}"#, &mut n).unwrap(),
            None
        );
        assert!(restore_document(&map, br#"{"a": "[b"#, &mut n).is_err());
    }
}
