//! `airlock build`: the plugin configuration for a policy.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, hold_headers: bool) -> Result<ExitCode, String> {
    let policy = match super::load::policy(path, super::load::Key::ThrowawayIfUnset) {
        Ok(p) => p,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let config =
        airlock_filter::config::build(&policy.document, hold_headers).map_err(|e| e.to_string())?;
    println!("{config}");
    eprintln!(
        "airlock: built {}@{} digest {}",
        policy.info.name, policy.info.version, policy.info.digest
    );
    Ok(ExitCode::SUCCESS)
}
