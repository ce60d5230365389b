//! The VM's side of signed configurations ([`crate::signature`]): reads the trusted keys at
//! VM start, and opens each plugin configuration before it is loaded, logging and counting
//! each rejection (`airlock.config_rejected_total.reason.<reason>`, and the load-failure counter).

use super::host;
use crate::signature::{self, Opened, TrustedKeys};
use crate::telemetry::POLICY_LOAD_FAILURES;
use std::borrow::Cow;

/// The keys from the VM configuration and [`signature::KEYS_ENV`]; `None` (logged) when
/// either cannot be read, so the VM does not start rather than start trusting nothing.
pub fn trusted_keys(vm_configuration_size: usize) -> Option<TrustedKeys> {
    let vm_configuration = match host::get_buffer(host::VM_CONFIGURATION, 0, vm_configuration_size)
    {
        Ok(bytes) => bytes,
        Err(status) => {
            host::log(
                host::LOG_ERROR,
                &format!("airlock: cannot read the VM configuration ({status:?})"),
            );
            return None;
        }
    };
    let env_keys = std::env::var(signature::KEYS_ENV).ok();
    match signature::trusted_keys(&vm_configuration, env_keys.as_deref()) {
        Ok(keys) => {
            if !keys.is_empty() {
                host::log(
                    host::LOG_INFO,
                    &format!(
                        "airlock: plugin configurations must be signed by {}",
                        keys.ids().join(", ")
                    ),
                );
            }
            Some(keys)
        }
        Err(problem) => {
            host::log(
                host::LOG_ERROR,
                &format!("airlock: VM not started: {problem}"),
            );
            None
        }
    }
}

/// The configuration inside `bytes` when `keys` allow it; `None` (logged and counted) when not.
pub fn open<'a>(bytes: &'a [u8], keys: &TrustedKeys) -> Option<Cow<'a, [u8]>> {
    match signature::open(bytes, keys) {
        Ok(Opened::Unsigned(config)) => Some(Cow::Borrowed(config)),
        Ok(Opened::Signed {
            config,
            verified_by,
        }) => {
            let line = match verified_by {
                Some(id) => format!("airlock: configuration signature verified (key {id})"),
                None => "airlock: signed configuration loaded unverified: this VM trusts no key \
                         (set config_public_keys in the VM configuration)"
                    .to_string(),
            };
            host::log(host::LOG_INFO, &line);
            Some(Cow::Owned(config.into_bytes()))
        }
        Err(rejection) => {
            for name in [
                format!(
                    "{}.reason.{}",
                    signature::CONFIG_REJECTED,
                    rejection.reason()
                ),
                POLICY_LOAD_FAILURES.to_string(),
            ] {
                if let Ok(id) = host::define_metric(host::METRIC_COUNTER, &name) {
                    host::increment_metric(id, 1);
                }
            }
            host::log(
                host::LOG_ERROR,
                &format!(
                    "airlock: configuration rejected ({}): {rejection}",
                    rejection.reason()
                ),
            );
            None
        }
    }
}
