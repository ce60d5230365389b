//! [`Stream`]: drives one HTTP stream through the filter's callbacks the way
//! Envoy's HTTP filter does (see [`crate::stream`] for the model), and reads
//! back what the filter did.

use crate::abi::Action;
use crate::headers::HeaderMap;
use crate::stream::{Direction, LocalResponse, Side, StreamState};
use crate::{Host, Result};

/// One HTTP stream context. Dropping it forgets its state (call
/// [`Stream::done`] first to run `proxy_on_done`/`on_log`/`on_delete`).
pub struct Stream<'h> {
    host: &'h mut Host,
    id: u32,
}

type Pairs<'a, K, V> = &'a [(K, V)];

/// A filter callback, named for each side it is called on.
struct Callback {
    request: &'static str,
    response: &'static str,
}

impl Callback {
    fn on(&self, side: Side) -> &'static str {
        match side {
            Side::Request => self.request,
            Side::Response => self.response,
        }
    }
}

const ON_HEADERS: Callback = Callback {
    request: "proxy_on_request_headers",
    response: "proxy_on_response_headers",
};
const ON_BODY: Callback = Callback {
    request: "proxy_on_request_body",
    response: "proxy_on_response_body",
};
const ON_TRAILERS: Callback = Callback {
    request: "proxy_on_request_trailers",
    response: "proxy_on_response_trailers",
};

/// Header names arrive lowercased, as Envoy presents them.
fn to_map<K: AsRef<str>, V: AsRef<str>>(pairs: Pairs<'_, K, V>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.add(k.as_ref().as_bytes(), v.as_ref().as_bytes());
    }
    map
}

