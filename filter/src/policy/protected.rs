//! Compiling `documents` and `records` detectors: their indexes loaded and checked whole.
//!
//! The policy names each index by a path relative to the policy file; whoever reads the policy
//! from disk (`airlock check`, `build`, `scan`) puts the file's bytes, base64, in the detector's
//! `data`, and the built configuration carries them. Here the bytes are decoded and opened: a
//! missing, truncated, tampered (checksum) or newer-version index is an error naming the file,
//! never an empty detector, so through ECDS a bad update leaves the old configuration in force.
//! A binary configuration envelope ([`envelope`]) carries the indexes raw instead, opened before
//! the policy compiles; a detector takes its index from there by its id, before `data`.

use super::schema::DetectorDoc;
use crate::engine::scan::protected::{DocumentsDetector, Protected, RecordsDetector};
use crate::engine::scan::scanner::DetectorIndex;
use crate::protected::envelope::{self, CarriedIndex};
use crate::protected::{DocumentIndex, RecordIndex};
use base64::Engine as _;

/// The shortest `min_chars` accepted: below it, one shared line or idiom would match.
pub const MIN_MIN_CHARS: usize = 50;
/// The error for an envelope section of the other index kind than its detector's.
const WRONG_KIND: &str =
    "the configuration envelope carries the other kind of index for this detector; rebuild it";
/// Fields a records detector may require at most (rows have at most 16 columns).
const MAX_MIN_FIELDS: usize = 16;

/// Reads the index file of each `documents` and `records` detector of a policy document
/// (relative to `base`, the policy file's folder) into its `data`, base64, so compiling checks
/// it and `build` carries it whole. A file that cannot be read is an error naming it. For the
/// tools that read a policy from disk (the CLI, the benches); the filter receives `data`.
pub fn carry_index_files(
    document: &mut serde_json::Value,
    base: &std::path::Path,
    origins: &super::Origins,
) -> Result<(), super::PolicyErrors> {
    let Some(detectors) = document
        .get_mut("detectors")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return Ok(());
    };
    let mut errors = Vec::new();
    for (i, detector) in detectors.iter_mut().enumerate() {
        for kind in ["documents", "records"] {
            let Some(spec) = detector
                .get_mut(kind)
                .and_then(serde_json::Value::as_object_mut)
            else {
                continue;
            };
            let Some(index) = spec.get("index").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let file = base.join(index);
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                    spec.insert("data".to_string(), serde_json::Value::String(data));
                }
                Err(e) => errors.push(origins.error(
                    &format!("detectors[{i}].{kind}.index"),
                    format!(
                        "{}: cannot read the index: {e}; build it with `airlock index {kind}`",
                        file.display()
                    ),
                )),
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(super::PolicyErrors(errors))
    }
}

/// Whether `d` is a protected-data detector (no regex scanner entry).
pub fn is_protected(d: &DetectorDoc) -> bool {
    d.documents.is_some() || d.records.is_some()
}

/// The protected detectors of `detectors`, and each problem as (field path, message).
pub fn compile(detectors: &[DetectorDoc]) -> Compiled {
    let mut protected = Protected::default();
    let mut errors = Vec::new();
    let mut identities = Vec::new();
    for (i, d) in detectors.iter().enumerate() {
        if !is_protected(d) {
            continue;
        }
        let path = format!("detectors[{i}]");
        let mut error = |field: &str, message: String| {
            let at = if field.is_empty() {
                path.clone()
            } else {
                format!("{path}.{field}")
            };
            errors.push((at, message));
        };
        let set = [
            d.regex.is_some(),
            d.dictionary.is_some(),
            d.documents.is_some(),
            d.records.is_some(),
        ];
        if set.iter().filter(|&&s| s).count() != 1 {
            error(
                "",
                "set exactly one of `regex`, `dictionary`, `documents` or `records`".to_string(),
            );
            continue;
        }
        let unused = [
            ("keywords", !d.keywords.is_empty()),
            ("validators", !d.validators.is_empty()),
            ("context", d.context.is_some()),
            ("allow", !d.allow.is_empty()),
        ];
        for (field, present) in unused {
            if present {
                error(
                    field,
                    format!("`{field}` does not apply to a `documents` or `records` detector; remove it"),
                );
            }
        }
        let Ok(detector) = DetectorIndex::try_from(i) else {
            continue;
        };
        if let Some(documents) = &d.documents {
            if documents.min_chars < MIN_MIN_CHARS {
                error(
                    "documents.min_chars",
                    format!(
                        "{} is too short: use at least {MIN_MIN_CHARS} characters (200 finds pasted \
                         fragments without matching shared idioms)",
                        documents.min_chars
                    ),
                );
            }
            let opened = match envelope::take(&d.id) {
                Some((CarriedIndex::Documents(index), identity)) => Ok((index, identity)),
                Some((CarriedIndex::Records(_), _)) => Err(WRONG_KIND.to_string()),
                None => bytes(&documents.index, documents.data.as_deref()).and_then(|b| {
                    let index = DocumentIndex::from_bytes(&b).map_err(|e| e.to_string())?;
                    Ok((index, identity(&b)))
                }),
            };
            match opened {
                Ok((index, identity)) => {
                    identities.push((i, identity));
                    protected.documents.push(DocumentsDetector {
                        detector,
                        index: std::sync::Arc::new(index),
                        min_chars: documents.min_chars,
                        renamed: documents.renamed,
                    })
                }
                Err(why) => error("documents.index", format!("{}: {why}", documents.index)),
            }
        }
        if let Some(records) = &d.records {
            if records.min_fields == 0 || records.min_fields > MAX_MIN_FIELDS {
                error(
                    "records.min_fields",
                    format!(
                        "{} is out of range: use 1 to {MAX_MIN_FIELDS} (2 keeps one common name from \
                         being a finding)",
                        records.min_fields
                    ),
                );
            }
            let opened = match envelope::take(&d.id) {
                Some((CarriedIndex::Records(index), identity)) => Ok((index, identity)),
                Some((CarriedIndex::Documents(_), _)) => Err(WRONG_KIND.to_string()),
                None => bytes(&records.index, records.data.as_deref()).and_then(|b| {
                    let (file, identity) = (0..b.len(), identity(&b));
                    let index = RecordIndex::open_in(b, file).map_err(|e| e.to_string())?;
                    Ok((index, identity))
                }),
            };
            match opened {
                Ok((index, identity)) => {
                    identities.push((i, identity));
                    if records.min_fields > index.columns().len() {
                        error(
                            "records.min_fields",
                            format!(
                                "{} fields of a row are required but the index {} has only {} columns",
                                records.min_fields,
                                records.index,
                                index.columns().len()
                            ),
                        );
                    }
                    protected.records.push(RecordsDetector {
                        detector,
                        index: std::sync::Arc::new(index),
                        min_fields: records.min_fields,
                    });
                }
                Err(why) => error("records.index", format!("{}: {why}", records.index)),
            }
        }
    }
    Compiled {
        protected,
        errors,
        identities,
    }
}

