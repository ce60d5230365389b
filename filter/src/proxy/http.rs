//! The HTTP context: buffer the request body, inspect it once, act on the verdict; then put
//! the originals of the request's reversible tokens back into the response (`crate::response`).

use super::host;
use super::root::Loaded;
use crate::engine::relay::key_theft::KeyHeader;
use crate::engine::{Request, Uninspectable, Verdict};
use crate::header_pairs::HeaderPairs;
use crate::policy::Action;
use crate::reply::{self, Provider};
use crate::response::{RestoreMap, Restoring};
use crate::telemetry::{write_audit_line, AuditContext};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action as Flow;
use std::cell::OnceCell;
use std::rc::Rc;

/// Response header naming the decision for every inspected request.
const DECISION_HEADER: &str = "x-airlock-decision";
/// Response header set when the response reports another model than the request asked for.
const MODEL_MISMATCH_HEADER: &str = "x-airlock-model-mismatch";

enum State {
    /// No body, or nothing to do: pass through untouched.
    Idle,
    /// Holding the body until end of stream or trailers.
    Buffering,
    /// Judged; the decision goes on the response.
    Decided(Action),
}

#[derive(Default)]
struct RequestFacts {
    host: String,
    path: String,
    content_type: Option<String>,
    content_encoding: Option<String>,
    /// Read from the host only when an audit line names it (most requests write none).
    request_id: OnceCell<String>,
    /// The `x-request-id` header, the request id when the host has no `request.id` property.
    request_id_header: Option<String>,
    /// Who sent the request, for the inspection cache's partitions (see `config::CacheConfig`).
    caller: Option<String>,
}

impl RequestFacts {
    /// The request id for audit lines: the host's `request.id` property, else the
    /// `x-request-id` header; read once, on first use.
    fn request_id(&self) -> &str {
        self.request_id.get_or_init(|| {
            let id = host::get_property(&["request", "id"])
                .ok()
                .flatten()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .or_else(|| self.request_id_header.clone());
            sanitized_id(id)
        })
    }
}

pub struct AirlockHttp {
    loaded: Option<Rc<Loaded>>,
    state: State,
    facts: RequestFacts,
    /// Bytes buffered so far (the host reports the cumulative size while paused).
    buffered: usize,
    /// The reversible tokens the request body went out with (restorable ones only).
    tokens: RestoreMap,
    /// The response being restored, once its headers are in.
    restoring: Option<Restoring>,
    /// Response body bytes held so far (a buffered JSON response).
    response_buffered: usize,
    /// The model the request asked for, compared with the one the response reports.
    requested_model: Option<String>,
    /// The response headers are held (until the model is known or the first chunk is read).
    response_headers_held: bool,
    /// A model mismatch was reported for this response.
    mismatch_reported: bool,
}

impl AirlockHttp {
    pub fn new(loaded: Option<Rc<Loaded>>) -> AirlockHttp {
        AirlockHttp {
            loaded,
            state: State::Idle,
            facts: RequestFacts::default(),
            buffered: 0,
            tokens: RestoreMap::default(),
            restoring: None,
            response_buffered: 0,
            requested_model: None,
            response_headers_held: false,
            mismatch_reported: false,
        }
    }

    /// Inspects the buffered body of `size` bytes and carries out the verdict.
    fn finish(&mut self, size: usize) -> Flow {
        let Some(loaded) = self.loaded.clone() else {
            return self.unconfigured();
        };
        let policy = &loaded.config.policy;
        let started = host::now_nanos();
        let verdict = match host::get_buffer(host::REQUEST_BODY, 0, size) {
            Err(status) => policy.uninspectable(
                policy.tier_for(&self.facts.host, &self.facts.path),
                Uninspectable::Internal(format!(
                    "the host did not hand over the request body ({status:?})"
                )),
            ),
            Ok(body) => {
                let request = Request {
                    host: &self.facts.host,
                    path: &self.facts.path,
                    content_type: self.facts.content_type.as_deref(),
                    content_encoding: self.facts.content_encoding.as_deref(),
                    body: &body,
                    caller: self.facts.caller.as_deref().map(str::as_bytes),
                };
                match loaded.scratch.try_borrow_mut() {
                    Ok(mut scratch) => {
                        let verdict = policy.inspect(&request, &mut scratch);
                        // The model from the inspection's outline of the body, if it has one
                        // (a re-sent conversation's body is not parsed again for it).
                        if self.facts.content_encoding.is_none() {
                            self.requested_model = crate::response::model::requested_in(
                                &self.facts.path,
                                &body,
                                scratch.body_outline(&body),
                            );
                        }
                        verdict
                    }
                    Err(_) => {
                        if self.facts.content_encoding.is_none() {
                            self.requested_model =
                                crate::response::model::requested(&self.facts.path, &body);
                        }
                        policy.uninspectable(
                            policy.tier_for(&self.facts.host, &self.facts.path),
                            Uninspectable::Internal("inspection re-entered".to_string()),
                        )
                    }
                }
            }
        };
        let micros = host::now_nanos().saturating_sub(started) / 1000;
        host::record_metric(loaded.metrics.inspection_time_us, micros);
        self.carry_out(&loaded, verdict, size)
    }

