//! The records index (exact data match): keyed hashes of table cells, row by row.
//!
//! Payload of format versions 3 and 4 (framed by [`container`](super::container); version 4
//! is version 3 checked by BLAKE3 instead of SHA-256, and still reads):
//!
//! ```text
//! key [16] | columns u32 | per column: name length u32, UTF-8 name, unique flag u8
//! rows u32 | entries u32 | entry width u8 (5, 6 or 8 bytes) | ref bits r u8 | bucket bits b u8
//! bucket directory [u64; ⌈(entries + 2^b) / 64⌉]: entries per bucket (the hash's top b bits)
//!     in unary (see `directory`)
//! entries [width bytes each], sorted: (the hash's next 8·width − r bits) << r | row << c | column
//! prefilter bits f u8 | prefilter [u64; 2^f / 64]: one bit per value prefix
//! ```
//!
//! **Compact entries.** An entry packs the hash bits below the bucket's and the (row, column)
//! ref into 5 bytes while that leaves at least 18 hash bits (6, else 8, when the ref is wider),
//! where format 1 spent 12 (a full hash and a 32-bit ref). The bucket's bits are implicit: an
//! index of `n` entries has `2^b ≥ 2n` buckets (b = ⌈log₂ n⌉ + 1), cheap because the
//! directory spends about 1.5 bits on each (format 2 had 2^16 buckets of a 32-bit offset,
//! and 6-byte entries). A lookup compares `b + 8·width − r` hash bits, so the **chance
//! match** of a candidate that is no indexed value (the probability that some entry agrees
//! with it on every compared bit) is `n / 2^(b + 8·width − r) ≤ 2^-(8·width − r + 1)`: at
//! most 1.9·10⁻⁶ with 5-byte entries. For 1 million rows of 4 columns (about 3 million kept
//! cells, 22-bit refs, b = 23, 18 stored bits) it is 3·10⁶ / 2⁴¹ = 1.4·10⁻⁶ per candidate
//! looked up, and a candidate is looked up only after the prefilter below passed it; one
//! chance hit is a finding only in a unique column, elsewhere `min_fields` cells of one row
//! are needed. The file is 5.5 bytes per kept cell (format 2: 6.1).
//!
//! **Prefilter.** Most words of a text start no indexed value. The file carries a bit set of the
//! keyed hashes of every value's first [`cell::PREFIX`] normalized bytes (in its kind's
//! domain), about 32 bits per distinct prefix (a chance pass is about 1 in 32); a candidate whose prefix bit is clear is never
//! hashed further or looked up, and neither are the longer runs that start with it.
//!
//! Values are hashed as they are read (FNV-1a over the normalized bytes, then keyed with the
//! index's [`Mixer`](super::keyed::Mixer)); format 1 used SipHash per candidate, and its files
//! are refused (rebuild the index).
//!
//! Every cell is normalized by what it holds ([`cell`]) and hashed under the index's random
//! 128-bit key, in its kind's domain; the key doubles as the salt, so equal
//! values in two indexes hash differently and no table precomputed for one index fits another.
//! Rows stay rows: each hash points at its (row, column). More hash bits are kept than for
//! document fingerprints (42 against 32) because one hit of a unique column is a finding on its own.
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
mod directory;
mod find;
mod lanes;
mod script;

pub use build::{common_limit, Builder, RecordStats, RowOutcome};
pub use find::{FindScratch, RecordMatch};

use super::container::{self, IndexError, Reader};
use super::keyed::Key;

/// Magic bytes of a records index.
pub const MAGIC: &[u8; 8] = b"AIRLKREC";
/// The newest format version this build reads and the one it writes.
pub const VERSION: u32 = 4;
/// The oldest format version this build reads: 3, the same payload checked by SHA-256.
const OLDEST_READ: u32 = 3;
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
///
/// The tables are read where they lie in the file's bytes: `file` is the index file (or the
/// configuration buffer it arrived in, see [`RecordIndex::open_in`]) and the fields below are
/// offsets into it, so loading never holds a second copy of the entries. A VM's linear memory
/// never shrinks, so its cost is its peak: one copy of the entries, not two.
#[derive(Debug, Clone)]
pub struct RecordIndex {
    keying: cell::Keying,
    columns: Vec<Column>,
    rows: u32,
    bits: u32,
    file: Vec<u8>,
    /// The bucket directory's offset and length in `file`, and its sampled positions.
    directory_at: std::ops::Range<usize>,
    directory: directory::Directory,
    /// Offset of the packed entries, `width` bytes each. The prefilter follows them, so every
    /// entry reads as a `u64` inside the file.
    entries_at: usize,
    width: usize,
    ref_bits: u32,
    /// Bits of a ref that hold the column.
    column_bits: u32,
    /// Offset of the prefilter's little-endian u64 words, and its bit mask.
    filter_at: usize,
    filter_mask: u64,
}