/// The `documents` and `records` detectors of a policy, compiled.
pub struct Compiled {
    /// Their detectors, indexes opened.
    pub protected: Protected,
    /// (field path, message) of each error.
    pub errors: Vec<(String, String)>,
    /// (detector position, [`identity`](crate::protected::container::identity) of its index
    /// file): what the policy's digest covers of the indexes.
    pub identities: Vec<(usize, String)>,
}

/// An index file's identity (empty for bytes too short to be one: they did not open).
fn identity(file: &[u8]) -> String {
    crate::protected::container::identity(file).unwrap_or_default()
}

/// The index file's bytes from the detector's `data`.
fn bytes(index: &str, data: Option<&str>) -> Result<Vec<u8>, String> {
    let Some(data) = data else {
        return Err(
            "the index's bytes are not in this configuration; load the policy with `airlock check`, \
             `airlock build` or `airlock scan`, which read the file"
                .to_string(),
        );
    };
    if index.trim().is_empty() {
        return Err("name the index file".to_string());
    }
    crate::engine::scan::fuel_probe::tag("pol:base64");
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| {
            format!("the carried index is not valid base64 ({e}); rebuild the configuration")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::schema::{DocumentsDoc, KindDoc, RecordsDoc};

    fn detector(documents: Option<DocumentsDoc>, records: Option<RecordsDoc>) -> DetectorDoc {
        serde_json::from_value::<DetectorDoc>(serde_json::json!({
            "id": "p", "class": "secret", "kind": "trade-secret"
        }))
        .map(|mut d| {
            d.kind = KindDoc::TradeSecret;
            d.documents = documents;
            d.records = records;
            d
        })
        .unwrap()
    }

    fn documents(data: Option<String>) -> DocumentsDoc {
        DocumentsDoc {
            index: "protected/p.idx".into(),
            min_chars: 200,
            renamed: true,
            data,
        }
    }

    fn messages(d: DetectorDoc) -> Vec<String> {
        compile(&[d])
            .errors
            .into_iter()
            .map(|(p, m)| format!("{p}: {m}"))
            .collect()
    }

    #[test]
    fn a_detector_sets_exactly_one_kind() {
        let mut both = detector(Some(documents(None)), None);
        both.regex = Some("x".into());
        let errors = messages(both);
        assert!(
            errors.iter().any(|m| m.contains("exactly one of")),
            "{errors:?}"
        );
    }

    #[test]
    fn an_index_not_carried_is_an_error_naming_it_never_an_empty_detector() {
        let Compiled {
            protected, errors, ..
        } = compile(&[detector(Some(documents(None)), None)]);
        assert!(protected.is_empty());
        assert!(
            errors
                .iter()
                .any(|(p, m)| p == "detectors[0].documents.index" && m.contains("protected/p.idx")),
            "{errors:?}"
        );
        let garbage = documents(Some("bm90IGFuIGluZGV4".into()));
        let errors = messages(detector(Some(garbage), None));
        assert!(
            errors.iter().any(|m| m.contains("protected/p.idx")),
            "{errors:?}"
        );
    }

    #[test]
    fn regex_only_fields_and_short_thresholds_are_refused() {
        let mut d = detector(
            Some(DocumentsDoc {
                min_chars: 10,
                renamed: true,
                ..documents(None)
            }),
            None,
        );
        d.keywords = vec!["acme".into()];
        let errors = messages(d);
        assert!(errors.iter().any(|m| m.contains("keywords")), "{errors:?}");
        assert!(errors.iter().any(|m| m.contains("min_chars")), "{errors:?}");
        let records = RecordsDoc {
            index: "protected/r.idx".into(),
            min_fields: 0,
            data: None,
        };
        let errors = messages(detector(None, Some(records)));
        assert!(
            errors.iter().any(|m| m.contains("min_fields")),
            "{errors:?}"
        );
    }
}
