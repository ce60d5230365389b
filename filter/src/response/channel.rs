//! Which strings of a streamed event are pieces of a longer text, and whose pieces they are.
//!
//! A streamed reply is cut into deltas, and a token can be cut across two of them. Each delta
//! belongs to a *channel* (one choice's content, one tool call's arguments, one content
//! block), and the restorer joins a channel's pieces before looking for tokens. The deltas of
//! the three vendors' streams:
//!
//! - OpenAI chat completions: `choices[].delta.{content, refusal, reasoning_content}` and
//!   `choices[].delta.tool_calls[].function.arguments`;
//! - OpenAI Responses: the top-level `delta` of every `response.*.delta` event;
//! - Anthropic messages: `delta.{text, thinking, partial_json}` of `content_block_delta`;
//! - Gemini: `candidates[].content.parts[].text`.
//!
//! Every other string of an event is whole and restored on its own. A channel is named by a
//! hash of the delta's path and of the `index`, `output_index`, `content_index` and `type`
//! members of the objects around it, so two tool calls (or content blocks) never share one,
//! whatever the order of members. A `finish_reason` / `finishReason` that is not null next
//! to a delta says its channel ends with this event: nothing is held back then.

use super::text::Landing;
use crate::engine::body::json::{Outline, PathStep};
use crate::engine::limits::MAX_JSON_DEPTH;
use crate::engine::Span;

/// Keys whose string is a delta when an ancestor member is named `delta`.
const DELTA_FIELDS: &[&[u8]] = &[
    b"content",
    b"refusal",
    b"reasoning_content",
    b"reasoning",
    b"text",
    b"thinking",
    b"partial_json",
    b"arguments",
];

/// Delta fields whose text is JSON source: originals land inside its strings.
const JSON_SOURCE_FIELDS: &[&[u8]] = &[b"partial_json", b"arguments"];

/// Members that name which channel a delta belongs to, or that it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Names,
    Finish,
}

fn marker(key: &[u8]) -> Option<Marker> {
    match key {
        b"index" | b"output_index" | b"content_index" | b"type" => Some(Marker::Names),
        b"finish_reason" | b"finishReason" => Some(Marker::Finish),
        _ => None,
    }
}

/// One delta string of an event.
#[derive(Debug, Clone, Copy)]
pub struct Delta {
    /// Index into the outline's strings.
    pub leaf: usize,
    pub channel: u64,
    pub landing: Landing,
    /// Its channel ends with this event.
    pub finishing: bool,
    /// The node of the `delta` object around it: its other strings are blanked in a copy of
    /// the event that carries only this channel's held tail (`None`: blank nothing).
    pub group: Option<u32>,
}

/// A member of interest: the object (node) it belongs to, and its value's bytes.
#[derive(Debug, Clone, Copy)]
struct Member {
    object: u32,
    kind: Marker,
    key: Span,
    value: Span,
}

/// Finds the deltas of one event's JSON `doc` (already outlined) into `out`.
pub fn deltas(doc: &[u8], outline: &Outline, out: &mut Vec<Delta>) {
    out.clear();
    let mut members: Vec<Member> = Vec::new();
    for leaf in outline.strings.iter().filter(|l| l.is_key) {
        let key = doc.get(leaf.raw.range()).unwrap_or_default();
        let Some(kind) = marker(key) else { continue };
        let Some(node) = outline.nodes.get(leaf.node as usize) else {
            continue;
        };
        members.push(Member {
            object: node.parent,
            kind,
            key: leaf.raw,
            value: value_after(doc, leaf.raw.end),
        });
    }
    for (i, leaf) in outline.strings.iter().enumerate() {
        if leaf.is_key {
            continue;
        }
        if let Some(delta) = classify(doc, outline, &members, i, leaf.node) {
            out.push(delta);
        }
    }
}

fn key_of<'d>(doc: &'d [u8], outline: &Outline, node: u32) -> Option<&'d [u8]> {
    match outline.nodes.get(node as usize)?.step {
        PathStep::Key(raw) => doc.get(raw.range()),
        _ => None,
    }
}

