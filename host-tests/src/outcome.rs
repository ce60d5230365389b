//! [`send_request`]: one whole exchange in one call — request headers, body
//! chunks, optional trailers, then (if the request went upstream) an upstream
//! response — and an [`Outcome`] describing what the client and the upstream saw.

use crate::abi::Action;
use crate::headers::{value_of, values_of};
use crate::state::LogEntry;
use crate::{Host, Result};

/// Header pairs in order, as strings.
pub type Headers = Vec<(String, String)>;

/// A reply as the client received it: status, headers (with `:status`), body.
pub type ClientReply = (u32, Headers, Vec<u8>);

/// The upstream's answer used when the request reaches it.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Default for UpstreamResponse {
    fn default() -> Self {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","choices":[]}"#.to_vec();
        UpstreamResponse {
            headers: vec![
                (":status".into(), "200".into()),
                ("content-type".into(), "application/json".into()),
                ("content-length".into(), body.len().to_string()),
            ],
            body,
        }
    }
}

/// What happened to one request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The local reply the filter sent, as the client received it: status, the
    /// headers after the filter's response callbacks (with `:status`), body.
    pub local_response: Option<ClientReply>,
    /// Request headers as sent upstream (None if they never left).
    pub egress_headers: Option<Vec<(String, String)>>,
    /// Request body as sent upstream.
    pub egress_body: Vec<u8>,
    pub egress_trailers: Option<Vec<(String, String)>>,
    /// Everything the client sent reached the upstream.
    pub reached_upstream: bool,
    /// Neither forwarded completely nor answered locally: the filter left the request hanging.
    pub stalled: bool,
    /// Response headers as the client received them (local or upstream).
    pub response_headers: Vec<(String, String)>,
    /// Response body as the client received it.
    pub response_body: Vec<u8>,
    /// The `x-airlock-decision` response header(s) the client received.
    pub decisions: Vec<String>,
    /// Actions returned by the request callbacks, in order.
    pub request_actions: Vec<Action>,
    /// The sizes `proxy_on_request_body` was called with.
    pub body_sizes: Vec<usize>,
    /// Request header edits made after the headers had gone upstream.
    pub late_header_changes: usize,
    pub local_response_calls: usize,
    /// Log lines emitted while handling this request.
    pub logs: Vec<LogEntry>,
}

impl Outcome {
    /// The status the client got: the local reply's, or the upstream's.
    pub fn status(&self) -> Option<u32> {
        if let Some((status, _, _)) = &self.local_response {
            return Some(*status);
        }
        self.response_headers
            .iter()
            .find(|(k, _)| k == ":status")
            .and_then(|(_, v)| v.parse().ok())
    }

    /// The single decision header value, if exactly one was received.
    pub fn decision(&self) -> Option<&str> {
        match self.decisions.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        }
    }

    pub fn blocked(&self) -> bool {
        self.local_response.is_some()
    }

    /// The first value of response header `key` the client received.
    pub fn response_header(&self, key: &str) -> Option<&str> {
        value_of(&self.response_headers, key)
    }

    /// The response body the client received, parsed as JSON.
    pub fn response_json(&self) -> std::result::Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.response_body)
    }

    pub fn egress_body_str(&self) -> String {
        String::from_utf8_lossy(&self.egress_body).into_owned()
    }

    /// The first value of egress request header `key`.
    pub fn egress_header(&self, key: &str) -> Option<&str> {
        value_of(self.egress_headers.as_ref()?, key)
    }
}

/// Sends one request through a new stream: headers (end_of_stream when there
/// is neither body nor trailers), each body chunk (the last with
/// end_of_stream unless trailers follow), the trailers; then, if the request
/// reached the upstream, the default [`UpstreamResponse`]; then `done`.
pub fn send_request<K: AsRef<str>, V: AsRef<str>>(
    host: &mut Host,
    headers: &[(K, V)],
    body_chunks: &[&[u8]],
    trailers: Option<&[(&str, &str)]>,
) -> Result<Outcome> {
    send_request_with_response(
        host,
        headers,
        body_chunks,
        trailers,
        &UpstreamResponse::default(),
    )
}

/// [`send_request`] with a chosen upstream response.
pub fn send_request_with_response<K: AsRef<str>, V: AsRef<str>>(
    host: &mut Host,
    headers: &[(K, V)],
    body_chunks: &[&[u8]],
    trailers: Option<&[(&str, &str)]>,
    upstream: &UpstreamResponse,
) -> Result<Outcome> {
    let logs_before = host.log_entries().len();
    let mut stream = host.new_stream()?;
    let mut actions = Vec::new();
    let headers_end = body_chunks.is_empty() && trailers.is_none();
    actions.push(stream.request_headers(headers, headers_end)?);
    for (i, chunk) in body_chunks.iter().enumerate() {
        let last = i + 1 == body_chunks.len() && trailers.is_none();
        if stream.local_response().is_some() {
            break;
        }
        actions.push(stream.request_body(chunk, last)?);
    }
    if let Some(trailers) = trailers {
        if stream.local_response().is_none() {
            actions.push(stream.request_trailers(trailers)?);
        }
    }
    let reached_upstream = stream.local_response().is_none() && stream.request_complete();
    if reached_upstream {
        let body_empty = upstream.body.is_empty();
        stream.response_headers(&upstream.headers, body_empty)?;
        if !body_empty {
            stream.response_body(&upstream.body, true)?;
        }
    }
    stream.done()?;
    let response_headers = stream.egress_response_headers().unwrap_or_default();
    let response_body = stream.egress_response_body().to_vec();
    let local_response = stream
        .local_response()
        .map(|r| (r.status, response_headers.clone(), response_body.clone()));
    let outcome = Outcome {
        stalled: local_response.is_none() && !reached_upstream,
        local_response,
        egress_headers: stream.egress_request_headers(),
        egress_body: stream.egress_request_body().to_vec(),
        egress_trailers: stream.egress_request_trailers(),
        reached_upstream,
        decisions: values_of(&response_headers, "x-airlock-decision")
            .map(str::to_string)
            .collect(),
        response_headers,
        response_body,
        request_actions: actions,
        body_sizes: stream.request_body_sizes().to_vec(),
        late_header_changes: stream.late_request_header_changes(),
        local_response_calls: stream.local_response_calls(),
        logs: Vec::new(),
    };
    drop(stream);
    let logs = host
        .log_entries()
        .get(logs_before..)
        .unwrap_or_default()
        .to_vec();
    Ok(Outcome { logs, ..outcome })
}
