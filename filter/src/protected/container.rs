//! The framing shared by the index files: magic, format version, checksum, length, payload.
//!
//! ```text
//! magic (8 bytes) | version u32 LE | checksum kind u32 LE | payload length u64 LE | checksum of payload (32) | payload
//! ```
//!
//! A file is accepted only whole: the wrong magic (not an index, or the other kind), a newer
//! version than this build reads, a length that disagrees with the file, or a checksum that does
//! not match are each a distinct error, never an empty detector. The checksum catches corruption
//! and truncation; it is not a signature (anyone who can write the file can recompute it), so
//! index files deserve the same write protection as the policy. Integers are little-endian.
//!
//! The checksum is BLAKE3 ([`Checksum::Blake3`]), written since the formats that followed
//! documents 9, records 3 and public shapes 3; files of those versions and older carry SHA-256
//! (the field was reserved and 0) and still read. Checking is most of what loading an index
//! costs in a VM: software SHA-256 took 75 wasm instructions a byte (423 M for a 5.6 MB
//! index, three quarters of its load), BLAKE3 with wasm SIMD a few. Both are cryptographic
//! hashes, so the change gives up nothing the checksum was for.

use sha2::{Digest, Sha256};
use std::fmt;

/// Which hash a file's checksum is (the header's checksum kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// SHA-256: kind 0, the files written before BLAKE3.
    Sha256 = 0,
    /// BLAKE3 (256-bit output): kind 1, what [`seal`] writes.
    Blake3 = 1,
}

impl Checksum {
    fn of_kind(kind: u32) -> Option<Checksum> {
        match kind {
            0 => Some(Checksum::Sha256),
            1 => Some(Checksum::Blake3),
            _ => None,
        }
    }

    /// The 32-byte checksum of `payload`.
    pub fn digest(self, payload: &[u8]) -> [u8; 32] {
        match self {
            Checksum::Sha256 => Sha256::digest(payload).into(),
            Checksum::Blake3 => *blake3::hash(payload).as_bytes(),
        }
    }
}

/// Length of the header before the payload.
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 32;

/// Why an index file was refused. The caller adds the file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexError {
    /// The magic bytes are not those of this index kind.
    WrongMagic {
        /// The kind that was expected ("documents" or "records").
        expected: &'static str,
    },
    /// The format version is newer than this build reads (or zero).
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The file is shorter (or longer) than its header says.
    Truncated {
        /// Bytes the header announces (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The payload's checksum differs from the header's.
    Checksum,
    /// The header names a checksum this build does not know (a newer Airlock wrote the file).
    UnknownChecksum(u32),
    /// The payload is inconsistent (a checksum-valid file written by a broken tool).
    Malformed(&'static str),
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::WrongMagic { expected } => {
                write!(f, "not an Airlock {expected} index (wrong magic bytes); build it with `airlock index {expected}`")
            }
            IndexError::UnsupportedVersion { found, supported } => write!(
                f,
                "index format version {found} is not supported (this Airlock reads up to version {supported}); rebuild the index or upgrade Airlock"
            ),
            IndexError::Truncated { expected, found } => write!(
                f,
                "index is truncated or padded: the header announces {expected} bytes, the file has {found}"
            ),
            IndexError::Checksum => write!(
                f,
                "index checksum mismatch: the file is corrupted or was modified after `airlock index` wrote it"
            ),
            IndexError::UnknownChecksum(kind) => write!(
                f,
                "index checksum kind {kind} is not known to this Airlock; upgrade Airlock or rebuild the index with its CLI"
            ),
            IndexError::Malformed(what) => write!(f, "index is malformed: {what}"),
        }
    }
}

impl std::error::Error for IndexError {}

/// What names a file's contents without reading them: its header after the magic (format
/// version, checksum kind, payload length and checksum), in hex. Two files with the same
/// identity hold the same index; a policy's digest covers its indexes by their identities
/// (hashing the files themselves again would cost what checking them does). `None` for bytes
/// shorter than a header.
pub fn identity(file: &[u8]) -> Option<String> {
    let header = file.get(8..HEADER_LEN)?;
    Some(header.iter().map(|b| format!("{b:02x}")).collect())
}

/// Frames `payload` into a complete file.
pub fn seal(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    let checksum = Checksum::Blake3;
    out.extend_from_slice(&(checksum as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum.digest(payload));
    out.extend_from_slice(payload);
    out
}

/// [`open`], refusing also a version older than `version`: for formats whose hashes changed,
/// so an old file is never read as an index that silently finds nothing.
pub fn open_exact<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    kind: &'static str,
    version: u32,
) -> Result<&'a [u8], IndexError> {
    open_range(bytes, magic, kind, version, version).map(|(_, payload)| payload)
}