    fn carry_out(&mut self, loaded: &Loaded, mut verdict: Verdict, size: usize) -> Flow {
        let policy = &loaded.config.policy;
        if let Some(body) = verdict.body.take() {
            if let Err(status) = host::set_buffer(host::REQUEST_BODY, 0, size, &body) {
                // The masked body could not replace the original: never let the original out.
                verdict = policy.uninspectable(
                    verdict.tier,
                    Uninspectable::Internal(format!(
                        "the host refused the rewritten body ({status:?})"
                    )),
                );
                verdict.decision = Action::Block;
            }
        }
        loaded
            .metrics
            .record(policy, &verdict, size, &mut |id, delta| {
                host::increment_metric(id, delta)
            });
        super::filter_state::record(policy, &verdict);
        if verdict.decision != Action::Block && !verdict.tokens.is_empty() {
            let sent = u64::try_from(verdict.tokens.len()).unwrap_or(u64::MAX);
            host::increment_metric(loaded.response_metrics.tokens_sent, sent);
            if verdict.tokens.restorable() > 0 {
                self.tokens = std::mem::take(&mut verdict.tokens);
            }
        }
        // Every finding is audited, even one whose action is allow: operators must see what left.
        if verdict.decision != Action::Allow
            || !verdict.findings.is_empty()
            || verdict.uninspectable.is_some()
            || verdict.relay.fields.any()
        {
            self.audit(loaded, &verdict);
        }
        self.state = State::Decided(verdict.decision);
        if verdict.decision != Action::Block {
            return Flow::Continue;
        }
        let reply = reply::block_reply(Provider::from_path(&self.facts.path), policy, &verdict);
        let headers = [
            ("content-type", "application/json"),
            (DECISION_HEADER, Action::Block.as_str()),
        ];
        if let Err(status) = host::send_response(reply.status, &headers, reply.body.as_bytes()) {
            host::log(
                host::LOG_ERROR,
                &format!("airlock: could not send the block reply ({status:?}); resetting"),
            );
        }
        Flow::Pause
    }

    /// Key theft in the key headers or the query string: blocks now, or (monitor mode) audits
    /// and lets the request go on to the body's inspection. `None`: nothing found.
    fn check_key_headers(&mut self, loaded: &Loaded, headers: &HeaderPairs) -> Option<Flow> {
        let policy = &loaded.config.policy;
        if !policy.relay.key_theft.active() {
            return None;
        }
        let values: Vec<(KeyHeader, String)> = KeyHeader::ALL
            .iter()
            .filter_map(|h| headers.get_string(h.name()).map(|v| (*h, v)))
            .collect();
        let present: Vec<(KeyHeader, &str)> =
            values.iter().map(|(h, v)| (*h, v.as_str())).collect();
        let verdict = match loaded.scratch.try_borrow_mut() {
            Ok(mut scratch) => policy.key_theft_in_headers(
                &self.facts.host,
                &self.facts.path,
                &present,
                &mut scratch,
            )?,
            Err(_) => policy.uninspectable(
                policy.tier_for(&self.facts.host, &self.facts.path),
                Uninspectable::Internal("inspection re-entered".to_string()),
            ),
        };
        if verdict.decision == Action::Block {
            return Some(self.carry_out(loaded, verdict, 0));
        }
        // Monitor mode (or a failed check under `on_uninspectable: allow`): say so, go on.
        if let Some(id) = loaded.metrics.key_theft.get(usize::from(verdict.tier)) {
            if verdict.relay.key_theft.is_some() {
                host::increment_metric(*id, 1);
            }
        }
        self.audit(loaded, &verdict);
        None
    }

