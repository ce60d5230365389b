//! What stops an `airlock` command. Every error names the file or input it is about and,
//! where there is one, what to do; a policy's own problems are listed one per line with the
//! file, the field path and the fix.

use airlock_filter::policy::bundle::BundleError;
use airlock_filter::policy::PolicyErrors;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum CliError {
    /// The policy's files could not be read or parsed.
    Bundle(BundleError),
    /// The policy was read but does not compile.
    Invalid(PolicyErrors),
    /// The plugin configuration could not be serialized.
    Serialize(serde_json::Error),
    /// `--wasm` names a file that does not exist.
    NoWasm(PathBuf),
    /// The compiled filter could not be loaded or configured, or trapped.
    Filter(String),
    /// Standard output could not be written.
    Output(std::io::Error),
    /// `airlock index` could not build an index (the message names the input and the problem).
    Index(String),
    /// Signing or verifying a configuration failed (a key file, the random source).
    Sign(crate::sign::SignError),
    /// `airlock diff`'s corpus is missing or misplaced (the message names the file and the layout).
    Corpus(String),
    /// A file could not be written.
    Write(PathBuf, std::io::Error),
    /// `airlock package` could not read the module or write the image layout.
    Package(String),
}

impl CliError {
    /// Whether the error is the policy's (it is then reported as a failed check, exit 1,
    /// rather than as a failure of the command, exit 2).
    pub fn is_policy(&self) -> bool {
        matches!(self, CliError::Bundle(_) | CliError::Invalid(_))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Bundle(e) => e.fmt(f),
            CliError::Invalid(e) => e.fmt(f),
            CliError::Serialize(e) => write!(f, "cannot serialize the configuration: {e}"),
            CliError::NoWasm(path) => write!(f, "{}: no such file", path.display()),
            CliError::Filter(problem) => f.write_str(problem),
            CliError::Output(e) => write!(f, "cannot write output: {e}"),
            CliError::Index(problem) => f.write_str(problem),
            CliError::Sign(e) => e.fmt(f),
            CliError::Corpus(problem) => f.write_str(problem),
            CliError::Write(path, e) => write!(f, "{}: cannot write: {e}", path.display()),
            CliError::Package(problem) => f.write_str(problem),
        }
    }
}

impl std::error::Error for CliError {}

impl From<BundleError> for CliError {
    fn from(e: BundleError) -> CliError {
        CliError::Bundle(e)
    }
}

impl From<PolicyErrors> for CliError {
    fn from(e: PolicyErrors) -> CliError {
        CliError::Invalid(e)
    }
}
