//! `airlock diff OLD NEW --corpus DIR`: the blast radius of a policy change, for review.
//!
//! Both policies inspect every sample request of a corpus; the report says which request
//! decisions move (allow → block, mask → allow, ...), which detectors' actions move on which
//! samples (a detector that starts or stops firing moves from or to `none`), which
//! detectors were added or removed, and the digests of both policies. It prints a Markdown
//! summary for a pull-request comment, or JSON Lines (`--json`) for tools.
//!
//! A corpus sample is a file holding one request body; where it sits says where it goes:
//! `DIR/<host>/<path...>/<name>`, so `corpus/api.openai.com/v1/chat/completions/email.json`
//! is a POST of that body to `https://api.openai.com/v1/chat/completions` (a file directly in
//! the host folder goes to `/`). A reviewer adds a case by saving a captured body under its
//! URL; no manifest to keep in step. The content type is detected, as by `airlock scan`.
//!
//! Nothing from a body is printed: only detector ids, sample file names, actions and counts.
//! Detector moves compare each detector's enforce-mode action on the sample (its most
//! severe finding); request moves compare the decisions after monitor mode.

use super::load;
use crate::error::CliError;
use airlock_filter::{Action, Policy, Request};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// One request of the corpus.
struct Sample {
    /// The file's path under the corpus folder, `/`-separated: how the report names it.
    name: String,
    host: String,
    path: String,
    body: Vec<u8>,
}

/// What one policy did with one sample.
struct Outcome {
    decision: Action,
    /// Each detector that fired, with its most severe action.
    detectors: BTreeMap<String, Action>,
}

/// The samples under `dir`, sorted by name; a file directly under `dir` has no host and is
/// an error (the message says where to put it).
fn read_corpus(dir: &Path) -> Result<Vec<Sample>, CliError> {
    if !dir.is_dir() {
        return Err(CliError::Corpus(format!(
            "{}: not a directory; a corpus is DIR/<host>/<path...>/<body file>",
            dir.display()
        )));
    }
    let mut samples = Vec::new();
    for file in super::scan::expand(dir) {
        let Ok(relative) = file.strip_prefix(dir) else {
            continue;
        };
        let parts: Vec<String> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts.iter().any(|p| p.starts_with('.'))
            || parts.last().is_some_and(|p| p == "README.md")
        {
            continue;
        }
        let [host, middle @ .., _file] = parts.as_slice() else {
            return Err(CliError::Corpus(format!(
                "{}: a sample must sit in a folder named for its host (DIR/<host>/<path...>/<file>)",
                file.display()
            )));
        };
        let body = std::fs::read(&file)
            .map_err(|e| CliError::Corpus(format!("{}: cannot read: {e}", file.display())))?;
        samples.push(Sample {
            name: parts.join("/"),
            host: host.clone(),
            path: format!("/{}", middle.join("/")),
            body,
        });
    }
    if samples.is_empty() {
        return Err(CliError::Corpus(format!("{}: no samples", dir.display())));
    }
    Ok(samples)
}

fn inspect(policy: &Policy, sample: &Sample, scratch: &mut airlock_filter::Scratch) -> Outcome {
    let request = Request {
        host: &sample.host,
        path: &sample.path,
        content_type: None,
        content_encoding: None,
        body: &sample.body,
        caller: None,
    };
    let verdict = policy.inspect(&request, scratch);
    let mut detectors: BTreeMap<String, Action> = BTreeMap::new();
    for finding in &verdict.findings {
        if let Some(detector) = policy.detector(finding.detector) {
            let action = detectors
                .entry(detector.id.clone())
                .or_insert(finding.action);
            *action = (*action).max(finding.action);
        }
    }
    Outcome {
        decision: verdict.decision,
        detectors,
    }
}

/// A move of something from one action to another (`None`: did not fire).
type Move = (Option<Action>, Option<Action>);

