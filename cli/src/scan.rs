//! `airlock scan`: run the engine over request bodies, one JSON line each.

use super::load;
use crate::error::CliError;
use airlock_filter::telemetry;
use airlock_filter::{Action, Policy, Request, Scratch};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `airlock scan` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per input, a line each.
    #[default]
    Jsonl,
    /// One SARIF 2.1.0 log for all inputs (code-scanning tools).
    Sarif,
}

pub fn run(
    policy_path: Option<&Path>,
    host: &str,
    path: &str,
    content_type: Option<&str>,
    inputs: &[PathBuf],
    format: Format,
) -> Result<ExitCode, CliError> {
    let policy = match load::policy_or_default(policy_path, load::Key::Required) {
        Ok(p) => p,
        Err(e) if e.is_policy() => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e),
    };
    let mut scratch = policy.scratch();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    let mut sarif_reports = Vec::new();
    let mut emit =
        |name: &str, body: Result<Vec<u8>, String>, out: &mut dyn Write| -> Result<(), CliError> {
            let line = match body {
                Ok(body) => {
                    let request = Request {
                        host,
                        path,
                        content_type,
                        content_encoding: None,
                        body: &body,
                        caller: None,
                    };
                    report(name, &policy, &request, &mut scratch)
                }
                Err(e) => {
                    failed = true;
                    json!({"input": name, "error": e})
                }
            };
            if format == Format::Sarif {
                sarif_reports.push(line);
                return Ok(());
            }
            writeln!(out, "{line}").map_err(CliError::Output)
        };
    let stdin_only = inputs.is_empty() || inputs.iter().all(|p| p.as_os_str() == "-");
    if stdin_only {
        let mut body = Vec::new();
        let read = std::io::stdin()
            .read_to_end(&mut body)
            .map(|_| body)
            .map_err(|e| format!("cannot read standard input: {e}"));
        emit("-", read, &mut out)?;
    } else {
        for input in inputs {
            if input.as_os_str() == "-" {
                let mut body = Vec::new();
                let read = std::io::stdin()
                    .read_to_end(&mut body)
                    .map(|_| body)
                    .map_err(|e| e.to_string());
                emit("-", read, &mut out)?;
                continue;
            }
            for file in expand(input) {
                let name = file.display().to_string();
                let read = std::fs::read(&file).map_err(|e| format!("cannot read: {e}"));
                emit(&name, read, &mut out)?;
            }
        }
    }
    if format == Format::Sarif {
        let log = crate::sarif::log(&sarif_reports);
        writeln!(out, "{log:#}").map_err(CliError::Output)?;
    }
    out.flush().map_err(CliError::Output)?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A file as itself; a directory as its files, recursively, sorted.
pub fn expand(input: &Path) -> Vec<PathBuf> {
    if !input.is_dir() {
        return vec![input.to_path_buf()];
    }
    let mut files = Vec::new();
    let mut stack = vec![input.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            files.push(dir);
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The JSON line for one input. The rewritten body is printed only when no finding was left in it.
pub fn report(name: &str, policy: &Policy, request: &Request<'_>, scratch: &mut Scratch) -> Value {
    let verdict = policy.inspect(request, scratch);
    let findings = telemetry::findings_json(policy, &verdict, true);
    let mut line = json!({
        "input": name,
        "decision": verdict.decision.as_str(),
        "tier": policy.tier_name(verdict.tier),
        "policy": {"name": policy.info.name, "version": policy.info.version, "digest": policy.info.digest},
        "findings": findings,
    });
    if verdict.planned != verdict.decision {
        line["enforce_decision"] = json!(verdict.planned.as_str());
    }
    if let Some(limits) = telemetry::limits_json(&verdict) {
        line["limits_hit"] = limits;
    }
    if let Some(why) = &verdict.uninspectable {
        line["uninspectable"] = json!({"reason": why.reason(), "message": why.message()});
    }
    if let Some(body) = &verdict.body {
        let left_in_place = verdict
            .findings
            .iter()
            .filter(|f| !f.action.rewrites())
            .count();
        if left_in_place == 0 && verdict.decision != Action::Block {
            line["body"] = json!(String::from_utf8_lossy(body));
        } else {
            line["body_withheld"] = json!(format!(
                "the rewritten body still holds {left_in_place} finding(s) that monitor/allow actions left in place"
            ));
        }
    }
    line
}
