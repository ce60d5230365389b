//! Restoring a server-sent-event stream as it passes, chunk by chunk.
//!
//! Chunks are cut into events at blank lines; an event cut across chunks waits for its end
//! (bytes of an incomplete event cannot be rewritten safely), up to a bound past which the
//! rest of the stream passes unrestored. Each event's `data:` is JSON; its whole strings are
//! restored in place, and its deltas (`channel.rs`) are joined per channel: a delta's text
//! is restored together with the tail held back from the channel's previous delta, and the
//! tail of the result that could still be the start of a token (never more than one token) is
//! held back again. A held tail goes out with the channel's next delta; when the channel does
//! not continue (another channel's delta, a closing event, `[DONE]`, the end of the stream),
//! it goes out first, in a copy of the channel's last event whose delta is the tail and whose
//! other delta strings (a tool call's id and name) are blanked, so clients that concatenate
//! deltas see each of them once.
//!
//! Everything else passes through byte for byte: comments, events without data, data that
//! is not JSON. Malformed JSON is passed on as it is, its tokens unrestored (nothing leaks:
//! the stream only ever holds tokens and the originals of this request's own tokens).

use super::channel::{self, Delta};
use super::inspect;
use super::map::RestoreMap;
use super::output::Output;
use super::text::Landing;
use crate::engine::body::json::{self, Outline, PathStep};
use crate::engine::Span;

/// Channels holding a tail at once; a delta past this is restored without holding back.
const MAX_HELD_CHANNELS: usize = 16;

/// Why a stream stopped being restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseGiveUp {
    /// An event grew past the bound without ending: the rest passes unrestored.
    EventTooLarge,
}

/// A channel's held tail and the event it came from.
struct Held {
    channel: u64,
    /// Raw text: neither inspected nor restored yet.
    tail: Vec<u8>,
    landing: Landing,
    /// The channel's last event as it went out, and where in it the delta's text is.
    template: Vec<u8>,
    text: Span,
    /// The other strings of the same delta object, blanked in the copy.
    blanks: Vec<Span>,
}

impl Held {
    /// The copy of the channel's last event that carries just the tail (inspected, restored).
    fn emit(&self, stage: &mut Output, out: &mut Vec<u8>) {
        let mut text = Vec::with_capacity(self.tail.len() + 16);
        stage.delta(&self.tail, self.landing, false, &mut text);
        let mut edits: Vec<(Span, bool)> = self.blanks.iter().map(|s| (*s, false)).collect();
        edits.push((self.text, true));
        edits.sort_unstable_by_key(|(s, _)| s.start);
        let mut at = 0;
        for (span, is_text) in edits {
            out.extend_from_slice(self.template.get(at..span.start).unwrap_or_default());
            if is_text {
                json::escape_into(&text, out);
            }
            at = span.end;
        }
        out.extend_from_slice(self.template.get(at..).unwrap_or_default());
    }
}

/// One response stream's restorer.
pub struct SseRestorer {
    /// Bytes of an event not ended yet.
    partial: Vec<u8>,
    held: Vec<Held>,
    outline: Outline,
    deltas: Vec<Delta>,
    text: Vec<u8>,
    max_event_bytes: usize,
    /// Tokens restored so far.
    pub restored: usize,
    /// Set once the stream stopped being restored.
    pub gave_up: Option<SseGiveUp>,
    /// The model the stream reports (its first event that names one), once seen.
    pub reported_model: Option<String>,
}

impl SseRestorer {
    /// A restorer whose events may be at most `max_event_bytes` long.
    pub fn new(max_event_bytes: usize) -> SseRestorer {
        SseRestorer {
            partial: Vec::new(),
            held: Vec::new(),
            outline: Outline::default(),
            deltas: Vec::new(),
            text: Vec::new(),
            max_event_bytes,
            restored: 0,
            gave_up: None,
            reported_model: None,
        }
    }

    /// Takes the next chunk of the stream; appends what can go on now to `out`.
    pub fn push(&mut self, map: &RestoreMap, chunk: &[u8], out: &mut Vec<u8>) {
        self.push_through(&mut Output::new(map, None), chunk, out);
    }