/// What changed between the two policies over the corpus.
struct Report {
    samples: usize,
    decision_moves: BTreeMap<(Action, Action), Vec<String>>,
    detector_moves: BTreeMap<(String, Move), Vec<String>>,
    added: Vec<String>,
    removed: Vec<String>,
}

fn compare(old: &Policy, new: &Policy, samples: &[Sample]) -> Report {
    let ids =
        |p: &Policy| -> BTreeSet<String> { p.detectors.iter().map(|d| d.id.clone()).collect() };
    let (old_ids, new_ids) = (ids(old), ids(new));
    let mut report = Report {
        samples: samples.len(),
        decision_moves: BTreeMap::new(),
        detector_moves: BTreeMap::new(),
        added: new_ids.difference(&old_ids).cloned().collect(),
        removed: old_ids.difference(&new_ids).cloned().collect(),
    };
    let (mut old_scratch, mut new_scratch) = (old.scratch(), new.scratch());
    for sample in samples {
        let before = inspect(old, sample, &mut old_scratch);
        let after = inspect(new, sample, &mut new_scratch);
        if before.decision != after.decision {
            report
                .decision_moves
                .entry((before.decision, after.decision))
                .or_default()
                .push(sample.name.clone());
        }
        let fired: BTreeSet<&String> = before
            .detectors
            .keys()
            .chain(after.detectors.keys())
            .collect();
        for id in fired {
            let moved = (
                before.detectors.get(id).copied(),
                after.detectors.get(id).copied(),
            );
            if moved.0 != moved.1 {
                report
                    .detector_moves
                    .entry((id.clone(), moved))
                    .or_default()
                    .push(sample.name.clone());
            }
        }
    }
    report
}

fn action_name(action: Option<Action>) -> &'static str {
    action.map_or("none", Action::as_str)
}

fn policy_json(policy: &Policy) -> Value {
    let info = &policy.info;
    json!({"name": info.name, "version": info.version, "digest": info.digest})
}

/// The report as JSON Lines: a `policies` line, then one line per change.
fn json_lines(old: &Policy, new: &Policy, report: &Report) -> Vec<Value> {
    let moved: usize = report.decision_moves.values().map(Vec::len).sum();
    let mut lines = vec![json!({
        "type": "policies",
        "old": policy_json(old),
        "new": policy_json(new),
        "samples": report.samples,
        "decisions_moved": moved,
    })];
    lines.extend(
        report
            .added
            .iter()
            .map(|id| json!({"type": "detector_added", "detector": id})),
    );
    lines.extend(
        report
            .removed
            .iter()
            .map(|id| json!({"type": "detector_removed", "detector": id})),
    );
    for ((from, to), files) in &report.decision_moves {
        lines.push(
            json!({"type": "decision_move", "from": from.as_str(), "to": to.as_str(),
                          "count": files.len(), "samples": files}),
        );
    }
    for ((id, (from, to)), files) in &report.detector_moves {
        lines.push(
            json!({"type": "detector_move", "detector": id, "from": action_name(*from),
                          "to": action_name(*to), "count": files.len(), "samples": files}),
        );
    }
    lines
}

/// Code span for Markdown table cells: no backticks or pipes from a file name break the table.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'").replace('|', "\\|"))
}

/// At most this many file names per table row; the rest are counted.
const NAMES_PER_ROW: usize = 10;

/// Longer lists of added or removed detectors are folded in a `<details>` block.
const FOLD_DETECTORS_ABOVE: usize = 20;

fn files_cell(files: &[String]) -> String {
    let mut cell: Vec<String> = files.iter().take(NAMES_PER_ROW).map(|f| code(f)).collect();
    if files.len() > NAMES_PER_ROW {
        cell.push(format!("and {} more", files.len() - NAMES_PER_ROW));
    }
    cell.join(", ")
}

