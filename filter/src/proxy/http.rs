//! The HTTP context: buffer the request body, inspect it once, act on the verdict.

use super::host;
use super::root::Loaded;
use crate::engine::relay::key_theft::KeyHeader;
use crate::engine::{Request, Uninspectable, Verdict};
use crate::policy::Action;
use crate::reply::{self, Provider};
use crate::telemetry::{audit_line, AuditContext};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action as Flow;
use std::rc::Rc;

/// Response header naming the decision for every inspected request.
const DECISION_HEADER: &str = "x-airlock-decision";

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
    request_id: String,
    /// Who sent the request, for the inspection cache's partitions (see `config::CacheConfig`).
    caller: Option<String>,
}

pub struct AirlockHttp {
    loaded: Option<Rc<Loaded>>,
    state: State,
    facts: RequestFacts,
    /// Bytes buffered so far (the host reports the cumulative size while paused).
    buffered: usize,
}

impl AirlockHttp {
    pub fn new(loaded: Option<Rc<Loaded>>) -> AirlockHttp {
        AirlockHttp {
            loaded,
            state: State::Idle,
            facts: RequestFacts::default(),
            buffered: 0,
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
                    Ok(mut scratch) => policy.inspect(&request, &mut scratch),
                    Err(_) => policy.uninspectable(
                        policy.tier_for(&self.facts.host, &self.facts.path),
                        Uninspectable::Internal("inspection re-entered".to_string()),
                    ),
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
        // Every finding is audited, even one whose action is allow: operators must see what left.
        if verdict.decision != Action::Allow
            || !verdict.findings.is_empty()
            || verdict.uninspectable.is_some()
            || verdict.relay.fields.any()
        {
            self.audit(policy, &verdict);
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
    fn check_key_headers(&mut self, loaded: &Loaded) -> Option<Flow> {
        let policy = &loaded.config.policy;
        if !policy.relay.key_theft.active() {
            return None;
        }
        let values: Vec<(KeyHeader, String)> = KeyHeader::ALL
            .iter()
            .filter_map(|h| header(h.name()).map(|v| (*h, v)))
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
        self.audit(policy, &verdict);
        None
    }

    /// Writes the verdict's audit line.
    fn audit(&self, policy: &crate::policy::Policy, verdict: &Verdict) {
        let ctx = AuditContext {
            request_id: &self.facts.request_id,
            host: &self.facts.host,
            path: &self.facts.path,
        };
        host::log(
            host::LOG_INFO,
            &format!("airlock.audit {}", audit_line(policy, verdict, &ctx)),
        );
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

fn header(name: &str) -> Option<String> {
    host::get_header(host::REQUEST_HEADERS, name)
        .ok()
        .flatten()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
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
        let request_id = host::get_property(&["request", "id"])
            .ok()
            .flatten()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .or_else(|| header("x-request-id"));
        self.facts = RequestFacts {
            host: header(":authority")
                .or_else(|| header("host"))
                .unwrap_or_default(),
            path: header(":path").unwrap_or_default(),
            content_type: header("content-type"),
            content_encoding: header("content-encoding"),
            request_id: sanitized_id(request_id),
            caller: None,
        };
        self.facts.caller = loaded.config.cache.caller(&header, &self.facts.path);
        // Keys are checked before the headers go anywhere, with or without a body.
        if let Some(flow) = self.check_key_headers(&loaded) {
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

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Flow {
        if let State::Decided(decision) = self.state {
            let _ = host::set_header(host::RESPONSE_HEADERS, DECISION_HEADER, decision.as_str());
        }
        Flow::Continue
    }
}
