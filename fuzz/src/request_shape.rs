//! How the first byte of an `inspect` fuzz input shapes the request around the rest: content
//! type, gzip or not, destination host and policy. One definition for the fuzz target
//! (`inspect.rs`) and the .wasm replay (`host-tests/tests/fuzz_corpus.rs`, which includes this
//! file by path), so a saved input means the same request on both sides. Plain std only.

const CONTENT_TYPES: [Option<&str>; 8] = [
    Some("application/json"),
    Some("text/plain; charset=utf-8"),
    Some("multipart/form-data; boundary=fuzzb"),
    Some("application/x-ndjson"),
    None,
    Some("application/json"),
    Some("text/markdown"),
    Some("application/octet-stream"),
];
const HOSTS: [&str; 4] = [
    "api.openai.com",
    "relay.example",
    "x.openai.azure.com",
    "api.anthropic.com",
];

/// Every request is sent to this path.
pub const PATH: &str = "/v1/chat/completions";

/// The request a selector byte picks.
pub struct Shape {
    pub content_type: Option<&'static str>,
    pub gzip: bool,
    pub host: &'static str,
    /// Index of the fuzz policy (0: the default policy); the .wasm replay ignores it.
    pub policy: usize,
}

impl Shape {
    pub fn of(selector: u8) -> Shape {
        Shape {
            content_type: CONTENT_TYPES[usize::from(selector & 7)],
            gzip: selector & 8 != 0,
            host: HOSTS[usize::from((selector >> 4) & 3)],
            policy: usize::from((selector >> 6) & 1),
        }
    }

    pub fn content_encoding(&self) -> Option<&'static str> {
        self.gzip.then_some("gzip")
    }
}