    /// Writes the verdict's audit line.
    fn audit(&self, loaded: &Loaded, verdict: &Verdict) {
        let ctx = AuditContext {
            request_id: self.facts.request_id(),
            host: &self.facts.host,
            path: &self.facts.path,
        };
        // One buffer per VM for every line: no allocation once it has grown.
        let mut fresh = Vec::new();
        let mut reused = loaded.audit_line.try_borrow_mut();
        let line = reused.as_deref_mut().unwrap_or(&mut fresh);
        line.clear();
        line.extend_from_slice(b"airlock.audit ");
        write_audit_line(&loaded.config.policy, verdict, &ctx, line);
        host::log_bytes(host::LOG_INFO, line);
    }

    /// No policy is loaded (the host kept a context from a rejected configuration): fail closed.
    fn unconfigured(&mut self) -> Flow {
        self.state = State::Decided(Action::Block);
        let body = br#"{"error":{"message":"Airlock has no valid configuration; the request was not sent.","type":"server_error"}}"#;
        let _ = host::send_response(
            503,
            &[
                ("content-type", "application/json"),
                (DECISION_HEADER, "block"),
            ],
            body,
        );
        Flow::Pause
    }

    /// The fail mode for a body that is too large, decided as soon as the size is known.
    fn too_large(&mut self, size: usize) -> Flow {
        let Some(loaded) = self.loaded.clone() else {
            return self.unconfigured();
        };
        let policy = &loaded.config.policy;
        let why = Uninspectable::TooLarge {
            size,
            limit: policy.limits.max_body_bytes,
        };
        let verdict =
            policy.uninspectable(policy.tier_for(&self.facts.host, &self.facts.path), why);
        self.carry_out(&loaded, verdict, 0)
    }
}

impl AirlockHttp {
    /// Plans the response's restoring from its headers; drops `content-length` if the body
    /// may change length (the headers leave when this callback returns).
    fn start_restoring(&mut self) {
        let Some(loaded) = self.loaded.clone() else {
            return;
        };
        let headers = header_pairs(host::RESPONSE_HEADERS);
        let response_header = |name: &str| headers.get_string(name);
        let policy = &loaded.config.policy;
        let tier = policy.tier_for(&self.facts.host, &self.facts.path);
        let restoring = Restoring::start(
            std::mem::take(&mut self.tokens),
            self.requested_model.take(),
            response_header("content-type").as_deref(),
            response_header("content-encoding").as_deref(),
            policy.limits.max_body_bytes,
        )
        .with_inspection(crate::response::OutputInspection::for_tier(policy, tier));
        if restoring.rewrites() {
            let _ = host::remove_header(host::RESPONSE_HEADERS, "content-length");
        }
        self.restoring = Some(restoring);
        if !self.restoring.as_ref().is_some_and(Restoring::reads) {
            self.finish_restoring();
        }
    }

    /// Whether the request's tier inspects its responses (`inspect_responses`).
    fn inspects_responses(&self) -> bool {
        self.loaded.as_ref().is_some_and(|l| {
            let policy = &l.config.policy;
            let tier = policy.tier_for(&self.facts.host, &self.facts.path);
            policy
                .tiers
                .get(usize::from(tier))
                .is_some_and(|t| t.inspect_responses.is_some())
        })
    }

    /// Reports a model mismatch once it is known: stat, audit line, and (headers still held)
    /// the response header; with `on_model_mismatch: block` and headers held, replaces the
    /// response with a provider-shaped error. True when the response was replaced.
    fn check_model(&mut self) -> bool {
        if self.mismatch_reported {
            return false;
        }
        let (Some(loaded), Some(restoring)) = (self.loaded.clone(), self.restoring.as_ref()) else {
            return false;
        };
        let Some((requested, reported)) = restoring.mismatch() else {
            return false;
        };
        let (requested, reported) = (requested.to_string(), reported.to_string());
        self.mismatch_reported = true;
        let policy = &loaded.config.policy;
        let tier = policy.tier_for(&self.facts.host, &self.facts.path);
        if let Some(id) = loaded
            .response_metrics
            .model_mismatch
            .get(usize::from(tier))
        {
            host::increment_metric(*id, 1);
        }
        let block = self.response_headers_held
            && policy
                .tiers
                .get(usize::from(tier))
                .is_some_and(|t| t.block_model_mismatch);
        host::log(
            host::LOG_INFO,
            &format!(
                "airlock.audit {}",
                serde_json::json!({
                    "event": "model_mismatch",
                    "requested": requested,
                    "reported": reported,
                    "tier": policy.tier_name(tier),
                    "action": if block { "block" } else { "monitor" },
                    "request_id": self.facts.request_id(),
                    "host": self.facts.host,
                    "path": self.facts.path,
                })
            ),
        );
        if !self.response_headers_held {
            return false;
        }
        let value = format!("requested={requested}; reported={reported}");
        if !block {
            let _ = host::set_header(host::RESPONSE_HEADERS, MODEL_MISMATCH_HEADER, &value);
            return false;
        }
        let reply = reply::model_mismatch_reply(
            Provider::from_path(&self.facts.path),
            policy.tier_name(tier),
            &requested,
            &reported,
        );
        let headers = [
            ("content-type", "application/json"),
            (MODEL_MISMATCH_HEADER, value.as_str()),
        ];
        self.restoring = None;
        if host::send_response(reply.status, &headers, reply.body.as_bytes()).is_err() {
            host::log(
                host::LOG_ERROR,
                "airlock: could not send the model-mismatch reply",
            );
        }
        true
    }

