//! The fuzzer's saved `inspect` inputs (`fuzz/corpus/inspect/*`) through the compiled .wasm:
//! no input traps the VM, whole or in 7-byte chunks, and the decision equals the native
//! engine's on the same request. The corpus is coverage-guided on the native engine (see
//! fuzz/README.md); this runs the same inputs through the code Envoy runs.
//!
//! Build the filter first: `cargo build --release --target wasm32-wasip1 -p airlock-filter`.

use airlock_filter::policy::{self, Environment, Origins};
use airlock_filter::{Policy, Request};
use airlock_host_tests::{filter_wasm, send_request, workspace_root, Host};
use std::io::Write;

const HASH_KEY: &str = "host-tests-hash-key";

// The request around a corpus body, built from its first byte exactly as the fuzz target
// builds it (the policy index is ignored: the .wasm runs its embedded default policy).
#[path = "../../fuzz/src/request_shape.rs"]
#[allow(dead_code)] // `Shape::policy` is the fuzz target's alone
mod request_shape;
use request_shape::{Shape, PATH};

fn default_policy() -> Policy {
    let doc: serde_json::Value = serde_json::from_str(airlock_filter::DEFAULT_POLICY_JSON)
        .unwrap_or_else(|e| panic!("embedded default policy: {e}"));
    let origins = Origins::single("default policy");
    let var = |name: &str| (name == "AIRLOCK_HASH_KEY").then(|| HASH_KEY.to_string());
    let env = Environment {
        var: &var,
        defer_regexes: false,
    };
    let parsed = policy::parse_document(doc, &origins).unwrap_or_else(|e| panic!("{e}"));
    policy::compile(parsed, origins, &env).unwrap_or_else(|e| panic!("{e}"))
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(body)
        .unwrap_or_else(|e| panic!("gzip: {e}"));
    encoder.finish().unwrap_or_else(|e| panic!("gzip: {e}"))
}

#[test]
fn inspect_corpus_never_traps_and_decides_as_natively() {
    let dir = workspace_root().join("fuzz/corpus/inspect");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus under {}", dir.display());
    let policy = default_policy();
    let mut scratch = policy.scratch();
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", HASH_KEY);
    assert!(host
        .configure(b"")
        .unwrap_or_else(|e| panic!("on_configure trapped: {e}")));
    for path in &files {
        // A file gone since the listing (a fuzzer reducing the corpus meanwhile) is skipped.
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        let Some((&selector, body)) = data.split_first() else {
            continue;
        };
        let shape = Shape::of(selector);
        let sent = if shape.gzip {
            gzip(body)
        } else {
            body.to_vec()
        };
        let native = policy.inspect(
            &Request {
                host: shape.host,
                path: PATH,
                content_type: shape.content_type,
                content_encoding: shape.content_encoding(),
                body: &sent,
                caller: None,
            },
            &mut scratch,
        );
        let mut headers = vec![
            (":method", "POST".to_string()),
            (":path", PATH.to_string()),
            (":authority", shape.host.to_string()),
            ("content-length", sent.len().to_string()),
        ];
        if let Some(t) = shape.content_type {
            headers.push(("content-type", t.to_string()));
        }
        if shape.gzip {
            headers.push(("content-encoding", "gzip".to_string()));
        }
        // An empty body still goes as one empty chunk (without one, there is no body to judge).
        let chunked: Vec<&[u8]> = if sent.is_empty() {
            vec![&[][..]]
        } else {
            sent.chunks(7).collect()
        };
        for chunks in [vec![sent.as_slice()], chunked] {
            let name = path.display();
            let out = send_request(&mut host, &headers, &chunks, None)
                .unwrap_or_else(|e| panic!("{name}: the VM trapped: {e}"));
            assert_eq!(
                out.decision(),
                Some(native.decision.as_str()),
                "{name}: the .wasm and the native engine decide differently"
            );
        }
    }
    eprintln!("{} corpus inputs through the .wasm", files.len());
}
