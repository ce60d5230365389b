//! The documents index: winnowed keyed fingerprints of protected text, and its file format.
//!
//! Payload of format version 9 (framed by [`container`](super::container)):
//!
//! ```text
//! key [16] | for the prose, code and comment streams: k u32, w u32, min_distinct u32
//! views u8: 1 = some document was read as prose, 2 = some as code (a request skips the others)
//! documents u32 | per document: its fingerprint count (LEB128)
//! per document: its scale u16 (bit 15: read as code; bits 0-14: characters per unit × 64)
//! per document: its layout u16 (characters per character that is not whitespace × 64)
//! names flag u8 | if 1, per document: length u32, UTF-8 bytes
//! entries u32 | bucket bits b u8 (0 to 16)
//! buckets [varint; 2^b]: each bucket's entry count (LEB128), the fingerprint's top b bits
//! lows [u16; entries]: the fingerprint's next 16 bits, sorted within each bucket
//! document bits d u8 | holders [ceil(entries × (d + 8) / 8) bytes]: per entry, packed
//!   little-endian in d + 8 bits, its document << 8 | the selected k-gram's check (its raw
//!   form's hash in the code view)
//! public count u32 | [varint; count]: the first entry of each public fingerprint, as gaps
//! ```
//!
//! Version 10 is version 9 checked by BLAKE3 instead of SHA-256 ([`container`]): most of what
//! loading an index cost in a VM. Version 9 files still read.
//! Version 9 stores each document's fingerprint count as a varint (a byte or two for most
//! documents instead of four: a small tree of short files spent 1 % of its index on them).
//! Version 8 added the public fingerprints: code k-grams whose blinded shape is common across
//! public projects ([`public_shapes`](super::public_shapes)), whose hits count only verified.
//! They are a few percent of the entries, so a list of gaps (about a byte each) costs a
//! fraction of the bit per entry a mark would. It also narrowed a code k-gram's check to the
//! k-gram and the `k / 2` tokens after it ([`winnow`](super::winnow)), so version 7's checks
//! no longer agree: its files are refused.
//! Version 7 widened a code k-gram's check to the k-gram and the `k` tokens after it
//! ([`winnow`](super::winnow)): a 12-token idiom shared word for word across projects no longer
//! verifies, two in a row must. The layout is version 6's. Version 6 packs each entry's document and check into the bits they need
//! ([`holders`]: 21 bits instead of 24 for a tree of 6 818 files) and stores the bucket table
//! as counts of one byte (it was offsets of four), and the space they free went to a denser
//! code stream ([`Settings`]), and each document's *layout* (how much of it
//! is whitespace), so a paste that lost whitespace (re-indented) is measured by the visible
//! characters it kept ([`find`]). Version 5 added each document's scale: its characters per unit of its main stream (code
//! tokens, or prose characters without whitespace), so a copy's length is measured on the
//! document's side too ([`find`]: a re-indented or comment-stripped paste of 200 source
//! characters is a 200-character copy). Version 4 added the checks, so one hit whose raw form matches can confirm a short copy that
//! kept its names ([`find`]), fingerprints lists of names (k-grams too low in entropy once
//! blinded) by their raw form ([`winnow`](super::winnow)), and reads `err`, `ok` and `result`
//! as renameable names. Version 3 links the identifiers of a code k-gram that are the same name (Baker's
//! parameterized form, [`winnow`](super::winnow)); version 2 hashed every identifier as one
//! placeholder, and version 1 used SipHash per k-gram. Their code fingerprints mean nothing to
//! this matcher, so both are refused (rebuild the index).
//!
//! A fingerprint is the top 32 bits of a keyed 64-bit k-gram hash. 32 bits are enough because
//! a finding needs several fingerprints of one document close together in the text (a chance
//! hit of one is about `entries / 2^32`, 3·10⁻⁴ for a 100 MB tree), and an entry stores only
//! 16 of them: the bucket table stores the top bits once. With its document and check packed
//! beside them, an entry is 37 bits for a tree of 6 818 files, on disk and in memory. A small
//! index uses fewer bucket bits (about one bucket per 16 entries), so its fingerprints are
//! shorter (`b + 16` bits) but the chance hit per lookup stays about 2⁻¹², and its table stays
//! small. Loading is a bounds-checked copy of the arrays and a prefix sum of the bucket
//! counts, no parsing per entry beyond checking its document. The file never holds text: only
//! the key, the parameters, hashes, document numbers and (with `--names`) document names.

mod build;
mod find;
mod holders;

pub use build::{BuildStats, Builder, Settings, View};
pub use find::{DocumentMatch, FindScratch, RunMeasure, Wanted};

use super::container::{self, IndexError, Reader};
use super::keyed::Key;
use super::winnow::Params;
use crate::engine::scan::fuel_probe::tag;
use holders::Holders;

/// Magic bytes of a documents index.
pub const MAGIC: &[u8; 8] = b"AIRLKDOC";
/// The format version this build reads and writes.
pub const VERSION: u32 = 10;
/// The oldest format version this build reads: 9, the same payload checked by SHA-256.
const OLDEST_READ: u32 = 9;
/// The most bucket bits (the fingerprint's top bits that index the bucket table).
const MAX_BUCKET_BITS: u32 = 16;

/// Bucket bits for an index of `entries`: about one bucket per 16 entries, at most 16 bits.
pub(crate) fn bucket_bits(entries: usize) -> u32 {
    (usize::BITS - (entries / 16).leading_zeros()).min(MAX_BUCKET_BITS)
}
/// `views` bit: the index holds documents read as prose.
pub(crate) const VIEW_PROSE: u8 = 1;
/// `views` bit: the index holds documents read as code.
pub(crate) const VIEW_CODE: u8 = 2;
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
    /// Which views the indexed documents were read in ([`VIEW_PROSE`], [`VIEW_CODE`]).
    views: u8,
    /// Fingerprints stored per document (the denominator of a match's fraction).
    doc_fingerprints: Vec<u32>,
    /// Per document: its [`DocScale`] (how many of its characters a unit stands for).
    doc_scales: Vec<u16>,
    /// Per document: its [`Layout`] (how many of its characters a visible character stands for).
    doc_layouts: Vec<u16>,
    names: Option<Vec<String>>,
    /// `buckets[b]..buckets[b + 1]` are the entries whose fingerprint's top bits are `b`.
    buckets: Vec<u32>,
    bits: u32,
    lows: Vec<u16>,
    /// Per entry: its document and the check of the k-gram selected
    /// ([`Selected::check`](super::winnow::Selected)).
    holders: Holders,
    /// The first entry of each public fingerprint (its hits count only verified), sorted.
    public: Vec<u32>,
}

