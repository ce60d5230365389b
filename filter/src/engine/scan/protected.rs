//! Protected documents and records as detectors: copies of indexed text and rows of indexed
//! tables, found in every text the scanner sees.
//!
//! The main scanner holds them, so every layer the walk scans (the field as written, folded,
//! decoded, respelled, with its key as context) is matched against the indexes as it is
//! matched against the regexes, and each match becomes an ordinary [`Hit`]: a document match's
//! span is the copied region, a record match gives one hit per matched cell. The hit's
//! [`Origin`] carries what the audit line may say: the document's number, the characters
//! matched and the fraction of the document, or the row and the number of its fields found.
//! Never text.

use crate::engine::scan::scanner::{DetectorIndex, Hit};
use crate::protected::fold::Folder;
use crate::protected::{documents, records, DocumentIndex, RecordIndex};

/// Where a hit came from, beyond its detector: what an audit line says about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A regex or dictionary match.
    #[default]
    Pattern,
    /// A copy of a protected document.
    Document {
        document: u32,
        /// Characters of the text the matched fingerprints cover.
        matched_chars: u32,
        /// Share of the document's fingerprints found, in ten-thousandths.
        fraction_bp: u16,
    },
    /// A cell of a protected record.
    Record {
        row: u32,
        /// How many of the row's fields the text holds.
        fields: u8,
    },
}

/// One documents detector: its index and the shortest copy it reports.
pub struct DocumentsDetector {
    pub detector: DetectorIndex,
    pub index: DocumentIndex,
    pub min_chars: usize,
}

/// One records detector: its index and the fields of one row that make a match.
pub struct RecordsDetector {
    pub detector: DetectorIndex,
    pub index: RecordIndex,
    pub min_fields: usize,
}

/// The protected-data detectors of a policy.
#[derive(Default)]
pub struct Protected {
    pub documents: Vec<DocumentsDetector>,
    pub records: Vec<RecordsDetector>,
}

impl std::fmt::Debug for Protected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The indexes are summarised: their fingerprints are many and say nothing to a reader.
        let documents: Vec<_> = self
            .documents
            .iter()
            .map(|d| (d.detector, d.index.documents(), d.min_chars))
            .collect();
        let records: Vec<_> = self
            .records
            .iter()
            .map(|r| (r.detector, r.index.rows(), r.min_fields))
            .collect();
        f.debug_struct("Protected")
            .field("documents", &documents)
            .field("records", &records)
            .finish()
    }
}

/// Buffers of the index searches, reused across texts (one per VM).
#[derive(Debug, Default)]
pub struct ProtectedScratch {
    /// One fold of each text for every detector of both kinds.
    folder: Folder,
    documents: documents::FindScratch,
    records: records::FindScratch,
}

impl Protected {
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty() && self.records.is_empty()
    }

    /// Every copy of a protected document and every protected record in `text`, as hits.
    pub fn scan(&self, text: &[u8], scratch: &mut ProtectedScratch, sink: &mut dyn FnMut(Hit)) {
        let ProtectedScratch {
            folder,
            documents: documents_scratch,
            records: records_scratch,
        } = scratch;
        // A character is at least one byte: a text shorter than `min_chars` cannot hold a copy.
        let documents_run = self.documents.iter().any(|d| text.len() >= d.min_chars);
        if !documents_run && self.records.is_empty() {
            return;
        }
        let folded = folder.fold(text);
        for d in &self.documents {
            // A character is at least one byte: a shorter text cannot hold `min_chars` of a copy.
            if text.len() < d.min_chars {
                continue;
            }
            for m in d
                .index
                .find_folded(text, &folded, d.min_chars, documents_scratch)
            {
                let span = m.span;
                if span.is_empty() || span.end > text.len() {
                    continue;
                }
                sink(Hit {
                    detector: d.detector,
                    span,
                    origin: Origin::Document {
                        document: m.document,
                        matched_chars: u32::try_from(m.matched_chars).unwrap_or(u32::MAX),
                        fraction_bp: (m.fraction.clamp(0.0, 1.0) * 10_000.0).round() as u16,
                    },
                });
            }
        }
        for r in &self.records {
            for m in r.index.find_folded(&folded, r.min_fields, records_scratch) {
                let fields = u8::try_from(m.columns.len()).unwrap_or(u8::MAX);
                for &span in &m.spans {
                    if span.is_empty() || span.end > text.len() {
                        continue;
                    }
                    sink(Hit {
                        detector: r.detector,
                        span,
                        origin: Origin::Record { row: m.row, fields },
                    });
                }
            }
        }
    }

    /// The stored name of `document` of detector `detector`'s index (indexes built with `--names`).
    pub fn document_name(&self, detector: DetectorIndex, document: u32) -> Option<&str> {
        self.documents
            .iter()
            .find(|d| d.detector == detector)
            .and_then(|d| d.index.name(document))
    }
}
