//! Signed plugin configurations: only what CI built and signed runs in the mesh.
//!
//! A signed configuration is a JSON envelope around the exact bytes `airlock build` wrote:
//!
//! ```json
//! {"airlock_signed": 1, "key_id": "ed25519:1b4f0e9851971998",
//!  "signature": "<base64 Ed25519 signature>", "config": "<the plugin configuration, as a string>"}
//! ```
//!
//! The signature covers [`SIGNED_CONTEXT`] followed by the bytes of `config`. Carrying the
//! configuration as a string, rather than signing a JSON object in place, needs no
//! canonical JSON: a control plane that re-serializes the envelope (Istio turns a
//! WasmPlugin's `pluginConfig` into a protobuf `Struct` and back) may reorder keys and
//! re-space it, but a string survives byte for byte. The unsigned format stays loadable
//! as it was: a VM that trusts no key loads both (the envelope unchecked), and a VM that
//! trusts a key loads only envelopes signed by one of its keys.
//!
//! The trusted keys come from the VM, not the plugin configuration (which is what is being
//! checked): the VM configuration `{"config_public_keys": [...]}` (Envoy's
//! `vm_config.configuration`), and the environment variable [`KEYS_ENV`] for hosts whose
//! control plane sets only environment variables (Istio's `vmConfig.env`). Each key is
//! an SPKI PEM (`airlock keygen` writes one), or the base64 of its DER or of the raw 32
//! bytes. Several keys allow a rotation.
//!
//! Verification is `verify_strict` (no small-order keys, no malleable signatures); it runs
//! once per configuration load, never per request.

use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The envelope format version this build reads and writes.
pub const ENVELOPE_VERSION: u32 = 1;

/// Prefixed to the configuration before signing, so a signature over a configuration can
/// never be taken for a signature over anything else signed with the same key.
pub const SIGNED_CONTEXT: &[u8] = b"airlock plugin configuration v1\n";

/// The environment variable of the VM that may list trusted keys (whitespace or comma separated).
pub const KEYS_ENV: &str = "AIRLOCK_CONFIG_PUBLIC_KEYS";

/// Counter of configurations rejected for their signature: `airlock.config_rejected_total.reason.<reason>`
/// with the reasons of [`Rejection::reason`].
pub const CONFIG_REJECTED: &str = "airlock.config_rejected_total";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A signed plugin configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub airlock_signed: u32,
    /// `ed25519:` and the first 16 hex digits of the SHA-256 of the raw public key.
    pub key_id: String,
    /// The Ed25519 signature, standard base64.
    pub signature: String,
    /// The plugin configuration, byte for byte as built.
    pub config: String,
}

/// Only the marker field, to tell an envelope from an unsigned configuration.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    airlock_signed: Option<serde::de::IgnoredAny>,
}

/// The bytes a signature covers.
pub fn signed_message(config: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNED_CONTEXT.len() + config.len());
    message.extend_from_slice(SIGNED_CONTEXT);
    message.extend_from_slice(config);
    message
}

/// The key id of a public key, as envelopes and logs name it.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = String::from("ed25519:");
    for byte in digest.iter().take(8) {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// The envelope of `config` signed with `signature` by the key `key_id`, as JSON text.
pub fn seal(
    config: &str,
    key_id: String,
    signature: &Signature,
) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Envelope {
        airlock_signed: ENVELOPE_VERSION,
        key_id,
        signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        config: config.to_string(),
    })
}

/// Why a configuration was not loaded. Never holds configuration content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The VM trusts signing keys and the configuration is not signed.
    Unsigned,
    /// Signed by a key the VM does not trust (its key id).
    UnknownKey(String),
    /// The signature does not match the configuration (tampered, or signed by another key
    /// with the same id prefix).
    BadSignature(String),
    /// An envelope that cannot be read (the problem).
    Malformed(String),
}

