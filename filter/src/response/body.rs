//! One response's restoring, from its headers to its last byte: what the proxy adapter drives.
//!
//! The plan follows the response's `content-type`:
//!
//! - `text/event-stream`: streamed through [`SseRestorer`], chunk by chunk.
//! - JSON (`application/json`, `+json`): buffered to its end (up to the policy's
//!   `max_body_bytes`), restored whole, and re-encoded if the upstream compressed it anyway.
//! - anything else: passed on untouched (a token in plain text stays a token).
//!
//! The same pass reads the model the response reports (`model.rs`), so a substituted model is
//! seen with or without tokens to restore; a response whose request sent no token is only
//! read, never changed.
//!
//! Every outcome that cannot restore is a [`Skip`]: the response passes on as the upstream
//! sent it, its tokens unrestored. That never leaks (the response only ever holds tokens, or
//! originals the upstream had no way to know), and it is counted and audited so an operator
//! sees it. A compressed stream is one such outcome: requests that carry tokens go out with
//! `accept-encoding: identity`, so only an upstream that ignores it sends one.

use super::inspect::{Inspector, OutputInspection};
use super::map::RestoreMap;
use super::output::Output;
use super::sse::{SseGiveUp, SseRestorer};
use crate::engine::body::content_coding as coding;
use crate::engine::Scratch;
use crate::policy::Policy;

/// Why a response (or the rest of one) passes on unrestored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A JSON response larger than the limit (the part seen so far is passed on).
    TooLarge,
    /// A content coding Airlock cannot undo or redo, or a compressed event stream.
    Encoding,
    /// A JSON response that does not parse (truncated, or not JSON after all).
    NotJson,
    /// An event of a stream grew past the limit without ending.
    EventTooLarge,
}

impl Skip {
    /// Every value [`Skip::reason`] takes, in the order stats define them.
    pub const REASONS: [&'static str; 4] =
        ["too_large", "bad_encoding", "not_json", "event_too_large"];

    /// A stable, label-safe reason for stats and audit lines.
    pub fn reason(self) -> &'static str {
        let [too_large, encoding, not_json, event] = Self::REASONS;
        match self {
            Skip::TooLarge => too_large,
            Skip::Encoding => encoding,
            Skip::NotJson => not_json,
            Skip::EventTooLarge => event,
        }
    }
}

enum Mode {
    Json(coding::Codings),
    Stream(Box<SseRestorer>),
    Pass,
}

/// The restoring of one response.
pub struct Restoring {
    map: RestoreMap,
    mode: Mode,
    limit: usize,
    /// Tokens put back so far.
    pub restored: usize,
    /// Set when restoring stopped; the rest passes on as it came.
    pub skipped: Option<Skip>,
    /// The model the request asked for (`None`: not compared).
    requested_model: Option<String>,
    /// The model the response reports, once seen.
    pub reported_model: Option<String>,
    /// The response's inspection, when its tier asks for one (`inspect_responses`).
    pub inspection: Option<OutputInspection>,
}

impl Restoring {
    /// Plans the restoring of a response with these headers. `limit` bounds a buffered body
    /// and a single event of a stream.
    pub fn start(
        map: RestoreMap,
        requested_model: Option<String>,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        limit: usize,
    ) -> Restoring {
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let codings = match content_encoding {
            Some(header) => coding::parse(header),
            None => Ok(std::iter::empty().collect()),
        };
        let mut skipped = None;
        let mode = match (media.as_str(), codings) {
            ("text/event-stream", Ok(c)) if c.is_empty() => {
                Mode::Stream(Box::new(SseRestorer::new(limit)))
            }
            ("text/event-stream", _) => {
                skipped = Some(Skip::Encoding);
                Mode::Pass
            }
            (m, Ok(c)) if m == "application/json" || m.ends_with("+json") => Mode::Json(c),
            (m, Err(_)) if m == "application/json" || m.ends_with("+json") => {
                skipped = Some(Skip::Encoding);
                Mode::Pass
            }
            _ => Mode::Pass,
        };
        Restoring {
            map,
            mode,
            limit,
            restored: 0,
            skipped,
            requested_model,
            reported_model: None,
            inspection: None,
        }
    }

    /// Inspects the response's model output too (`inspect.rs`), before restoring.
    pub fn with_inspection(mut self, inspection: Option<OutputInspection>) -> Restoring {
        self.inspection = inspection;
        self
    }

    /// Whether anything may change the body: tokens to restore, or an inspection (`mask`
    /// rewrites findings; either action moves a stream's held text to later events).
    fn may_change(&self) -> bool {
        !self.map.is_empty() || self.inspection.is_some()
    }

