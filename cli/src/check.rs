//! `airlock check`: validate a policy and run its test cases.

use super::load;
use crate::error::CliError;
use airlock_filter::policy::cases::{self, Case, Observed};
use airlock_filter::Policy;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub struct Options {
    pub native: bool,
    #[cfg_attr(not(feature = "wasm"), allow(dead_code))]
    pub wasm: Option<PathBuf>,
    pub require_examples: bool,
}

pub fn run(path: &Path, options: Options) -> Result<ExitCode, CliError> {
    let policy = match load::policy(path, load::Key::ThrowawayIfUnset) {
        Ok(p) => p,
        Err(e) if e.is_policy() => {
            eprintln!("{e}");
            eprintln!("airlock: {} is invalid", path.display());
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e),
    };
    let info = &policy.info;
    println!(
        "policy {}@{} digest {}",
        info.name, info.version, info.digest
    );
    println!(
        "  {} detectors, {} tiers, {} classes",
        policy.detectors.len(),
        policy.tiers.len(),
        policy.classes.len()
    );

    let mut problems = Vec::new();
    if options.require_examples {
        problems.extend(missing_examples(&policy));
    }
    let all = cases::cases(&policy.document);
    let mut runner = Runner::choose(&options, &policy, all.len())?;
    let mut failed = 0usize;
    for case in &all {
        if let Err(why) = runner
            .run(&policy, case)
            .and_then(|observed| case.judge(&observed))
        {
            failed += 1;
            problems.push(format!("{}: {why}", case.name));
        }
    }
    for p in &problems {
        eprintln!("FAIL {p}");
    }
    println!("{} passed, {} failed", all.len() - failed, problems.len());
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn missing_examples(policy: &Policy) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, d) in policy.document.detectors.iter().enumerate() {
        let examples = d.examples.clone().unwrap_or_default();
        if examples.matches.is_empty() || examples.ignore.is_empty() {
            let at = policy.origins.error(&format!("detectors[{i}]"), "");
            problems.push(format!(
                "{}: {}: detector {} needs both `match` and `ignore` examples",
                at.source, at.path, d.id
            ));
        }
    }
    problems
}

/// What runs the cases: the compiled filter in the wasmtime harness, or the native engine.
enum Runner {
    Native(Box<airlock_filter::Scratch>),
    #[cfg(feature = "wasm")]
    Wasm(Box<super::wasm::WasmRunner>),
}

impl Runner {
    /// The `.wasm` unless `--native`; the native engine, with a warning, when no `.wasm` is built.
    fn choose(options: &Options, policy: &Policy, count: usize) -> Result<Runner, CliError> {
        let native = Runner::Native(Box::new(policy.scratch()));
        if options.native {
            println!("  running {count} cases with the native engine");
            return Ok(native);
        }
        #[cfg(not(feature = "wasm"))]
        {
            eprintln!("airlock: warning: built without the `wasm` feature; running {count} cases with the native engine");
            Ok(native)
        }
        #[cfg(feature = "wasm")]
        {
            let wasm = match &options.wasm {
                Some(path) if path.is_file() => path.clone(),
                Some(path) => return Err(CliError::NoWasm(path.clone())),
                None => match airlock_host_tests::filter_wasm() {
                    Ok(path) => path,
                    Err(why) => {
                        eprintln!(
                            "airlock: warning: {why} Running {count} cases with the native engine instead of the filter that ships."
                        );
                        return Ok(native);
                    }
                },
            };
            let runner = super::wasm::WasmRunner::new(&wasm, policy).map_err(CliError::Filter)?;
            println!("  running {count} cases through {}", wasm.display());
            Ok(Runner::Wasm(Box::new(runner)))
        }
    }

    fn run(&mut self, policy: &Policy, case: &Case) -> Result<Observed, String> {
        match self {
            Runner::Native(scratch) => Ok(case.run_native(policy, scratch)),
            #[cfg(feature = "wasm")]
            Runner::Wasm(runner) => runner.run(case),
        }
    }
}
