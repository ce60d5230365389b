//! Protected-data indexes for the benchmarks (issue 12): a documents index of files and a
//! records index of synthetic customer rows, built the same way by every protected bench.
//!
//! The rows repeat names on purpose (8 first names by 7 last names), as real tables do, so
//! the records index drops the common values; e-mails are unique and phone numbers repeat.

use crate::corpus::Rng;
use airlock_filter::protected::keyed::Key;
use airlock_filter::protected::public_shapes::PublicShapes;
use airlock_filter::protected::{documents, records};
use base64::Engine as _;
use serde_json::{json, Value};

/// The public-shapes table `airlock index documents` uses by default (`cli/data`), or the one
/// `AIRLOCK_PUBLIC_SHAPES` names (a file, or `none` for no table).
pub fn public_shapes() -> Option<PublicShapes> {
    let bytes = match std::env::var("AIRLOCK_PUBLIC_SHAPES").as_deref() {
        Ok("none") => return None,
        Ok(path) => std::fs::read(path).expect("read the AIRLOCK_PUBLIC_SHAPES table"),
        Err(_) => include_bytes!("../../cli/data/public-shapes.bin").to_vec(),
    };
    Some(PublicShapes::from_bytes(&bytes).expect("a public-shapes table"))
}

/// A documents builder as `airlock index documents` makes one (public shapes marked), with a
/// fixed key so runs compare.
pub fn documents_builder(settings: documents::Settings) -> documents::Builder {
    let mut builder = documents::Builder::new(Key([0x5a; 16]), settings);
    if let Some(table) = public_shapes() {
        assert!(
            builder.mark_public_shapes(table),
            "the public-shapes table's k is not the build's"
        );
    }
    builder
}

/// The documents index of `(name, text)` files, each read in the view its name selects.
pub fn documents_index(docs: &[(String, String)]) -> Vec<u8> {
    let mut builder = documents_builder(documents::Settings::default());
    for (name, text) in docs {
        builder.add_document(name, text.as_bytes(), documents::View::for_name(name));
    }
    builder.finish(false).0
}

/// The columns of [`customer_records_index`].
pub const CUSTOMER_COLUMNS: [&str; 4] = ["name", "email", "phone", "account"];

/// A records index of `rows` synthetic customers (name, e-mail, phone, account); `unique`
/// names the columns of which one cell alone is a finding.
pub fn customer_records_index(rows: usize, unique: &[&str]) -> Vec<u8> {
    let mut rng = Rng::new(0xfeed);
    let first = [
        "anna", "bruno", "chen", "dmitri", "elena", "farid", "grace", "hiro",
    ];
    let last = [
        "novak", "okafor", "schmidt", "tanaka", "silva", "kowalski", "haddad",
    ];
    let mut builder = records::Builder::new(Key([0x33; 16]), &CUSTOMER_COLUMNS, unique);
    for row in 0..rows {
        let name = format!("{} {}", rng.pick(&first), rng.pick(&last));
        let email = format!("user{}.{row}@example.com", rng.below(1 << 30));
        let phone = format!("+1 555 {:03} {:04}", rng.below(1000), rng.below(10000));
        let account = format!("AC-{:010}", rng.next_u64() % 10_000_000_000);
        builder.add_row(&[&name, &email, &phone, &account]);
    }
    builder.finish().0
}

/// Standard base64 of `bytes`, as a policy carries an index inline.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `doc` (a policy document) with a documents detector over the index `documents` and a
/// records detector over `records`, their indexes carried inline; `only` (`documents` or
/// `records`) keeps one kind alone.
pub fn with_protected_detectors(
    mut doc: Value,
    documents: &[u8],
    records: &[u8],
    only: &str,
) -> Value {
    if let Some(detectors) = doc.get_mut("detectors").and_then(Value::as_array_mut) {
        if only != "records" {
            detectors.push(json!({"id": "bench-source", "class": "secret", "kind": "trade-secret",
                "documents": {"index": "bench-source.idx", "min_chars": 200, "data": b64(documents)}}));
        }
        if only != "documents" {
            detectors.push(
                json!({"id": "bench-records", "class": "confidential", "kind": "pii",
                "records": {"index": "bench-records.idx", "min_fields": 2, "data": b64(records)}}),
            );
        }
    }
    doc
}
