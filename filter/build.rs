//! Embeds the default policy: merges `policies/default/` into one JSON
//! document (without tests and examples) for `include_str!`.

#[path = "src/policy/bundle.rs"]
mod bundle;

// The policy's shape and digest: the crate's own files, which depend on nothing else (they
// refer to each other as `super::`, the crate root here as `policy` there).
#[allow(dead_code)]
#[path = "src/policy/digest.rs"]
mod digest;
#[allow(dead_code)]
#[path = "src/policy/relay_doc.rs"]
mod relay_doc;
#[allow(dead_code)]
#[path = "src/policy/schema.rs"]
mod schema;

use serde_json::Value;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = manifest.join("../policies/default");
    println!("cargo:rerun-if-changed={}", dir.display());
    for sub in ["detectors", "tests"] {
        println!("cargo:rerun-if-changed={}", dir.join(sub).display());
    }
    let parse = |path: &Path, text: &str| -> Result<Value, String> {
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            serde_saphyr::from_str(text).map_err(|e| e.to_string())
        }
    };
    let bundle = match bundle::load(&dir, &parse) {
        Ok(b) => b,
        Err(e) => {
            println!("cargo:warning=default policy: {e}");
            std::process::exit(1);
        }
    };
    for file in &bundle.files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let mut doc = bundle.document;
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("tests");
        if let Some(Value::Array(detectors)) = obj.get_mut("detectors") {
            for d in detectors.iter_mut().filter_map(Value::as_object_mut) {
                d.remove("examples");
            }
        }
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    write(&out_dir.join("default_policy.json"), &doc);
    write(
        &out_dir.join("default_regex_facts.json"),
        &regex_facts(&doc),
    );
    // The digest the filter would compute on load, computed once here; a test checks they agree.
    let digest = match serde_json::from_value::<schema::PolicyDoc>(doc) {
        Ok(typed) => digest::digest(&typed),
        Err(e) => {
            println!("cargo:warning=default policy: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = std::fs::write(out_dir.join("default_policy_digest.txt"), digest) {
        println!("cargo:warning=cannot write the default policy's digest: {e}");
        std::process::exit(1);
    }
}

/// The syntax facts of the document's regexes, as `airlock build` would carry them.
fn regex_facts(doc: &Value) -> regex_facts::FactsById {
    let detectors = doc.get("detectors").and_then(Value::as_array);
    let regexes: Vec<(&str, &str, Vec<String>, bool)> = detectors
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let id = d.get("id")?.as_str()?;
            let pattern = d.get("regex")?.as_str()?;
            let keywords = d.get("keywords").and_then(Value::as_array);
            let keywords = keywords.into_iter().flatten();
            let keywords = keywords.filter_map(|k| k.as_str().map(str::to_string));
            let joins = d.get("join").is_some_and(|j| !j.is_null());
            Some((id, pattern, keywords.collect(), joins))
        })
        .collect();
    regex_facts::read_all(
        regexes
            .iter()
            .map(|(id, p, k, j)| (*id, *p, k.as_slice(), *j)),
    )
}

fn write(out: &Path, value: &impl serde::Serialize) {
    let json = serde_json::to_string(value).unwrap_or_default();
    if let Err(e) = std::fs::write(out, json) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
        std::process::exit(1);
    }
}
