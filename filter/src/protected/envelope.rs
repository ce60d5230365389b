//! The binary configuration envelope: the JSON configuration followed by the protected indexes
//! as raw bytes, so a VM loads an index without base64 or a JSON string of it.
//!
//! A plain JSON configuration carries each index base64 inside its detector's `data`: the VM
//! then holds the plugin-configuration buffer, the JSON string, the decoded bytes and the
//! index's arrays at once (measured: +46 MiB of linear memory and 64 ms for a 4.3 MB index).
//! In the envelope each index is a section of the buffer: it is checked and copied once, into
//! the index's arrays, and the buffer is the only other copy.
//!
//! ```text
//! magic [8] = "\0AIRLENV" | version u32 LE = 2 | JSON length u32 LE | sections u32 LE
//! BLAKE3 [32] of the JSON and the section headers (each index file has its own inside)
//! JSON configuration (the same document as a plain configuration; indexes without `data`)
//! per section: detector id length u16 LE | detector id (UTF-8) | length u64 LE | index file
//! ```
//!
//! Version 2 is version 1 checked by BLAKE3 instead of SHA-256 (as the index files are since
//! their next format, see [`container`](super::container)); version 1 still reads.
//! Every byte is covered by one checksum: the envelope's covers the JSON and the section headers,
//! each index file's own covers its bytes (hashing them twice would double the load's main
//! cost in a VM). The leading NUL makes the envelope impossible to mistake for JSON or whitespace, so a plain
//! JSON configuration keeps working unchanged. Sections are named by the detector's id (unique
//! in a policy), and every index file keeps its own magic, version and SHA-256 inside. A
//! damaged envelope, a newer version, trailing bytes or a duplicate section name is an error.
//! Envoy passes the envelope unchanged as a `google.protobuf.BytesValue` plugin configuration
//! (a `StringValue` must be UTF-8, which raw index bytes are not).
//!
//! Hand-off to the policy compiler: [`open_indexes`] opens every section as its index kind and
//! keeps the opened indexes for the current thread while the configuration compiles; the
//! `documents` and `records` detectors [`take`] theirs by id. The VM is single-threaded and
//! the configuration compiles synchronously, so the scope is exactly one load; [`Carried`]
//! empties it when dropped, on error too.

use super::container::IndexError;
use super::{DocumentIndex, RecordIndex};
use crate::config::FilterConfig;
use crate::engine::scan::fuel_probe::tag;
use crate::policy::schema::PolicyDoc;
use crate::policy::{Environment, PolicyError, PolicyErrors};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::cell::RefCell;

/// The first bytes of an envelope.
pub const MAGIC: &[u8; 8] = b"\0AIRLENV";
/// The envelope version this build reads and writes.
pub const VERSION: u32 = 2;
/// The oldest envelope version this build reads: 1, checked by SHA-256.
const OLDEST_READ: u32 = 1;
/// Magic, version, JSON length, section count and the checksum.
const HEADER_LEN: usize = 8 + 4 + 4 + 4 + 32;

/// An envelope's parts, borrowed from its bytes.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// The JSON configuration.
    pub json: &'a [u8],
    /// (detector id, index file bytes), in file order.
    pub sections: Vec<(&'a str, &'a [u8])>,
}

/// Whether `config` is an envelope (rather than a plain JSON configuration).
pub fn is_envelope(config: &[u8]) -> bool {
    config.starts_with(MAGIC)
}