    /// Counts what the response's restoring did, audits a skip, and drops the restore map.
    fn finish_restoring(&mut self) {
        let Some(restoring) = self.restoring.take() else {
            return;
        };
        let Some(loaded) = self.loaded.as_ref() else {
            return;
        };
        let metrics = &loaded.response_metrics;
        if let Some(inspection) = restoring.inspection.as_ref() {
            metrics.record_inspection(inspection, &mut |id, delta| {
                host::increment_metric(id, delta)
            });
            if !inspection.findings.is_empty() {
                let ctx = AuditContext {
                    request_id: self.facts.request_id(),
                    host: &self.facts.host,
                    path: &self.facts.path,
                };
                let line =
                    crate::response::inspection_audit_line(&loaded.config.policy, inspection, &ctx);
                host::log(host::LOG_INFO, &format!("airlock.audit {line}"));
            }
        }
        if restoring.restored > 0 {
            let restored = u64::try_from(restoring.restored).unwrap_or(u64::MAX);
            host::increment_metric(metrics.tokens_restored, restored);
        }
        if let Some(why) = restoring.skipped {
            if let Some(id) = metrics.skipped(why) {
                host::increment_metric(id, 1);
            }
            host::log(
                host::LOG_INFO,
                &format!(
                    "airlock.audit {}",
                    serde_json::json!({
                        "event": "restore_skipped",
                        "reason": why.reason(),
                        "request_id": self.facts.request_id(),
                        "host": self.facts.host,
                        "path": self.facts.path,
                    })
                ),
            );
        }
    }
}

/// Restores (and inspects, if the tier asks) a whole buffered JSON response body of `size`
/// bytes in place.
fn restore_buffered(loaded: Option<&Loaded>, restoring: &mut Restoring, size: usize) {
    let Ok(body) = host::get_buffer(host::RESPONSE_BODY, 0, size) else {
        return;
    };
    let mut scratch = loaded.and_then(|l| l.scratch.try_borrow_mut().ok());
    let lent = loaded
        .zip(scratch.as_deref_mut())
        .map(|(l, s)| (&l.config.policy, s));
    if let Some(restored) = restoring.finish_json_with(lent, &body) {
        let _ = host::set_buffer(host::RESPONSE_BODY, 0, size, &restored);
    }
}

/// Passes one streamed chunk of `size` bytes through the restorer (and the inspection).
fn restore_chunk(loaded: Option<&Loaded>, restoring: &mut Restoring, size: usize, end: bool) {
    let chunk = if size == 0 {
        Vec::new()
    } else {
        match host::get_buffer(host::RESPONSE_BODY, 0, size) {
            Ok(chunk) => chunk,
            // The chunk passes as it is: its tokens stay tokens.
            Err(_) => return,
        }
    };
    let mut out = Vec::with_capacity(chunk.len() + 64);
    let mut scratch = loaded.and_then(|l| l.scratch.try_borrow_mut().ok());
    let lent = loaded
        .zip(scratch.as_deref_mut())
        .map(|(l, s)| (&l.config.policy, s));
    restoring.chunk_with(lent, &chunk, end, &mut out);
    if out != chunk {
        let _ = host::set_buffer(host::RESPONSE_BODY, 0, size, &out);
    }
}

/// A header map in one host call; an unreadable or malformed map reads as empty, as each
/// header read on its own would have read as absent.
fn header_pairs(map: u32) -> HeaderPairs {
    host::get_header_pairs(map)
        .ok()
        .and_then(HeaderPairs::parse)
        .unwrap_or_default()
}

/// A request id safe to log: printable ASCII, at most 64 bytes.
fn sanitized_id(raw: Option<String>) -> String {
    raw.unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}

impl Context for AirlockHttp {}

