//! The `airlock` command as a user runs it.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const AWS_KEY: &str = "AKIAQ3EGRTXK7VJ2WZ5P";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn airlock(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .current_dir(root())
        .env_remove("AIRLOCK_HASH_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("airlock runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("airlock-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn default_policy_passes_its_checks_with_examples_for_every_detector() {
    let out = airlock(
        &[
            "check",
            "--native",
            "--require-examples",
            "policies/default",
        ],
        b"",
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let detectors: usize = stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_suffix(" classes")
                .and_then(|l| l.split(' ').next()?.parse().ok())
        })
        .expect("detector count line");
    assert!(
        detectors >= 150,
        "default policy has {detectors} detectors, at least 150 required"
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

/// Builds the ACME example's protected-data indexes (build output, not in git).
fn build_acme_indexes() {
    let status = Command::new("bash")
        .arg("policies/examples/acme/protected/build-indexes.sh")
        .arg(env!("CARGO_BIN_EXE_airlock"))
        .current_dir(root())
        .stdout(Stdio::null())
        .status()
        .expect("bash runs");
    assert!(status.success(), "build-indexes.sh failed");
}

#[test]
fn example_organisation_policy_passes_its_checks() {
    build_acme_indexes();
    let out = airlock(
        &[
            "check",
            "--native",
            "--require-examples",
            "policies/examples/acme",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn scan_masks_blocks_and_never_prints_the_value() {
    let body =
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"mail jane.doe@example.org"}]}"#;
    let out = airlock(&["scan"], body.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = &lines(&out)[0];
    assert_eq!(line["decision"], "tokenize");
    assert_eq!(line["input"], "-");
    assert_eq!(line["policy"]["name"], "airlock-default");
    assert_eq!(line["policy"]["digest"].as_str().unwrap().len(), 64);
    assert_eq!(line["findings"][0]["path"], "$.messages[0].content");
    let rewritten: Value = serde_json::from_str(line["body"].as_str().unwrap()).unwrap();
    assert!(!text(&out.stdout).contains("jane.doe@example.org"));
    assert!(rewritten["messages"][0]["content"]
        .as_str()
        .unwrap()
        .starts_with("mail [EMAIL_"));

    let secret = format!(r#"{{"messages":[{{"role":"user","content":"my key {AWS_KEY}"}}]}}"#);
    let out = airlock(&["scan", "--host", "relay.example.net"], secret.as_bytes());
    let stdout = text(&out.stdout);
    assert!(!stdout.contains(AWS_KEY), "{stdout}");
    let line = &lines(&out)[0];
    assert_eq!(line["decision"], "block");
    assert_eq!(line["tier"], "unknown-relay");
    assert!(line.get("body").is_none());
}

#[test]
fn scan_reads_many_files_and_directories_in_one_process() {
    let dir = tempdir("scan");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("a.json"),
        r#"{"messages":[{"role":"user","content":"hello"}]}"#,
    )
    .unwrap();
    std::fs::write(dir.join("sub/b.txt"), format!("plain text with {AWS_KEY}")).unwrap();
    let a = dir.join("a.json");
    let out = airlock(&["scan", a.to_str().unwrap(), dir.to_str().unwrap()], b"");
    let got = lines(&out);
    assert_eq!(got.len(), 3, "one file, then the directory's two files");
    assert_eq!(got[0]["decision"], "allow");
    assert_eq!(got[1]["decision"], "allow");
    assert_eq!(got[2]["decision"], "block");
    assert_eq!(got[2]["findings"][0]["path"], "$");
    let missing = airlock(&["scan", "/nonexistent/body.json"], b"");
    assert!(!missing.status.success());
    assert!(lines(&missing)[0]["error"]
        .as_str()
        .unwrap()
        .contains("cannot read"));
}

#[test]
fn check_reports_every_error_with_file_and_field() {
    let dir = tempdir("check");
    std::fs::create_dir_all(dir.join("detectors")).unwrap();
    std::fs::write(
        dir.join("policy.yaml"),
        "schema: 1\nmetadata: {name: p, version: '1'}\nclasses: [public, secret]\n\
         destinations: {default_tier: relay, tiers: [{name: relay, max_class: public}]}\ndetectors: []\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("detectors/a.yaml"),
        "- {id: ok, class: secret, kind: custom, regex: 'abc\\d+'}\n- {id: bad, class: nope, kind: custom, regex: '(x'}\n",
    )
    .unwrap();
    let out = airlock(&["check", "--native", dir.to_str().unwrap()], b"");
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    let file = dir.join("detectors/a.yaml").display().to_string();
    assert!(
        stderr.contains(&format!("{file}: [1].class: unknown class \"nope\"")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}: [1].regex: invalid regex")),
        "{stderr}"
    );
}

#[test]
fn check_fails_when_a_test_case_fails_without_printing_its_body() {
    let dir = tempdir("failing");
    std::fs::write(
        dir.join("policy.yaml"),
        format!(
            "schema: 1\nmetadata: {{name: p, version: '1'}}\nclasses: [public, secret]\n\
             destinations: {{default_tier: relay, tiers: [{{name: relay, max_class: public}}]}}\n\
             detectors: [{{id: aws, class: secret, kind: credential, regex: 'AKIA[A-Z2-7]{{16}}', keywords: [AKIA]}}]\n\
             tests: [{{name: wrong, body: 'key {AWS_KEY}', expect: {{decision: allow}}}}]\n"
        ),
    )
    .unwrap();
    let out = airlock(
        &[
            "check",
            "--native",
            dir.join("policy.yaml").to_str().unwrap(),
        ],
        b"",
    );
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        all.contains("test \"wrong\": decision block (expected allow)"),
        "{all}"
    );
    assert!(all.contains("0 passed, 1 failed"), "{all}");
    assert!(!all.contains(AWS_KEY));
}

#[test]
fn build_emits_a_configuration_the_engine_loads_with_the_same_digest() {
    let out = airlock(&["build", "policies/default"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["airlock_config"], 1);
    assert!(
        config["policy"].get("tests").is_none(),
        "tests are not shipped to the filter"
    );
    let env = airlock_filter::policy::Environment {
        var: &|_| None,
        defer_regexes: true,
    };
    let loaded =
        airlock_filter::config::load(&out.stdout, &env).expect("filter loads what build printed");
    let check = text(&airlock(&["check", "--native", "policies/default"], b"").stdout);
    assert!(
        check.contains(&loaded.policy.info.digest),
        "check and the filter agree on the digest"
    );
}

#[test]
fn clear_errors_for_bad_flags_and_missing_policies() {
    let out = airlock(&["scan", "--frobnicate"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unexpected argument '--frobnicate'"));
    let out = airlock(&["check", "/nonexistent/policy.yaml"], b"");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("/nonexistent/policy.yaml: cannot read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_readme_example_policy_is_valid_and_passes_its_tests() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("```yaml\nschema: 1")
        .expect("README has the example policy")
        + "```yaml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let dir = tempdir("readme");
    std::fs::write(dir.join("policy.yaml"), &readme[start..end]).unwrap();
    let out = airlock(
        &[
            "check",
            "--native",
            "--require-examples",
            dir.join("policy.yaml").to_str().unwrap(),
        ],
        b"",
    );
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(
        !out.status.success(),
        "generic-password, customer-id, payment-card-visa and codename lack examples: {all}"
    );
    let out = airlock(
        &[
            "check",
            "--native",
            dir.join("policy.yaml").to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
