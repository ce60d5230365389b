//! The documents index's per-entry payload: which document holds the fingerprint and the
//! k-gram's 8-bit check, packed into the bits they need.
//!
//! An entry is `document << 8 | check` in `document_bits + 8` bits, where `document_bits` is
//! what the index's highest document number needs (13 for a 100 MB tree of 6 818 files, 2 for
//! the ACME example's three). Format 5 stored 16 or 32 bits of document plus 8 of check: for the
//! 100 MB crate tree, 24 bits per entry where 21 suffice, so packing frees about 7 % of the
//! index for denser fingerprints (the size target is a share of the indexed text).
//!
//! Trade-off: reading an entry is an unaligned 8-byte load, a shift and a mask instead of two
//! array reads; a lookup reads only the few entries of its fingerprint, and most lookups find
//! none. The bytes are kept packed in memory too (the VM's memory cost shrinks the same way),
//! with 8 bytes of padding so every read is one in-bounds load.

use crate::protected::container::{IndexError, Reader};

/// Bytes of padding after the packed entries, so an entry is read with one 8-byte load.
const PAD: usize = 8;

/// The most document bits (document numbers are `u32`).
const MAX_DOCUMENT_BITS: u32 = 32;

/// Every entry's (document, check), packed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Holders {
    bytes: Vec<u8>,
    document_bits: u32,
    len: usize,
}

/// The document bits an index of `documents` documents needs (at most [`MAX_DOCUMENT_BITS`]).
pub(crate) fn document_bits(documents: usize) -> u32 {
    (usize::BITS - documents.saturating_sub(1).leading_zeros()).min(MAX_DOCUMENT_BITS)
}

impl Holders {
    /// Bits per entry.
    fn width(&self) -> u32 {
        self.document_bits + 8
    }

