//! `airlock check`: validate a policy and run its test cases.

use super::load;
use airlock_filter::policy::cases::{self, Case, Observed};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub struct Options {
    pub native: bool,
    pub wasm: Option<PathBuf>,
    pub require_examples: bool,
}

pub fn run(path: &Path, options: Options) -> Result<ExitCode, String> {
    let policy = match load::policy(path, load::Key::ThrowawayIfUnset) {
        Ok(p) => p,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("airlock: {} is invalid", path.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let info = &policy.info;
    println!("policy {}@{} digest {}", info.name, info.version, info.digest);
    println!("  {} detectors, {} tiers, {} classes", policy.detectors.len(), policy.tiers.len(), policy.classes.len());

    let mut problems = Vec::new();
    if options.require_examples {
        for (i, d) in policy.document.detectors.iter().enumerate() {
            let examples = d.examples.clone().unwrap_or_default();
            if examples.matches.is_empty() || examples.ignore.is_empty() {
                let at = policy.origins.error(&format!("detectors[{i}]"), "");
                problems.push(format!("{}: {}: detector {} needs both `match` and `ignore` examples", at.source, at.path, d.id));
            }
        }
    }

    let all = cases::cases(&policy.document);
    let _ = (&options.native, &options.wasm);
    println!("  running {} cases with the native engine", all.len());
    let mut scratch = policy.scratch();
    let mut run = |case: &Case| -> Observed { case.run_native(&policy, &mut scratch) };
    let mut failed = 0usize;
    for case in &all {
        if let Err(why) = case.judge(&run(case)) {
            failed += 1;
            problems.push(format!("{}: {why}", case.name));
        }
    }
    for p in &problems {
        eprintln!("FAIL {p}");
    }
    println!("{} passed, {} failed", all.len() - failed, failed + problems.len().saturating_sub(failed));
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
