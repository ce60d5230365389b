//! The stream restorer against a reference: the whole stream parsed at once, each channel's
//! deltas joined and restored in one piece. Generated streams (seeded) of the four vendor
//! shapes, cut at every byte position and at random ones.

use super::*;
use crate::engine::test_rng::TestRng;
use crate::response::map::tests::map_of;
use crate::response::text::{restore_all, Landing};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const ORIGINALS: &[&str] = &[
    "marta.kowalski@northwind.example",
    "o\"neil\\ops@x.example",
    "Zoë Ångström",
    "+48 601 234 567",
];

/// One channel's text as the stream would carry it: tokens, near misses, brackets.
fn channel_text(rng: &mut TestRng, tokens: &[String], json_source: bool) -> String {
    let mut parts = Vec::new();
    for _ in 0..1 + rng.below(2) {
        let token = &tokens[rng.below(tokens.len())];
        let piece = match rng.below(6) {
            0 => format!("[{}", &token[1..token.len() - 1]),
            1 => format!("{}X]", &token[..token.len() - 1]),
            2 => "[EMAIL_0000] [".to_string(),
            3 => "[[".to_string() + token + "]]",
            _ => token.clone(),
        };
        parts.push(piece);
        parts.push(rng.pick(&[" mail ", "", "é", "\n", " \"q\" "]).to_string());
    }
    let text = parts.concat();
    if json_source {
        serde_json::to_string(&json!({ "to": text, "n": 1 })).unwrap()
    } else {
        text
    }
}

/// Cuts `text` into 1..=4-character pieces (by chars, so each piece is valid UTF-8).
fn pieces(rng: &mut TestRng, text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let n = (1 + rng.below(4)).min(chars.len() - at);
        out.push(chars[at..at + n].iter().collect());
        at += n;
    }
    out
}

fn data(value: &Value, escape_brackets: bool) -> String {
    let mut s = serde_json::to_string(value).unwrap();
    if escape_brackets {
        s = s.replace('[', "\\u005b");
        // Only inside strings: structural brackets are then wrong; undo them outside strings.
        s = s.replace(":\\u005b", ":[");
    }
    s
}

/// A generated stream: its bytes, and each channel's joined text by a readable name.
fn stream(rng: &mut TestRng, tokens: &[String]) -> (Vec<u8>, BTreeMap<String, (String, Landing)>) {
    let mut out = String::new();
    let mut channels = BTreeMap::new();
    let esc = rng.below(4) == 0;
    match rng.below(4) {
        0 => {
            // OpenAI chat: content, then two tool calls.
            let content = channel_text(rng, tokens, false);
            for p in pieces(rng, &content) {
                let e = json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
                out += &format!("data: {}\n\n", data(&e, esc));
            }
            channels.insert("content".into(), (content, Landing::Text));
            for call in 0..2 {
                let args = channel_text(rng, tokens, true);
                for (k, p) in pieces(rng, &args).into_iter().enumerate() {
                    let mut tc = json!({"index": call, "function": {"arguments": p}});
                    if k == 0 {
                        tc["id"] = json!(format!("call_{call}"));
                        tc["function"]["name"] = json!("send");
                    }
                    let e = json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [tc]}, "finish_reason": null}]});
                    out += &format!("data: {}\n\n", data(&e, esc));
                }
                channels.insert(format!("call{call}"), (args, Landing::JsonString));
            }
            out += "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n";
            out += "data: [DONE]\n\n";
        }
        1 => {
            // Responses: text, then function-call arguments.
            let text = channel_text(rng, tokens, false);
            for p in pieces(rng, &text) {
                let e = json!({"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0, "delta": p});
                out += &format!(
                    "event: response.output_text.delta\ndata: {}\n\n",
                    data(&e, esc)
                );
            }
            out += &format!(
                "event: response.output_text.done\ndata: {}\n\n",
                json!({"type": "response.output_text.done", "text": text})
            );
            let args = channel_text(rng, tokens, true);
            for p in pieces(rng, &args) {
                let e = json!({"type": "response.function_call_arguments.delta", "item_id": "f", "output_index": 1, "delta": p});
                out += &format!(
                    "event: response.function_call_arguments.delta\ndata: {}\n\n",
                    data(&e, esc)
                );
            }
            channels.insert("text".into(), (text, Landing::Text));
            channels.insert("args".into(), (args, Landing::JsonString));
        }
        2 => {
            // Anthropic: a text block and a tool_use block, CRLF line ends.
            let text = channel_text(rng, tokens, false);
            let args = channel_text(rng, tokens, true);
            out += "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n";
            for p in pieces(rng, &text) {
                let e = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}});
                out += &format!(
                    "event: content_block_delta\r\ndata: {}\r\n\r\n",
                    data(&e, esc)
                );
            }
            out += "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n: keep-alive\r\n\r\n";
            for p in pieces(rng, &args) {
                let e = json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": p}});
                out += &format!(
                    "event: content_block_delta\r\ndata: {}\r\n\r\n",
                    data(&e, esc)
                );
            }
            channels.insert("text".into(), (text, Landing::Text));
            channels.insert("args".into(), (args, Landing::JsonString));
        }
        _ => {
            // Gemini: text parts, the last chunk with finishReason.
            let text = channel_text(rng, tokens, false);
            let ps = pieces(rng, &text);
            let n = ps.len();
            for (k, p) in ps.into_iter().enumerate() {
                let mut cand =
                    json!({"content": {"role": "model", "parts": [{"text": p}]}, "index": 0});
                if k + 1 == n {
                    cand["finishReason"] = json!("STOP");
                }
                let e = json!({"candidates": [cand], "modelVersion": "gemini-2.0-flash"});
                out += &format!("data: {}\r\n\r\n", data(&e, esc));
            }
            channels.insert("text".into(), (text, Landing::Text));
        }
    }
    (out.into_bytes(), channels)
}