/// Writes an envelope of `json` and the (detector id, index file) `sections`.
pub fn seal(json: &[u8], sections: &[(&str, &[u8])]) -> Vec<u8> {
    let size = HEADER_LEN
        + json.len()
        + sections
            .iter()
            .map(|(id, bytes)| 10 + id.len() + bytes.len())
            .sum::<usize>();
    let mut body = Vec::with_capacity(size - HEADER_LEN);
    let mut digest = Running::of(VERSION);
    body.extend_from_slice(json);
    digest.update(json);
    for (id, bytes) in sections {
        let from = body.len();
        body.extend_from_slice(&(id.len() as u16).to_le_bytes());
        body.extend_from_slice(id.as_bytes());
        body.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        digest.update(body.get(from..).unwrap_or_default());
        body.extend_from_slice(bytes);
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    out.extend_from_slice(&digest.finalize());
    out.extend_from_slice(&body);
    out
}

/// Reads an envelope: checks its version, checksum and framing.
pub fn open(bytes: &[u8]) -> Result<Envelope<'_>, String> {
    tag("env:open");
    let fix = "rebuild it with `airlock build --envelope`";
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or_else(|| format!("the configuration envelope is truncated; {fix}"))?;
    let u32_at = |at: usize| {
        header
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes)
    };
    if header.get(..8) != Some(MAGIC.as_slice()) {
        return Err("not a configuration envelope".to_string());
    }
    let version = u32_at(8);
    if !(OLDEST_READ..=VERSION).contains(&version) {
        return Err(format!(
            "configuration envelope version {version} is not supported; this filter reads \
             version {VERSION}"
        ));
    }
    let json_len = u32_at(12) as usize;
    let count = u32_at(16) as usize;
    let body = bytes.get(HEADER_LEN..).unwrap_or_default();
    let mut digest = Running::of(version);
    let truncated = || format!("the configuration envelope is truncated; {fix}");
    let json = body.get(..json_len).ok_or_else(truncated)?;
    digest.update(json);
    let mut rest = body.get(json_len..).unwrap_or_default();
    let mut sections: Vec<(&str, &[u8])> = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let id_len = rest
            .get(..2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_le_bytes)
            .ok_or_else(truncated)? as usize;
        let id = rest.get(2..2 + id_len).ok_or_else(truncated)?;
        let id = std::str::from_utf8(id).map_err(|_| {
            format!("a section name of the configuration envelope is not UTF-8; {fix}")
        })?;
        let at = 2 + id_len;
        let len = rest
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(truncated)?;
        let data = rest
            .get(at + 8..)
            .and_then(|r| r.get(..len))
            .ok_or_else(truncated)?;
        digest.update(rest.get(..at + 8).unwrap_or_default());
        if sections.iter().any(|(seen, _)| *seen == id) {
            return Err(format!(
                "the configuration envelope carries detector {id:?}'s index twice; {fix}"
            ));
        }
        sections.push((id, data));
        rest = rest.get(at + 8 + len..).unwrap_or_default();
    }
    if header.get(20..HEADER_LEN) != Some(digest.finalize().as_slice()) {
        return Err(format!(
            "the configuration envelope's checksum does not match (damaged or altered); {fix}"
        ));
    }
    if !rest.is_empty() {
        return Err(format!(
            "the configuration envelope has bytes after its last section; {fix}"
        ));
    }
    Ok(Envelope { json, sections })
}

