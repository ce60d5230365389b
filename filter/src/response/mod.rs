//! The response path: putting back what `tokenize` took out of the request, and (where a
//! tier asks) inspecting what the model sends back.
//!
//! Host-agnostic, like the engine: the proxy adapter feeds it a response's body and takes
//! back the bytes to send on. One job per file:
//!
//! - `token.rs`: how a token is spelled (`[EMAIL_7Q2F]`), from a keyed hash of the value;
//! - `map.rs`: the tokens one request sent out and the originals to put back (bounded, per
//!   request, never printed);
//! - `text.rs`: restoring the tokens in one piece of text, whole or with a held-back tail;
//! - `json.rs`: restoring a whole JSON response (every string, JSON inside strings too);
//! - `channel.rs`: which strings of a streamed event are deltas, and of which channel;
//! - `sse.rs`: restoring a server-sent-event stream chunk by chunk;
//! - `model.rs`: which model a request asked for and a response reports (substitution);
//! - `inspect.rs`: model output checked by the policy's detectors (`inspect_responses`);
//! - `output.rs`: the order a piece of response text goes through (inspect, then restore);
//! - `body.rs`: one response from headers to end: which of the above, and what is skipped.
//!
//! See `docs/response-path.md` for what each vendor shape looks like and what happens to
//! bad input.

mod body;
mod channel;
pub mod inspect;
mod json;
mod map;
pub mod model;
mod output;
mod sse;
mod stats;
mod text;
pub mod token;

pub use body::{Restoring, Skip};
pub use inspect::{OutputFinding, OutputInspection};
pub use json::restore_document;
pub use map::{RestoreMap, MAX_ORIGINAL_BYTES, MAX_TOKENS};
pub use sse::{SseGiveUp, SseRestorer};
pub use stats::{inspection_audit_line, ResponseMetrics};
pub use text::{restore_all, restore_partial, Landing};

/// A restore map holding `values` as restorable tokens with `prefix`, and their tokens: for
/// `benches/` (the map is otherwise only built by the engine). Not an API.
#[cfg(any(test, feature = "bench-hooks"))]
pub fn bench_map(prefix: &str, values: &[&str]) -> (RestoreMap, Vec<String>) {
    let key = crate::policy::HmacKey::new(b"airlock-bench-restore-key".to_vec());
    let mut map = RestoreMap::default();
    let mut tokens = Vec::new();
    for value in values {
        let mut token = Vec::new();
        if map.mint(&key, prefix, value.as_bytes(), true, &mut token) {
            tokens.push(String::from_utf8_lossy(&token).into_owned());
        }
    }
    (map, tokens)
}
