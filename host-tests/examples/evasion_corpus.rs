//! Writes the evasion corpus (`airlock_host_tests::evasions`) for the Envoy
//! runner (envoy/tests/test_evasion.py), and undoes content codings for it.
//!
//! ```sh
//! cargo run -q -p airlock-host-tests --example evasion_corpus -- CORPUS.jsonl
//! cargo run -q -p airlock-host-tests --example evasion_corpus -- --decode IN.jsonl OUT.jsonl
//! ```
//!
//! The corpus is one JSON object per line (see `EvasionCase::to_json`): the
//! body and the secret's encoded forms base64-encoded, the raw secret
//! included so the runner can check the upstream never saw it. It goes to a
//! file, never to stdout, and nothing this program prints contains a secret.
//!
//! `--decode` reads lines `{"id", "content_encoding", "body_b64"}` and writes
//! `{"id", "body_b64"}` (or `{"id", "error"}`) with the codings undone: Python's
//! standard library has no brotli or zstd decoder.

use airlock_host_tests::evasions::{corpus, decode_content};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;

fn write_corpus(path: &str) -> Result<String, String> {
    let cases = corpus();
    let mut out = Vec::new();
    for case in &cases {
        serde_json::to_writer(&mut out, &case.to_json()).map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    std::fs::write(path, &out).map_err(|e| format!("writing {path}: {e}"))?;
    let techniques = cases
        .iter()
        .map(|c| c.technique)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Ok(format!(
        "evasion corpus: {} cases ({techniques} techniques) written to {path}",
        cases.len()
    ))
}

fn decode(input: &str, output: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("reading {input}: {e}"))?;
    let mut out = std::fs::File::create(output).map_err(|e| format!("creating {output}: {e}"))?;
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let req: Value = serde_json::from_str(line).map_err(|e| format!("{input}: {e}"))?;
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let body = req
            .get("body_b64")
            .and_then(Value::as_str)
            .map(|b| STANDARD.decode(b))
            .transpose()
            .map_err(|e| format!("{input}: body_b64: {e}"))?
            .unwrap_or_default();
        let coding = req.get("content_encoding").and_then(Value::as_str);
        let answer = match decode_content(coding, &body) {
            Ok(plain) => json!({"id": id, "body_b64": STANDARD.encode(plain)}),
            Err(e) => json!({"id": id, "error": e}),
        };
        writeln!(out, "{answer}").map_err(|e| format!("writing {output}: {e}"))?;
        n += 1;
    }
    Ok(format!("decoded {n} bodies into {output}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, input, output] if flag == "--decode" => decode(input, output),
        [path] if !path.starts_with('-') => write_corpus(path),
        _ => Err(
            "usage: evasion_corpus CORPUS.jsonl | evasion_corpus --decode IN.jsonl OUT.jsonl"
                .into(),
        ),
    };
    match result {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("evasion_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}
