//! Content codings: the `Content-Encoding` header, decoding under a size bound, re-encoding.
//!
//! The first byte picks a stack of codings (or, for values past the list, a
//! header made of the input's first line); the second picks whether the rest
//! is sent as coded bytes (finding what breaks the decoders) or as plain
//! bytes to encode first (driving the round trip). Invariants: decoding never
//! returns more than its bound; whatever decodes re-encodes to bytes that
//! decode back to the same text (the masked body leaves with the coding it
//! came with); a header names at most `MAX_CODINGS` codings.

use airlock_filter::engine::bench_hooks::content_coding::{decode, encode, parse, MAX_CODINGS};
use airlock_filter::engine::EncodingError;

/// Largest decoded output allowed in the check (small, to reach the bound often).
const MAX_OUTPUT: usize = 64 * 1024;

const STACKS: &[&str] = &[
    "gzip",
    "deflate",
    "br",
    "zstd",
    "x-gzip",
    "gzip, gzip",
    "identity",
    "gzip, identity, deflate",
    "deflate, zstd",
    "GZIP ,, br",
    "",
];

pub fn check(data: &[u8]) {
    let [pick, mode, rest @ ..] = data else {
        return;
    };
    let (header, body) = match STACKS.get(usize::from(*pick)) {
        Some(stack) => ((*stack).to_string(), rest),
        None => {
            let at = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let (line, body) = rest.split_at(at);
            (
                String::from_utf8_lossy(line).into_owned(),
                body.get(1..).unwrap_or_default(),
            )
        }
    };
    let Ok(codings) = parse(&header) else {
        return;
    };
    assert!(
        codings.as_slice().len() <= MAX_CODINGS,
        "more codings than allowed"
    );
    if mode & 1 == 0 {
        if let Ok(plain) = decode(&codings, body, MAX_OUTPUT) {
            assert!(plain.len() <= MAX_OUTPUT, "decoded past the bound");
            round_trip(&codings, &plain);
        }
    } else if body.len() <= MAX_OUTPUT {
        round_trip(&codings, body);
    }
}

fn round_trip(
    codings: &airlock_filter::engine::bench_hooks::content_coding::Codings,
    plain: &[u8],
) {
    match encode(codings, plain) {
        Ok(coded) => match decode(codings, &coded, MAX_OUTPUT.max(plain.len())) {
            Ok(back) => assert!(back == plain, "re-encoding changed the body"),
            Err(e) => panic!("a body the filter encoded does not decode: {e}"),
        },
        // The caller blocks such a body (fail closed); it must say so, not lose it.
        Err(EncodingError::CannotReencode(_)) => {}
        Err(e) => panic!("encoding failed with an unexpected error: {e}"),
    }
}
