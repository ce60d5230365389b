//! `airlock scan --format sarif`: the scan's reports as one SARIF 2.1.0 log, for code-scanning
//! tools (GitHub code scanning, IDE SARIF viewers, CI gates).
//!
//! Built from the same JSON reports `airlock scan` prints one per line, so the two formats
//! cannot disagree. Each detector that found something is a rule (its class and kind in the
//! rule's properties); each finding is a result with the input file as its artifact and the
//! field's JSON path as a logical location. The finding's span is an offset into the field's
//! decoded text, not into the file, so no file region is claimed. The level follows the
//! action: `block` is an error, `mask` and `hash` warnings, `monitor` and `allow` notes. Like
//! the JSON lines, SARIF names detectors and carries keyed fingerprints, never a matched value.

use serde_json::{json, Value};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const UNINSPECTABLE_RULE: &str = "uninspectable";

/// One SARIF log for `reports` (the values `scan::report` returns, or `{"input", "error"}`).
pub fn log(reports: &[Value]) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    let mut policy = Value::Null;
    for report in reports {
        let input = report["input"].as_str().unwrap_or("-");
        if let Some(error) = report["error"].as_str() {
            notifications.push(json!({
                "level": "error",
                "message": {"text": format!("{input}: {error}")},
            }));
            continue;
        }
        if policy.is_null() {
            policy = report["policy"].clone();
        }
        let tier = report["tier"].as_str().unwrap_or("");
        for finding in report["findings"].as_array().into_iter().flatten() {
            let detector = finding["detector"].as_str().unwrap_or("");
            let index = rule_index(&mut rules, detector, || {
                json!({
                    "id": detector,
                    "shortDescription": {"text": format!(
                        "{} ({} data) found by Airlock detector {detector}",
                        finding["kind"].as_str().unwrap_or("finding"),
                        finding["class"].as_str().unwrap_or("unclassified"),
                    )},
                    "properties": {"class": finding["class"], "kind": finding["kind"]},
                })
            });
            let action = finding["action"].as_str().unwrap_or("");
            let mut result = json!({
                "ruleId": detector,
                "ruleIndex": index,
                "level": level(action),
                "message": {"text": format!(
                    "{detector} found at {} (action {action} for tier {tier}, layer {})",
                    finding["path"].as_str().unwrap_or("$"),
                    finding["via"].as_str().unwrap_or("as written"),
                )},
                "locations": [location(input, finding["path"].as_str())],
                "properties": {"action": action, "decision": report["decision"], "tier": tier},
            });
            if let Some(fingerprint) = finding["fingerprint"].as_str() {
                result["partialFingerprints"] = json!({ "airlockFingerprint/v1": fingerprint });
            }
            results.push(result);
        }
        if let Some(why) = report.get("uninspectable") {
            let index = rule_index(&mut rules, UNINSPECTABLE_RULE, || {
                json!({
                    "id": UNINSPECTABLE_RULE,
                    "shortDescription": {"text": "Airlock could not inspect the body; the policy's fail mode decided"},
                })
            });
            results.push(json!({
                "ruleId": UNINSPECTABLE_RULE,
                "ruleIndex": index,
                "level": level(report["decision"].as_str().unwrap_or("block")),
                "message": {"text": format!(
                    "not inspected ({}): {}; decision {}",
                    why["reason"].as_str().unwrap_or(""),
                    why["message"].as_str().unwrap_or(""),
                    report["decision"].as_str().unwrap_or(""),
                )},
                "locations": [location(input, None)],
            }));
        }
    }
    let mut run = json!({
        "tool": {"driver": {
            "name": "airlock",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "invocations": [{
            "executionSuccessful": notifications.is_empty(),
            "toolExecutionNotifications": notifications,
        }],
        "results": results,
    });
    if !policy.is_null() {
        run["properties"] = json!({ "policy": policy });
    }
    json!({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]})
}

/// The index of rule `id`, added by `make` when it is new.
fn rule_index(rules: &mut Vec<Value>, id: &str, make: impl FnOnce() -> Value) -> usize {
    if let Some(i) = rules.iter().position(|r| r["id"] == id) {
        return i;
    }
    rules.push(make());
    rules.len() - 1
}

fn level(action: &str) -> &'static str {
    match action {
        "block" => "error",
        "mask" | "hash" => "warning",
        _ => "note",
    }
}

fn location(input: &str, json_path: Option<&str>) -> Value {
    let mut location = json!({
        "physicalLocation": {"artifactLocation": {"uri": uri(input)}},
    });
    if let Some(path) = json_path {
        location["logicalLocations"] = json!([{"fullyQualifiedName": path, "kind": "member"}]);
    }
    location
}

/// A relative URI reference for an input path (`-` is standard input).
fn uri(input: &str) -> String {
    if input == "-" {
        return "stdin".to_string();
    }
    let mut out = String::with_capacity(input.len());
    for b in input.trim_start_matches("./").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_become_results_of_one_rule_per_detector() {
        let finding = |action: &str, path: &str| {
            json!({"action": action, "class": "secret", "detector": "aws-access-key-id",
                   "fingerprint": "hmac-sha256:00ff", "kind": "credential", "path": path,
                   "start": 4, "end": 24, "via": "as-written"})
        };
        let reports = [
            json!({"input": "corpus/a b.json", "decision": "block", "tier": "approved-vendor",
                   "policy": {"name": "p", "version": "1", "digest": "d"},
                   "findings": [finding("block", "$.messages[0].content"),
                                finding("block", "$.messages[1].content")]}),
            json!({"input": "corpus/big.json", "decision": "block", "tier": "approved-vendor",
                   "findings": [], "uninspectable": {"reason": "too_large", "message": "over"}}),
            json!({"input": "missing.json", "error": "cannot read: no such file"}),
        ];
        let log = log(&reports);
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[1]["ruleIndex"], 0);
        assert_eq!(results[2]["ruleId"], UNINSPECTABLE_RULE);
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "corpus/a%20b.json"
        );
        assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    }
}