fn classify(
    doc: &[u8],
    outline: &Outline,
    members: &[Member],
    leaf: usize,
    node: u32,
) -> Option<Delta> {
    let own = key_of(doc, outline, node)?;
    let parent = outline.nodes.get(node as usize)?.parent;
    let mut chain = [0u32; MAX_JSON_DEPTH + 2];
    let mut len = 0;
    let mut current = node;
    while let Some(slot) = chain.get_mut(len) {
        *slot = current;
        len += 1;
        match outline.nodes.get(current as usize) {
            Some(n) if !matches!(n.step, PathStep::Root) => current = n.parent,
            _ => break,
        }
    }
    let chain = chain.get(..len).unwrap_or_default();
    let above = chain.get(1..).unwrap_or_default();
    let named = |name: &[u8]| {
        above
            .iter()
            .copied()
            .find(|&n| key_of(doc, outline, n) == Some(name))
    };
    // Gemini: the `text` member of an element of `parts` (not a string deeper in a part).
    let is_part = |above: &[u32]| {
        let mut up = above.iter().copied();
        let element = up.next().and_then(|n| outline.nodes.get(n as usize));
        matches!(element.map(|n| n.step), Some(PathStep::Index(_)))
            && up.next().and_then(|n| key_of(doc, outline, n)) == Some(b"parts")
    };
    let top_type_mentions_arguments = || {
        members.iter().any(|m| {
            m.object == 0
                && doc.get(m.key.range()) == Some(b"type")
                && doc
                    .get(m.value.range())
                    .is_some_and(|v| memchr::memmem::find(v, b"arguments").is_some())
        })
    };
    let (landing, group) = if own == b"delta" && parent == 0 {
        // The Responses API: `{"type": "response.output_text.delta", "delta": "..."}`.
        let landing = if top_type_mentions_arguments() {
            Landing::JsonString
        } else {
            Landing::Text
        };
        (landing, None)
    } else if DELTA_FIELDS.contains(&own) && named(b"delta").is_some() {
        let landing = if JSON_SOURCE_FIELDS.contains(&own) {
            Landing::JsonString
        } else {
            Landing::Text
        };
        (landing, named(b"delta"))
    } else if own == b"text" && is_part(above) && named(b"candidates").is_some() {
        (Landing::Text, None)
    } else {
        return None;
    };
    let mut hash = Fnv::default();
    let mut finishing = false;
    for &n in chain {
        match outline.nodes.get(n as usize).map(|n| n.step) {
            Some(PathStep::Key(raw)) => hash.bytes(doc.get(raw.range()).unwrap_or_default()),
            Some(PathStep::Index(i)) => hash.bytes(&i.to_le_bytes()),
            _ => {}
        }
        hash.bytes(b"/");
        for m in members.iter().filter(|m| m.object == n) {
            let value = doc.get(m.value.range()).unwrap_or_default();
            match m.kind {
                Marker::Names => {
                    hash.bytes(doc.get(m.key.range()).unwrap_or_default());
                    hash.bytes(b"=");
                    hash.bytes(value);
                }
                Marker::Finish => finishing |= !value.is_empty() && value != b"null",
            }
        }
    }
    Some(Delta {
        leaf,
        channel: hash.0,
        landing,
        finishing,
        group,
    })
}

/// The bytes of the scalar value after a key whose raw span ends at `key_end`: a number,
/// `null`, `true`/`false`, or a string with its quotes (objects and arrays: empty).
fn value_after(doc: &[u8], key_end: usize) -> Span {
    let is_ws = |b: &u8| b.is_ascii_whitespace();
    let mut at = key_end + 1; // the key's closing quote
    while doc.get(at).is_some_and(is_ws) {
        at += 1;
    }
    if doc.get(at) != Some(&b':') {
        return Span::new(at, at);
    }
    at += 1;
    while doc.get(at).is_some_and(is_ws) {
        at += 1;
    }
    let start = at;
    if doc.get(at) == Some(&b'"') {
        at += 1;
        while let Some(&b) = doc.get(at) {
            at += 1;
            match b {
                b'\\' => at += 1,
                b'"' => break,
                _ => {}
            }
        }
        return Span::new(start, at.min(doc.len()));
    }
    while doc
        .get(at)
        .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b'{' | b'[') && !is_ws(b))
    {
        at += 1;
    }
    Span::new(start, at)
}

/// FNV-1a, 64 bits: channel names within one stream, not a security boundary.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(doc: &str) -> Vec<(String, Delta)> {
        let mut outline = Outline::default();
        outline.parse(doc.as_bytes()).unwrap();
        let mut out = Vec::new();
        deltas(doc.as_bytes(), &outline, &mut out);
        out.into_iter()
            .map(|d| {
                let raw = outline.strings[d.leaf].raw;
                (doc[raw.range()].to_string(), d)
            })
            .collect()
    }

    #[test]
    fn openai_chat() {
        let d = of(
            r#"{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}"#,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "Hi");
        assert!(!d[0].1.finishing);
        assert!(d[0].1.group.is_some());
        let other_choice = of(
            r#"{"id":"c1","choices":[{"index":1,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
        );
        assert_ne!(d[0].1.channel, other_choice[0].1.channel);
        let done =
            of(r#"{"choices":[{"finish_reason":"stop","index":0,"delta":{"content":"Hi"}}]}"#);
        assert!(done[0].1.finishing);
        assert_eq!(
            done[0].1.channel, d[0].1.channel,
            "member order does not matter"
        );
        let call0 = of(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"send","arguments":""}}]}}]}"#,
        );
        let call1 = of(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"to"}}]}}]}"#,
        );
        assert_eq!(call0.len(), 1, "id and name are whole strings");
        assert_eq!(call0[0].1.landing, Landing::JsonString);
        assert_ne!(call0[0].1.channel, call1[0].1.channel);
    }

    #[test]
    fn responses_anthropic_gemini() {
        let text = of(
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"Hi"}"#,
        );
        assert_eq!(text[0].1.landing, Landing::Text);
        let args = of(
            r#"{"type":"response.function_call_arguments.delta","item_id":"f","output_index":1,"delta":"{\"a"}"#,
        );
        assert_eq!(args[0].1.landing, Landing::JsonString);
        assert_ne!(text[0].1.channel, args[0].1.channel);
        assert!(of(r#"{"type":"response.output_text.done","text":"Hi"}"#).is_empty());
        let block0 = of(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
        );
        let block1 = of(
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{"}}"#,
        );
        assert_eq!(block0.len(), 1);
        assert_ne!(block0[0].1.channel, block1[0].1.channel);
        assert_eq!(block1[0].1.landing, Landing::JsonString);
        assert!(of(r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#).is_empty());
        let g = of(
            r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],"modelVersion":"gemini-2.0-flash"}"#,
        );
        assert_eq!(g.len(), 1);
        let g_end = of(
            r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP","index":0}]}"#,
        );
        assert!(g_end[0].1.finishing);
        assert_eq!(g[0].1.channel, g_end[0].1.channel);
        assert!(of(r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"text":"x"}}}]}}]}"#).is_empty());
    }
}
