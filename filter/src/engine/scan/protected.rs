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

use crate::engine::layers::fold::Folded as EngineFolded;
use crate::engine::scan::fuel_probe::tag;
use crate::engine::scan::scanner::{DetectorIndex, Hit};
use crate::engine::steps::{self, Step};
use crate::protected::documents::Wanted;
use crate::protected::fold::{Folded, Folder};
use crate::protected::{documents, records, DocumentIndex, RecordIndex};
use std::sync::Arc;

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

/// One documents detector: its index and the shortest copy it reports. The index is shared
/// with the joined-text scanners (`join`), never copied.
#[derive(Clone)]
pub struct DocumentsDetector {
    pub detector: DetectorIndex,
    pub index: Arc<DocumentIndex>,
    pub min_chars: usize,
    /// Whether renamed copies (blinded code alone) are reported ([`Wanted::renamed`]).
    pub renamed: bool,
}

/// One records detector: its index and the fields of one row that make a match.
#[derive(Clone)]
pub struct RecordsDetector {
    pub detector: DetectorIndex,
    pub index: Arc<RecordIndex>,
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

/// A text's fold made already by the walk, which folds every text once for its folded layer:
/// what the engine's folder left and whether folding changed anything. The index searches read
/// it instead of folding the text a second time.
#[derive(Clone, Copy)]
pub struct FoldedText<'a> {
    pub folded: &'a EngineFolded,
    pub changed: bool,
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

    /// The detectors `keep` selects, sharing their indexes (for a joined-text scanner: a copy
    /// split across two messages is found in their joined text), or `None` when it keeps none.
    pub fn only(&self, keep: &dyn Fn(DetectorIndex) -> bool) -> Option<Box<Protected>> {
        let subset = Protected {
            documents: self
                .documents
                .iter()
                .filter(|d| keep(d.detector))
                .cloned()
                .collect(),
            records: self
                .records
                .iter()
                .filter(|r| keep(r.detector))
                .cloned()
                .collect(),
        };
        (!subset.is_empty()).then(|| Box::new(subset))
    }