/// The running checksum of an envelope: SHA-256 in version 1, BLAKE3 since version 2.
enum Running {
    Sha256(Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl Running {
    fn of(version: u32) -> Running {
        match version {
            1 => Running::Sha256(Sha256::new()),
            _ => Running::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Running::Sha256(h) => h.update(bytes),
            Running::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    fn finalize(self) -> [u8; 32] {
        match self {
            Running::Sha256(h) => h.finalize().into(),
            Running::Blake3(h) => *h.finalize().as_bytes(),
        }
    }
}

/// The envelope configuration of `doc` (as [`crate::config::build`] writes it, but with each
/// detector's carried index moved from base64 `data` to a raw section named by its id).
pub fn build(doc: &PolicyDoc, hold_headers: bool) -> Result<Vec<u8>, String> {
    let mut doc = doc.clone();
    let mut raw: Vec<(String, Vec<u8>)> = Vec::new();
    for d in &mut doc.detectors {
        let data = match (d.documents.as_mut(), d.records.as_mut()) {
            (Some(documents), _) => documents.data.take(),
            (None, Some(records)) => records.data.take(),
            (None, None) => continue,
        };
        let Some(data) = data else {
            return Err(format!(
                "detector {}: its index was not read; load the policy from its file",
                d.id
            ));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("detector {}: the carried index is not base64 ({e})", d.id))?;
        raw.push((d.id.clone(), bytes));
    }
    let json = crate::config::build(&doc, hold_headers).map_err(|e| e.to_string())?;
    let sections: Vec<(&str, &[u8])> = raw
        .iter()
        .map(|(id, bytes)| (id.as_str(), bytes.as_slice()))
        .collect();
    Ok(seal(json.as_bytes(), &sections))
}

/// Loads an envelope configuration: its indexes opened first, then its JSON as a plain
/// configuration whose detectors take them. Every section must be taken by a detector.
pub fn load(config: &[u8], env: &Environment<'_>) -> Result<FilterConfig, PolicyErrors> {
    load_opened(open(config).map_err(one)?, env)
}

/// [`load`] of an envelope already opened (its checksum checked once).
fn load_opened(
    envelope: Envelope<'_>,
    env: &Environment<'_>,
) -> Result<FilterConfig, PolicyErrors> {
    if is_envelope(envelope.json) || envelope.json.iter().all(u8::is_ascii_whitespace) {
        return Err(one(NO_JSON.to_string()));
    }
    let carried = open_indexes(&envelope).map_err(one)?;
    let loaded = crate::config::load(envelope.json, env)?;
    leftover_is_empty(&carried).map_err(one)?;
    Ok(loaded)
}

/// [`load`] of an envelope the caller hands over: the largest records index is opened in
/// place, keeping `config` as its storage (see [`RecordIndex::open_in`]), so the VM never holds
/// the buffer and a copy of the index at once. The buffer's other parts (the JSON, other
/// sections) stay allocated with it; they were live during the load anyway, and a VM's linear
/// memory never shrinks.
pub fn load_owned(config: Vec<u8>, env: &Environment<'_>) -> Result<FilterConfig, PolicyErrors> {
    let envelope = open(&config).map_err(one)?;
    let in_place = envelope
        .sections
        .iter()
        .enumerate()
        .filter(|(_, (_, bytes))| bytes.starts_with(super::records::MAGIC))
        .max_by_key(|(_, (_, bytes))| bytes.len())
        .map(|(at, &(id, bytes))| {
            let start = (bytes.as_ptr() as usize).saturating_sub(config.as_ptr() as usize);
            (at, id.to_string(), start..start + bytes.len())
        });
    let Some((at, id, file)) = in_place else {
        return load_opened(envelope, env);
    };
    if is_envelope(envelope.json) || envelope.json.iter().all(u8::is_ascii_whitespace) {
        return Err(one(NO_JSON.to_string()));
    }
    let json = envelope.json.to_vec();
    let mut rest = envelope;
    rest.sections.remove(at);
    let carried = open_indexes(&rest).map_err(one)?;
    drop(rest);
    let identity = config
        .get(file.clone())
        .and_then(super::container::identity)
        .unwrap_or_default();
    let index = RecordIndex::open_in(config, file)
        .map_err(|e| one(format!("the index carried for detector {id:?}: {e}")))?;
    CARRIED.with(|c| {
        c.borrow_mut()
            .push((id, CarriedIndex::Records(index), identity))
    });
    let loaded = crate::config::load(&json, env)?;
    leftover_is_empty(&carried).map_err(one)?;
    Ok(loaded)
}

/// A load error of the configuration as a whole.
fn one(message: String) -> PolicyErrors {
    PolicyErrors(vec![PolicyError {
        source: crate::config::SOURCE.to_string(),
        path: String::new(),
        message,
    }])
}

/// The error of an envelope without a JSON configuration.
const NO_JSON: &str = "the configuration envelope holds no JSON configuration; rebuild it \
                       with `airlock build --envelope`";

/// An error naming the sections no detector took.
fn leftover_is_empty(carried: &Carried) -> Result<(), String> {
    let leftover = carried.leftover();
    if leftover.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the configuration envelope carries indexes for detectors its policy does not have \
         ({}); rebuild it with `airlock build --envelope`",
        leftover.join(", ")
    ))
}

/// An opened index carried in an envelope.
#[derive(Debug)]
pub enum CarriedIndex {
    /// A documents index.
    Documents(DocumentIndex),
    /// A records index.
    Records(RecordIndex),
}

thread_local! {
    /// The indexes of the configuration being loaded on this thread, by detector id.
    static CARRIED: RefCell<Vec<(String, CarriedIndex, String)>> = const { RefCell::new(Vec::new()) };
}

/// The scope of one configuration load's carried indexes: dropping it forgets those the
/// compiler did not take (a section no detector names is an error, see [`Carried::leftover`]).
#[derive(Debug)]
pub struct Carried(());

impl Carried {
    /// The ids of sections no detector took.
    pub fn leftover(&self) -> Vec<String> {
        CARRIED.with(|c| c.borrow().iter().map(|(id, _, _)| id.clone()).collect())
    }
}

impl Drop for Carried {
    fn drop(&mut self) {
        CARRIED.with(|c| c.borrow_mut().clear());
    }
}

/// Opens every section of `envelope` as the index kind its magic names, and keeps them for
/// [`take`] until the returned scope is dropped. An index that does not open is an error
/// naming its detector.
pub fn open_indexes(envelope: &Envelope<'_>) -> Result<Carried, String> {
    let scope = Carried(());
    for &(id, bytes) in &envelope.sections {
        let opened = if bytes.starts_with(super::documents::MAGIC) {
            DocumentIndex::from_bytes(bytes).map(CarriedIndex::Documents)
        } else {
            RecordIndex::from_bytes(bytes).map(CarriedIndex::Records)
        };
        let index = opened
            .map_err(|e: IndexError| format!("the index carried for detector {id:?}: {e}"))?;
        let identity = super::container::identity(bytes).unwrap_or_default();
        CARRIED.with(|c| c.borrow_mut().push((id.to_string(), index, identity)));
    }
    tag("env:indexes");
    Ok(scope)
}

/// The index carried for detector `id` in the configuration being loaded, if any, with its
/// file's [`identity`](super::container::identity).
pub fn take(id: &str) -> Option<(CarriedIndex, String)> {
    CARRIED.with(|c| {
        let mut carried = c.borrow_mut();
        let at = carried.iter().position(|(name, _, _)| name == id)?;
        let (_, index, identity) = carried.swap_remove(at);
        Some((index, identity))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protected::documents::{Builder, Settings, View};
    use crate::protected::keyed::Key;

    fn index() -> Vec<u8> {
        let mut b = Builder::new(Key([1; 16]), Settings::default());
        let text: String = (0..60)
            .map(|i| format!("let v{i} = compute_{i}(x, \"{i} label\");\n"))
            .collect();
        b.add_document("a.rs", text.as_bytes(), View::Code);
        b.finish(false).0
    }

    #[test]
    fn an_envelope_round_trips_and_its_indexes_are_taken_by_id() {
        let idx = index();
        let sealed = seal(br#"{"airlock_config": 1}"#, &[("acme-source", &idx)]);
        assert!(is_envelope(&sealed));
        assert!(!is_envelope(br#"{"airlock_config": 1}"#));
        let env = open(&sealed).unwrap();
        assert_eq!(env.json, br#"{"airlock_config": 1}"#);
        assert_eq!(env.sections, vec![("acme-source", idx.as_slice())]);
        {
            let scope = open_indexes(&env).unwrap();
            assert_eq!(scope.leftover(), vec!["acme-source".to_string()]);
            assert!(matches!(
                take("acme-source"),
                Some((CarriedIndex::Documents(_), identity))
                    if Some(&identity) == crate::protected::container::identity(&idx).as_ref()
            ));
            assert!(take("acme-source").is_none());
            open_indexes(&env).unwrap();
        }
        // Dropping the scope forgets what was not taken.
        assert!(take("acme-source").is_none());
    }

    #[test]
    fn damaged_envelopes_are_refused_with_a_reason() {
        let idx = index();
        let sealed = seal(b"{}", &[("a", &idx)]);
        // The JSON and the section headers: the envelope's checksum.
        let mut flipped = sealed.clone();
        flipped[HEADER_LEN] ^= 1;
        assert!(open(&flipped).unwrap_err().contains("checksum"));
        let mut renamed = sealed.clone();
        renamed[HEADER_LEN + 4] ^= 1;
        assert!(open(&renamed).unwrap_err().contains("checksum"));
        // An index's bytes: its own checksum, named by its detector.
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let err = open_indexes(&open(&flipped).unwrap()).unwrap_err();
        assert!(err.contains("\"a\"") && err.contains("checksum"), "{err}");
        assert!(open(&sealed[..sealed.len() - 1])
            .unwrap_err()
            .contains("truncated"));
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(open(&longer)
            .unwrap_err()
            .contains("after its last section"));
        assert!(open(&sealed[..20]).unwrap_err().contains("truncated"));
        let mut newer = sealed.clone();
        newer[8] = 3;
        assert!(open(&newer).unwrap_err().contains("version 3"));
        // Version 1 is version 2 checked by SHA-256: it still opens, to the same parts.
        let mut v1 = sealed.clone();
        v1[8] = 1;
        let mut sha = Sha256::new();
        let parts = open(&sealed).unwrap();
        sha.update(parts.json);
        sha.update([1, 0, b'a']);
        sha.update((idx.len() as u64).to_le_bytes());
        v1[20..HEADER_LEN].copy_from_slice(sha.finalize().as_slice());
        assert!(open(&v1).is_ok_and(|e| e.json == parts.json && e.sections == parts.sections));
        let mut v1_damaged = v1.clone();
        v1_damaged[HEADER_LEN] ^= 1;
        assert!(open(&v1_damaged).unwrap_err().contains("checksum"));
        let twice = seal(b"{}", &[("a", &idx), ("a", &idx)]);
        assert!(open(&twice).unwrap_err().contains("twice"));
        // A section that is not an index is an error naming the detector.
        let junk = seal(b"{}", &[("people", b"not an index")]);
        let env = open(&junk).unwrap();
        assert!(open_indexes(&env).unwrap_err().contains("\"people\""));
    }
}