/// The bit set of value prefixes (see the module doc), as the builder makes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrefilterBits {
    words: Vec<u64>,
    mask: u64,
}

impl PrefilterBits {
    /// A set of about 32 bits per prefix (at least 2^12, at most 2^23 bits: 1 MiB).
    pub(crate) fn build(prefixes: &[u64]) -> PrefilterBits {
        let want = prefixes.len().saturating_mul(32).max(1 << 12);
        let bits = (usize::BITS - (want - 1).leading_zeros()).min(23);
        let mut set = PrefilterBits {
            words: vec![0; (1usize << bits) / 64],
            mask: (1u64 << bits) - 1,
        };
        for &p in prefixes {
            let i = (p & set.mask) as usize;
            if let Some(w) = set.words.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        }
        set
    }
}

/// The prefilter of a loaded index: its words read in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefilter<'a> {
    words: &'a [u8],
    mask: u64,
}

impl Prefilter<'_> {
    /// True when `prefix` may start an indexed value.
    #[inline]
    pub(crate) fn may_hold(&self, prefix: u64) -> bool {
        let i = (prefix & self.mask) as usize;
        let at = i / 64 * 8;
        self.words
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .is_some_and(|w| u64::from_le_bytes(w) >> (i % 64) & 1 == 1)
    }
}

