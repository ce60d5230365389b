//! `documents` and `records` detectors as `airlock check` and `build` load them: the index is
//! read relative to the policy file, carried whole, and a bad index is an error naming it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn airlock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("AIRLOCK_HASH_KEY", "protected-test-key-0123456789")
        .output()
        .expect("airlock runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// (Re)builds the fixture's documents index, `protected/source.idx`, with a new key.
fn index_source(dir: &Path) {
    let dir_s = dir.to_str().unwrap();
    let out = airlock(&[
        "index",
        "documents",
        "--out",
        &format!("{dir_s}/protected/source.idx"),
        &format!("{dir_s}/protected/src"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A fresh folder with a policy whose documents detector names `protected/source.idx`, the
/// index built from a small source file, and a records index of a small table.
fn fixture(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("airlock-protected-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("protected/src")).unwrap();
    let source: String = (0..40)
        .map(|i| {
            format!("    let ledger_{i} = reconcile(batch_{i}, carry * {i}, \"north-{i}\");\n")
        })
        .collect();
    std::fs::write(
        dir.join("protected/src/ledger.rs"),
        format!("fn settle() {{\n{source}}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("protected/people.csv"),
        "name,email\nQuentin Aldersgate,q.aldersgate@fernhollow.example\nMabel Thorncastle,mabel@rookspire.example\n",
    )
    .unwrap();
    index_source(&dir);
    let dir_s = dir.to_str().unwrap();
    let out = airlock(&[
        "index",
        "records",
        "--out",
        &format!("{dir_s}/protected/people.idx"),
        "--columns",
        "name,email",
        &format!("{dir_s}/protected/people.csv"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(
        dir.join("policy.yaml"),
        r#"schema: 1
metadata: {name: protected-test, version: "1"}
classes: [public, secret]
destinations:
  default_tier: outside
  tiers:
    - {name: outside, max_class: public}
detectors:
  - {id: ledger-source, class: secret, kind: trade-secret, documents: {index: protected/source.idx, min_chars: 200}}
  - {id: people, class: secret, kind: pii, records: {index: protected/people.idx, min_fields: 2}}
"#,
    )
    .unwrap();
    dir
}

fn check(dir: &Path) -> Output {
    airlock(&["check", "--native", dir.to_str().unwrap()])
}

#[test]
fn a_policy_with_good_indexes_checks_and_builds_with_the_index_carried_whole() {
    let dir = fixture("good");
    let out = check(&dir);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = airlock(&["build", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let detectors = &config["policy"]["detectors"];
    use base64::Engine as _;
    let carried = base64::engine::general_purpose::STANDARD
        .decode(detectors[0]["documents"]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        carried,
        std::fs::read(dir.join("protected/source.idx")).unwrap()
    );
    assert!(detectors[1]["records"]["data"].is_string());
    // The source text itself never reaches the configuration.
    assert!(!text(&out.stdout).contains("reconcile"));
}

#[test]
fn build_envelope_carries_the_indexes_raw_and_the_filter_loads_it() {
    let dir = fixture("envelope");
    let out = airlock(&["build", "--envelope", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let envelope = airlock_filter::protected::envelope::open(&out.stdout).unwrap();
    let config: serde_json::Value = serde_json::from_slice(envelope.json).unwrap();
    let detectors = config["policy"]["detectors"].as_array().unwrap();
    assert!(detectors
        .iter()
        .all(|d| d["documents"]["data"].is_null() && d["records"]["data"].is_null()));
    let ids: Vec<&str> = envelope.sections.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let source = std::fs::read(dir.join("protected/source.idx")).unwrap();
    assert!(envelope
        .sections
        .iter()
        .any(|(_, b)| *b == source.as_slice()));
    let env = airlock_filter::policy::Environment {
        var: &|_| Some("airlock-test-key-0123456789abcdef".to_string()),
        defer_regexes: true,
    };
    let loaded = airlock_filter::config::load(&out.stdout, &env).unwrap();
    // Both indexes were opened from their sections (the scanner's summary lists them).
    let scanner = format!("{:?}", loaded.policy);
    assert!(scanner.contains("Protected { documents: [("), "{scanner}");
    assert!(!scanner.contains("records: []"), "{scanner}");
    // One policy, one digest: the one `build` prints, the envelope's and the JSON form's.
    let printed = |stderr: &[u8]| {
        let stderr = text(stderr);
        let at = stderr.find(" digest ").expect("build prints the digest") + 8;
        stderr[at..at + 64].to_string()
    };
    let digest = printed(&out.stderr);
    assert_eq!(loaded.policy.info.digest, digest);
    let json = airlock(&["build", dir.to_str().unwrap()]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let from_json = airlock_filter::config::load(&json.stdout, &env).unwrap();
    assert_eq!(
        (printed(&json.stderr), from_json.policy.info.digest),
        (digest.clone(), digest.clone())
    );
    // An index rebuilt (a new key, other fingerprints) is another policy, in both forms.
    index_source(&dir);
    let dir_s = dir.to_str().unwrap();
    let rebuilt = airlock(&["build", "--envelope", dir_s]);
    let reloaded = airlock_filter::config::load(&rebuilt.stdout, &env).unwrap();
    assert_ne!(reloaded.policy.info.digest, digest);
    assert_eq!(reloaded.policy.info.digest, printed(&rebuilt.stderr));
    // Signing a binary envelope is not offered (yet): a clear refusal, not a broken file.
    let out = airlock(&[
        "build",
        "--envelope",
        "--sign",
        "k.pem",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--envelope"));
}

/// `check` fails, naming the index file and saying what is wrong with it.
fn assert_refused(dir: &Path, file: &str, why: &str) {
    let out = check(dir);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "accepted a bad index: {stderr}");
    assert!(
        stderr.contains(file),
        "error does not name {file}: {stderr}"
    );
    assert!(
        stderr.to_lowercase().contains(why),
        "error does not say {why:?}: {stderr}"
    );
}

fn edit(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    change(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_missing_index_is_an_error_naming_the_file() {
    let dir = fixture("missing");
    std::fs::remove_file(dir.join("protected/people.idx")).unwrap();
    assert_refused(&dir, "people.idx", "cannot read");
}

#[test]
fn a_truncated_index_is_an_error_naming_the_file() {
    let dir = fixture("truncated");
    edit(&dir.join("protected/source.idx"), |b| {
        b.truncate(b.len() / 2)
    });
    assert_refused(&dir, "source.idx", "truncated");
}

#[test]
fn a_tampered_index_fails_its_checksum() {
    let dir = fixture("tampered");
    edit(&dir.join("protected/people.idx"), |b| {
        let last = b.len() - 1;
        b[last] ^= 0x40;
    });
    assert_refused(&dir, "people.idx", "checksum");
}

#[test]
fn an_index_from_a_newer_format_version_is_refused() {
    let dir = fixture("newer");
    // The version is the little-endian u32 after the 8 magic bytes.
    edit(&dir.join("protected/source.idx"), |b| {
        b[8..12].copy_from_slice(&99u32.to_le_bytes())
    });
    assert_refused(&dir, "source.idx", "version 99");
}

#[test]
fn an_index_of_the_other_kind_is_refused() {
    let dir = fixture("swapped");
    std::fs::copy(
        dir.join("protected/people.idx"),
        dir.join("protected/source.idx"),
    )
    .unwrap();
    assert_refused(&dir, "source.idx", "not an airlock documents index");
}

#[test]
fn scan_reports_the_protected_detectors_with_numbers_never_text() {
    let dir = fixture("scan");
    let source = std::fs::read_to_string(dir.join("protected/src/ledger.rs")).unwrap();
    let pasted: String = source
        .lines()
        .skip(3)
        .take(12)
        .collect::<Vec<_>>()
        .join("\n");
    let body = serde_json::json!({"messages": [
        {"role": "user", "content": format!("what does this do?\n{pasted}")},
        {"role": "user", "content": "Mail Quentin Aldersgate at q.aldersgate@fernhollow.example"},
    ]});
    let input = dir.join("body.json");
    std::fs::write(&input, body.to_string()).unwrap();
    let out = airlock(&[
        "scan",
        "--policy",
        dir.to_str().unwrap(),
        "--host",
        "relay.example.net",
        input.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["decision"], "block", "{stdout}");
    let findings = line["findings"].as_array().unwrap();
    let source_finding = findings
        .iter()
        .find(|f| f["detector"] == "ledger-source")
        .unwrap_or_else(|| panic!("no ledger-source finding: {stdout}"));
    assert_eq!(source_finding["document"], "0");
    assert!(source_finding["matched_chars"].as_u64().unwrap() >= 200);
    let record = findings
        .iter()
        .find(|f| f["detector"] == "people")
        .unwrap_or_else(|| panic!("no people finding: {stdout}"));
    assert_eq!(record["row"], 0);
    assert_eq!(record["fields"], 2);
    for value in ["reconcile(batch", "Aldersgate", "fernhollow"] {
        assert!(!stdout.contains(value), "scan printed {value:?}: {stdout}");
    }
}
