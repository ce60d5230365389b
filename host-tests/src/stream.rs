//! Per-HTTP-stream state, modelled on Envoy's HTTP filter:
//!
//! - Each direction (request, response) has the header map the filter sees,
//!   the body bytes the host is holding for the filter (`buffered`), and what
//!   has gone on past the filter (`egress_*`).
//! - While the filter returns Pause from body callbacks, chunks accumulate in
//!   `buffered` and the size passed to the callback is the cumulative size; when
//!   a callback returns Continue (or the filter called `proxy_continue_stream`),
//!   the headers (if not yet sent) and the buffered body are released.
//! - Headers are released once: changes the filter makes to a header map after
//!   that have no effect and are counted in `late_header_changes`.
//! - A local response (`proxy_send_local_response`) takes effect after the
//!   callback that sent it returns; later request events are not delivered.

use crate::abi::StreamType;
use crate::headers::HeaderMap;
use crate::state::PropertyPath;
use std::collections::BTreeMap;

/// A reply the filter generated with `proxy_send_local_response`, as it sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub details: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub grpc_status: i32,
}

impl LocalResponse {
    /// The first value of header `key` (case-insensitive).
    pub fn header(&self, key: &str) -> Option<&str> {
        crate::headers::value_of(&self.headers, key)
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One direction of a stream.
#[derive(Debug, Default, Clone)]
pub struct Direction {
    /// The header map the filter reads and edits (None before headers arrive).
    pub headers: Option<HeaderMap>,
    pub trailers: Option<HeaderMap>,
    /// Body bytes held for the filter (the HttpRequestBody / HttpResponseBody buffer).
    pub buffered: Vec<u8>,
    /// Headers as sent on (None while held).
    pub egress_headers: Option<HeaderMap>,
    /// Body bytes sent on.
    pub egress_body: Vec<u8>,
    pub egress_trailers: Option<HeaderMap>,
    /// `proxy_continue_stream` was called during the running callback.
    pub resume_requested: bool,
    /// End of stream reached (by a body or headers with end_of_stream, or trailers).
    pub ended: bool,
    /// Header or trailer edits made after the map had been sent on.
    pub late_header_changes: usize,
    /// The sizes the body callbacks were called with, in order.
    pub body_sizes: Vec<usize>,
}

impl Direction {
    /// Sends on what the filter is no longer holding: headers (first time
    /// only), the buffered body, and trailers if they have arrived.
    pub fn release(&mut self) {
        if self.egress_headers.is_none() {
            self.egress_headers = self.headers.clone();
        }
        self.egress_body.append(&mut self.buffered);
        if self.egress_trailers.is_none() && self.trailers.is_some() {
            self.egress_trailers = self.trailers.clone();
        }
    }

    /// Whether everything that arrived has been sent on.
    pub fn complete(&self) -> bool {
        self.ended
            && self.egress_headers.is_some()
            && self.buffered.is_empty()
            && (self.trailers.is_none() || self.egress_trailers.is_some())
    }
}

/// Which of a stream's maps a map type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

#[derive(Debug, Default)]
pub struct StreamState {
    pub request: Direction,
    pub response: Direction,
    /// The first local response the filter sent.
    pub local_response: Option<LocalResponse>,
    /// How many times the filter called `proxy_send_local_response`.
    pub local_response_calls: usize,
    /// The local response has been run through the response path.
    pub local_response_delivered: bool,
    /// `proxy_close_stream` calls.
    pub closed: Vec<StreamType>,
    /// Properties set for this stream (by the test or by `proxy_set_property`).
    pub properties: BTreeMap<PropertyPath, Vec<u8>>,
    /// `proxy_on_done` etc. have run.
    pub finished: bool,
}

impl StreamState {
    pub fn direction(&mut self, side: Side) -> &mut Direction {
        match side {
            Side::Request => &mut self.request,
            Side::Response => &mut self.response,
        }
    }

    /// Whether events (request or upstream response) are no longer delivered
    /// to the filter: after a local response, a close, or the end of the stream.
    pub fn stopped(&self) -> bool {
        self.local_response.is_some() || !self.closed.is_empty() || self.finished
    }
}
