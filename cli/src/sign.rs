//! Signing plugin configurations: `airlock keygen`, `airlock build --sign` and `airlock verify`.
//!
//! The envelope format and the verification are the filter's own
//! ([`airlock_filter::signature`]), so what `verify` accepts is exactly what a VM accepts.
//! Keys are files in the formats `openssl` and KMS exports use: the private key a PKCS#8
//! PEM (`openssl genpkey -algorithm ed25519` writes the same), the public key an SPKI PEM,
//! which the filter's VM configuration takes as it is.

use crate::error::CliError;
use airlock_filter::signature::{self, Opened, TrustedKeys};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What signing or verifying needs and did not get.
#[derive(Debug)]
pub enum SignError {
    /// A key file could not be read.
    ReadKey(PathBuf, std::io::Error),
    /// A private key file is not an Ed25519 PKCS#8 PEM.
    PrivateKey(PathBuf),
    /// A public key file is not an Ed25519 public key (the problem).
    PublicKey(PathBuf, String),
    /// `keygen` would overwrite a key file.
    Exists(PathBuf),
    /// The system's random source failed.
    Random(String),
    /// A key could not be encoded (the problem).
    Encode(String),
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::ReadKey(path, e) => write!(f, "{}: cannot read the key: {e}", path.display()),
            SignError::PrivateKey(path) => write!(
                f,
                "{}: not an Ed25519 private key in PKCS#8 PEM; create one with `airlock keygen --out PREFIX`",
                path.display()
            ),
            SignError::PublicKey(path, problem) => write!(f, "{}: {problem}", path.display()),
            SignError::Exists(path) => write!(
                f,
                "{}: already exists; keygen never overwrites a key (choose another --out)",
                path.display()
            ),
            SignError::Random(problem) => write!(f, "no random bytes for a key: {problem}"),
            SignError::Encode(problem) => write!(f, "cannot encode the key: {problem}"),
        }
    }
}

/// Signs a built configuration with the private key at `key_file`: the envelope's text.
pub fn seal(config: &str, key_file: &Path) -> Result<String, CliError> {
    let pem = std::fs::read_to_string(key_file)
        .map_err(|e| CliError::Sign(SignError::ReadKey(key_file.to_path_buf(), e)))?;
    let key = SigningKey::from_pkcs8_pem(&pem)
        .map_err(|_| CliError::Sign(SignError::PrivateKey(key_file.to_path_buf())))?;
    let signature = key.sign(&signature::signed_message(config.as_bytes()));
    let id = signature::key_id(&key.verifying_key());
    eprintln!("airlock: signed with key {id}");
    signature::seal(config, id, &signature).map_err(CliError::Serialize)
}

/// `airlock keygen --out PREFIX`: writes `PREFIX.key` (private, mode 0600) and `PREFIX.pub`.
pub fn keygen(prefix: &Path) -> Result<ExitCode, CliError> {
    let with_extension = |ext: &str| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(ext);
        PathBuf::from(name)
    };
    let (private_file, public_file) = (with_extension(".key"), with_extension(".pub"));
    for file in [&private_file, &public_file] {
        if file.exists() {
            return Err(CliError::Sign(SignError::Exists(file.clone())));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| CliError::Sign(SignError::Random(e.to_string())))?;
    let key = SigningKey::from_bytes(&seed);
    let encode = |e: &dyn std::fmt::Display| CliError::Sign(SignError::Encode(e.to_string()));
    let private_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| encode(&e))?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| encode(&e))?;
    write_new(&private_file, private_pem.as_bytes(), 0o600)?;
    write_new(&public_file, public_pem.as_bytes(), 0o644)?;
    eprintln!(
        "airlock: wrote {} (keep it in CI's secret store) and {} (key {}): give the public key \
         to the filter as its VM configuration {{\"config_public_keys\": [\"<{}>\"]}}",
        private_file.display(),
        public_file.display(),
        signature::key_id(&key.verifying_key()),
        public_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates `file` (never overwriting) with `mode`, and writes `bytes`.
fn write_new(file: &Path, bytes: &[u8], mode: u32) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let failed = |e| CliError::Write(file.to_path_buf(), e);
    let mut out = options.open(file).map_err(failed)?;
    out.write_all(bytes).map_err(failed)
}

/// `airlock verify CONFIG --key PUB`: exit 0 when a key signed `config` and it holds a
/// configuration the filter loads; 1 (saying why) when not.
pub fn verify(config: &Path, public_keys: &[PathBuf]) -> Result<ExitCode, CliError> {
    let mut keys = TrustedKeys::default();
    for file in public_keys {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::Sign(SignError::ReadKey(file.clone(), e)))?;
        keys.add(&text)
            .map_err(|problem| CliError::Sign(SignError::PublicKey(file.clone(), problem)))?;
    }
    let bytes = std::fs::read(config)
        .map_err(|e| CliError::Sign(SignError::ReadKey(config.to_path_buf(), e)))?;
    let (inner, signer) = match signature::open(&bytes, &keys) {
        Ok(Opened::Signed {
            config: inner,
            verified_by: Some(id),
        }) => (inner, id),
        Ok(_) => {
            // Only reachable without keys, which the command line requires.
            eprintln!("airlock: {}: no key given to verify with", config.display());
            return Ok(ExitCode::FAILURE);
        }
        Err(rejection) => {
            eprintln!(
                "airlock: {}: rejected ({}): {rejection}",
                config.display(),
                rejection.reason()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let env = crate::load::environment(crate::load::Key::ThrowawayIfUnset);
    match airlock_filter::config::load(inner.as_bytes(), &env) {
        Ok(loaded) => {
            let info = &loaded.policy.info;
            eprintln!(
                "airlock: {}: signed by key {signer}; policy {}@{} digest {}",
                config.display(),
                info.name,
                info.version,
                info.digest
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!(
                "airlock: {}: the signature is good but the configuration does not load:\n{errors}",
                config.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