impl DocumentIndex {
    /// Parses and checks a complete index file.
    pub fn from_bytes(bytes: &[u8]) -> Result<DocumentIndex, IndexError> {
        // Older formats hashed differently: refused, never read as an index that finds nothing.
        tag("doc:open");
        let (_, payload) = container::open_range(bytes, MAGIC, "documents", OLDEST_READ, VERSION)?;
        tag("doc:checked");
        let mut r = Reader::new(payload);
        let key = Key(r.array()?);
        let text = params(&mut r)?;
        let code = params(&mut r)?;
        let comment = params(&mut r)?;
        let views = r.u8()?;
        if views > VIEW_PROSE | VIEW_CODE {
            return Err(IndexError::Malformed("unknown views"));
        }
        // Per document at least a byte of count, a scale and a layout.
        let documents = r.count(5)?;
        let doc_fingerprints = (0..documents)
            .map(|_| r.varint())
            .collect::<Result<Vec<u32>, _>>()?;
        let doc_scales = r.u16s(documents)?;
        let doc_layouts = r.u16s(documents)?;
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
        tag("doc:per-document");
        let entries = r.count(2)?;
        let bits = u32::from(r.u8()?);
        if bits > MAX_BUCKET_BITS {
            return Err(IndexError::Malformed("more than 16 bucket bits"));
        }
        let buckets = read_bucket_counts(&mut r, 1usize << bits)?;
        tag("doc:buckets");
        let lows = r.u16s(entries)?;
        tag("doc:lows");
        let holders = Holders::read(&mut r, entries, documents)?;
        tag("doc:holders");
        let public = r.increasing(entries as u64)?;
        if !r.at_end() {
            return Err(IndexError::Malformed("bytes after the last section"));
        }
        super::buckets::check_partition(&buckets, entries)?;
        tag("doc:loaded");
        Ok(DocumentIndex {
            key,
            text,
            code,
            comment,
            views,
            doc_fingerprints,
            doc_scales,
            doc_layouts,
            names,
            buckets,
            bits,
            lows,
            holders,
            public,
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
        self.names
            .as_ref()?
            .get(document as usize)
            .map(String::as_str)
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
        self.buckets.len() * 4
            + self.lows.len() * 2
            + self.holders.heap_bytes()
            + self.public.len() * 4
            + self.doc_fingerprints.len() * 4
            + self.doc_scales.len() * 2
            + self.doc_layouts.len() * 2
            + names
    }

    /// A document's layout (see [`Layout`]).
    fn doc_layout(&self, document: u32) -> Layout {
        Layout(
            self.doc_layouts
                .get(document as usize)
                .copied()
                .unwrap_or(0),
        )
    }

    /// A document's scale (see [`DocScale`]).
    fn doc_scale(&self, document: u32) -> DocScale {
        DocScale(self.doc_scales.get(document as usize).copied().unwrap_or(0))
    }

    /// The entries of a 64-bit keyed fingerprint: the documents holding it, and the check
    /// stored with each.
    fn lookup(&self, fingerprint: u64) -> Found<'_> {
        let top = (fingerprint >> 32) as u32;
        let (bucket, low) = split(top, self.bits);
        let range = super::buckets::lookup_range(&self.buckets, &self.lows, bucket, low);
        // Only a fingerprint the index holds is looked up in the public list (most are not).
        let public = !range.is_empty()
            && u32::try_from(range.start)
                .is_ok_and(|first| self.public.binary_search(&first).is_ok());
        Found {
            holders: &self.holders,
            range,
            public,
        }
    }
}

/// The entries one fingerprint's lookup found.
#[derive(Debug, Clone)]
pub(crate) struct Found<'a> {
    holders: &'a Holders,
    range: std::ops::Range<usize>,
    /// The fingerprint's blinded shape is public: only verified hits of it count.
    pub(crate) public: bool,
}

impl Found<'_> {
    /// How many documents hold the fingerprint.
    pub(crate) fn len(&self) -> usize {
        self.range.len()
    }

    /// Whether none does.
    pub(crate) fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// Each holder's (document, check).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.range.clone().filter_map(|i| self.holders.get(i))
    }
}

/// How many characters of a document one unit of its main stream stands for, and whether that
/// stream is code (tokens) or prose (characters without whitespace). Stored as a `u16`: bit 15
/// is the code flag, bits 0–14 the characters per unit in 64ths (0: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DocScale(pub(crate) u16);

impl DocScale {
    const CODE: u16 = 1 << 15;
    /// Fixed-point denominator of the characters per unit.
    const ONE: u64 = 64;

    /// The scale of a document of `chars` characters read as `units` units, code or prose.
    pub(crate) fn of(chars: usize, units: usize, code: bool) -> DocScale {
        let per_unit = (chars as u64 * Self::ONE)
            .checked_div(units as u64)
            .unwrap_or(0)
            .min(u64::from(Self::CODE - 1)) as u16;
        DocScale(per_unit | if code { Self::CODE } else { 0 })
    }

    /// Whether the document's main stream is code tokens.
    pub(crate) fn is_code(self) -> bool {
        self.0 & Self::CODE != 0
    }

    /// The document's characters that `units` units of its main stream stand for.
    pub(crate) fn chars(self, units: usize) -> usize {
        (units as u64 * u64::from(self.0 & !Self::CODE) / Self::ONE) as usize
    }
}

/// How many characters of a document one of its visible characters (not whitespace) stands for:
/// its characters over its visible characters, in 64ths (0: unknown), at most [`Layout::MOST`].
/// A re-indented or CRLF paste keeps every visible character and loses or gains whitespace, so
/// its visible characters times its document's layout are the source's characters it
/// reproduces. Capped so that a document of aligned tables or deep indentation does not
/// credit a short paste with a long copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout(pub(crate) u16);

impl Layout {
    /// Fixed-point denominator.
    const ONE: u64 = 64;
    /// The largest layout stored: two characters per visible one.
    const MOST: u64 = 2 * Self::ONE;