/// [`open_versioned`], refusing also a version older than `oldest` (see [`open_exact`]).
pub fn open_range<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    kind: &'static str,
    oldest: u32,
    supported: u32,
) -> Result<(u32, &'a [u8]), IndexError> {
    let found = bytes
        .get(8..12)
        .and_then(|v| <[u8; 4]>::try_from(v).ok())
        .map_or(0, u32::from_le_bytes);
    if bytes.starts_with(magic) && found != 0 && found < oldest {
        return Err(IndexError::UnsupportedVersion { found, supported });
    }
    open_versioned(bytes, magic, kind, supported)
}

/// Checks a complete file and returns its payload.
pub fn open<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    kind: &'static str,
    supported: u32,
) -> Result<&'a [u8], IndexError> {
    open_versioned(bytes, magic, kind, supported).map(|(_, payload)| payload)
}

/// Checks a complete file and returns its format version and payload.
pub fn open_versioned<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    kind: &'static str,
    supported: u32,
) -> Result<(u32, &'a [u8]), IndexError> {
    let mut header = Reader::new(bytes);
    let truncated = |expected: u64| IndexError::Truncated {
        expected,
        found: bytes.len() as u64,
    };
    let found_magic = header
        .bytes(8)
        .map_err(|_| IndexError::WrongMagic { expected: kind })?;
    if found_magic != magic {
        return Err(IndexError::WrongMagic { expected: kind });
    }
    let version = header.u32().map_err(|_| truncated(HEADER_LEN as u64))?;
    if version == 0 || version > supported {
        return Err(IndexError::UnsupportedVersion {
            found: version,
            supported,
        });
    }
    let checksum = header.u32().map_err(|_| truncated(HEADER_LEN as u64))?;
    let checksum = Checksum::of_kind(checksum).ok_or(IndexError::UnknownChecksum(checksum))?;
    let length = header.u64().map_err(|_| truncated(HEADER_LEN as u64))?;
    let digest = header.bytes(32).map_err(|_| truncated(HEADER_LEN as u64))?;
    let expected = length.saturating_add(HEADER_LEN as u64);
    if expected != bytes.len() as u64 {
        return Err(truncated(expected));
    }
    let payload = bytes.get(HEADER_LEN..).unwrap_or_default();
    if checksum.digest(payload).as_slice() != digest {
        return Err(IndexError::Checksum);
    }
    Ok((version, payload))
}