    /// The stream ended: appends the held tails and any unterminated last event to `out`.
    pub fn finish(&mut self, map: &RestoreMap, out: &mut Vec<u8>) {
        self.finish_through(&mut Output::new(map, None), out);
    }

    /// As [`SseRestorer::push`], through `stage` (inspection, if any, then restoring).
    pub fn push_through(&mut self, stage: &mut Output, chunk: &[u8], out: &mut Vec<u8>) {
        self.push_events(stage, chunk, out);
        self.restored += std::mem::take(&mut stage.restored);
    }

    /// As [`SseRestorer::finish`], through `stage`.
    pub fn finish_through(&mut self, stage: &mut Output, out: &mut Vec<u8>) {
        let partial = std::mem::take(&mut self.partial);
        if !partial.is_empty() && self.gave_up.is_none() {
            self.event(stage, &partial, false, out);
        } else {
            out.extend_from_slice(&partial);
        }
        self.flush(stage, out);
        self.restored += std::mem::take(&mut stage.restored);
    }

    fn push_events(&mut self, stage: &mut Output, chunk: &[u8], out: &mut Vec<u8>) {
        if self.gave_up.is_some() {
            out.extend_from_slice(chunk);
            return;
        }
        self.partial.extend_from_slice(chunk);
        let partial = std::mem::take(&mut self.partial);
        let mut start = 0;
        while let Some(end) = partial.get(start..).and_then(event_end) {
            let event = partial.get(start..start + end).unwrap_or_default();
            self.event(stage, event, true, out);
            start += end;
        }
        self.partial = partial;
        self.partial.drain(..start.min(self.partial.len()));
        if self.partial.len() > self.max_event_bytes {
            self.flush(stage, out);
            out.append(&mut self.partial);
            self.gave_up = Some(SseGiveUp::EventTooLarge);
        }
    }

    /// Bytes held back right now (an incomplete event and the channels' tails).
    pub fn held_bytes(&self) -> usize {
        self.partial.len() + self.held.iter().map(|h| h.tail.len()).sum::<usize>()
    }

    /// The longest tail any channel holds right now.
    pub fn longest_tail(&self) -> usize {
        self.held.iter().map(|h| h.tail.len()).max().unwrap_or(0)
    }

    fn flush(&mut self, stage: &mut Output, out: &mut Vec<u8>) {
        for held in self.held.drain(..) {
            held.emit(stage, out);
        }
    }

    fn event(&mut self, stage: &mut Output, event: &[u8], may_hold: bool, out: &mut Vec<u8>) {
        let rebuilt;
        let original = event;
        let (event, payload) = match data_lines(event) {
            DataLines::None => {
                stage.inspect_only(event, out);
                return;
            }
            DataLines::One(payload) => (event, payload),
            DataLines::Many => {
                rebuilt = one_data_line(event);
                match data_lines(&rebuilt) {
                    DataLines::One(payload) => (rebuilt.as_slice(), payload),
                    _ => {
                        stage.inspect_only(event, out);
                        return;
                    }
                }
            }
        };
        let doc = event.get(payload.range()).unwrap_or_default();
        let mut outline = std::mem::take(&mut self.outline);
        if !json::looks_like_json(doc) || outline.parse(doc).is_err() {
            // `[DONE]`, or not JSON: every channel ends here, and the event goes on as it came
            // (several data lines as they were: joined, text would read differently).
            self.outline = outline;
            self.flush(stage, out);
            stage.inspect_only(original, out);
            return;
        }
        if self.reported_model.is_none() {
            self.reported_model = super::model::reported(doc, &outline);
        }
        let mut deltas = std::mem::take(&mut self.deltas);
        channel::deltas(doc, &outline, &mut deltas);
        // Tails of channels this event does not continue go out before it.
        let mut i = 0;
        while let Some(held) = self.held.get(i) {
            if deltas.iter().any(|d| d.channel == held.channel) {
                i += 1;
            } else {
                self.held.remove(i).emit(stage, out);
            }
        }
        let (edited, spans, new_tails) =
            self.restore_strings(stage, doc, &outline, &deltas, may_hold);
        let mut event_out = Vec::with_capacity(event.len() + 64);
        event_out.extend_from_slice(event.get(..payload.start).unwrap_or_default());
        let base = event_out.len();
        event_out.extend_from_slice(&edited);
        event_out.extend_from_slice(event.get(payload.end..).unwrap_or_default());
        for (leaf, channel, group, landing, tail) in new_tails {
            let shift = |s: Span| Span::new(s.start + base, s.end + base);
            let Some(text) = spans.get(leaf).copied().map(shift) else {
                continue;
            };
            let blanks = group.map_or_else(Vec::new, |group| {
                blanked(doc, &outline, group, leaf)
                    .filter_map(|i| spans.get(i).copied().map(shift))
                    .collect()
            });
            self.held.push(Held {
                channel,
                tail,
                landing,
                template: event_out.clone(),
                text,
                blanks,
            });
        }
        out.extend_from_slice(&event_out);
        self.outline = outline;
        self.deltas = deltas;
    }