/// Bits needed to number `n` things (at least 1).
pub(crate) fn bits_for(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

impl RecordIndex {
    /// Parses and checks a complete index file (copied once; see [`RecordIndex::open_in`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<RecordIndex, IndexError> {
        let len = bytes.len();
        RecordIndex::open_in(bytes.to_vec(), 0..len)
    }

    /// Parses and checks the index file at `file` of `buffer` and keeps the buffer as the
    /// index's storage: nothing is copied (a configuration envelope's buffer becomes the
    /// index's, whatever else it holds).
    pub fn open_in(
        buffer: Vec<u8>,
        file: std::ops::Range<usize>,
    ) -> Result<RecordIndex, IndexError> {
        let bytes = buffer.get(file.clone()).ok_or(IndexError::Truncated {
            expected: file.end as u64,
            found: buffer.len() as u64,
        })?;
        let (_, payload) = container::open_range(bytes, MAGIC, "records", OLDEST_READ, VERSION)?;
        let base = file.start + container::HEADER_LEN;
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
        let entries = r.count(5)?;
        let width = usize::from(r.u8()?);
        let ref_bits = u32::from(r.u8()?);
        let bits = u32::from(r.u8()?);
        let column_bits = bits_for(count);
        if !matches!(width, 5 | 6 | 8)
            || bits > 32
            || ref_bits < column_bits + bits_for(rows as usize)
            || ref_bits >= 8 * width as u32
        {
            return Err(IndexError::Malformed("entry layout out of range"));
        }
        let bucket_count = 1u64 << bits;
        let words = (entries as u64 + bucket_count).div_ceil(64);
        let directory_from = base + r.position();
        let directory_bytes =
            r.bytes(usize::try_from(words.saturating_mul(8)).unwrap_or(usize::MAX))?;
        let directory = directory::Directory::load(directory_bytes, bucket_count, entries as u64)?;
        let directory_at = directory_from..directory_from + directory_bytes.len();
        let entries_at = base + r.position();
        r.bytes(entries.saturating_mul(width))?;
        let filter_bits = u32::from(r.u8()?);
        if !(6..=23).contains(&filter_bits) {
            return Err(IndexError::Malformed("prefilter size out of range"));
        }
        let filter_at = base + r.position();
        r.bytes((1usize << filter_bits) / 8)?;
        if !r.at_end() {
            return Err(IndexError::Malformed("bytes after the last section"));
        }
        let index = RecordIndex {
            keying: cell::Keying::new(&key),
            columns,
            rows,
            bits,
            file: buffer,
            directory_at,
            directory,
            entries_at,
            width,
            ref_bits,
            column_bits,
            filter_at,
            filter_mask: (1u64 << filter_bits) - 1,
        };
        let ref_mask = (1u64 << ref_bits) - 1;
        let bad_ref = (0..entries).any(|i| {
            let r = index.entry(i) & ref_mask;
            (r >> column_bits) >= u64::from(rows)
                || (r & ((1 << column_bits) - 1)) as usize >= count
        });
        if bad_ref {
            return Err(IndexError::Malformed(
                "an entry names a row or column that does not exist",
            ));
        }
        Ok(index)
    }

    /// The packed entry `i` (its low `8 · width` bits).
    #[inline]
    fn entry(&self, i: usize) -> u64 {
        let at = self.entries_at + i * self.width;
        self.file
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, |b| {
                u64::from_le_bytes(b) & low_mask(8 * self.width as u32)
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

    /// Heap bytes held by the loaded index (its file, or the whole buffer it arrived in).
    pub fn heap_bytes(&self) -> usize {
        self.file.capacity() + self.directory.heap_bytes()
    }

    /// The prefilter of value prefixes.
    pub(crate) fn prefilter(&self) -> Prefilter<'_> {
        let words = (self.filter_mask as usize + 1) / 8;
        Prefilter {
            words: self
                .file
                .get(self.filter_at..self.filter_at + words)
                .unwrap_or_default(),
            mask: self.filter_mask,
        }
    }

    /// Calls `each(row, column)` for every entry of a keyed value hash.
    #[inline]
    fn lookup(&self, hash: u64, mut each: impl FnMut(u32, u8)) {
        let bucket = bucket_of(hash, self.bits);
        let words = self.file.get(self.directory_at.clone()).unwrap_or_default();
        let Some(std::ops::Range {
            start: from,
            end: to,
        }) = self.directory.range(words, bucket as u64)
        else {
            return;
        };
        let rest_bits = 8 * self.width as u32 - self.ref_bits;
        let rest = remainder(hash, self.bits, rest_bits);
        let (mut lo, mut hi) = (from, to);
        // The first entry whose remainder is not below `rest`.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid) >> self.ref_bits < rest {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let ref_mask = low_mask(self.ref_bits);
        let column_mask = low_mask(self.column_bits);
        for i in lo..to {
            let e = self.entry(i);
            if e >> self.ref_bits != rest {
                break;
            }
            let r = e & ref_mask;
            each((r >> self.column_bits) as u32, (r & column_mask) as u8);
        }
    }
}

/// The `n` low bits set.
fn low_mask(n: u32) -> u64 {
    1u64.checked_shl(n).map_or(u64::MAX, |v| v - 1)
}

/// The `rest_bits` bits of `hash` right below its top `bucket_bits`.
fn remainder(hash: u64, bucket_bits: u32, rest_bits: u32) -> u64 {
    hash.checked_shl(bucket_bits)
        .unwrap_or(0)
        .checked_shr(64 - rest_bits)
        .unwrap_or(0)
}

/// Writes a records index file from sorted, deduplicated (hash, row, column) entries and the
/// keyed hashes of the values' prefixes.
fn encode(
    key: &Key,
    columns: &[Column],
    rows: u32,
    entries: &[(u64, u32, u8)],
    prefixes: &[u64],
) -> Vec<u8> {
    let bits = (bits_for(entries.len()) + 1).min(32);
    let bucket_count = 1u64 << bits;
    let column_bits = bits_for(columns.len());
    let ref_bits = column_bits + bits_for(rows as usize);
    // The narrowest entry that keeps at least 18 hash bits (see the module doc).
    let width: usize = [5, 6, 8]
        .into_iter()
        .find(|w| 8 * w >= ref_bits as usize + 18)
        .unwrap_or(8);
    let rest_bits = 8 * width as u32 - ref_bits;
    let directory = directory::encode(
        entries.iter().map(|&(h, _, _)| bucket_of(h, bits) as u64),
        bucket_count,
        entries.len() as u64,
    );
    let mut p = Vec::with_capacity(64 + directory.len() * 8 + entries.len() * width);
    p.extend_from_slice(&key.0);
    p.extend_from_slice(&(columns.len() as u32).to_le_bytes());
    for c in columns {
        p.extend_from_slice(&(c.name.len() as u32).to_le_bytes());
        p.extend_from_slice(c.name.as_bytes());
        p.push(u8::from(c.unique));
    }
    p.extend_from_slice(&rows.to_le_bytes());
    p.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    p.push(width as u8);
    p.push(ref_bits as u8);
    p.push(bits as u8);
    for w in &directory {
        p.extend_from_slice(&w.to_le_bytes());
    }
    for &(h, row, column) in entries {
        let r = u64::from(row) << column_bits | u64::from(column);
        let packed = remainder(h, bits, rest_bits) << ref_bits | r;
        p.extend_from_slice(packed.to_le_bytes().get(..width).unwrap_or_default());
    }
    let filter = PrefilterBits::build(prefixes);
    p.push(filter.mask.count_ones() as u8);
    for w in &filter.words {
        p.extend_from_slice(&w.to_le_bytes());
    }
    container::seal(MAGIC, VERSION, &p)
}
