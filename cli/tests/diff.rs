//! `airlock diff` over the example corpus (policies/examples/corpus): a policy against itself
//! moves nothing; a real change reports exactly the decisions and detector actions that move,
//! in JSON Lines and Markdown, and never a value from a sample body.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn airlock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env_remove("AIRLOCK_HASH_KEY")
        .output()
        .expect("airlock runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn corpus() -> String {
    repo()
        .join("policies/examples/corpus")
        .display()
        .to_string()
}

fn default_policy() -> String {
    repo().join("policies/default").display().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// policies/default with personal data blocked (not tokenized) on approved vendors, and without
/// the network detectors (detectors/23-pii-network.yaml, the rule and test cases naming them).
fn changed_policy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("airlock-diff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&repo().join("policies/default"), &dir);
    let main = dir.join("policy.yaml");
    let text = std::fs::read_to_string(&main).unwrap();
    let rule = "- {kind: pii, tier: approved-vendor, action: tokenize}";
    assert!(
        text.contains(rule),
        "policies/default/policy.yaml changed: update this test"
    );
    let network_rule = "  - {detector: ipv4-internal, tier: approved-vendor, action: monitor}\n";
    assert!(
        text.contains(network_rule),
        "policies/default/policy.yaml changed: update this test"
    );
    let text = text
        .replace(rule, "- {kind: pii, tier: approved-vendor, action: block}")
        .replace(network_rule, "");
    std::fs::write(&main, text).unwrap();
    std::fs::remove_file(dir.join("detectors/23-pii-network.yaml")).unwrap();
    std::fs::remove_dir_all(dir.join("tests")).unwrap();
    dir
}

fn json_lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Values in the corpus bodies that must never be printed: every string of a message.
fn corpus_values() -> Vec<String> {
    let mut values = Vec::new();
    let mut stack = vec![repo().join("policies/examples/corpus")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let body = std::fs::read_to_string(&path).unwrap();
                for word in body.split(|c: char| c.is_whitespace() || c == '"') {
                    if word.contains('@') || word.starts_with("AKIA") || word.starts_with("10.42") {
                        values.push(
                            word.trim_matches(|c: char| !c.is_alphanumeric())
                                .to_string(),
                        );
                    }
                }
            }
        }
    }
    assert!(values.len() >= 4, "{values:?}");
    values
}

#[test]
fn a_policy_against_itself_moves_nothing() {
    let lines = json_lines(&airlock(&[
        "diff",
        &default_policy(),
        &default_policy(),
        "--corpus",
        &corpus(),
        "--json",
    ]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "policies");
    assert_eq!(lines[0]["old"]["digest"], lines[0]["new"]["digest"]);
    assert_eq!(lines[0]["decisions_moved"], 0);
    assert!(lines[0]["samples"].as_u64().unwrap() >= 10);
}

#[test]
fn a_change_reports_the_moves_per_decision_and_detector() {
    let new = changed_policy("moves");
    let new_s = new.display().to_string();
    let json_out = airlock(&[
        "diff",
        &default_policy(),
        &new_s,
        "--corpus",
        &corpus(),
        "--json",
    ]);
    let lines = json_lines(&json_out);
    assert_ne!(lines[0]["old"]["digest"], lines[0]["new"]["digest"]);
    let of = |kind: &str| -> Vec<&Value> { lines.iter().filter(|l| l["type"] == kind).collect() };
    let removed: Vec<&str> = of("detector_removed")
        .iter()
        .map(|l| l["detector"].as_str().unwrap())
        .collect();
    assert!(
        removed.contains(&"ipv4-internal") && removed.contains(&"mac-address"),
        "{removed:?}"
    );
    assert!(of("detector_added").is_empty());
    let email = "api.openai.com/v1/chat/completions/email-in-draft.json";
    let address = "api.openai.com/v1/chat/completions/internal-address.json";
    let decisions: Vec<(String, String, Vec<String>)> = of("decision_move")
        .iter()
        .map(|l| {
            let files = l["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect();
            (
                l["from"].as_str().unwrap().to_string(),
                l["to"].as_str().unwrap().to_string(),
                files,
            )
        })
        .collect();
    assert_eq!(
        decisions,
        vec![
            (
                "monitor".to_string(),
                "allow".to_string(),
                vec![address.to_string()]
            ),
            (
                "tokenize".to_string(),
                "block".to_string(),
                vec![email.to_string()]
            ),
        ]
    );
    let detectors: Vec<(String, String, String, u64)> = of("detector_move")
        .iter()
        .map(|l| {
            (
                l["detector"].as_str().unwrap().to_string(),
                l["from"].as_str().unwrap().to_string(),
                l["to"].as_str().unwrap().to_string(),
                l["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        detectors,
        vec![
            (
                "email-address".to_string(),
                "tokenize".to_string(),
                "block".to_string(),
                1
            ),
            (
                "ipv4-internal".to_string(),
                "monitor".to_string(),
                "none".to_string(),
                1
            ),
        ]
    );

    let markdown = airlock(&["diff", &default_policy(), &new_s, "--corpus", &corpus()]);
    assert!(markdown.status.success(), "{}", text(&markdown.stderr));
    let markdown = text(&markdown.stdout);
    assert!(markdown.starts_with("### Airlock policy diff"));
    assert!(
        markdown.contains("**2 of 10 sample requests change decision: 1 loosen, 1 tighten.**"),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!("| monitor → allow (loosens) | 1 | `{address}` |")),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!(
            "| `email-address` | tokenize → block | 1 | `{email}` |"
        )),
        "{markdown}"
    );
    assert!(markdown.contains("- Removed ("), "{markdown}");

    let json_text = text(&json_out.stdout);
    for value in corpus_values() {
        assert!(
            !markdown.contains(&value) && !json_text.contains(&value),
            "printed a body value"
        );
    }
    let _ = std::fs::remove_dir_all(&new);
}

#[test]
fn a_misplaced_sample_or_a_broken_policy_is_an_error() {
    let dir = std::env::temp_dir().join(format!("airlock-diff-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("loose.json"), "{}").unwrap();
    let out = airlock(&[
        "diff",
        &default_policy(),
        &default_policy(),
        "--corpus",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("loose.json") && text(&out.stderr).contains("<host>"));
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "schema: 1\n").unwrap();
    let out = airlock(&[
        "diff",
        &default_policy(),
        broken.to_str().unwrap(),
        "--corpus",
        &corpus(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
