//! `airlock build`: the plugin configuration for a policy.

use crate::error::CliError;
use std::path::Path;
use std::process::ExitCode;

/// `sign`: a private key file; the configuration is then printed in its signed envelope.
pub fn run(path: &Path, hold_headers: bool, sign: Option<&Path>) -> Result<ExitCode, CliError> {
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
    let config = match sign {
        Some(key) => crate::sign::seal(&config, key)?,
        None => config,
    };
    println!("{config}");
    eprintln!(
        "airlock: built {}@{} digest {}",
        policy.info.name, policy.info.version, policy.info.digest
    );
    Ok(ExitCode::SUCCESS)
}