impl HttpContext for AirlockHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Flow {
        let Some(loaded) = self.loaded.clone() else {
            return self.unconfigured();
        };
        let headers = header_pairs(host::REQUEST_HEADERS);
        let header = |name: &str| headers.get_string(name);
        self.facts = RequestFacts {
            host: header(":authority")
                .or_else(|| header("host"))
                .unwrap_or_default(),
            path: header(":path").unwrap_or_default(),
            content_type: header("content-type"),
            content_encoding: header("content-encoding"),
            request_id: OnceCell::new(),
            request_id_header: header("x-request-id"),
            caller: None,
        };
        self.facts.caller = loaded.config.cache.caller(&header, &self.facts.path);
        // Keys are checked before the headers go anywhere, with or without a body.
        if let Some(flow) = self.check_key_headers(&loaded, &headers) {
            return flow;
        }
        if end_of_stream {
            return Flow::Continue;
        }
        let declared = header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
        if let Some(length) = declared {
            if length > loaded.config.policy.limits.max_body_bytes {
                return self.too_large(length);
            }
        }
        // The body may be rewritten, so its length may change: let the host re-frame it.
        let _ = host::remove_header(host::REQUEST_HEADERS, "content-length");
        // Tokens may go out, and their originals come back only in a body Airlock can read:
        // the headers leave before the body is judged, so ask every request to a restoring
        // (or response-inspecting) tier for an uncompressed response (docs/response-path.md).
        let policy = &loaded.config.policy;
        let tier = policy.tier_for(&self.facts.host, &self.facts.path);
        if policy
            .tiers
            .get(usize::from(tier))
            .is_some_and(|t| !t.restore.is_empty() || t.inspect_responses.is_some())
        {
            let _ = host::set_header(host::REQUEST_HEADERS, "accept-encoding", "identity");
        }
        self.state = State::Buffering;
        if loaded.config.hold_headers {
            Flow::Pause
        } else {
            Flow::Continue
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Flow {
        if !matches!(self.state, State::Buffering) {
            return Flow::Continue;
        }
        self.buffered = body_size;
        let limit = self
            .loaded
            .as_ref()
            .map_or(0, |l| l.config.policy.limits.max_body_bytes);
        if body_size > limit {
            return self.too_large(body_size);
        }
        if end_of_stream {
            self.finish(body_size)
        } else {
            Flow::Pause
        }
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Flow {
        // With trailers, end of stream never reaches the body callback: judge here.
        if matches!(self.state, State::Buffering) {
            self.finish(self.buffered)
        } else {
            Flow::Continue
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Flow {
        if let State::Decided(decision) = self.state {
            let _ = host::set_header(host::RESPONSE_HEADERS, DECISION_HEADER, decision.as_str());
        }
        let decided = matches!(self.state, State::Decided(d) if d != Action::Block);
        if !end_of_stream
            && decided
            && (!self.tokens.is_empty()
                || self.requested_model.is_some()
                || self.inspects_responses())
        {
            self.start_restoring();
            if self.restoring.as_ref().is_some_and(Restoring::reads) {
                // Held until the model is known (a JSON body's end, a stream's first chunk),
                // so a mismatch can still be flagged in a header, or the response blocked.
                self.response_headers_held = true;
                return Flow::Pause;
            }
        }
        Flow::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Flow {
        let loaded = self.loaded.clone();
        let loaded = loaded.as_deref();
        let Some(restoring) = self.restoring.as_mut() else {
            return Flow::Continue;
        };
        self.response_buffered = body_size;
        let flow = if restoring.buffers() {
            restoring.grew(body_size);
            if !restoring.buffers() {
                // Past the limit: what was held goes on as it is.
                Flow::Continue
            } else if end_of_stream {
                restore_buffered(loaded, restoring, body_size);
                Flow::Continue
            } else {
                Flow::Pause
            }
        } else {
            if restoring.streams() {
                restore_chunk(loaded, restoring, body_size, end_of_stream);
            }
            Flow::Continue
        };
        if self.check_model() {
            return Flow::Pause;
        }
        if flow == Flow::Continue {
            self.response_headers_held = false;
        }
        let done = self.restoring.as_ref().is_none_or(|r| !r.reads());
        if end_of_stream || done {
            self.finish_restoring();
        }
        flow
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Flow {
        // With trailers, end of stream never reaches the body callback: finish here.
        let loaded = self.loaded.clone();
        if let Some(restoring) = self.restoring.as_mut() {
            if restoring.buffers() {
                restore_buffered(loaded.as_deref(), restoring, self.response_buffered);
            } else if restoring.streams() {
                restore_chunk(loaded.as_deref(), restoring, 0, true);
            }
        }
        self.finish_restoring();
        Flow::Continue
    }
}
