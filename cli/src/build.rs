//! `airlock build`: the plugin configuration for a policy.

use crate::error::CliError;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, hold_headers: bool) -> Result<ExitCode, CliError> {
    let policy = match super::load::policy(path, super::load::Key::ThrowawayIfUnset) {
        Ok(p) => p,
        Err(e) if e.is_policy() => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e),
    };
    let config = airlock_filter::config::build(&policy.document, hold_headers)
        .map_err(CliError::Serialize)?;
    println!("{config}");
    eprintln!(
        "airlock: built {}@{} digest {}",
        policy.info.name, policy.info.version, policy.info.digest
    );
    Ok(ExitCode::SUCCESS)
}