    /// The event's JSON with its strings inspected and restored, each value string's span in
    /// it (by leaf), and the tails newly held: (leaf, channel, delta group, landing, tail).
    #[allow(clippy::type_complexity)]
    fn restore_strings(
        &mut self,
        stage: &mut Output,
        doc: &[u8],
        outline: &Outline,
        deltas: &[Delta],
        may_hold: bool,
    ) -> (
        Vec<u8>,
        Vec<Span>,
        Vec<(usize, u64, Option<u32>, Landing, Vec<u8>)>,
    ) {
        let mut edited = Vec::with_capacity(doc.len() + 32);
        let mut spans = vec![Span::new(0, 0); outline.strings.len()];
        let mut new_tails = Vec::new();
        let mut restored_text = Vec::new();
        let mut escaped = Vec::new();
        let mut at = 0;
        for (i, leaf) in outline.strings.iter().enumerate() {
            if leaf.is_key {
                continue;
            }
            let raw = doc.get(leaf.raw.range()).unwrap_or_default();
            let delta = deltas.iter().find(|d| d.leaf == i);
            let prior = delta
                .and_then(|d| self.held.iter().position(|h| h.channel == d.channel))
                .map(|at| self.held.remove(at).tail)
                .unwrap_or_default();
            let inspected = stage.inspects()
                && (delta.is_some() || inspect::is_output(doc, outline, leaf.node));
            let replacement: Option<&[u8]> = if prior.is_empty()
                && !inspected
                && !leaf.has_escapes
                && memchr::memchr(b'[', raw).is_none()
            {
                None
            } else {
                self.text.clear();
                self.text.extend_from_slice(&prior);
                if leaf.has_escapes {
                    let mut unescaped = Vec::new();
                    json::unescape(raw, &mut unescaped);
                    self.text.extend_from_slice(&unescaped);
                } else {
                    self.text.extend_from_slice(raw);
                }
                restored_text.clear();
                match delta {
                    Some(d) => {
                        let can_hold = may_hold
                            && !d.finishing
                            && self.held.len() + new_tails.len() < MAX_HELD_CHANNELS;
                        let hold = stage.delta(&self.text, d.landing, can_hold, &mut restored_text);
                        if hold > 0 {
                            let tail = self.text.get(self.text.len() - hold..).unwrap_or_default();
                            new_tails.push((i, d.channel, d.group, d.landing, tail.to_vec()));
                        }
                        let changed = !prior.is_empty() || hold > 0 || restored_text != self.text;
                        changed.then_some(restored_text.as_slice())
                    }
                    None => stage.whole(&self.text, inspected, &mut restored_text),
                }
            };
            edited.extend_from_slice(doc.get(at..leaf.raw.start).unwrap_or_default());
            let start = edited.len();
            match replacement {
                Some(text) => {
                    escaped.clear();
                    json::escape_into(text, &mut escaped);
                    edited.extend_from_slice(&escaped);
                }
                None => edited.extend_from_slice(raw),
            }
            if let Some(slot) = spans.get_mut(i) {
                *slot = Span::new(start, edited.len());
            }
            at = leaf.raw.end;
        }
        edited.extend_from_slice(doc.get(at..).unwrap_or_default());
        (edited, spans, new_tails)
    }
}