    /// The requested and the reported model, when the response names another model.
    pub fn mismatch(&self) -> Option<(&str, &str)> {
        let requested = self.requested_model.as_deref()?;
        let reported = self.reported_model.as_deref()?;
        (!super::model::same(requested, reported)).then_some((requested, reported))
    }

    /// Whether the body may change length (the adapter then drops `content-length`).
    pub fn rewrites(&self) -> bool {
        !matches!(self.mode, Mode::Pass) && self.may_change()
    }

    /// Whether the body is read at all (restored, or only watched for its model).
    pub fn reads(&self) -> bool {
        !matches!(self.mode, Mode::Pass)
    }

    /// Whether the body is held to its end (JSON), rather than passed on chunk by chunk.
    pub fn buffers(&self) -> bool {
        matches!(self.mode, Mode::Json(_))
    }

    /// A buffered body has grown to `size` bytes: past the limit, it stops being held and
    /// passes on unrestored.
    pub fn grew(&mut self, size: usize) {
        if self.buffers() && size > self.limit {
            self.stop(Skip::TooLarge);
        }
    }

    fn stop(&mut self, why: Skip) {
        self.mode = Mode::Pass;
        self.skipped.get_or_insert(why);
    }

    /// The whole buffered JSON body restored; `None`: send it as it is.
    pub fn finish_json(&mut self, body: &[u8]) -> Option<Vec<u8>> {
        self.finish_json_with(None, body)
    }

    /// As [`Restoring::finish_json`], inspected first when the tier asks and `lent` holds the
    /// policy and the VM's scratch.
    pub fn finish_json_with(
        &mut self,
        lent: Option<(&Policy, &mut Scratch)>,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let Mode::Json(codings) = &self.mode else {
            return None;
        };
        let codings = codings.clone();
        if body.len() > self.limit {
            self.stop(Skip::TooLarge);
            return None;
        }
        let plain = if codings.is_empty() {
            std::borrow::Cow::Borrowed(body)
        } else {
            match coding::decode(&codings, body, self.limit) {
                Ok(plain) => std::borrow::Cow::Owned(plain),
                Err(coding::EncodingError::TooLarge) => {
                    self.stop(Skip::TooLarge);
                    return None;
                }
                Err(_) => {
                    self.stop(Skip::Encoding);
                    return None;
                }
            }
        };
        if self.requested_model.is_some() {
            let mut outline = crate::engine::body::json::Outline::default();
            if outline.parse(&plain).is_ok() {
                self.reported_model = super::model::reported(&plain, &outline);
            }
        }
        self.mode = Mode::Pass;
        let mut restored = 0;
        let result = match (lent, self.inspection.as_mut()) {
            (Some((policy, scratch)), Some(state)) => {
                let mut inspector = Inspector {
                    policy,
                    scratch,
                    state,
                };
                match super::json::inspect_and_restore(
                    &self.map,
                    &plain,
                    &mut inspector,
                    &mut restored,
                ) {
                    // Not JSON after all (truncated): nothing is restored, but what the policy
                    // forbids is still masked, in the bytes as text.
                    Err(e) => {
                        self.skipped = Some(Skip::NotJson);
                        let mut masked = Vec::with_capacity(plain.len());
                        inspector.pass(&plain, false, &mut masked);
                        if masked == *plain {
                            Err(e)
                        } else {
                            Ok(Some(masked))
                        }
                    }
                    done => done,
                }
            }
            _ if self.map.is_empty() => return None,
            _ => super::json::restore_document(&self.map, &plain, &mut restored),
        };
        match result {
            Err(_) => {
                self.skipped = Some(Skip::NotJson);
                None
            }
            Ok(None) => None,
            Ok(Some(new)) if codings.is_empty() => {
                self.restored += restored;
                Some(new)
            }
            Ok(Some(new)) => match coding::encode(&codings, &new) {
                Ok(encoded) => {
                    self.restored += restored;
                    Some(encoded)
                }
                Err(_) => {
                    self.skipped = Some(Skip::Encoding);
                    None
                }
            },
        }
    }

    /// One chunk of a streamed body: what goes on now (the chunk itself when not streaming).
    /// `end`: the last chunk, after which everything held goes out.
    pub fn chunk(&mut self, chunk: &[u8], end: bool, out: &mut Vec<u8>) {
        self.chunk_with(None, chunk, end, out);
    }