impl<'h> Stream<'h> {
    pub(crate) fn new(host: &'h mut Host, id: u32) -> Stream<'h> {
        Stream { host, id }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// The host (metrics, logs) while the stream is alive.
    pub fn host(&self) -> &Host {
        self.host
    }

    fn state(&self) -> &StreamState {
        // The entry lives as long as this handle (removed on drop).
        static EMPTY: std::sync::OnceLock<StreamState> = std::sync::OnceLock::new();
        self.host
            .vm
            .store
            .data()
            .streams
            .get(&self.id)
            .unwrap_or_else(|| EMPTY.get_or_init(StreamState::default))
    }

    fn state_mut(&mut self) -> &mut StreamState {
        self.host
            .vm
            .store
            .data_mut()
            .streams
            .entry(self.id)
            .or_default()
    }

    /// A property of this stream only (`proxy_get_property`), e.g. `&["request", "id"]`.
    /// Without one, `request.id` etc. are derived from the request headers.
    pub fn set_property(&mut self, path: &[&str], value: &[u8]) {
        let path = path.iter().map(|s| s.to_string()).collect();
        self.state_mut().properties.insert(path, value.to_vec());
    }

    /// Calls a stream callback, then applies what the filter asked for: a
    /// local response (delivered after the callback, which then counts as
    /// Pause), `proxy_continue_stream`, or a Continue result releasing `side`.
    fn dispatch(&mut self, side: Side, callback: &str, args: &[i32]) -> Result<Action> {
        let id = self.id as i32;
        let mut full = vec![id];
        full.extend_from_slice(args);
        let raw = self.host.vm.call(self.id, callback, &full)?;
        let action = match raw {
            None => Action::Continue,
            Some(v) => Action::from_raw(v).ok_or_else(|| {
                wasmtime::format_err!("{callback} returned {v}, which is not a proxy-wasm action")
            })?,
        };
        let state = self.state_mut();
        if state.local_response.is_some() {
            if !state.local_response_delivered {
                state.local_response_delivered = true;
                self.deliver_local_response()?;
            }
            return Ok(Action::Pause);
        }
        let direction = state.direction(side);
        let resume = std::mem::take(&mut direction.resume_requested);
        if action == Action::Continue || resume {
            direction.release();
        }
        Ok(action)
    }

    /// Runs the local response through the filter's response callbacks (as
    /// Envoy does), then sends it on to the client.
    fn deliver_local_response(&mut self) -> Result<()> {
        let Some(reply) = self.state().local_response.clone() else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        headers.add(b":status", reply.status.to_string().as_bytes());
        for (k, v) in &reply.headers {
            headers.add(k.as_bytes(), v.as_bytes());
        }
        let count = headers.len() as i32;
        let response = &mut self.state_mut().response;
        *response = Direction {
            headers: Some(headers),
            ended: true,
            ..Direction::default()
        };
        if self.host.local_reply_through_filter {
            let id = self.id as i32;
            let eos = reply.body.is_empty() as i32;
            self.host
                .vm
                .call(self.id, "proxy_on_response_headers", &[id, count, eos])?;
            if !reply.body.is_empty() {
                let response = &mut self.state_mut().response;
                response.buffered = reply.body.clone();
                let size = reply.body.len();
                response.body_sizes.push(size);
                self.host
                    .vm
                    .call(self.id, "proxy_on_response_body", &[id, size as i32, 1])?;
            }
        } else {
            self.state_mut().response.buffered = reply.body.clone();
        }
        let response = &mut self.state_mut().response;
        response.resume_requested = false;
        response.release();
        Ok(())
    }

    fn headers_event<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        side: Side,
        headers: Pairs<'_, K, V>,
        end_of_stream: bool,
    ) -> Result<Action> {
        if self.state().stopped() {
            return Ok(Action::Pause);
        }
        let map = to_map(headers);
        let count = map.len() as i32;
        let direction = self.state_mut().direction(side);
        direction.headers = Some(map);
        direction.ended = end_of_stream;
        self.dispatch(side, ON_HEADERS.on(side), &[count, end_of_stream as i32])
    }

    fn body_event(&mut self, side: Side, chunk: &[u8], end_of_stream: bool) -> Result<Action> {
        if self.state().stopped() {
            return Ok(Action::Pause);
        }
        let direction = self.state_mut().direction(side);
        direction.buffered.extend_from_slice(chunk);
        direction.ended = end_of_stream;
        let size = direction.buffered.len();
        direction.body_sizes.push(size);
        self.dispatch(side, ON_BODY.on(side), &[size as i32, end_of_stream as i32])
    }

    fn trailers_event<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        side: Side,
        trailers: Pairs<'_, K, V>,
    ) -> Result<Action> {
        if self.state().stopped() {
            return Ok(Action::Pause);
        }
        let map = to_map(trailers);
        let count = map.len() as i32;
        let direction = self.state_mut().direction(side);
        direction.trailers = Some(map);
        direction.ended = true;
        self.dispatch(side, ON_TRAILERS.on(side), &[count])
    }

