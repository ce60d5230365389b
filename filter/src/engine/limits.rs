//! Every bound of the request path, next to the count of how often each was reached.
//!
//! The engine reads hostile input, so everything it follows is bounded: JSON
//! nesting, JSON inside strings, encodings inside encodings, multipart parts
//! and headers, stacked content codings. Reaching a bound never skips
//! inspection: the content is still scanned (as text, or as written) and the
//! hit is counted in [`LimitHits`], which operators see in stats and outputs,
//! since a rising count can be an evasion. Only the body size (the policy's
//! `max_body_bytes`, also the bound on decompressed output) makes a request
//! uninspectable. Tuning constants that bound work but not what is inspected
//! (scan windows, keyword reach) stay next to the code they tune.

/// Deepest JSON nesting walked; deeper documents are scanned as text.
pub const MAX_JSON_DEPTH: usize = 128;
/// How deep JSON documents nested inside JSON strings (tool-call `arguments`) are followed.
pub const MAX_EMBEDDED_DEPTH: usize = 4;
/// How many encodings deep (base64 of percent-encoding of ...) text is decoded.
pub const MAX_DECODE_DEPTH: usize = 3;
/// Encoded runs decoded in one text; the scan stops at the next one (counted).
pub const MAX_DECODED_SEGMENTS: usize = 64;
/// Decoded bytes returned for one text; larger runs are skipped (counted).
pub const MAX_DECODED_BYTES: usize = 1 << 20;
/// Respelled runs (HTML references, `\xNN` escapes, spaced-out letters) read in one text.
pub const MAX_RESPELLED_RUNS: usize = 64;
/// Parts accepted in one multipart body; more follow the text fallback.
pub const MAX_MULTIPART_PARTS: usize = 256;
/// Largest header block of one multipart part, in bytes (line breaks included).
pub const MAX_PART_HEADER_BYTES: usize = 16 * 1024;
/// Most header lines in one multipart part.
pub const MAX_PART_HEADER_LINES: usize = 64;
/// Longest multipart boundary accepted (RFC 2046 allows 70; some clients send longer).
pub const MAX_BOUNDARY_LEN: usize = 200;
/// At most this many (non-identity) content codings per body; real traffic uses one,
/// and each stage costs up to the body limit of work.
pub const MAX_CODINGS: usize = 4;
/// Largest zstd window accepted (RFC 9659: 8 MiB for the `zstd` content coding).
pub const ZSTD_MAX_WINDOW: u64 = 8 * 1024 * 1024;

/// Safety limits the inspection reached. Each was handled (the content was still scanned,
/// as text or as written), but operators should see them: a rising count can be an evasion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitHits {
    /// JSON nested deeper than the walker follows (scanned as text instead).
    pub json_depth: u32,
    /// JSON inside JSON strings nested deeper than followed (scanned as text instead).
    pub embedded_depth: u32,
    /// Encodings inside encodings deeper than decoded.
    pub decode_depth: u32,
    /// Encoded runs skipped because decoding them would exceed the per-field budget.
    pub decode_size: u32,
    /// Fields with more encoded runs than decoded.
    pub segments: u32,
    /// Encoded runs that decode to binary data (images, audio), not scanned as text.
    pub binary: u32,
    /// Multipart bodies that could not be parsed (too many parts, malformed; scanned as text).
    pub multipart: u32,
}

impl LimitHits {
    /// Names (as used in stats) and counts.
    pub fn counts(&self) -> [(&'static str, u32); 7] {
        [
            ("json_depth", self.json_depth),
            ("embedded_depth", self.embedded_depth),
            ("decode_depth", self.decode_depth),
            ("decode_size", self.decode_size),
            ("segments", self.segments),
            ("binary", self.binary),
            ("multipart", self.multipart),
        ]
    }

    pub fn any(&self) -> bool {
        self.counts().iter().any(|(_, n)| *n > 0)
    }

    /// Adds `other`'s counts to these.
    pub(crate) fn add(&mut self, other: &LimitHits) {
        self.each_with(other, |mine, theirs| mine.saturating_add(theirs));
    }

    /// The counts reached since `before` (an earlier copy of these).
    pub(crate) fn since(&self, before: &LimitHits) -> LimitHits {
        let mut delta = *self;
        delta.each_with(before, |now, then| now.saturating_sub(then));
        delta
    }

    fn each_with(&mut self, other: &LimitHits, f: impl Fn(u32, u32) -> u32) {
        let LimitHits {
            json_depth,
            embedded_depth,
            decode_depth,
            decode_size,
            segments,
            binary,
            multipart,
        } = self;
        *json_depth = f(*json_depth, other.json_depth);
        *embedded_depth = f(*embedded_depth, other.embedded_depth);
        *decode_depth = f(*decode_depth, other.decode_depth);
        *decode_size = f(*decode_size, other.decode_size);
        *segments = f(*segments, other.segments);
        *binary = f(*binary, other.binary);
        *multipart = f(*multipart, other.multipart);
    }
}