    /// Entry `i`'s (document, check), if it exists.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<(u32, u8)> {
        if i >= self.len {
            return None;
        }
        let bit = i * self.width() as usize;
        let word = self.bytes.get(bit / 8..bit / 8 + 8)?;
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(word).ok()?);
        let entry = (word >> (bit % 8)) & ((1u64 << self.width()) - 1);
        Some(((entry >> 8) as u32, entry as u8))
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Packed bytes of `entries` entries of `document_bits` (without the padding).
    fn packed_len(entries: usize, document_bits: u32) -> Option<usize> {
        entries
            .checked_mul(document_bits as usize + 8)?
            .checked_add(7)
            .map(|bits| bits / 8)
    }

    /// Reads `entries` packed entries of a file's index of `documents` documents: the document
    /// bits (one byte, which must be what `documents` needs), then the packed bytes. Every
    /// entry must name an existing document.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        entries: usize,
        documents: usize,
    ) -> Result<Holders, IndexError> {
        let stored_bits = u32::from(r.u8()?);
        if stored_bits != document_bits(documents) {
            return Err(IndexError::Malformed(
                "document bits do not fit the number of documents",
            ));
        }
        let n = Self::packed_len(entries, stored_bits).ok_or(IndexError::Malformed(
            "too many entries for their document bits",
        ))?;
        let mut bytes = Vec::with_capacity(n + PAD);
        bytes.extend_from_slice(r.bytes(n)?);
        bytes.resize(n + PAD, 0);
        let holders = Holders {
            bytes,
            document_bits: stored_bits,
            len: entries,
        };
        if !holders.documents_below(documents) {
            return Err(IndexError::Malformed(
                "an entry names a document that does not exist",
            ));
        }
        Ok(holders)
    }

    /// Appends the file form of `entries` (document, check) of an index of `documents`
    /// documents to `out`: what [`read`](Holders::read) reads.
    /// Whether every entry's document is below `documents`: one pass reading each entry's
    /// 8 bytes at its bit offset (the padding makes the last ones whole), no per-entry
    /// `Option` (what [`Holders::get`] pays for its bounds: 33 wasm instructions an entry).
    fn documents_below(&self, documents: usize) -> bool {
        let width = self.width() as usize;
        // Every number that fits in the document bits exists: nothing to check.
        if 1usize
            .checked_shl(self.document_bits)
            .is_some_and(|all| documents >= all)
        {
            return true;
        }
        let limit = (documents as u64) << 8;
        let mask = (1u64 << width) - 1;
        // The entry at bit `bit`, as the padded word there (the document is its high bits: it
        // is below `documents` iff the entry is below `documents << 8`).
        let entry_at = |bytes: &[u8], bit: usize| {
            let word = bytes.get(bit / 8..bit / 8 + 8);
            let word = word.and_then(|w| <[u8; 8]>::try_from(w).ok());
            (word.map_or(u64::MAX, u64::from_le_bytes) >> (bit % 8)) & mask
        };
        // Eight entries take `width` bytes: each group is read from its own slice, the
        // entries at the same eight offsets, with no early exit to keep the loop tight.
        let offsets: [usize; 8] = std::array::from_fn(|j| j * width);
        let mut largest = 0u64;
        let groups = self.len / 8;
        for group in 0..groups {
            let start = group * width;
            let Some(bytes) = self.bytes.get(start..start + width + PAD) else {
                return false;
            };
            for &bit in &offsets {
                largest = largest.max(entry_at(bytes, bit));
            }
        }
        for i in groups * 8..self.len {
            largest = largest.max(entry_at(&self.bytes, i * width));
        }
        largest < limit
    }

    pub(crate) fn write(
        documents: usize,
        entries: impl ExactSizeIterator<Item = (u32, u8)>,
        out: &mut Vec<u8>,
    ) {
        let bits = document_bits(documents);
        out.push(bits as u8);
        let width = bits + 8;
        let (mut acc, mut filled) = (0u128, 0u32);
        for (document, check) in entries {
            let entry = (u128::from(document) << 8 | u128::from(check)) & ((1u128 << width) - 1);
            acc |= entry << filled;
            filled += width;
            while filled >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                filled -= 8;
            }
        }
        if filled > 0 {
            out.push(acc as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_for_every_width() {
        for documents in [1usize, 2, 3, 255, 256, 257, 6_818, 65_536, 65_537, 1 << 24] {
            let entries: Vec<(u32, u8)> = (0..1_000u32)
                .map(|i| {
                    let doc = (u64::from(i) * 2_654_435_761 % documents as u64) as u32;
                    (doc, (i * 37) as u8)
                })
                .collect();
            let mut file = Vec::new();
            Holders::write(documents, entries.iter().copied(), &mut file);
            let width = document_bits(documents) as usize + 8;
            assert_eq!(file.len(), 1 + (entries.len() * width).div_ceil(8));
            let mut r = Reader::new(&file);
            let holders = Holders::read(&mut r, entries.len(), documents).unwrap();
            assert!(r.at_end());
            let back: Vec<_> = (0..entries.len())
                .map(|i| holders.get(i).unwrap())
                .collect();
            assert_eq!(back, entries, "{documents} documents");
            assert_eq!(holders.get(entries.len()), None);
        }
    }

    #[test]
    fn a_document_out_of_range_or_wrong_bits_is_refused() {
        let mut file = Vec::new();
        // Three documents need 2 bits: document 3 fits the bits but does not exist.
        Holders::write(3, [(0, 1), (3, 2)].into_iter(), &mut file);
        assert!(Holders::read(&mut Reader::new(&file), 2, 3).is_err());
        let mut file = Vec::new();
        Holders::write(3, [(0, 1), (2, 2)].into_iter(), &mut file);
        assert!(Holders::read(&mut Reader::new(&file), 2, 3).is_ok());
        // Read as an index of 300 documents, the stored bits are wrong.
        assert!(Holders::read(&mut Reader::new(&file), 2, 300).is_err());
        // For every width, the last document anywhere is read, one past it refused anywhere.
        for documents in [3u32, 257, 6_818, 65_537, (1 << 24) + 1] {
            for at in [0, 1, 7, 8, 50, 99] {
                for (document, ok) in [(documents - 1, true), (documents, false)] {
                    let entries = (0..100u32).map(|i| match i == at {
                        true => (document, 0xFF),
                        false => (i % documents, i as u8),
                    });
                    let mut file = Vec::new();
                    Holders::write(documents as usize, entries, &mut file);
                    let read = Holders::read(&mut Reader::new(&file), 100, documents as usize);
                    assert_eq!(
                        read.is_ok(),
                        ok,
                        "{documents} documents, {document} at {at}"
                    );
                }
            }
        }
    }
}