/// The value strings inside the `delta` object at `group`, other than `leaf` and any `type`.
fn blanked<'a>(
    doc: &'a [u8],
    outline: &'a Outline,
    group: u32,
    leaf: usize,
) -> impl Iterator<Item = usize> + 'a {
    outline
        .strings
        .iter()
        .enumerate()
        .filter(move |(i, l)| {
            *i != leaf && !l.is_key && within(outline, l.node, group) && {
                let key = match outline.nodes.get(l.node as usize).map(|n| n.step) {
                    Some(PathStep::Key(raw)) => doc.get(raw.range()),
                    _ => None,
                };
                key != Some(b"type")
            }
        })
        .map(|(i, _)| i)
}

/// Whether `node` is `ancestor` or below it.
fn within(outline: &Outline, mut node: u32, ancestor: u32) -> bool {
    for _ in 0..=crate::engine::limits::MAX_JSON_DEPTH + 1 {
        if node == ancestor {
            return true;
        }
        match outline.nodes.get(node as usize) {
            Some(n) if !matches!(n.step, PathStep::Root) => node = n.parent,
            _ => return false,
        }
    }
    false
}

/// Length of the first complete event in `buf` (its blank line included), if it has ended.
/// Lines end with CRLF, LF or CR; a CR at the very end may still be the start of a CRLF.
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    loop {
        let rest = buf.get(line_start..)?;
        let at = line_start + memchr::memchr2(b'\n', b'\r', rest)?;
        let ending = match (buf.get(at), buf.get(at + 1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(b'\r'), None) => return None,
            _ => 1,
        };
        if at == line_start {
            return Some(at + ending);
        }
        line_start = at + ending;
    }
}

enum DataLines {
    None,
    /// One `data:` line: its value's span in the event.
    One(Span),
    Many,
}

/// The `data:` lines of one event.
fn data_lines(event: &[u8]) -> DataLines {
    let mut found = DataLines::None;
    for (start, line) in lines(event) {
        if let Some(value) = line.strip_prefix(b"data:") {
            if matches!(found, DataLines::One(_)) {
                return DataLines::Many;
            }
            let skip = usize::from(value.first() == Some(&b' '));
            let begin = start + 5 + skip;
            found = DataLines::One(Span::new(begin, start + line.len()));
        }
    }
    found
}

/// The lines of an event without their endings, with where each starts.
fn lines(event: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = event.get(at..).filter(|r| !r.is_empty())?;
        let len = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        let start = at;
        let ending = match (rest.get(len), rest.get(len + 1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(_), _) => 1,
            (None, _) => 0,
        };
        at += len + ending;
        Some((start, rest.get(..len).unwrap_or_default()))
    })
}

/// An event with several `data:` lines, rewritten with one: the values joined by a space
/// (JSON allows any whitespace between tokens, and a raw line break cannot be inside a string).
fn one_data_line(event: &[u8]) -> Vec<u8> {
    let mut other = Vec::with_capacity(event.len() + 8);
    let mut data = Vec::with_capacity(event.len());
    for (_, line) in lines(event) {
        if line.is_empty() {
            continue;
        }
        match line.strip_prefix(b"data:") {
            Some(value) => {
                if !data.is_empty() {
                    data.push(b' ');
                }
                data.extend_from_slice(value.strip_prefix(b" ").unwrap_or(value));
            }
            None => {
                other.extend_from_slice(line);
                other.push(b'\n');
            }
        }
    }
    other.extend_from_slice(b"data: ");
    other.extend_from_slice(&data);
    other.extend_from_slice(b"\n\n");
    other
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
