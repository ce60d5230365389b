//! `airlock build`: the plugin configuration for a policy.

use crate::error::CliError;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// `sign`: a private key file; the configuration is then printed in its signed envelope.
/// `envelope`: write the binary configuration envelope instead (the JSON configuration followed
/// by the protected indexes raw; `airlock_filter::protected::envelope`), to stdout as bytes.
pub fn run(
    path: &Path,
    hold_headers: bool,
    sign: Option<&Path>,
    envelope: bool,
) -> Result<ExitCode, CliError> {
    if envelope && sign.is_some() {
        eprintln!("airlock: --envelope and --sign do not combine yet; sign a JSON configuration");
        return Ok(ExitCode::FAILURE);
    }
    let policy = match super::load::policy(path, super::load::Key::ThrowawayIfUnset) {
        Ok(p) => p,
        Err(e) if e.is_policy() => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e),
    };
    if envelope {
        let bytes = match airlock_filter::protected::envelope::build(&policy.document, hold_headers)
        {
            Ok(bytes) => bytes,
            Err(why) => {
                eprintln!("airlock: {why}");
                return Ok(ExitCode::FAILURE);
            }
        };
        std::io::stdout()
            .write_all(&bytes)
            .and_then(|()| std::io::stdout().flush())
            .map_err(CliError::Output)?;
        eprintln!(
            "airlock: built {}@{} digest {} (envelope, {} bytes)",
            policy.info.name,
            policy.info.version,
            policy.info.digest,
            bytes.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
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