impl Rejection {
    /// A short, stable reason for stats names: `[a-z_]`.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Unsigned => "unsigned",
            Rejection::UnknownKey(_) => "unknown_key",
            Rejection::BadSignature(_) => "bad_signature",
            Rejection::Malformed(_) => "malformed",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Unsigned => f.write_str(
                "the configuration is not signed and this VM trusts signing keys; \
                 build it with `airlock build POLICY --sign KEY`",
            ),
            Rejection::UnknownKey(id) => write!(
                f,
                "the configuration is signed by key {id}, which this VM does not trust \
                 (add its public key to config_public_keys, or sign with a trusted key)"
            ),
            Rejection::BadSignature(id) => write!(
                f,
                "the signature by key {id} does not match the configuration: it was changed \
                 after signing; rebuild and sign it again"
            ),
            Rejection::Malformed(problem) => {
                write!(f, "not a valid signed configuration: {problem}")
            }
        }
    }
}

/// The public keys a VM accepts configurations from.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<(String, VerifyingKey)>,
}

impl TrustedKeys {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, for the start-up log line.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Adds one key (PEM, or base64 of SPKI DER or of the raw 32 bytes).
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let key = parse_public_key(text)?;
        let id = key_id(&key);
        if !self.keys.iter().any(|(known, _)| *known == id) {
            self.keys.push((id, key));
        }
        Ok(())
    }

    /// Adds every key of a list (the environment variable's form): PEM blocks one after the
    /// other, or base64 keys separated by whitespace or commas.
    pub fn add_list(&mut self, list: &str) -> Result<(), String> {
        if list.contains("-----BEGIN") {
            return list
                .split_inclusive("-----END PUBLIC KEY-----")
                .filter(|block| !block.trim().is_empty())
                .try_for_each(|block| self.add(block));
        }
        list.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|k| !k.is_empty())
            .try_for_each(|k| self.add(k))
    }
}

/// The VM configuration (`vm_config.configuration`): empty, or this JSON object.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VmConfig {
    #[serde(default)]
    config_public_keys: Vec<String>,
}

/// The keys a VM trusts: from its VM configuration and from [`KEYS_ENV`]. An unreadable
/// configuration or key is an error (the VM must not start trusting nothing by mistake).
pub fn trusted_keys(
    vm_configuration: &[u8],
    env_keys: Option<&str>,
) -> Result<TrustedKeys, String> {
    let mut keys = TrustedKeys::default();
    if !vm_configuration.iter().all(u8::is_ascii_whitespace) {
        let parsed: VmConfig = serde_json::from_slice(vm_configuration).map_err(|e| {
            format!(
                "the VM configuration is not valid ({e}); expected {{\"config_public_keys\": [\"<public key>\"]}}"
            )
        })?;
        for (i, key) in parsed.config_public_keys.iter().enumerate() {
            keys.add(key)
                .map_err(|e| format!("VM configuration config_public_keys[{i}]: {e}"))?;
        }
    }
    if let Some(list) = env_keys.filter(|l| !l.trim().is_empty()) {
        keys.add_list(list)
            .map_err(|e| format!("{KEYS_ENV}: {e}"))?;
    }
    Ok(keys)
}

fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| format!("a public key must be PEM or base64 ({e})"))?;
    let raw: [u8; 32] = match der.len() {
        32 => der.as_slice().try_into(),
        44 if der.starts_with(&SPKI_PREFIX) => der.get(12..).unwrap_or_default().try_into(),
        n => {
            return Err(format!(
                "not an Ed25519 public key ({n} bytes; expected an SPKI PEM from `airlock keygen`, or 32 raw bytes)"
            ))
        }
    }
    .map_err(|_| "not an Ed25519 public key".to_string())?;
    VerifyingKey::from_bytes(&raw).map_err(|_| "not a valid Ed25519 public key".to_string())
}

/// What [`open`] found.
#[derive(Debug)]
pub enum Opened<'a> {
    /// Not an envelope: the configuration itself (the VM trusts no key).
    Unsigned(&'a [u8]),
    /// An envelope: its configuration, and the key id that signed it if it was verified
    /// (`None` when the VM trusts no key, so nothing was checked).
    Signed {
        config: String,
        verified_by: Option<String>,
    },
}