    /// Request headers arrive (`proxy_on_request_headers`). After a local
    /// response or a reset, events are not delivered and Pause is returned.
    pub fn request_headers<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        headers: Pairs<'_, K, V>,
        end_of_stream: bool,
    ) -> Result<Action> {
        self.headers_event(Side::Request, headers, end_of_stream)
    }

    /// A request body chunk arrives: it is appended to the held body and the
    /// callback gets the cumulative held size (`proxy_on_request_body`).
    pub fn request_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Result<Action> {
        self.body_event(Side::Request, chunk, end_of_stream)
    }

    /// Request trailers arrive (`proxy_on_request_trailers`); they end the request.
    pub fn request_trailers<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        trailers: Pairs<'_, K, V>,
    ) -> Result<Action> {
        self.trailers_event(Side::Request, trailers)
    }

    /// Upstream response headers arrive (`proxy_on_response_headers`).
    pub fn response_headers<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        headers: Pairs<'_, K, V>,
        end_of_stream: bool,
    ) -> Result<Action> {
        self.headers_event(Side::Response, headers, end_of_stream)
    }

    /// An upstream response body chunk arrives (`proxy_on_response_body`).
    pub fn response_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Result<Action> {
        self.body_event(Side::Response, chunk, end_of_stream)
    }

    /// Upstream response trailers arrive (`proxy_on_response_trailers`).
    pub fn response_trailers<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        trailers: Pairs<'_, K, V>,
    ) -> Result<Action> {
        self.trailers_event(Side::Response, trailers)
    }

    /// Ends the stream: `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`.
    /// Returns what `proxy_on_done` returned. Idempotent.
    pub fn done(&mut self) -> Result<bool> {
        if self.state().finished {
            return Ok(true);
        }
        self.state_mut().finished = true;
        let id = self.id as i32;
        let done = self.host.vm.call(self.id, "proxy_on_done", &[id])?;
        self.host.vm.call(self.id, "proxy_on_log", &[id])?;
        self.host.vm.call(self.id, "proxy_on_delete", &[id])?;
        Ok(done.is_none_or(|v| v != 0))
    }

    // ---- What the filter did ----

    /// The request headers as the filter left them (None before they arrived).
    pub fn current_request_headers(&self) -> Option<Vec<(String, String)>> {
        self.state()
            .request
            .headers
            .as_ref()
            .map(HeaderMap::to_pairs)
    }

    /// The request headers as sent upstream (None while the filter holds them).
    pub fn egress_request_headers(&self) -> Option<Vec<(String, String)>> {
        self.state()
            .request
            .egress_headers
            .as_ref()
            .map(HeaderMap::to_pairs)
    }

    /// The request body sent upstream so far (after the filter's rewrites).
    pub fn egress_request_body(&self) -> &[u8] {
        &self.state().request.egress_body
    }

    /// Request body bytes the filter is still holding.
    pub fn held_request_body(&self) -> &[u8] {
        &self.state().request.buffered
    }

    pub fn egress_request_trailers(&self) -> Option<Vec<(String, String)>> {
        self.state()
            .request
            .egress_trailers
            .as_ref()
            .map(HeaderMap::to_pairs)
    }

    /// Whether the whole request (headers, body, trailers) went upstream.
    pub fn request_complete(&self) -> bool {
        self.state().request.complete()
    }

    /// The sizes `proxy_on_request_body` was called with, in order.
    pub fn request_body_sizes(&self) -> &[usize] {
        &self.state().request.body_sizes
    }

    /// Edits to request headers/trailers made after they had gone upstream (no effect).
    pub fn late_request_header_changes(&self) -> usize {
        self.state().request.late_header_changes
    }

    /// The first local response the filter sent, as it sent it.
    pub fn local_response(&self) -> Option<&LocalResponse> {
        self.state().local_response.as_ref()
    }

    /// How many times the filter called `proxy_send_local_response`.
    pub fn local_response_calls(&self) -> usize {
        self.state().local_response_calls
    }

    /// Whether the filter called `proxy_close_stream`.
    pub fn was_reset(&self) -> bool {
        !self.state().closed.is_empty()
    }

    /// The response headers as the filter left them.
    pub fn current_response_headers(&self) -> Option<Vec<(String, String)>> {
        self.state()
            .response
            .headers
            .as_ref()
            .map(HeaderMap::to_pairs)
    }

    /// The response headers as sent to the client (None while held).
    pub fn egress_response_headers(&self) -> Option<Vec<(String, String)>> {
        self.state()
            .response
            .egress_headers
            .as_ref()
            .map(HeaderMap::to_pairs)
    }

    /// The response body sent to the client so far.
    pub fn egress_response_body(&self) -> &[u8] {
        &self.state().response.egress_body
    }

    pub fn response_complete(&self) -> bool {
        self.state().response.complete()
    }

    pub fn late_response_header_changes(&self) -> usize {
        self.state().response.late_header_changes
    }
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        self.host.vm.store.data_mut().streams.remove(&self.id);
    }
}
