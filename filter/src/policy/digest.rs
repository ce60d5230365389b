//! The content digest that tells operators which policy is live.
//!
//! It covers everything that changes decisions and nothing else: tests and
//! detector examples are dropped, so `airlock build` (which strips them) and
//! `airlock check` (which keeps them) report the same digest for one policy.
//!
//! Hashing the normalised document was a quarter of the embedded default policy's load in
//! wasm (software SHA-256 over ~140 KB): the build script computes that policy's digest with
//! this very file ([`crate::DEFAULT_POLICY_DIGEST`]), which is why it uses nothing but the
//! schema types, serde and `sha2`.

use super::schema::PolicyDoc;
use sha2::{Digest, Sha256};

/// The policy without its tests and examples: what `airlock build` ships.
pub fn behavioural(doc: &PolicyDoc) -> PolicyDoc {
    let mut doc = doc.clone();
    doc.tests.clear();
    for detector in &mut doc.detectors {
        detector.examples = None;
    }
    doc
}

/// [`digest`] of a document whose `documents` and `records` detectors opened their indexes:
/// each index counts by its file's identity (`identities`: detector position, the header's
/// version, length and checksum, see `protected::container::identity`), not by the base64 of
/// its bytes. So a policy has one digest whether its configuration carries the indexes in
/// `data` or raw in an envelope (which has no `data`), a rebuilt index changes it either way,
/// and loading does not hash the index a second time (software SHA-256 over the base64 of a
/// 5.6 MB index is about 570 M wasm instructions).
pub fn digest_with_indexes(doc: &PolicyDoc, identities: &[(usize, String)]) -> String {
    if identities.is_empty() {
        return digest(doc);
    }
    let mut doc = behavioural(doc);
    for (at, identity) in identities {
        let Some(d) = doc.detectors.get_mut(*at) else {
            continue;
        };
        let identity = Some(format!("index {identity}"));
        if let Some(documents) = d.documents.as_mut() {
            documents.data = identity;
        } else if let Some(records) = d.records.as_mut() {
            records.data = identity;
        }
    }
    format!(
        "{:x}",
        Sha256::digest(serde_json::to_vec(&doc).unwrap_or_default())
    )
}

/// Hex SHA-256 of the normalised (typed, defaults filled, re-serialised) behavioural document.
pub fn digest(doc: &PolicyDoc) -> String {
    // A built configuration has no tests or examples: hash it as it is, without the copy.
    let bare = doc.tests.is_empty() && doc.detectors.iter().all(|d| d.examples.is_none());
    let normalised = if bare {
        serde_json::to_vec(doc)
    } else {
        serde_json::to_vec(&behavioural(doc))
    };
    format!("{:x}", Sha256::digest(normalised.unwrap_or_default()))
}