/// Opens a plugin configuration: an unsigned one passes only when `keys` is empty; an
/// envelope passes when a trusted key signed it (or, when `keys` is empty, unchecked).
pub fn open<'a>(config: &'a [u8], keys: &TrustedKeys) -> Result<Opened<'a>, Rejection> {
    let is_envelope = !config.iter().all(u8::is_ascii_whitespace)
        && serde_json::from_slice::<Probe>(config).is_ok_and(|p| p.airlock_signed.is_some());
    if !is_envelope {
        return if keys.is_empty() {
            Ok(Opened::Unsigned(config))
        } else {
            Err(Rejection::Unsigned)
        };
    }
    let envelope: Envelope =
        serde_json::from_slice(config).map_err(|e| Rejection::Malformed(e.to_string()))?;
    if envelope.airlock_signed != ENVELOPE_VERSION {
        return Err(Rejection::Malformed(format!(
            "airlock_signed {} is not supported; this filter reads version {ENVELOPE_VERSION}",
            envelope.airlock_signed
        )));
    }
    if keys.is_empty() {
        return Ok(Opened::Signed {
            config: envelope.config,
            verified_by: None,
        });
    }
    let Some((id, key)) = keys.keys.iter().find(|(id, _)| *id == envelope.key_id) else {
        return Err(Rejection::UnknownKey(printable_id(&envelope.key_id)));
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(envelope.signature.as_bytes())
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| Rejection::Malformed("signature is not 64 bytes of base64".to_string()))?;
    let message = signed_message(envelope.config.as_bytes());
    key.verify_strict(&message, &Signature::from_bytes(&signature))
        .map_err(|_| Rejection::BadSignature(id.clone()))?;
    Ok(Opened::Signed {
        config: envelope.config,
        verified_by: Some(id.clone()),
    })
}