/// Each channel's joined delta text in a stream, found the way the restorer finds deltas.
fn joined(stream: &[u8]) -> Vec<String> {
    let mut by_channel: Vec<(u64, String)> = Vec::new();
    let mut rest = stream;
    while let Some(end) = event_end(rest) {
        let (event, after) = rest.split_at(end);
        rest = after;
        let DataLines::One(payload) = data_lines(event) else {
            continue;
        };
        let doc = &event[payload.range()];
        let mut outline = Outline::default();
        if outline.parse(doc).is_err() {
            continue;
        }
        let mut deltas = Vec::new();
        channel::deltas(doc, &outline, &mut deltas);
        for d in deltas {
            let mut text = Vec::new();
            json::unescape(&doc[outline.strings[d.leaf].raw.range()], &mut text);
            let text = String::from_utf8(text).unwrap();
            match by_channel.iter_mut().find(|(c, _)| *c == d.channel) {
                Some((_, t)) => t.push_str(&text),
                None => by_channel.push((d.channel, text)),
            }
        }
    }
    assert!(rest.is_empty(), "the output ends with a whole event");
    by_channel.into_iter().map(|(_, t)| t).collect()
}

fn run(map: &RestoreMap, stream: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut restorer = SseRestorer::new(1 << 20);
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        restorer.push(map, &stream[at..cut], &mut out);
        assert!(
            restorer.longest_tail() <= map.longest(),
            "never more than one token held"
        );
        at = cut;
    }
    restorer.finish(map, &mut out);
    out
}

#[test]
fn matches_the_reference_at_every_cut() {
    let (map, tokens) = map_of("EMAIL", ORIGINALS);
    let mut rng = TestRng::new(0x5eed_0013);
    for round in 0..8 {
        let (bytes, channels) = stream(&mut rng, &tokens);
        // The reference: each channel's text restored whole.
        let expected: Vec<String> = {
            let order = joined(&bytes);
            order
                .iter()
                .map(|text| {
                    let landing = channels
                        .values()
                        .find(|(t, _)| t == text)
                        .map(|(_, l)| *l)
                        .unwrap();
                    let mut out = Vec::new();
                    restore_all(&map, text.as_bytes(), landing, &mut out);
                    String::from_utf8(out).unwrap()
                })
                .collect()
        };
        assert_eq!(expected.len(), channels.len(), "round {round}");
        let mut cut_sets: Vec<Vec<usize>> = (0..=bytes.len()).map(|p| vec![p]).collect();
        for _ in 0..20 {
            let mut cuts: Vec<usize> = (0..1 + rng.below(12))
                .map(|_| rng.below(bytes.len() + 1))
                .collect();
            cuts.sort_unstable();
            cut_sets.push(cuts);
        }
        for cuts in cut_sets {
            let out = run(&map, &bytes, &cuts);
            assert_eq!(joined(&out), expected, "round {round}, cuts {cuts:?}");
            let text = String::from_utf8(out).unwrap();
            for token in &tokens {
                assert!(
                    !text.contains(token.as_str()),
                    "round {round}: {token} left in {text}"
                );
            }
        }
    }
}

#[test]
fn tool_call_arguments_stay_json() {
    let (map, tokens) = map_of("EMAIL", ORIGINALS);
    // The quote-and-backslash original, cut inside its token across two argument deltas.
    let args = serde_json::to_string(&json!({"to": tokens[1]})).unwrap();
    let (a, b) = args.split_at(12);
    let mut stream = String::new();
    for (k, p) in [a, b].iter().enumerate() {
        let mut tc = json!({"index": 0, "function": {"arguments": p}});
        if k == 0 {
            tc["id"] = json!("call_x");
            tc["function"]["name"] = json!("send");
        }
        stream += &format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [tc]}}]})
        );
    }
    let out = run(&map, stream.as_bytes(), &[]);
    let joined = joined(&out);
    let parsed: Value = serde_json::from_str(&joined[0]).unwrap();
    assert_eq!(parsed["to"], ORIGINALS[1]);
}