    /// The layout of a document of `chars` characters, `visible` of them not whitespace.
    pub(crate) fn of(chars: usize, visible: usize) -> Layout {
        Layout(
            (chars as u64 * Self::ONE)
                .checked_div(visible as u64)
                .unwrap_or(0)
                .min(Self::MOST) as u16,
        )
    }

    /// The document's characters that `visible` visible characters stand for (0 if unknown).
    pub(crate) fn chars(self, visible: usize) -> usize {
        (visible as u64 * u64::from(self.0) / Self::ONE) as usize
    }
}

/// A 32-bit fingerprint's bucket (its top `bits` bits) and low part (the next 16 bits).
fn split(top: u32, bits: u32) -> (usize, u16) {
    let bucket = top.checked_shr(32 - bits).unwrap_or(0) as usize;
    let low = (top >> (16 - bits.min(16))) as u16;
    (bucket, low)
}

/// Reads `buckets` LEB128 bucket counts into the offsets table `lookup` uses (`buckets + 1`
/// offsets from 0). A bucket holds about 16 entries, so its count is one byte where a stored
/// offset was four (the crate tree's table: 256 KB → 64 KB, 3 % of the index).
fn read_bucket_counts(r: &mut Reader<'_>, buckets: usize) -> Result<Vec<u32>, IndexError> {
    let mut offsets = Vec::with_capacity(buckets + 1);
    let mut offset = 0u32;
    offsets.push(offset);
    for _ in 0..buckets {
        let count = r.varint()?;
        offset = offset
            .checked_add(count)
            .ok_or(IndexError::Malformed("bucket counts overflow"))?;
        offsets.push(offset);
    }
    Ok(offsets)
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

/// What an index stores per document, one value each, in document order.
pub(crate) struct PerDocument<'a> {
    /// Fingerprints stored.
    pub(crate) fingerprints: &'a [u32],
    /// [`DocScale`]s.
    pub(crate) scales: &'a [u16],
    /// [`Layout`]s.
    pub(crate) layouts: &'a [u16],
}