    /// As [`Restoring::chunk`], inspected first when the tier asks and `lent` holds the
    /// policy and the VM's scratch.
    pub fn chunk_with(
        &mut self,
        lent: Option<(&Policy, &mut Scratch)>,
        chunk: &[u8],
        end: bool,
        out: &mut Vec<u8>,
    ) {
        let Mode::Stream(sse) = &mut self.mode else {
            out.extend_from_slice(chunk);
            return;
        };
        let mut inspector = match (lent, self.inspection.as_mut()) {
            (Some((policy, scratch)), Some(state)) => Some(Inspector {
                policy,
                scratch,
                state,
            }),
            _ => None,
        };
        let mut stage = Output::new(&self.map, inspector.as_mut());
        sse.push_through(&mut stage, chunk, out);
        if end {
            sse.finish_through(&mut stage, out);
        }
        self.restored = sse.restored;
        if self.reported_model.is_none() {
            self.reported_model.clone_from(&sse.reported_model);
        }
        if sse.gave_up == Some(SseGiveUp::EventTooLarge) {
            self.skipped.get_or_insert(Skip::EventTooLarge);
        }
        let watching_only = self.map.is_empty() && self.inspection.is_none();
        if watching_only && (self.reported_model.is_some() || self.requested_model.is_none()) {
            // Only watching for the model, and it is known: the rest is not read.
            self.mode = Mode::Pass;
        }
    }

    /// Whether this response streams through the restorer.
    pub fn streams(&self) -> bool {
        matches!(self.mode, Mode::Stream(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::map::tests::map_of;

    #[test]
    fn plans_by_content_type() {
        let (map, t) = map_of("EMAIL", &["marta@northwind.example"]);
        let json = format!(r#"{{"text":"{}"}}"#, t[0]);
        let mut r = Restoring::start(
            map.clone(),
            None,
            Some("application/json; charset=utf-8"),
            None,
            1 << 20,
        );
        assert!(r.buffers() && r.rewrites());
        assert_eq!(
            r.finish_json(json.as_bytes()).unwrap(),
            br#"{"text":"marta@northwind.example"}"#
        );
        assert_eq!(r.restored, 1);

        let gz = coding::parse("gzip").unwrap();
        let packed = coding::encode(&gz, json.as_bytes()).unwrap();
        let mut r = Restoring::start(
            map.clone(),
            None,
            Some("application/json"),
            Some("gzip"),
            1 << 20,
        );
        let out = r.finish_json(&packed).unwrap();
        assert_eq!(
            coding::decode(&gz, &out, 1 << 20).unwrap(),
            br#"{"text":"marta@northwind.example"}"#
        );

        let mut r = Restoring::start(map.clone(), None, Some("text/plain"), None, 1 << 20);
        assert!(!r.rewrites());
        let mut out = Vec::new();
        r.chunk(json.as_bytes(), true, &mut out);
        assert_eq!(out, json.as_bytes());

        let r = Restoring::start(
            map.clone(),
            None,
            Some("text/event-stream"),
            Some("gzip"),
            1 << 20,
        );
        assert_eq!(r.skipped, Some(Skip::Encoding));
        assert!(!r.rewrites());
    }

    #[test]
    fn watches_the_model_with_or_without_tokens() {
        let chat = br#"{"model":"gpt-4o-mini-2024-07-18","choices":[]}"#;
        let mut r = Restoring::start(
            RestoreMap::default(),
            Some("gpt-4o".into()),
            Some("application/json"),
            None,
            1 << 20,
        );
        assert!(r.reads() && !r.rewrites());
        assert_eq!(r.finish_json(chat), None);
        assert_eq!(r.mismatch(), Some(("gpt-4o", "gpt-4o-mini-2024-07-18")));
        let mut r = Restoring::start(
            RestoreMap::default(),
            Some("gpt-4o-mini".into()),
            Some("text/event-stream"),
            None,
            1 << 20,
        );
        let mut out = Vec::new();
        r.chunk(
            b"data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[]}\n\n",
            false,
            &mut out,
        );
        assert_eq!(r.mismatch(), None);
        assert_eq!(r.reported_model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert!(
            !r.reads(),
            "the model is known and nothing is to restore: stop reading"
        );
    }

    #[test]
    fn bad_json_too_large_and_truncated() {
        let (map, t) = map_of("EMAIL", &["marta@northwind.example"]);
        let json = format!(r#"{{"text":"{}"}}"#, t[0]);
        let mut r = Restoring::start(map.clone(), None, Some("application/json"), None, 8);
        r.grew(json.len());
        assert_eq!(r.skipped, Some(Skip::TooLarge));
        assert_eq!(r.finish_json(json.as_bytes()), None);
        let mut r = Restoring::start(map.clone(), None, Some("application/json"), None, 1 << 20);
        assert_eq!(r.finish_json(&json.as_bytes()[..json.len() - 2]), None);
        assert_eq!(r.skipped, Some(Skip::NotJson));
        let mut r = Restoring::start(map, None, Some("application/json"), Some("gzip"), 1 << 20);
        assert_eq!(r.finish_json(b"not gzip"), None);
        assert_eq!(r.skipped, Some(Skip::Encoding));
    }
}