#[test]
fn a_held_tail_leaves_in_a_copy_with_blanked_siblings() {
    let (map, tokens) = map_of("EMAIL", ORIGINALS);
    let start = &tokens[0][..6];
    let args = format!("{{\"to\":\"{start}");
    let first = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "send", "arguments": args}}]}}]});
    let stream = format!("data: {first}\n\ndata: [DONE]\n\n");
    let out = String::from_utf8(run(&map, stream.as_bytes(), &[])).unwrap();
    let events: Vec<&str> = out.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 3, "{out}");
    let copy: Value = serde_json::from_str(events[1].strip_prefix("data: ").unwrap()).unwrap();
    let call = &copy["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["function"]["arguments"], start);
    assert_eq!(call["id"], "");
    assert_eq!(call["function"]["name"], "");
    assert_eq!(call["type"], "function");
    assert_eq!(events[2], "data: [DONE]");
}

#[test]
fn bad_input_has_a_defined_outcome() {
    let (map, tokens) = map_of("EMAIL", ORIGINALS);
    let t = &tokens[0];
    // Malformed JSON: passed on as it is, its token unrestored.
    let bad = format!("data: {{\"choices\": [{{\"delta\": {{\"content\": \"{t}\"\n\n");
    assert_eq!(run(&map, bad.as_bytes(), &[]), bad.as_bytes());
    // Not JSON, comments, events without data: byte for byte.
    let plain = format!(": ping\n\nevent: x\n\ndata: {t}\n\nid: 4\nretry: 10\n\n");
    assert_eq!(run(&map, plain.as_bytes(), &[3, 9]), plain.as_bytes());
    // An event larger than the bound: the rest of the stream passes as it is.
    let mut restorer = SseRestorer::new(64);
    let mut out = Vec::new();
    let big = format!("data: {{\"delta\": \"{}{t}\"}}\n\n", "x".repeat(100));
    restorer.push(&map, &big.as_bytes()[..80], &mut out);
    restorer.push(&map, &big.as_bytes()[80..], &mut out);
    restorer.finish(&map, &mut out);
    assert_eq!(restorer.gave_up, Some(SseGiveUp::EventTooLarge));
    assert_eq!(out, big.as_bytes());
    // A response to a request that sent no tokens: an empty map restores nothing.
    let empty = RestoreMap::default();
    let stream = format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": t}}]})
    );
    assert_eq!(run(&empty, stream.as_bytes(), &[10]), stream.as_bytes());
    // Several data lines: joined into one, then restored.
    let multi = format!("data: {{\"delta\":\ndata: \"{t}\"}}\n\n");
    let out = String::from_utf8(run(&map, multi.as_bytes(), &[])).unwrap();
    assert_eq!(
        out,
        format!("data: {{\"delta\": \"{}\"}}\n\n", ORIGINALS[0])
    );
    // An unterminated last event is restored too.
    let last = format!("data: {{\"text\": \"{t}\"}}");
    let out = String::from_utf8(run(&map, last.as_bytes(), &[])).unwrap();
    assert_eq!(out, format!("data: {{\"text\": \"{}\"}}", ORIGINALS[0]));
}

#[test]
fn events_with_several_data_lines() {
    let (map, t) = map_of("EMAIL", &[ORIGINALS[0]]);
    let (head, tail) = t[0].split_at(5);
    // A delta cut across a multi-line event (CRLF, `event:` and `id:` lines kept) and the next.
    let stream = format!(
        "event: delta\r\nid: 7\r\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\r\ndata: \"delta\":{{\"type\":\"text_delta\",\"text\":\"to {head}\"}}}}\r\n\r\n\
         data: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{tail}!\"}}}}\n\n"
    );
    for cut in 0..stream.len() {
        let out = String::from_utf8(run(&map, stream.as_bytes(), &[cut])).unwrap();
        let text: String = out
            .split("\n\n")
            .filter_map(|e| {
                e.lines()
                    .find_map(|l| l.trim_end_matches('\r').strip_prefix("data: "))
            })
            .map(|d| {
                serde_json::from_str::<Value>(d).unwrap()["delta"]["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(text, format!("to {}!", ORIGINALS[0]), "cut {cut}");
        assert!(
            out.starts_with("event: delta\nid: 7\ndata: "),
            "other fields kept: {out:?}"
        );
    }
    // Data that is not JSON passes byte for byte, its lines as they were (a line break is
    // part of the data), and ends held channels.
    let text = format!("data: line one {}\ndata: line two\r\n\r\n", t[0]);
    assert_eq!(run(&map, text.as_bytes(), &[3]), text.as_bytes());
    // A `data` line without a colon is a field with an empty value: not JSON, passed on.
    let bare = "data\n\n";
    assert_eq!(run(&map, bare.as_bytes(), &[]), bare.as_bytes());
}
