//! `airlock schema`: JSON Schemas of the policy files, generated from the schema types.
//!
//! A policy directory has three kinds of file, each with its own schema: the main
//! `policy.yaml` (a whole [`PolicyDoc`]), `detectors/*.yaml` (a list of detectors) and
//! `tests/*.yaml` (a list of whole-request cases). The schemas are derived
//! (`schemars`) from the same types the filter deserializes, so they cannot drift from
//! the parser: serde's `deny_unknown_fields`, renames and defaults become
//! `additionalProperties: false`, property names and defaults, and doc comments become
//! descriptions editors show. The checked-in copies under `policies/schema/` are compared
//! with freshly generated ones by a test.
//!
//! Draft-07 rather than 2020-12: the YAML language server and most editors complete
//! fields from draft-07 fully. What a schema cannot say (cross-references between
//! classes, tiers and ids, regex syntax) is `airlock check`'s job.

use crate::error::CliError;
use airlock_filter::policy::schema::{DetectorDoc, PolicyDoc, TestCaseDoc, SCHEMA_VERSION};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;

/// One kind of policy file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Document {
    /// The main file of a policy (`policy.yaml`), or a single-file policy.
    Policy,
    /// A `detectors/*.yaml` file: a list of detectors.
    Detectors,
    /// A `tests/*.yaml` file: a list of whole-request test cases.
    Tests,
}

impl Document {
    pub const ALL: [Document; 3] = [Document::Policy, Document::Detectors, Document::Tests];

    /// The checked-in file's name.
    pub fn file_name(self) -> &'static str {
        match self {
            Document::Policy => "policy.schema.json",
            Document::Detectors => "detectors.schema.json",
            Document::Tests => "tests.schema.json",
        }
    }

    /// The schema, as the text written to the checked-in file (ends with a newline).
    pub fn generate(self) -> String {
        let (mut schema, title, description) = match self {
            Document::Policy => (
                root::<PolicyDoc>(),
                "Airlock policy",
                "The main file of an Airlock policy (policy.yaml), or a whole single-file policy.",
            ),
            Document::Detectors => (
                root::<Vec<DetectorDoc>>(),
                "Airlock policy detectors",
                "A detectors/*.yaml file of an Airlock policy directory: a list of detectors, appended to the policy's `detectors` in file-name order.",
            ),
            Document::Tests => (
                root::<Vec<TestCaseDoc>>(),
                "Airlock policy test cases",
                "A tests/*.yaml file of an Airlock policy directory: whole-request cases run by `airlock check`.",
            ),
        };
        // `$schema`, title and description first: what a reader of the file meets first.
        if let Value::Object(generated) = schema {
            let mut object = serde_json::Map::new();
            object.insert(
                "$schema".into(),
                generated.get("$schema").cloned().unwrap_or(Value::Null),
            );
            object.insert("title".into(), json!(title));
            object.insert("description".into(), json!(description));
            for (key, value) in generated {
                object.entry(key).or_insert(value);
            }
            schema = Value::Object(object);
        }
        if self == Document::Policy {
            // The type says u32; the parser accepts only the version this build reads.
            if let Some(version) = schema.pointer_mut("/properties/schema") {
                version["const"] = json!(SCHEMA_VERSION);
            }
        }
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

fn root<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// Prints one schema, or writes all three into `write` (a directory).
pub fn run(document: Document, write: Option<&Path>) -> Result<ExitCode, CliError> {
    let Some(dir) = write else {
        print!("{}", document.generate());
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).map_err(|e| CliError::Write(dir.to_path_buf(), e))?;
    for document in Document::ALL {
        let file = dir.join(document.file_name());
        std::fs::write(&file, document.generate()).map_err(|e| CliError::Write(file.clone(), e))?;
        eprintln!("airlock: wrote {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The folder of the checked-in schemas, relative to the repository root.
    const CHECKED_IN_DIR: &str = "policies/schema";

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn the_checked_in_schemas_are_the_generated_ones() {
        for document in Document::ALL {
            let file = repo().join(CHECKED_IN_DIR).join(document.file_name());
            let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(
                checked_in == document.generate(),
                "{} differs from the schema the policy types generate; regenerate with\n    \
                 cargo run -p airlock-cli -- schema --write {CHECKED_IN_DIR}\n\
                 and commit the result",
                file.display()
            );
        }
    }

    #[test]
    fn the_schemas_follow_serde_names_and_reject_unknown_fields() {
        let policy: Value = serde_json::from_str(&Document::Policy.generate()).unwrap();
        assert_eq!(policy["additionalProperties"], json!(false));
        assert_eq!(policy["properties"]["schema"]["const"], json!(1));
        for field in ["metadata", "classes", "destinations", "detectors"] {
            assert!(
                policy["required"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(field)),
                "{field}"
            );
        }
        let detectors: Value = serde_json::from_str(&Document::Detectors.generate()).unwrap();
        assert_eq!(detectors["type"], json!("array"));
        let detector = &detectors["definitions"]["DetectorDoc"];
        assert_eq!(detector["additionalProperties"], json!(false));
        // A doc comment is the editor's hover text.
        assert!(detector["properties"]["keywords"]["description"]
            .as_str()
            .unwrap()
            .contains("at least one of these must occur"));
        let tests: Value = serde_json::from_str(&Document::Tests.generate()).unwrap();
        let case = &tests["definitions"]["TestCaseDoc"];
        assert_eq!(
            case["properties"]["host"]["default"],
            json!("api.openai.com")
        );
        // `examples.match` is the serde name, not the Rust field's.
        let examples = &detectors["definitions"]["ExamplesDoc"]["properties"];
        assert!(examples.get("match").is_some() && examples.get("matches").is_none());
    }

    /// Every shipped policy file names its schema in a YAML language server modeline, and the
    /// schema it names exists and is the one for its kind of file.
    #[test]
    fn every_shipped_policy_file_names_its_schema() {
        let mut seen = 0;
        for dir in ["policies/default", "policies/examples/acme"] {
            let dir = repo().join(dir);
            let mut files = vec![(dir.join("policy.yaml"), Document::Policy)];
            for (sub, document) in [
                ("detectors", Document::Detectors),
                ("tests", Document::Tests),
            ] {
                let mut listed: Vec<_> = std::fs::read_dir(dir.join(sub))
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                    .collect();
                listed.sort();
                files.extend(listed.into_iter().map(|p| (p, document)));
            }
            for (file, document) in files {
                let text = std::fs::read_to_string(&file).unwrap();
                let named = text
                    .lines()
                    .find_map(|l| l.strip_prefix("# yaml-language-server: $schema="))
                    .unwrap_or_else(|| panic!("{}: no schema modeline", file.display()));
                assert!(
                    named.ends_with(document.file_name()),
                    "{}: names {named}, not {}",
                    file.display(),
                    document.file_name()
                );
                let target = file.parent().unwrap().join(named);
                assert!(
                    target.is_file(),
                    "{}: {named} does not exist",
                    file.display()
                );
                seen += 1;
            }
        }
        assert!(seen > 10);
    }
}