/// Writes an index file from (32-bit fingerprint, document, check) entries, sorted and
/// deduplicated by fingerprint and document; `public` lists the first entry of each public
/// fingerprint, sorted.
fn encode(
    key: &Key,
    streams: [Params; 3],
    views: u8,
    documents: PerDocument<'_>,
    names: Option<&[String]>,
    entries: &[(u32, u32, u8)],
    public: &[u32],
) -> Vec<u8> {
    let PerDocument {
        fingerprints: doc_fingerprints,
        scales: doc_scales,
        layouts: doc_layouts,
    } = documents;
    let bits = bucket_bits(entries.len());
    let buckets = 1usize << bits;
    let mut p = Vec::with_capacity(64 + buckets * 4 + entries.len() * 6);
    p.extend_from_slice(&key.0);
    for s in streams {
        for v in [s.k, s.w, s.min_distinct] {
            p.extend_from_slice(&(v as u32).to_le_bytes());
        }
    }
    p.push(views);
    p.extend_from_slice(&(doc_fingerprints.len() as u32).to_le_bytes());
    for &n in doc_fingerprints {
        container::write_varint(n, &mut p);
    }
    for s in doc_scales.iter().chain(doc_layouts) {
        p.extend_from_slice(&s.to_le_bytes());
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
    p.push(bits as u8);
    let mut next = entries.iter().peekable();
    for bucket in 0..buckets {
        let mut count = 0u32;
        while next
            .peek()
            .is_some_and(|&&(fp, _, _)| split(fp, bits).0 == bucket)
        {
            next.next();
            count += 1;
        }
        container::write_varint(count, &mut p);
    }
    for &(fp, _, _) in entries {
        p.extend_from_slice(&split(fp, bits).1.to_le_bytes());
    }
    Holders::write(
        doc_fingerprints.len(),
        entries.iter().map(|&(_, doc, check)| (doc, check)),
        &mut p,
    );
    container::write_increasing(public, &mut p);
    container::seal(MAGIC, VERSION, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random program of `lines` lines: distinct enough to be protected.
    fn program(seed: u64, lines: usize) -> String {
        let mut x = seed;
        let mut out = String::new();
        for i in 0..lines {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let op = ["+", "-", "*", "^", "|"][(x % 5) as usize];
            let call = ["push", "insert", "extend", "retain"][(x / 5 % 4) as usize];
            out.push_str(&format!(
                "    let v{i} = w{}.{call}(x{} {op} {}, \"k{}\"); // step {i}\n",
                x % 97,
                x % 13,
                x % 1000,
                x % 31
            ));
        }
        out
    }

    fn index(names: bool) -> (Vec<u8>, String, String) {
        let a = program(1, 200);
        let b = program(2, 200);
        let mut builder = Builder::new(Key([3; 16]), Settings::default());
        builder.add_document("src/secret_a.rs", a.as_bytes(), View::Code);
        builder.add_document("docs/b.rs", b.as_bytes(), View::Code);
        let (file, stats) = builder.finish(names);
        assert_eq!(stats.documents, 2);
        assert!(stats.entries > 50);
        (file, a, b)
    }

    #[test]
    fn a_copy_is_found_with_its_span_and_unrelated_text_is_not() {
        let (file, a, _) = index(false);
        let idx = DocumentIndex::from_bytes(&file).unwrap();
        let copied: String = a.lines().skip(50).take(30).collect::<Vec<_>>().join("\n");
        let prompt = format!("Why is this slow?\n{copied}\nThanks!");
        let found = idx.find(prompt.as_bytes(), 200, &mut FindScratch::default());
        assert_eq!(found.first().map(|m| m.document), Some(0), "{found:?}");
        let m = &found[0];
        assert!(
            m.matched_chars >= 200 && m.fraction > 0.0 && m.fraction < 0.5,
            "{m:?}"
        );
        let start = prompt.find("let").unwrap();
        assert!(
            m.span.start >= start && m.span.end <= start + copied.len() + 1,
            "{m:?}"
        );
        let renamed = copied
            .replace("w", "q")
            .replace("let v", "let value_")
            .replace("    ", "\t");
        assert!(!idx
            .find(renamed.as_bytes(), 200, &mut FindScratch::default())
            .is_empty());
        let other: String = (0..40)
            .map(|i| {
                format!(
                    "fn f{i}(a: u32) -> u32 {{ a * {} }} // twice {i}\n",
                    i * 7919 % 1000
                )
            })
            .collect();
        assert!(idx
            .find(other.as_bytes(), 200, &mut FindScratch::default())
            .is_empty());
        let short: String = a.lines().skip(10).take(2).collect();
        assert!(idx
            .find(short.as_bytes(), 200, &mut FindScratch::default())
            .is_empty());
    }

    /// Adds enough small documents that one verified hit may be a finding
    /// (`MIN_DOCUMENTS_FOR_SINGLE_HITS`).
    fn pad(builder: &mut Builder) {
        // With the protected document: exactly `MIN_DOCUMENTS_FOR_SINGLE_HITS`.
        for i in 0..99 {
            builder.add_document(
                &format!("pad{i}.rs"),
                program(1000 + i, 2).as_bytes(),
                View::Code,
            );
        }
    }

    /// An index of `a` among 99 padding programs (enough documents for one verified
    /// fingerprint to be a finding).
    fn padded_index_of(a: &str) -> DocumentIndex {
        let mut builder = Builder::new(Key([3; 16]), Settings::default());
        builder.add_document("src/secret_a.rs", a.as_bytes(), View::Code);
        pad(&mut builder);
        DocumentIndex::from_bytes(&builder.finish(false).0).unwrap()
    }

    #[test]
    fn one_verified_fingerprint_finds_a_short_copy_that_kept_its_names() {
        let a = program(1, 200);
        let idx = padded_index_of(&a);
        let lines: Vec<&str> = a.lines().collect();
        let mut scratch = FindScratch::default();
        let (mut kept, mut renamed, mut too_short) = (0, 0, 0);
        let exact = Wanted {
            min_chars: 100,
            renamed: false,
        };
        let (mut kept_exact, mut renamed_exact) = (0, 0);
        for start in 0..150 {
            // Three lines: about 42 tokens, so one or two selected k-grams of 14 (a check covers
            // a k-gram and the 7 tokens after it, so most of them can verify).
            let copy = lines[start..start + 3].join("\n");
            kept += usize::from(!idx.find(copy.as_bytes(), 100, &mut scratch).is_empty());
            let other = copy.replace('w', "q").replace("let v", "let value_");
            renamed += usize::from(!idx.find(other.as_bytes(), 100, &mut scratch).is_empty());
            // Four lines without renamed copies wanted: the names are the evidence.
            let copy = lines[start..start + 4].join("\n");
            kept_exact += usize::from(
                !idx.find_with(copy.as_bytes(), exact, &mut scratch)
                    .is_empty(),
            );
            let other = copy.replace('w', "q").replace("let v", "let value_");
            renamed_exact += usize::from(
                !idx.find_with(other.as_bytes(), exact, &mut scratch)
                    .is_empty(),
            );
            // Less text than `min_chars` is never a finding, however it verifies.
            let line = lines[start];
            too_short += idx.find(line.as_bytes(), 100, &mut scratch).len();
        }
        assert!(
            kept > renamed + 10,
            "kept names {kept}, renamed {renamed} of 150"
        );
        // An index of a few files keeps their idioms: one verified hit is no finding there.
        let mut builder = Builder::new(Key([3; 16]), Settings::default());
        builder.add_document("src/secret_a.rs", a.as_bytes(), View::Code);
        let few = DocumentIndex::from_bytes(&builder.finish(false).0).unwrap();
        let kept_few = (0..150)
            .filter(|&start| {
                let copy = lines[start..start + 3].join("\n");
                !few.find(copy.as_bytes(), 100, &mut scratch).is_empty()
            })
            .count();
        assert!(
            kept_few + 10 < kept,
            "one document: {kept_few}, a hundred: {kept} of 150"
        );
        assert!(
            kept_exact >= 120 && renamed_exact <= 5,
            "exact: kept names {kept_exact}, renamed {renamed_exact} of 150"
        );
        assert_eq!(too_short, 0);
    }

    #[test]
    fn a_verified_public_shape_is_never_a_finding_alone() {
        use crate::protected::public_shapes::ShapeCounter;
        let a = program(1, 200);
        let mut counter = ShapeCounter::new(Settings::default().code, Settings::default().comment);
        for to in ["p", "q", "r"] {
            counter.next_project();
            counter.add_file(
                a.replace('w', to)
                    .replace("let v", &format!("let {to}_"))
                    .as_bytes(),
            );
        }
        let plain = padded_index_of(&a);
        let mut builder = Builder::new(Key([3; 16]), Settings::default());
        assert!(builder.mark_public_shapes(counter.finish(3, 3)));
        builder.add_document("src/secret_a.rs", a.as_bytes(), View::Code);
        pad(&mut builder);
        let public = DocumentIndex::from_bytes(&builder.finish(false).0).unwrap();
        let lines: Vec<&str> = a.lines().collect();
        let mut scratch = FindScratch::default();
        let mut found = |idx: &DocumentIndex, n: usize| {
            (0..150)
                .filter(|&start| {
                    let copy = lines[start..start + n].join("\n");
                    !idx.find(copy.as_bytes(), 100, &mut scratch).is_empty()
                })
                .count()
        };
        // Three lines hold one or two verifiable fingerprints: as public shapes, one is not
        // enough. Twelve lines hold several, and a copy of them is found either way.
        let (plain_short, public_short) = (found(&plain, 3), found(&public, 3));
        assert!(
            public_short + 40 < plain_short,
            "three lines: {public_short} public, {plain_short} plain of 150"
        );
        assert!(found(&public, 12) >= 145);
    }

    /// A comment paragraph of `words` made-up words from `seed`, as `//` lines.
    fn remark(seed: u64, words: usize) -> String {
        let vocabulary = [
            "lattice",
            "widget",
            "council",
            "ordering",
            "parent",
            "node",
            "sees",
            "first",
            "follows",
            "guidance",
            "frobnicator",
            "settings",
            "below",
            "every",
            "stable",
        ];
        let mut x = seed;
        let mut line = String::from("//");
        let mut out = String::new();
        for i in 0..words {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            line.push(' ');
            line.push_str(vocabulary[(x % vocabulary.len() as u64) as usize]);
            if i % 10 == 9 {
                out.push_str(&line);
                out.push('\n');
                line = String::from("//");
            }
        }
        out.push_str(&line);
        out.push('\n');
        out
    }

    #[test]
    fn text_public_projects_share_as_written_is_not_protected() {
        use crate::protected::public_shapes::ShapeCounter;
        // Code and a comment that three public projects share word for word, each beside code
        // of its own; the protected document holds them beside its own code.
        let (shared, notice) = (program(7, 60), remark(11, 80));
        let mut counter = ShapeCounter::new(Settings::default().code, Settings::default().comment);
        for project in 0..3 {
            counter.next_project();
            let own = program(20 + project, 60);
            counter.add_file(format!("{notice}{shared}{own}").as_bytes());
        }
        let table = counter.finish(3, 3);
        assert!(table.written_len().0 > 0 && table.written_len().1 > 0);
        let secret = program(1, 200);
        let document = format!("{notice}{shared}{secret}");
        let plain = padded_index_of(&document);
        let mut builder = Builder::new(Key([3; 16]), Settings::default());
        assert!(builder.mark_public_shapes(table));
        builder.add_document("src/secret_a.rs", document.as_bytes(), View::Code);
        pad(&mut builder);
        let (file, stats) = builder.finish(false);
        assert!(stats.dropped_public_text > 0);
        let public = DocumentIndex::from_bytes(&file).unwrap();
        let mut scratch = FindScratch::default();
        let mut found = |idx: &DocumentIndex, text: &str| {
            let lines: Vec<&str> = text.lines().collect();
            (0..lines.len().saturating_sub(12))
                .filter(|&start| {
                    let copy = lines[start..start + 12].join("\n");
                    !idx.find(copy.as_bytes(), 200, &mut scratch).is_empty()
                })
                .count()
        };
        // The shared code: found without the table, never with it.
        let (plain_shared, public_shared) = (found(&plain, &shared), found(&public, &shared));
        assert!(plain_shared >= 40, "{plain_shared} of 48 without the table");
        assert_eq!(public_shared, 0, "shared code found with the table");
        // The shared comment, pasted alone: the same.
        let mut scratch = FindScratch::default();
        assert!(!plain.find(notice.as_bytes(), 200, &mut scratch).is_empty());
        assert!(public.find(notice.as_bytes(), 200, &mut scratch).is_empty());
        // The document's own code is found as before.
        let own_region = secret.lines().take(160).collect::<Vec<_>>().join("\n");
        let (plain_own, public_own) = (found(&plain, &own_region), found(&public, &own_region));
        assert!(
            public_own + 2 >= plain_own && public_own >= 140,
            "{public_own} / {plain_own}"
        );
    }

    /// `use` lines of `names` (under `module`), one per line, in an order `seed` shuffles: a
    /// list (names alone once blinded).
    fn imports(module: &str, names: &[&str], seed: usize) -> String {
        let mut order: Vec<usize> = (0..names.len()).collect();
        let mut x = seed as u64 | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        order
            .iter()
            .map(|&i| format!("use {module}::{};\n", names[i]))
            .collect()
    }

    #[test]
    fn a_list_of_common_names_is_never_found_alone() {
        use crate::protected::public_shapes::ShapeCounter;
        let common = [
            "Ordering",
            "Debug",
            "Display",
            "Formatter",
            "Cow",
            "Arc",
            "Mutex",
            "HashMap",
            "BTreeMap",
            "RefCell",
            "PhantomData",
            "NonNull",
            "Duration",
            "Instant",
        ];
        let rare = [
            "SettlementBatch",
            "ExposureLimit",
            "ShadowLedger",
            "DriftLog",
            "NettingRule",
            "WatchList",
            "TierClose",
            "NightlyCap",
            "RiskDesk",
            "BasisPoint",
            "GrossLeg",
            "ReplayWindow",
            "QuarterlyReview",
            "CounterpartyId",
        ];
        // Three public projects use the common names, each in its own order: no k-gram as
        // written is shared, only the names are.
        let mut counter = ShapeCounter::new(Settings::default().code, Settings::default().comment);
        for project in 0..3 {
            counter.next_project();
            let own = program(20 + project, 30);
            let uses = imports("std::x", &common, 40 + project as usize);
            counter.add_file(format!("{uses}{own}").as_bytes());
        }
        let table = counter.finish(3, 3);
        let common_block = imports("std::x", &common, 7);
        let rare_block = imports("acme::x", &rare, 7);
        let document = format!("{common_block}{rare_block}{}", program(1, 60));
        let mut builder = Builder::new(Key([3; 16]), Settings::default());
        assert!(builder.mark_public_shapes(table));
        builder.add_document("src/secret_a.rs", document.as_bytes(), View::Code);
        pad(&mut builder);
        let (file, stats) = builder.finish(false);
        assert!(stats.marked_public > 0);
        let marked = DocumentIndex::from_bytes(&file).unwrap();
        let plain = padded_index_of(&document);
        let mut scratch = FindScratch::default();
        // Every run of 8 to 14 of the 14 lines.
        let pastes = |block: &str| -> Vec<String> {
            let lines: Vec<&str> = block.lines().collect();
            let runs = (8..=lines.len()).flat_map(|n| (0..=lines.len() - n).map(move |s| (s, n)));
            runs.map(|(s, n)| lines[s..s + n].join("\n")).collect()
        };
        let mut explained = |idx: &DocumentIndex, paste: &str| {
            let run = idx.explain(paste.as_bytes(), 0, &mut scratch);
            run.map(|r| (r.distinct, r.public_distinct))
        };
        // The common list's fingerprints are all marked public with the table (so one alone
        // is never a finding, see `judge`), none without it.
        for paste in pastes(&common_block) {
            let (Some((n, public)), Some((plain_n, plain_public))) =
                (explained(&marked, &paste), explained(&plain, &paste))
            else {
                panic!("the list is not in the index: {paste}");
            };
            assert_eq!((public, plain_public), (n, 0), "{paste}");
            assert_eq!(n, plain_n);
        }
        // A list holding rare names is not marked.
        let runs: Vec<_> = pastes(&rare_block)
            .iter()
            .filter_map(|paste| explained(&marked, paste))
            .collect();
        assert!(!runs.is_empty() && runs.iter().all(|&(n, public)| n > 0 && public == 0));
    }

    #[test]
    fn a_stripped_paste_is_measured_by_the_source_it_reproduces() {
        let a = program(1, 200);
        let idx = padded_index_of(&a);
        let lines: Vec<&str> = a.lines().collect();
        let mut scratch = FindScratch::default();
        let (mut found, mut tiny) = (0, 0);
        for start in 0..150 {
            // Four lines of source (about 280 characters), pasted without their comments and
            // indentation: about 170 characters, under `min_chars` as text.
            let source = lines[start..start + 4].join("\n");
            let pasted: String = lines[start..start + 4]
                .iter()
                .map(|l| l.split(" //").next().unwrap_or("").trim())
                .collect::<Vec<_>>()
                .join("\n");
            assert!(source.len() >= 200 && pasted.len() < 200, "{pasted}");
            found += usize::from(!idx.find(pasted.as_bytes(), 200, &mut scratch).is_empty());
            // Under half of `min_chars` is never a finding, whatever it reproduces.
            let line = lines[start].split(" //").next().unwrap_or("").trim();
            tiny += idx.find(line.as_bytes(), 100, &mut scratch).len();
        }
        assert!(
            found >= 130,
            "found {found} of 150 (98 measured on the text alone)"
        );
        assert_eq!(tiny, 0);
    }

    /// A comment line of made-up words (seeded, so documents differ unless they share a seed).
    fn comment_line(seed: usize) -> String {
        const WORDS: [&str; 16] = [
            "ledger", "quota", "shard", "replay", "drift", "beacon", "vault", "cursor", "batch",
            "lease", "epoch", "tenant", "window", "ticket", "mirror", "tally",
        ];
        let words: Vec<&str> = (0..9)
            .map(|j| WORDS[(seed * 7 + j * j * 3 + seed / 5 * j) % 16])
            .collect();
        format!("    // {}\n", words.join(" "))
    }

    #[test]
    fn a_re_indented_paste_is_measured_with_the_whitespace_of_its_document() {
        // Comment lines between calls, indented by `indent`, pasted without indentation: the
        // layout measure gives the paste its document's whitespace back.
        let file_text = |indent: &str| -> String {
            (0..60)
                .map(|i| {
                    let comment = comment_line(i);
                    format!("{indent}{}\n{indent}step_{i}(ctx);\n", comment.trim())
                })
                .collect()
        };
        // Text-side length and layout length of pastes of `indent`-indented lines.
        let measured = |indent: &str| -> (usize, usize) {
            let text = file_text(indent);
            let mut builder = Builder::new(Key([9; 16]), Settings::default());
            builder.add_document("src/own.rs", text.as_bytes(), View::Code);
            pad(&mut builder);
            let idx = DocumentIndex::from_bytes(&builder.finish(false).0).unwrap();
            let mut scratch = FindScratch::default();
            let lines: Vec<&str> = text.lines().collect();
            let (mut text_side, mut layout, mut runs) = (0, 0, 0);
            for start in (0..50).step_by(2) {
                let pasted: String = lines[start..start + 4]
                    .iter()
                    .map(|l| format!("{}\n", l.trim()))
                    .collect();
                if let Some(m) = idx.explain(pasted.as_bytes(), 0, &mut scratch) {
                    text_side += m.extent + m.slack_chars;
                    layout += idx.layout_chars(pasted.as_bytes(), &m);
                    runs += 1;
                }
            }
            assert!(runs >= 15, "{runs} of 25 pastes hit their document");
            (text_side, layout)
        };
        // 16 spaces before lines of 12 to 60 characters: about 1.5 characters per visible one.
        let (text_side, layout) = measured(&" ".repeat(16));
        assert!(
            layout * 10 >= text_side * 14 && layout * 10 <= text_side * 20,
            "indented: text side {text_side}, layout {layout}"
        );
        // Unindented, the paste has its document's whitespace: about the text's side.
        let (text_side, layout) = measured("");
        assert!(
            layout * 10 <= text_side * 11 && layout * 10 >= text_side * 8,
            "unindented: text side {text_side}, layout {layout}"
        );
    }

    #[test]
    fn one_rare_comment_kgram_finds_a_short_copy_and_a_shared_one_does_not() {
        // Comments between code lines; comment lines 0..40 are this file's own, lines 40..80
        // are in five documents (more than may verify one hit).
        let file_text = |from: usize| -> String {
            (from..from + 40)
                .map(|i| format!("{}    step_{i}(ctx);\n", comment_line(i)))
                .collect()
        };
        let mut builder = Builder::new(Key([9; 16]), Settings::default());
        builder.add_document("src/own.rs", file_text(0).as_bytes(), View::Code);
        for copy in 0..5 {
            builder.add_document(
                &format!("src/shared{copy}.rs"),
                file_text(40).as_bytes(),
                View::Code,
            );
        }
        pad(&mut builder);
        let idx = DocumentIndex::from_bytes(&builder.finish(false).0).unwrap();
        let mut scratch = FindScratch::default();
        // Findings on one fingerprint alone (two are a finding without any verification).
        let mut single_findings = |copy: String, document: u32| {
            let found = !idx.find(copy.as_bytes(), 100, &mut scratch).is_empty();
            let run = idx.explain(copy.as_bytes(), document, &mut scratch);
            usize::from(found && run.is_some_and(|m| m.distinct == 1))
        };
        let (mut own, mut shared) = (0, 0);
        for start in 0..38 {
            // Two comment lines: 18 words, one or two selected k-grams of 8.
            own += single_findings(
                format!("{}{}", comment_line(start), comment_line(start + 1)),
                0,
            );
            shared += single_findings(
                format!("{}{}", comment_line(start + 40), comment_line(start + 41)),
                1,
            );
        }
        assert!(
            own >= 12,
            "own comments found on one fingerprint {own} of 38"
        );
        assert_eq!(shared, 0, "comments held by five documents");
    }

    #[test]
    fn two_overlapping_blinded_kgrams_are_a_shared_shape_not_a_copy() {
        let (file, a, _) = index(false);
        let idx = DocumentIndex::from_bytes(&file).unwrap();
        let k = Settings::default().code.k;
        let filler = |from: usize| -> String {
            (from..from + 4)
                .map(|i| format!("fn f{i}(a: u32) -> u32 {{ a * {} }}\n", i * 7919 % 1000))
                .collect()
        };
        let mut scratch = FindScratch::default();
        let (mut pairs, mut renamed_found) = (0, 0);
        let lines: Vec<&str> = a.lines().collect();
        for (n, pair) in lines.windows(2).enumerate() {
            // A line and the next one's first five tokens, renamed: 19 tokens, so at most six
            // k-grams of 14 in common, all overlapping, and nothing verifies.
            let Some((next, _)) = pair[1].split_once('.') else {
                continue;
            };
            let shape = format!("{}\n{next}.", pair[0]);
            let renamed = shape.replace('w', "q").replace("let v", "let value_");
            let text = format!("{}{renamed}\n{}", filler(n), filler(n + 100));
            let Some(m) = idx.explain(text.as_bytes(), 0, &mut scratch) else {
                continue;
            };
            let blinded = m.verified_distinct == 0 && m.per_stream[0] == 0;
            // Two k-grams overlapping by more than half of one.
            if blinded && m.distinct == 2 && m.code_units < k + k / 2 {
                // The slack alone would have credited it with a copy of `min_chars`.
                assert!(m.copied_chars() >= 100, "{m:?}");
                pairs += 1;
                let found = idx.find(text.as_bytes(), 100, &mut scratch);
                assert!(found.is_empty(), "line {n}: {found:?}");
            }
            // Six lines renamed (84 tokens, about 300 characters) are still a renamed copy.
            if let Some(lines) = lines.get(n..n + 6) {
                let copy = lines
                    .join("\n")
                    .replace('w', "q")
                    .replace("let v", "let value_");
                let text = format!("{}{copy}\n{}", filler(n), filler(n + 100));
                renamed_found +=
                    usize::from(!idx.find(text.as_bytes(), 100, &mut scratch).is_empty());
            }
        }
        assert!(pairs >= 5, "only {pairs} lines matched by two fingerprints");
        // 92 of 194 without the rule too: it takes nothing from copies this long.
        assert!(
            renamed_found >= 85,
            "renamed six-line copies found: {renamed_found} of 194"
        );
    }

    #[test]
    fn a_table_of_every_byte_in_order_is_public() {
        // Two generated tables, one row per byte with the byte's repr as a comment, in two
        // languages and with different values: alike only in the bytes' order.
        let row = |b: u8, value: u64, comment: &str| -> String {
            let repr = match b {
                0..=0x1f | 0x7f..=0xa0 | 0xad => format!("'\\x{b:02x}'"),
                b'\'' | b'\\' => "'?'".to_owned(),
                _ => format!("'{}'", char::from(b)),
            };
            format!("    {value}, {comment} {repr}\n")
        };
        let python: String = (0..=255u8)
            .map(|b| row(b, u64::from(b) * 7919 % 251, "#"))
            .collect();
        let rust: String = (0..=255u8)
            .map(|b| row(b, u64::from(b) * 104_729 % 241, "//"))
            .collect();
        let mut builder = Builder::new(Key([3; 16]), Settings::default());
        builder.add_document(
            "model.py",
            format!("MODEL = (\n{python})\n").as_bytes(),
            View::Code,
        );
        let idx = DocumentIndex::from_bytes(&builder.finish(false).0).unwrap();
        let pasted = format!("static RANK: [u8; 256] = [\n{rust}];\n");
        let found = idx.find(pasted.as_bytes(), 200, &mut FindScratch::default());
        assert!(found.is_empty(), "{found:?}");
        // The bytes in order as hex numbers, eight to a line.
        let hex = |indent: &str| -> String {
            (0..=255u8)
                .collect::<Vec<_>>()
                .chunks(8)
                .map(|row| {
                    let row: Vec<String> = row.iter().map(|b| format!("0x{b:02x},")).collect();
                    format!("{indent}{}\n", row.join(" "))
                })
                .collect()
        };
        let mut builder = Builder::new(Key([3; 16]), Settings::default());
        let python = format!("IDENTITY = (\n{})\n", hex("    "));
        builder.add_document("map.py", python.as_bytes(), View::Code);
        let idx = DocumentIndex::from_bytes(&builder.finish(false).0).unwrap();
        let pasted = format!("const IDENTITY: [u8; 256] = [\n{}];\n", hex("\t"));
        let found = idx.find(pasted.as_bytes(), 200, &mut FindScratch::default());
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn lists_of_names_are_found_by_their_names_and_not_once_renamed() {
        // Blinded, every line is `_(_, _, _, _);`: too little entropy to fingerprint.
        let list: String = (0..160)
            .map(|i| format!("register(alpha_{i}, beta_{i}, gamma_{i}, delta_{i});\n"))
            .collect();
        let mut builder = Builder::new(Key([5; 16]), Settings::default());
        builder.add_document("registry.rs", list.as_bytes(), View::Code);
        pad(&mut builder);
        let (file, stats) = builder.finish(false);
        assert!(stats.entries > 20, "{stats:?}");
        let idx = DocumentIndex::from_bytes(&file).unwrap();
        let mut scratch = FindScratch::default();
        let lines: Vec<&str> = list.lines().collect();
        let (mut found, mut renamed_found) = (0, 0);
        for start in (0..150).step_by(10) {
            let copy = lines[start..start + 6].join("\n");
            assert!(copy.len() >= 200);
            found += usize::from(!idx.find(copy.as_bytes(), 200, &mut scratch).is_empty());
            let renamed = copy.replace("alpha_", "first_").replace("beta_", "second_");
            renamed_found += idx.find(renamed.as_bytes(), 200, &mut scratch).len();
        }
        assert!(found >= 13, "{found} of 15");
        assert_eq!(renamed_found, 0);
    }

    #[test]
    fn a_text_folded_by_the_caller_finds_what_find_finds() {
        let (file, a, _) = index(false);
        let idx = DocumentIndex::from_bytes(&file).unwrap();
        let copied: String = a.lines().skip(20).take(30).collect::<Vec<_>>().join("\n");
        // Fullwidth letters: folding changes the text, so spans must map back through it.
        let prompt = format!("Ｗｈｙ is this slow?\n{copied}\nThanks!");
        let mut scratch = FindScratch::default();
        let direct = idx.find(prompt.as_bytes(), 200, &mut scratch);
        assert!(!direct.is_empty());
        let mut folder = crate::protected::fold::Folder::new();
        let folded = folder.fold(prompt.as_bytes());
        let shared = idx.find_folded(prompt.as_bytes(), &folded, Wanted::chars(200), &mut scratch);
        assert_eq!(direct, shared);
    }

    #[test]
    fn the_file_holds_no_text_and_names_only_when_asked() {
        let (numbered, a, _) = index(false);
        let (named, _, _) = index(true);
        let needle = a.lines().nth(3).unwrap().trim().as_bytes().to_vec();
        for file in [&numbered, &named] {
            assert!(!file.windows(needle.len()).any(|w| w == needle.as_slice()));
            assert!(!file.windows(5).any(|w| w == b"step "));
        }
        assert!(!numbered.windows(9).any(|w| w == b"secret_a."));
        assert!(named.windows(9).any(|w| w == b"secret_a."));
        let idx = DocumentIndex::from_bytes(&named).unwrap();
        assert_eq!(idx.name(0), Some("src/secret_a.rs"));
        assert_eq!(DocumentIndex::from_bytes(&numbered).unwrap().name(0), None);
    }

    #[test]
    fn a_public_shape_is_found_as_written_and_not_renamed() {
        use crate::protected::public_shapes::ShapeCounter;
        let a = program(1, 200);
        let rename = |text: &str, to: &str| {
            text.replace('w', to)
                .replace("let v", &format!("let {to}_"))
                .replace('x', &format!("{to}x"))
        };
        // Three public projects with `a`'s shapes under other names (not `a` itself).
        let mut counter = ShapeCounter::new(Settings::default().code, Settings::default().comment);
        for to in ["p", "q", "r"] {
            counter.next_project();
            counter.add_file(rename(&a, to).as_bytes());
        }
        let table = counter.finish(3, 3);
        let build = |table: Option<crate::protected::public_shapes::PublicShapes>| {
            let mut builder = Builder::new(Key([3; 16]), Settings::default());
            if let Some(table) = table {
                assert!(builder.mark_public_shapes(table));
            }
            builder.add_document("src/secret_a.rs", a.as_bytes(), View::Code);
            builder.add_document("docs/b.rs", program(2, 200).as_bytes(), View::Code);
            let (file, stats) = builder.finish(false);
            (DocumentIndex::from_bytes(&file).unwrap(), stats)
        };
        let (plain, plain_stats) = build(None);
        let (marked, stats) = build(Some(table));
        assert_eq!(plain_stats.marked_public, 0);
        assert!(stats.marked_public > 20, "{stats:?}");
        let copied: String = a.lines().skip(50).take(30).collect::<Vec<_>>().join("\n");
        let renamed = rename(&copied, "s");
        let mut scratch = FindScratch::default();
        for idx in [&plain, &marked] {
            let found = idx.find(copied.as_bytes(), 200, &mut scratch);
            assert_eq!(found.first().map(|m| m.document), Some(0), "{found:?}");
        }
        assert!(!plain.find(renamed.as_bytes(), 200, &mut scratch).is_empty());
        assert!(marked
            .find(renamed.as_bytes(), 200, &mut scratch)
            .is_empty());
    }

    #[test]
    fn damaged_files_are_refused() {
        let (file, _, _) = index(false);
        let mut tampered = file.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0x40;
        assert_eq!(
            DocumentIndex::from_bytes(&tampered).unwrap_err(),
            IndexError::Checksum
        );
        assert!(matches!(
            DocumentIndex::from_bytes(&file[..file.len() - 10]),
            Err(IndexError::Truncated { .. })
        ));
        let mut newer = file.clone();
        newer[8] = 11;
        assert!(matches!(
            DocumentIndex::from_bytes(&newer),
            Err(IndexError::UnsupportedVersion { found: 11, .. })
        ));
        // Format 9 is format 10 checked by SHA-256: it reads, to the same index.
        let payload = &file[container::HEADER_LEN..];
        let mut v9 = container::seal(MAGIC, 9, payload);
        v9[12..16].copy_from_slice(&0u32.to_le_bytes());
        v9[24..56].copy_from_slice(&container::Checksum::Sha256.digest(payload));
        let (old, new) = (
            DocumentIndex::from_bytes(&v9).unwrap(),
            DocumentIndex::from_bytes(&file).unwrap(),
        );
        assert_eq!(
            (old.entries(), old.documents()),
            (new.entries(), new.documents())
        );
        // Formats 6 and 7 had other checks: their files would verify nothing, so they are
        // refused; format 8 stored counts otherwise.
        for old in [1, 2, 3, 4, 5, 6, 7, 8] {
            let mut older = file.clone();
            older[8] = old;
            assert!(matches!(
                DocumentIndex::from_bytes(&older),
                Err(IndexError::UnsupportedVersion { found, .. }) if found == u32::from(old)
            ));
        }
        assert!(matches!(
            DocumentIndex::from_bytes(b""),
            Err(IndexError::WrongMagic { .. })
        ));
        let records = crate::protected::records::Builder::new(Key([1; 16]), &["a"], &[])
            .finish()
            .0;
        assert!(matches!(
            DocumentIndex::from_bytes(&records),
            Err(IndexError::WrongMagic { .. })
        ));
    }

    #[test]
    fn bucket_counts_read_back_as_offsets_and_overflow_is_refused() {
        let counts = [0u32, 1, 127, 128, 300, 16_383, 16_384, 1 << 21, 5];
        let mut file = Vec::new();
        for &c in &counts {
            container::write_varint(c, &mut file);
        }
        let offsets = read_bucket_counts(&mut Reader::new(&file), counts.len()).unwrap();
        let mut sum = 0;
        let expected: Vec<u32> = std::iter::once(0)
            .chain(counts.iter().map(|&c| {
                sum += c;
                sum
            }))
            .collect();
        assert_eq!(offsets, expected);
        // Truncated, a count past 32 bits, and a sum past 32 bits.
        assert!(
            read_bucket_counts(&mut Reader::new(&file[..file.len() - 1]), counts.len()).is_err()
        );
        let huge = [0xFF, 0xFF, 0xFF, 0xFF, 0x7F];
        assert!(read_bucket_counts(&mut Reader::new(&huge), 1).is_err());
        let mut two = Vec::new();
        container::write_varint(u32::MAX, &mut two);
        container::write_varint(1, &mut two);
        assert!(read_bucket_counts(&mut Reader::new(&two), 2).is_err());
    }

    #[test]
    fn bucket_bits_grow_with_the_index() {
        assert_eq!(bucket_bits(0), 0);
        assert_eq!(bucket_bits(16), 1);
        assert_eq!(bucket_bits(1 << 30), 16);
        for bits in [0, 5, 16] {
            let (bucket, low) = split(0xABCD_1234, bits);
            assert!(bucket < 1 << bits);
            let back = ((bucket as u64) << (32 - bits)) | (u64::from(low) << (16 - bits));
            assert_eq!(back >> (16 - bits), 0xABCD_1234u64 >> (16 - bits));
        }
    }
}