/// The report as Markdown for a pull-request comment.
fn markdown(old: &Policy, new: &Policy, report: &Report) -> String {
    let mut out = String::from("### Airlock policy diff\n\n| | policy | digest |\n|---|---|---|\n");
    for (label, policy) in [("old", old), ("new", new)] {
        let info = &policy.info;
        out.push_str(&format!(
            "| {label} | {} | {} |\n",
            code(&format!("{}@{}", info.name, info.version)),
            code(info.short_digest())
        ));
    }
    let count = |loosens: bool| -> usize {
        report
            .decision_moves
            .iter()
            .filter(|((from, to), _)| (to < from) == loosens)
            .map(|(_, files)| files.len())
            .sum()
    };
    let (loosened, tightened) = (count(true), count(false));
    out.push_str(&format!(
        "\n**{} of {} sample requests change decision: {loosened} loosen, {tightened} tighten.**\n",
        loosened + tightened,
        report.samples
    ));
    if !report.decision_moves.is_empty() {
        out.push_str(
            "\n#### Decisions that move\n\n| from → to | samples | files |\n|---|---:|---|\n",
        );
        // Loosening moves first: they are what a reviewer must not miss.
        let mut moves: Vec<_> = report.decision_moves.iter().collect();
        moves.sort_by_key(|((from, to), _)| (to >= from, *from, *to));
        for ((from, to), files) in moves {
            let mark = if to < from { " (loosens)" } else { "" };
            out.push_str(&format!(
                "| {} → {}{mark} | {} | {} |\n",
                from.as_str(),
                to.as_str(),
                files.len(),
                files_cell(files)
            ));
        }
    }
    if !report.detector_moves.is_empty() {
        out.push_str(
            "\n#### By detector\n\n| detector | from → to | samples | files |\n|---|---|---:|---|\n",
        );
        for ((id, (from, to)), files) in &report.detector_moves {
            out.push_str(&format!(
                "| {} | {} → {} | {} | {} |\n",
                code(id),
                action_name(*from),
                action_name(*to),
                files.len(),
                files_cell(files)
            ));
        }
    }
    if !report.added.is_empty() || !report.removed.is_empty() {
        out.push_str("\n#### Detectors\n\n");
        for (label, ids) in [("Added", &report.added), ("Removed", &report.removed)] {
            if !ids.is_empty() {
                let list: Vec<String> = ids.iter().map(|id| code(id)).collect();
                let list = list.join(", ");
                // A long list (a whole policy swapped) folds away in the pull-request comment.
                if ids.len() > FOLD_DETECTORS_ABOVE {
                    out.push_str(&format!(
                        "- {label} ({}): <details><summary>show</summary>\n\n  {list}\n\n  </details>\n",
                        ids.len()
                    ));
                } else {
                    out.push_str(&format!("- {label} ({}): {list}\n", ids.len()));
                }
            }
        }
    }
    out
}

/// Runs the diff; exit 1 when a policy does not load (its errors printed), else 0.
pub fn run(old: &Path, new: &Path, corpus: &Path, json: bool) -> Result<ExitCode, CliError> {
    let load = |path: &Path| match load::policy(path, load::Key::ThrowawayIfUnset) {
        Ok(policy) => Ok(Some(policy)),
        Err(e) if e.is_policy() => {
            eprintln!("{e}");
            Ok(None)
        }
        Err(e) => Err(e),
    };
    let (Some(old), Some(new)) = (load(old)?, load(new)?) else {
        return Ok(ExitCode::FAILURE);
    };
    let samples = read_corpus(corpus)?;
    let report = compare(&old, &new, &samples);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        for line in json_lines(&old, &new, &report) {
            writeln!(out, "{line}").map_err(CliError::Output)?;
        }
    } else {
        out.write_all(markdown(&old, &new, &report).as_bytes())
            .map_err(CliError::Output)?;
    }
    out.flush().map_err(CliError::Output)?;
    Ok(ExitCode::SUCCESS)
}
