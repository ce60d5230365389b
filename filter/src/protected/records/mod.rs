//! The records index (exact data match): keyed hashes of table cells, row by row.
//!
//! Payload of format version 1 (framed by [`container`](super::container)):
//!
//! ```text
//! key [16] | columns u32 | per column: name length u32, UTF-8 name, unique flag u8
//! rows u32 | entries u32 | bucket bits b u8 | buckets [u32; 2^b + 1] by the hash's top b bits
//! hashes [u64; entries] sorted | refs [u32; entries]: row << 4 | column
//! ```
//!
//! Every cell is normalized by what it holds ([`cell`]) and hashed with SipHash-1-3 under the
//! index's random 128-bit key, in its kind's domain; the key doubles as the salt, so equal
//! values in two indexes hash differently and no table precomputed for one index fits another.
//! Rows stay rows: each hash points at its (row, column). Full 64-bit hashes are kept (unlike
//! document fingerprints) because one hit of a unique column is a finding on its own.
//!
//! **Low entropy.** The key is in the file: whoever holds the index can hash guesses and test
//! them. A value from a small space (a 4-digit PIN, a birth date, a 9-digit national number:
//! 10⁴ to 10⁹ guesses) is recovered by enumeration in seconds to minutes; a name from a list of
//! common names likewise. The index protects high-entropy values (e-mail addresses, long account
//! numbers) against reading, and low-entropy ones only against casual reading. Treat the index
//! file like the table itself; its advantage is that the filter needs no plaintext. For the
//! same reason, values shared by many rows are dropped at build (they identify nobody and
//! would make every text a candidate), and a finding needs `min_fields` cells of *one* row.

mod build;
pub mod cell;
mod find;

pub use build::{common_limit, Builder, RecordStats, RowOutcome};
pub use find::{FindScratch, RecordMatch};

use super::container::{self, IndexError, Reader};
use super::keyed::Key;

/// Magic bytes of a records index.
pub const MAGIC: &[u8; 8] = b"AIRLKREC";
/// The newest format version this build reads and the one it writes.
pub const VERSION: u32 = 1;
/// The most columns an index holds (a ref keeps the column in 4 bits).
pub const MAX_COLUMNS: usize = 16;
/// A hash's bucket: its top `bits` bits.
fn bucket_of(hash: u64, bits: u32) -> usize {
    hash.checked_shr(64 - bits).unwrap_or(0) as usize
}

/// One indexed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name in the input.
    pub name: String,
    /// One cell of this column is a finding on its own.
    pub unique: bool,
}

/// A loaded records index.
#[derive(Debug, Clone)]
pub struct RecordIndex {
    key: Key,
    columns: Vec<Column>,
    rows: u32,
    bits: u32,
    buckets: Vec<u32>,
    hashes: Vec<u64>,
    refs: Vec<u32>,
}

impl RecordIndex {
    /// Parses and checks a complete index file.
    pub fn from_bytes(bytes: &[u8]) -> Result<RecordIndex, IndexError> {
        let payload = container::open(bytes, MAGIC, "records", VERSION)?;
        let mut r = Reader::new(payload);
        let key = Key(r.array()?);
        let count = r.count(5)?;
        if count == 0 || count > MAX_COLUMNS {
            return Err(IndexError::Malformed("column count out of range"));
        }
        let mut columns = Vec::with_capacity(count);
        for _ in 0..count {
            let n = r.count(1)?;
            let name = String::from_utf8(r.bytes(n)?.to_vec())
                .map_err(|_| IndexError::Malformed("a column name is not UTF-8"))?;
            let unique = r.u8()? == 1;
            columns.push(Column { name, unique });
        }
        let rows = r.u32()?;
        let entries = r.count(12)?;
        let bits = u32::from(r.u8()?);
        if bits > 16 {
            return Err(IndexError::Malformed("more than 16 bucket bits"));
        }
        let buckets = r.u32s((1usize << bits) + 1)?;
        let hashes = r
            .bytes(entries.saturating_mul(8))?
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                u64::from_le_bytes(a)
            })
            .collect::<Vec<u64>>();
        let refs = r.u32s(entries)?;
        if !r.at_end() {
            return Err(IndexError::Malformed("bytes after the last section"));
        }
        let monotone = buckets.windows(2).all(|w| w.first() <= w.get(1));
        if !monotone
            || buckets.first() != Some(&0)
            || buckets.last().map(|&b| b as usize) != Some(entries)
        {
            return Err(IndexError::Malformed(
                "bucket offsets are not a partition of the entries",
            ));
        }
        if refs
            .iter()
            .any(|&x| (x >> 4) >= rows || (x & 15) as usize >= count)
        {
            return Err(IndexError::Malformed(
                "an entry names a row or column that does not exist",
            ));
        }
        Ok(RecordIndex {
            key,
            columns,
            rows,
            bits,
            buckets,
            hashes,
            refs,
        })
    }

    /// The indexed columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The number of rows.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Heap bytes held by the loaded index.
    pub fn heap_bytes(&self) -> usize {
        self.buckets.len() * 4 + self.hashes.len() * 8 + self.refs.len() * 4
    }

    /// The (row << 4 | column) refs of a keyed hash.
    fn lookup(&self, hash: u64) -> &[u32] {
        let bucket = bucket_of(hash, self.bits);
        super::buckets::lookup(&self.buckets, &self.hashes, &self.refs, bucket, hash)
    }
}

/// Writes a records index file from sorted (hash, ref) entries.
fn encode(key: &Key, columns: &[Column], rows: u32, entries: &[(u64, u32)]) -> Vec<u8> {
    let bits = crate::protected::documents::bucket_bits(entries.len());
    let buckets = 1usize << bits;
    let mut p = Vec::with_capacity(64 + buckets * 4 + entries.len() * 12);
    p.extend_from_slice(&key.0);
    p.extend_from_slice(&(columns.len() as u32).to_le_bytes());
    for c in columns {
        p.extend_from_slice(&(c.name.len() as u32).to_le_bytes());
        p.extend_from_slice(c.name.as_bytes());
        p.push(u8::from(c.unique));
    }
    p.extend_from_slice(&rows.to_le_bytes());
    p.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    p.push(bits as u8);
    let mut offset = 0u32;
    let mut next = entries.iter().peekable();
    for bucket in 0..=buckets {
        while next
            .peek()
            .is_some_and(|&&(h, _)| bucket_of(h, bits) < bucket)
        {
            next.next();
            offset += 1;
        }
        p.extend_from_slice(&offset.to_le_bytes());
    }
    for &(h, _) in entries {
        p.extend_from_slice(&h.to_le_bytes());
    }
    for &(_, r) in entries {
        p.extend_from_slice(&r.to_le_bytes());
    }
    container::seal(MAGIC, VERSION, &p)
}
