//! The documents index: winnowed keyed fingerprints of protected text, and its file format.
//!
//! Payload of format version 1 (framed by [`container`](super::container)):
//!
//! ```text
//! key [16] | for the prose, code and comment streams: k u32, w u32, min_distinct u32
//! documents u32 | per document: its fingerprint count u32
//! names flag u8 | if 1, per document: length u32, UTF-8 bytes
//! entries u32 | document id width u8 (2 or 4)
//! buckets [u32; 65537]: entry offsets by the fingerprint's top 16 bits
//! lows [u16; entries]: the fingerprint's next 16 bits, sorted within each bucket
//! docs [u16 or u32; entries]: the document of each entry
//! ```
//!
//! A fingerprint is the top 32 bits of a keyed 64-bit k-gram hash. 32 bits are enough because
//! a finding needs several fingerprints of one document close together in the text (a chance
//! hit of one is about `entries / 2^32`, 3·10⁻⁴ for a 100 MB tree), and they make an entry
//! 4 bytes on disk (6 in memory): the bucket table stores the top 16 bits once. Loading is a
//! bounds-checked copy of three arrays, no parsing per entry. The file never holds text: only
//! the key, the parameters, hashes, document numbers and (with `--names`) document names.

mod build;
mod find;

pub use build::{BuildStats, Builder, Settings, View};
pub use find::{DocumentMatch, FindScratch};

use super::container::{self, IndexError, Reader};
use super::keyed::Key;
use super::winnow::Params;

/// Magic bytes of a documents index.
pub const MAGIC: &[u8; 8] = b"AIRLKDOC";
/// The newest format version this build reads and the one it writes.
pub const VERSION: u32 = 1;
/// Buckets by the fingerprint's top 16 bits.
const BUCKETS: usize = 1 << 16;
/// Keyed-hash domain of the prose view.
pub(crate) const DOMAIN_TEXT: u8 = 1;
/// Keyed-hash domain of the code view.
pub(crate) const DOMAIN_CODE: u8 = 2;
/// Keyed-hash domain of the code view's comment words.
pub(crate) const DOMAIN_COMMENT: u8 = 3;

/// A loaded documents index.
#[derive(Debug, Clone)]
pub struct DocumentIndex {
    key: Key,
    text: Params,
    code: Params,
    comment: Params,
    /// Fingerprints stored per document (the denominator of a match's fraction).
    doc_fingerprints: Vec<u32>,
    names: Option<Vec<String>>,
    /// `buckets[b]..buckets[b + 1]` are the entries whose fingerprint's top 16 bits are `b`.
    buckets: Vec<u32>,
    lows: Vec<u16>,
    docs: Vec<u32>,
}