/// A bounds-checked little-endian reader over a payload.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// The error of a read past the payload's end.
const SHORT: IndexError = IndexError::Malformed("a section ends past the end of the payload");

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        let end = self.pos.checked_add(n).ok_or(SHORT)?;
        let slice = self.bytes.get(self.pos..end).ok_or(SHORT)?;
        self.pos = end;
        Ok(slice)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], IndexError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> Result<u32, IndexError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> Result<u64, IndexError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A u32 count as usize, refused when the rest of the payload cannot hold `count * unit` bytes.
    pub fn count(&mut self, unit: usize) -> Result<usize, IndexError> {
        let n = usize::try_from(self.u32()?).map_err(|_| SHORT)?;
        let need = n.checked_mul(unit.max(1)).ok_or(SHORT)?;
        if need > self.bytes.len().saturating_sub(self.pos) {
            return Err(SHORT);
        }
        Ok(n)
    }

    /// `n` little-endian u16s.
    pub fn u16s(&mut self, n: usize) -> Result<Vec<u16>, IndexError> {
        self.little_endian(n, u16::from_le_bytes)
    }

    /// `n` little-endian u32s.
    pub fn u32s(&mut self, n: usize) -> Result<Vec<u32>, IndexError> {
        self.little_endian(n, u32::from_le_bytes)
    }

    /// `n` little-endian u64s.
    pub fn u64s(&mut self, n: usize) -> Result<Vec<u64>, IndexError> {
        self.little_endian(n, u64::from_le_bytes)
    }

    /// `n` values of `N` little-endian bytes each, read by `from`.
    fn little_endian<const N: usize, T>(
        &mut self,
        n: usize,
        from: fn([u8; N]) -> T,
    ) -> Result<Vec<T>, IndexError> {
        let raw = self.bytes(n.checked_mul(N).ok_or(SHORT)?)?;
        // `chunks_exact` yields only whole `N`-byte chunks, so every conversion succeeds; a
        // `map` keeps the exact length, so the vector is filled without a check per value (a
        // `filter_map` cost 17 wasm instructions a value: 48 M for a 100 MB tree's index).
        let mut values = Vec::with_capacity(n);
        values.extend(
            raw.chunks_exact(N)
                .map(|c| from(<[u8; N]>::try_from(c).unwrap_or([0; N]))),
        );
        Ok(values)
    }

    /// A LEB128 `u32` (seven bits per byte, low first), refused when longer than 32 bits.
    pub fn varint(&mut self) -> Result<u32, IndexError> {
        const TOO_LONG: IndexError =
            IndexError::Malformed("a LEB128 number is longer than 32 bits");
        let mut value = 0u32;
        let mut shift = 0u32;
        loop {
            let byte = self.u8()?;
            let part = u32::from(byte & 0x7F)
                .checked_shl(shift)
                .filter(|p| p >> shift == u32::from(byte & 0x7F))
                .ok_or(TOO_LONG)?;
            value |= part;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 28 {
                return Err(TOO_LONG);
            }
        }
    }

    /// Strictly increasing `u32`s stored as a count (u32) and LEB128 gaps (the first from 0),
    /// each below `bound`: what [`write_increasing`] writes.
    pub fn increasing(&mut self, bound: u64) -> Result<Vec<u32>, IndexError> {
        const NOT_INCREASING: IndexError =
            IndexError::Malformed("a sorted list is not strictly increasing");
        // Each value takes at least one byte: the count cannot exceed what is left.
        let count = self.count(1)?;
        let mut values = Vec::with_capacity(count);
        let mut value = 0u64;
        for i in 0..count {
            let gap = u64::from(self.varint()?);
            if i > 0 && gap == 0 {
                return Err(NOT_INCREASING);
            }
            value += gap;
            if value >= bound {
                return Err(IndexError::Malformed(
                    "a sorted list's value is out of range",
                ));
            }
            values.push(value as u32);
        }
        Ok(values)
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte was read.
    pub fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Appends `n` as LEB128 (what [`Reader::varint`] reads).
pub fn write_varint(mut n: u32, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends strictly increasing `values` as a count and LEB128 gaps (what
/// [`Reader::increasing`] reads).
pub fn write_increasing(values: &[u32], out: &mut Vec<u8>) {
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    let mut previous = 0u32;
    for &value in values {
        write_varint(value.wrapping_sub(previous), out);
        previous = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_lists_read_back_and_bad_ones_are_refused() {
        let values = [0u32, 1, 127, 128, 16_384, u32::MAX];
        let mut out = Vec::new();
        write_increasing(&values, &mut out);
        let mut r = Reader::new(&out);
        assert_eq!(r.increasing(1 << 32).unwrap(), values);
        assert!(r.at_end());
        // A value at or past the bound, a repeated value, a number longer than 32 bits.
        assert!(Reader::new(&out).increasing(u64::from(u32::MAX)).is_err());
        let mut repeated = Vec::new();
        write_increasing(&[5, 5], &mut repeated);
        assert!(Reader::new(&repeated).increasing(10).is_err());
        let long = [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F];
        assert!(Reader::new(&long).increasing(1 << 32).is_err());
        // A count the bytes cannot hold.
        assert!(Reader::new(&[9, 0, 0, 0, 1]).increasing(10).is_err());
    }

    const MAGIC: &[u8; 8] = b"AIRLTEST";

    #[test]
    fn round_trip_and_every_refusal() {
        let file = seal(MAGIC, 1, b"payload");
        assert_eq!(open(&file, MAGIC, "test", 1).unwrap(), b"payload");
        assert!(matches!(
            open(&file, b"AIRLXXXX", "x", 1),
            Err(IndexError::WrongMagic { .. })
        ));
        assert!(matches!(
            open(&file[..3], MAGIC, "t", 1),
            Err(IndexError::WrongMagic { .. })
        ));
        let newer = seal(MAGIC, 2, b"payload");
        assert_eq!(
            open(&newer, MAGIC, "t", 1),
            Err(IndexError::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        );
        assert!(matches!(
            open(&file[..file.len() - 1], MAGIC, "t", 1),
            Err(IndexError::Truncated { .. })
        ));
        let mut tampered = file.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&tampered, MAGIC, "t", 1), Err(IndexError::Checksum));
        assert!(IndexError::Checksum.to_string().contains("modified"));
        let mut unknown = file.clone();
        unknown[12] = 7;
        assert_eq!(
            open(&unknown, MAGIC, "t", 1),
            Err(IndexError::UnknownChecksum(7))
        );
        assert!(IndexError::UnknownChecksum(7)
            .to_string()
            .contains("upgrade"));
    }

    #[test]
    fn files_checked_by_sha256_still_read() {
        // The header of a file written before BLAKE3: kind 0, SHA-256 of the payload.
        let payload = b"an index written by an older Airlock";
        let mut old = seal(MAGIC, 1, payload);
        old[12..16].copy_from_slice(&0u32.to_le_bytes());
        old[24..56].copy_from_slice(&Sha256::digest(payload));
        assert_eq!(open(&old, MAGIC, "t", 1).unwrap(), payload);
        // The new files carry BLAKE3, which SHA-256 does not match.
        let new = seal(MAGIC, 1, payload);
        assert_eq!(u32::from_le_bytes(new[12..16].try_into().unwrap()), 1);
        assert_eq!(new[24..56], *blake3::hash(payload).as_bytes());
        old[56] ^= 1;
        assert_eq!(open(&old, MAGIC, "t", 1), Err(IndexError::Checksum));
    }

    #[test]
    fn reader_refuses_overlong_counts() {
        let mut r = Reader::new(&[255, 255, 255, 255, 1]);
        assert!(r.count(4).is_err());
    }
}