/// A key id from an untrusted envelope, safe to log: the expected shape, else elided.
fn printable_id(id: &str) -> String {
    let well_formed = id.len() == 24
        && id
            .strip_prefix("ed25519:")
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if well_formed {
        id.to_string()
    } else {
        "(malformed key id)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sealed(key: &SigningKey, config: &str) -> String {
        let signature = key.sign(&signed_message(config.as_bytes()));
        seal(config, key_id(&key.verifying_key()), &signature).unwrap()
    }

    fn trusting(key: &SigningKey) -> TrustedKeys {
        let raw = base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes());
        trusted_keys(
            format!(r#"{{"config_public_keys": ["{raw}"]}}"#).as_bytes(),
            None,
        )
        .unwrap()
    }

    const CONFIG: &str = r#"{"airlock_config":1}"#;

    #[test]
    fn a_vm_that_trusts_no_key_loads_both_formats() {
        let none = TrustedKeys::default();
        assert!(
            matches!(open(CONFIG.as_bytes(), &none), Ok(Opened::Unsigned(c)) if c == CONFIG.as_bytes())
        );
        assert!(matches!(open(b"", &none), Ok(Opened::Unsigned(_))));
        let envelope = sealed(&signing_key(1), CONFIG);
        match open(envelope.as_bytes(), &none).unwrap() {
            Opened::Signed {
                config,
                verified_by,
            } => {
                assert_eq!(config, CONFIG);
                assert_eq!(verified_by, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_vm_that_trusts_a_key_loads_only_what_it_signed() {
        let key = signing_key(1);
        let keys = trusting(&key);
        let envelope = sealed(&key, CONFIG);
        match open(envelope.as_bytes(), &keys).unwrap() {
            Opened::Signed {
                config,
                verified_by,
            } => {
                assert_eq!(config, CONFIG);
                assert_eq!(verified_by, Some(key_id(&key.verifying_key())));
            }
            other => panic!("{other:?}"),
        }
        // Unsigned, empty, signed by another key, tampered, re-signed message without the context.
        assert_eq!(
            open(CONFIG.as_bytes(), &keys).unwrap_err(),
            Rejection::Unsigned
        );
        assert_eq!(open(b"  ", &keys).unwrap_err(), Rejection::Unsigned);
        let other = signing_key(2);
        let by_other = sealed(&other, CONFIG);
        assert_eq!(
            open(by_other.as_bytes(), &keys).unwrap_err().reason(),
            "unknown_key"
        );
        let mut tampered: Envelope = serde_json::from_str(&envelope).unwrap();
        tampered.config = r#"{"airlock_config":1,"hold_headers":true}"#.to_string();
        let tampered = serde_json::to_string(&tampered).unwrap();
        assert_eq!(
            open(tampered.as_bytes(), &keys).unwrap_err().reason(),
            "bad_signature"
        );
        let mut forged: Envelope = serde_json::from_str(&envelope).unwrap();
        forged.key_id = key_id(&key.verifying_key());
        forged.signature = base64::engine::general_purpose::STANDARD
            .encode(other.sign(&signed_message(CONFIG.as_bytes())).to_bytes());
        let forged = serde_json::to_string(&forged).unwrap();
        assert_eq!(
            open(forged.as_bytes(), &keys).unwrap_err().reason(),
            "bad_signature"
        );
        let no_context = key.sign(CONFIG.as_bytes());
        let no_context = seal(CONFIG, key_id(&key.verifying_key()), &no_context).unwrap();
        assert_eq!(
            open(no_context.as_bytes(), &keys).unwrap_err().reason(),
            "bad_signature"
        );
        for bad in [
            r#"{"airlock_signed": 2, "key_id": "x", "signature": "", "config": ""}"#,
            r#"{"airlock_signed": 1, "config": "{}"}"#,
            r#"{"airlock_signed": 1, "key_id": "x", "signature": "", "config": "", "extra": 1}"#,
        ] {
            assert_eq!(
                open(bad.as_bytes(), &keys).unwrap_err().reason(),
                "malformed",
                "{bad}"
            );
        }
    }

    #[test]
    fn the_envelope_survives_re_serialization() {
        // A control plane may reorder keys and re-space the envelope; the string inside is kept.
        let key = signing_key(3);
        let envelope: serde_json::Value = serde_json::from_str(&sealed(&key, CONFIG)).unwrap();
        let pretty = serde_json::to_string_pretty(&envelope).unwrap();
        assert!(open(pretty.as_bytes(), &trusting(&key)).is_ok());
    }

    #[test]
    fn keys_read_as_pem_der_or_raw_and_bad_ones_are_errors() {
        let key = signing_key(4).verifying_key();
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(key.as_bytes());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64.encode(&der)
        );
        for text in [pem.clone(), b64.encode(&der), b64.encode(key.as_bytes())] {
            let mut keys = TrustedKeys::default();
            keys.add(&text).unwrap();
            assert_eq!(keys.ids(), vec![key_id(&key)]);
        }
        let env = format!(
            "{}, {}",
            b64.encode(key.as_bytes()),
            b64.encode(signing_key(5).verifying_key().as_bytes())
        );
        assert_eq!(trusted_keys(b"", Some(&env)).unwrap().ids().len(), 2);
        assert_eq!(trusted_keys(b"", Some(&pem)).unwrap().ids().len(), 1);
        let mut der5 = SPKI_PREFIX.to_vec();
        der5.extend_from_slice(signing_key(5).verifying_key().as_bytes());
        let two_pems = format!(
            "{pem}-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64.encode(&der5)
        );
        assert_eq!(trusted_keys(b"", Some(&two_pems)).unwrap().ids().len(), 2);
        assert!(trusted_keys(b"", Some("  ")).unwrap().is_empty());
        assert!(trusted_keys(b"", None).unwrap().is_empty());
        for bad in [
            &br#"{"config_public_keys": ["not base64!"]}"#[..],
            br#"{"config_public_keys": ["AAAA"]}"#,
            br#"{"config_public_key": []}"#,
            b"not json",
        ] {
            assert!(
                trusted_keys(bad, None).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(trusted_keys(b"", Some("AAAA")).is_err());
    }

    #[test]
    fn an_untrusted_key_id_is_logged_only_when_well_formed() {
        assert_eq!(
            printable_id("ed25519:0123456789abcdef"),
            "ed25519:0123456789abcdef"
        );
        assert_eq!(
            printable_id("sk-live-secret-looking-thing"),
            "(malformed key id)"
        );
    }
}