impl DocumentIndex {
    /// Parses and checks a complete index file.
    pub fn from_bytes(bytes: &[u8]) -> Result<DocumentIndex, IndexError> {
        let payload = container::open(bytes, MAGIC, "documents", VERSION)?;
        let mut r = Reader::new(payload);
        let key = Key(r.array()?);
        let text = params(&mut r)?;
        let code = params(&mut r)?;
        let comment = params(&mut r)?;
        let documents = r.count(4)?;
        let doc_fingerprints = r.u32s(documents)?;
        let names = match r.u8()? {
            0 => None,
            1 => Some(
                (0..documents)
                    .map(|_| {
                        let n = r.count(1)?;
                        String::from_utf8(r.bytes(n)?.to_vec())
                            .map_err(|_| IndexError::Malformed("a document name is not UTF-8"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => return Err(IndexError::Malformed("unknown names flag")),
        };
        let entries = r.count(2)?;
        let width = r.u8()?;
        let buckets = r.u32s(BUCKETS + 1)?;
        let lows = r
            .bytes(entries.saturating_mul(2))?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
            .collect::<Vec<u16>>();
        let docs = match width {
            2 => r
                .bytes(entries.saturating_mul(2))?
                .chunks_exact(2)
                .map(|c| u32::from(u16::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)])))
                .collect(),
            4 => r.u32s(entries)?,
            _ => return Err(IndexError::Malformed("document id width is neither 2 nor 4")),
        };
        if !r.at_end() {
            return Err(IndexError::Malformed("bytes after the last section"));
        }
        let monotone = buckets.windows(2).all(|w| w.first() <= w.get(1));
        if !monotone || buckets.first() != Some(&0) || buckets.last().map(|&b| b as usize) != Some(entries) {
            return Err(IndexError::Malformed("bucket offsets are not a partition of the entries"));
        }
        if docs.iter().any(|&d| d as usize >= documents) {
            return Err(IndexError::Malformed("an entry names a document that does not exist"));
        }
        Ok(DocumentIndex {
            key,
            text,
            code,
            comment,
            doc_fingerprints,
            names,
            buckets,
            lows,
            docs,
        })
    }

    /// The number of indexed documents.
    pub fn documents(&self) -> usize {
        self.doc_fingerprints.len()
    }

    /// The number of (fingerprint, document) entries.
    pub fn entries(&self) -> usize {
        self.lows.len()
    }

    /// A document's name, when the index was built with `--names`.
    pub fn name(&self, document: u32) -> Option<&str> {
        self.names.as_ref()?.get(document as usize).map(String::as_str)
    }

    /// The winnowing parameters of the prose, code and comment streams.
    pub fn params(&self) -> [Params; 3] {
        [self.text, self.code, self.comment]
    }

    /// Heap bytes held by the loaded index (an estimate of its memory cost in a VM).
    pub fn heap_bytes(&self) -> usize {
        let names = self
            .names
            .as_ref()
            .map_or(0, |n| n.iter().map(|s| s.len() + 24).sum());
        self.buckets.len() * 4 + self.lows.len() * 2 + self.docs.len() * 4 + self.doc_fingerprints.len() * 4 + names
    }

    /// The documents holding a 64-bit keyed fingerprint.
    fn lookup(&self, fingerprint: u64) -> &[u32] {
        let top = (fingerprint >> 32) as u32;
        let bucket = (top >> 16) as usize;
        let low = (top & 0xffff) as u16;
        let (Some(&from), Some(&to)) = (self.buckets.get(bucket), self.buckets.get(bucket + 1)) else {
            return &[];
        };
        let (from, to) = (from as usize, to as usize);
        let Some(lows) = self.lows.get(from..to) else { return &[] };
        let first = lows.partition_point(|&l| l < low);
        let last = lows.partition_point(|&l| l <= low);
        self.docs.get(from + first..from + last).unwrap_or_default()
    }
}

fn params(r: &mut Reader<'_>) -> Result<Params, IndexError> {
    let k = usize::try_from(r.u32()?).unwrap_or(0);
    let w = usize::try_from(r.u32()?).unwrap_or(0);
    let min_distinct = usize::try_from(r.u32()?).unwrap_or(0);
    if k == 0 || w == 0 || k > 4096 || w > 4096 || min_distinct > k {
        return Err(IndexError::Malformed("winnowing parameters out of range"));
    }
    Ok(Params { k, w, min_distinct })
}

/// Writes an index file from sorted, deduplicated (32-bit fingerprint, document) entries.
fn encode(
    key: &Key,
    streams: [Params; 3],
    doc_fingerprints: &[u32],
    names: Option<&[String]>,
    entries: &[(u32, u32)],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + BUCKETS * 4 + entries.len() * 6);
    p.extend_from_slice(&key.0);
    for s in streams {
        for v in [s.k, s.w, s.min_distinct] {
            p.extend_from_slice(&(v as u32).to_le_bytes());
        }
    }
    p.extend_from_slice(&(doc_fingerprints.len() as u32).to_le_bytes());
    for n in doc_fingerprints {
        p.extend_from_slice(&n.to_le_bytes());
    }
    match names {
        Some(names) => {
            p.push(1);
            for name in names {
                p.extend_from_slice(&(name.len() as u32).to_le_bytes());
                p.extend_from_slice(name.as_bytes());
            }
        }
        None => p.push(0),
    }
    p.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let wide = doc_fingerprints.len() > usize::from(u16::MAX) + 1;
    p.push(if wide { 4 } else { 2 });
    let mut offset = 0u32;
    let mut next = entries.iter().peekable();
    for bucket in 0..=BUCKETS {
        while next.peek().is_some_and(|&&(fp, _)| ((fp >> 16) as usize) < bucket) {
            next.next();
            offset += 1;
        }
        p.extend_from_slice(&offset.to_le_bytes());
    }
    for &(fp, _) in entries {
        p.extend_from_slice(&((fp & 0xffff) as u16).to_le_bytes());
    }
    for &(_, doc) in entries {
        if wide {
            p.extend_from_slice(&doc.to_le_bytes());
        } else {
            p.extend_from_slice(&(doc as u16).to_le_bytes());
        }
    }
    container::seal(MAGIC, VERSION, &p)
}
