//! How many bytes one scratch handed to the scanner, by where the text came from: the field as
//! written, its folded form, a run a layer emitted (by the layer's wrapping), a deciphered run,
//! or a joined window. Deterministic (a function of the requests inspected), so tests and benches
//! can bound it and see where the rescans are; it costs an add per scan call, not per byte.
//!
//! The counts are cumulative over the scratch's life: read them before and after an inspection
//! and subtract ([`ScanTally::since`]).

use crate::engine::layers::Wrapping;
use crate::engine::Scratch;

/// Every [`Wrapping`], in declaration order (the tally's rows for runs).
pub const WRAPPINGS: [Wrapping; 18] = [
    Wrapping::Base64,
    Wrapping::Base64Url,
    Wrapping::Percent,
    Wrapping::UnicodeEscape,
    Wrapping::Hex,
    Wrapping::HtmlReference,
    Wrapping::HexEscape,
    Wrapping::Spaced,
    Wrapping::Rejoined,
    Wrapping::Recased,
    Wrapping::Rotated,
    Wrapping::Reversed,
    Wrapping::Base32,
    Wrapping::TagCharacters,
    Wrapping::ByteList,
    Wrapping::Spelled,
    Wrapping::Uuencode,
    Wrapping::Ascii85,
];

/// Where a scanned text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A field as written (with its key as context, if any).
    Field,
    /// A run a layer emitted (decoded, respelled, rejoined, ...), named by its wrapping.
    Run(Wrapping),
    /// A run read deciphered around an enciphered keyword.
    Deciphered,
    /// A window of fields joined per message or request.
    Joined,
}

/// Which scan of a text: as given, or its folded form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Plain,
    Folded,
}

const ROWS: usize = WRAPPINGS.len() + 3;

/// Scans and bytes per source and pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanTally {
    calls: [[u64; 2]; ROWS],
    bytes: [[u64; 2]; ROWS],
}

fn row(source: Source) -> usize {
    match source {
        Source::Field => 0,
        Source::Deciphered => 1,
        Source::Joined => 2,
        Source::Run(w) => 3 + WRAPPINGS.iter().position(|&x| x == w).unwrap_or(0),
    }
}

fn column(pass: Pass) -> usize {
    match pass {
        Pass::Plain => 0,
        Pass::Folded => 1,
    }
}

impl ScanTally {
    /// Counts one scan of `len` bytes.
    #[inline]
    pub(crate) fn add(&mut self, source: Source, pass: Pass, len: usize) {
        let (r, c) = (row(source), column(pass));
        if let Some(calls) = self.calls.get_mut(r).and_then(|x| x.get_mut(c)) {
            *calls += 1;
        }
        if let Some(bytes) = self.bytes.get_mut(r).and_then(|x| x.get_mut(c)) {
            *bytes += len as u64;
        }
    }

    /// Scans of `source` in `pass`, and the bytes they read.
    pub fn get(&self, source: Source, pass: Pass) -> (u64, u64) {
        let (r, c) = (row(source), column(pass));
        let calls = self.calls.get(r).and_then(|x| x.get(c)).copied();
        let bytes = self.bytes.get(r).and_then(|x| x.get(c)).copied();
        (calls.unwrap_or(0), bytes.unwrap_or(0))
    }

    /// Every source, in a fixed order.
    pub fn sources() -> impl Iterator<Item = Source> {
        [Source::Field, Source::Deciphered, Source::Joined]
            .into_iter()
            .chain(WRAPPINGS.iter().map(|&w| Source::Run(w)))
    }

    /// Bytes read over every source and pass.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().flatten().sum()
    }

    /// What was counted since `earlier` (a copy taken from the same scratch).
    pub fn since(&self, earlier: &ScanTally) -> ScanTally {
        let mut out = *self;
        let pairs = (out.calls.iter_mut().zip(&earlier.calls))
            .chain(out.bytes.iter_mut().zip(&earlier.bytes));
        for (o, e) in pairs {
            for (o, e) in o.iter_mut().zip(e) {
                *o = o.saturating_sub(*e);
            }
        }
        out
    }
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Field => "field",
            Source::Deciphered => "deciphered",
            Source::Joined => "joined",
            Source::Run(w) => w.as_str(),
        }
    }
}

impl Scratch {
    /// The bytes this scratch handed to the scanner so far, by source (cumulative).
    pub fn scan_tally(&self) -> ScanTally {
        self.scan.tally
    }
}