    /// Every copy of a protected document and every protected record in `text`, as hits;
    /// `fold` is `text`'s fold when the caller has made it.
    pub fn scan(
        &self,
        text: &[u8],
        fold: Option<FoldedText<'_>>,
        scratch: &mut ProtectedScratch,
        sink: &mut dyn FnMut(Hit),
    ) {
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
        let folded = match fold {
            Some(f) => Folded::of_engine(text, f.folded, f.changed),
            None => folder.fold(text),
        };
        tag("P:start");
        for d in &self.documents {
            // A character is at least one byte: a shorter text cannot hold `min_chars` of a copy.
            if text.len() < d.min_chars {
                continue;
            }
            steps::count(Step::Documents, text.len());
            for m in d.index.find_folded(
                text,
                &folded,
                Wanted {
                    min_chars: d.min_chars,
                    renamed: d.renamed,
                },
                documents_scratch,
            ) {
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
        tag("P:documents");
        for r in &self.records {
            steps::count(Step::Records, text.len());
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
        tag("P:records");
    }

    /// The stored name of `document` of detector `detector`'s index (indexes built with `--names`).
    pub fn document_name(&self, detector: DetectorIndex, document: u32) -> Option<&str> {
        self.documents
            .iter()
            .find(|d| d.detector == detector)
            .and_then(|d| d.index.name(document))
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{Environment, Origins, Policy};
    use crate::protected::documents::{Builder, Settings, View};
    use crate::protected::keyed::Key;
    use crate::Request;
    use base64::Engine as _;
    use serde_json::{json, Value};

    /// A made-up program, distinct enough to be protected: 60 lines of arithmetic on names.
    fn program() -> String {
        (0..60)
            .map(|i| {
                format!(
                    "    let total_{i} = ledger.post(account_{}, {} * rate_{}, \"entry {i}\");\n",
                    i % 7,
                    i * 7919 % 1000,
                    i % 5
                )
            })
            .collect()
    }

    /// The default policy plus a documents detector over `program()`, joined over `join`.
    fn policy(join: Option<&str>) -> (Policy, usize) {
        policy_with(join, None)
    }

    /// [`policy`] with `documents.renamed` set when given.
    fn policy_with(join: Option<&str>, renamed: Option<bool>) -> (Policy, usize) {
        let mut builder = Builder::new(Key([9; 16]), Settings::default());
        builder.add_document("ledger.rs", program().as_bytes(), View::Code);
        let (file, _) = builder.finish(false);
        let mut value: Value = serde_json::from_str(crate::DEFAULT_POLICY_JSON).unwrap();
        let mut detector = json!({
            "id": "ledger-source", "class": "secret", "kind": "trade-secret",
            "documents": {
                "index": "ledger.idx", "min_chars": 200,
                "data": base64::engine::general_purpose::STANDARD.encode(&file),
            },
        });
        if let Some(scope) = join {
            detector["join"] = json!(scope);
        }
        if let Some(renamed) = renamed {
            detector["documents"]["renamed"] = json!(renamed);
        }
        let detectors = value["detectors"].as_array_mut().unwrap();
        detectors.push(detector);
        let id = detectors.len() - 1;
        let origins = Origins::single("test");
        let doc = crate::policy::parse_document(value, &origins).unwrap();
        let env = Environment {
            var: &|_| None,
            defer_regexes: false,
        };
        (crate::policy::compile(doc, origins, &env).unwrap(), id)
    }

    /// The findings of `id` in a chat request whose user messages are `messages`, joined ones
    /// only when `joined`.
    fn findings_of(policy: &Policy, id: usize, messages: &[&str], joined: bool) -> usize {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| json!({"role": "user", "content": m}))
            .collect();
        let body = serde_json::to_vec(&json!({"model": "m", "messages": messages})).unwrap();
        let request = Request {
            host: "api.cheap-relay.example",
            path: "/v1/chat/completions",
            content_type: Some("application/json"),
            content_encoding: None,
            body: &body,
            caller: None,
        };
        let verdict = policy.inspect(&request, &mut policy.scratch());
        verdict
            .findings
            .iter()
            .filter(|f| usize::from(f.detector) == id && (!joined || f.path.starts_with("(joined")))
            .count()
    }

    /// The joined findings of `id` in a chat request whose user messages are `messages`.
    fn joined_findings(policy: &Policy, id: usize, messages: &[&str]) -> usize {
        findings_of(policy, id, messages, true)
    }

    #[test]
    fn renamed_false_reports_copies_that_kept_their_names_only() {
        let text = program();
        let lines: Vec<&str> = text.lines().collect();
        let copy = lines[20..28].join("\n");
        // A consistent rename of every identifier the program chose.
        let renamed = copy
            .replace("total_", "sum_")
            .replace("ledger", "book")
            .replace("account_", "acct_")
            .replace("rate_", "pct_")
            .replace(".post(", ".record(");
        let (edits, id) = policy_with(None, None);
        assert_eq!(findings_of(&edits, id, &[&copy], false), 1);
        assert_eq!(findings_of(&edits, id, &[&renamed], false), 1);
        let (exact, id) = policy_with(None, Some(false));
        assert_eq!(findings_of(&exact, id, &[&copy], false), 1);
        assert_eq!(findings_of(&exact, id, &[&renamed], false), 0);
        // Written out as its default, the field changes nothing, digest included.
        let (explicit, _) = policy_with(None, Some(true));
        assert_eq!(explicit.info.digest, edits.info.digest);
        assert_ne!(exact.info.digest, edits.info.digest);
    }

    #[test]
    fn a_copy_in_fullwidth_letters_is_found_through_the_walks_fold() {
        // The index search reads the fold the walk made for its own folded layer.
        let text = program();
        let lines: Vec<&str> = text.lines().collect();
        let copy = lines[30..36].join("\n");
        let fullwidth: String = copy
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
                _ => c,
            })
            .collect();
        assert!(!fullwidth.is_ascii());
        let (policy, id) = policy(None);
        let prompt = format!("请帮我看看这段代码：\n{fullwidth}\n谢谢。");
        assert_eq!(findings_of(&policy, id, &[&prompt], false), 1);
        assert_eq!(
            findings_of(&policy, id, &["请帮我看看这段代码。"], false),
            0
        );
    }

    #[test]
    fn a_copy_split_across_two_messages_is_found_in_the_joined_text() {
        let text = program();
        let lines: Vec<&str> = text.lines().collect();
        // Two halves of about 150 characters: neither is `min_chars` long alone.
        let (first, second) = (lines[10..12].join("\n"), lines[12..14].join("\n"));
        assert!(first.len() < 200 && second.len() < 200);
        let (joined, id) = policy(Some("request"));
        assert_eq!(joined_findings(&joined, id, &[&first, &second]), 1);
        // Unrelated halves are not a copy, and without `join` the split copy is not searched.
        let other = "Please summarise the quarterly report and list the three largest risks.";
        assert_eq!(joined_findings(&joined, id, &[other, other]), 0);
        let (alone, id) = policy(None);
        assert_eq!(joined_findings(&alone, id, &[&first, &second]), 0);
    }
}
