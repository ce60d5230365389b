//! Running policy cases through the compiled filter in the wasmtime harness,
//! so `airlock check` tests exactly what ships.

use airlock_filter::policy::cases::{Case, Observed};
use airlock_filter::{Action, Policy};
use airlock_host_tests::{send_request, Host};
use std::path::Path;

/// One VM of the filter, configured with a policy.
pub struct WasmRunner {
    host: Host,
}

const THROWAWAY_KEY: &str = "airlock-throwaway-validation-key";

impl WasmRunner {
    pub fn new(wasm: &Path, policy: &Policy) -> Result<WasmRunner, String> {
        let mut host =
            Host::load(wasm).map_err(|e| format!("{}: cannot load: {e}", wasm.display()))?;
        let key = std::env::var(&policy.document.hashing.key_env)
            .unwrap_or_else(|_| THROWAWAY_KEY.to_string());
        host.set_env(&policy.document.hashing.key_env, &key);
        let config =
            airlock_filter::config::build(&policy.document, false).map_err(|e| e.to_string())?;
        match host.configure(config.as_bytes()) {
            Ok(true) => Ok(WasmRunner { host }),
            Ok(false) => {
                let reasons: Vec<String> = host.logs().into_iter().map(|(_, m)| m).collect();
                Err(format!(
                    "the filter rejected the configuration:\n{}",
                    reasons.join("\n")
                ))
            }
            Err(e) => Err(format!("the filter trapped while configuring: {e}")),
        }
    }

    pub fn run(&mut self, case: &Case) -> Result<Observed, String> {
        let mut headers = vec![
            (":method".to_string(), "POST".to_string()),
            (":path".to_string(), case.path.clone()),
            (":authority".to_string(), case.host.clone()),
            ("content-length".to_string(), case.body.len().to_string()),
        ];
        if let Some(ct) = &case.content_type {
            headers.push(("content-type".to_string(), ct.clone()));
        }
        let chunks: [&[u8]; 1] = [&case.body];
        let outcome = send_request(&mut self.host, &headers, &chunks, None)
            .map_err(|e| format!("the filter trapped: {e}"))?;
        let decision = outcome
            .decisions
            .last()
            .and_then(|d| Action::ALL.into_iter().find(|a| a.as_str() == d));
        let mut detectors = Vec::new();
        for entry in &outcome.logs {
            let Some(json) = entry.message.strip_prefix("airlock.audit ") else {
                continue;
            };
            let Ok(line) = serde_json::from_str::<serde_json::Value>(json) else {
                continue;
            };
            for finding in line["findings"].as_array().into_iter().flatten() {
                if let Some(id) = finding["detector"].as_str() {
                    detectors.push(id.to_string());
                }
            }
        }
        let blocked = outcome.local_response.is_some();
        Ok(Observed {
            decision: decision.or(if blocked { Some(Action::Block) } else { None }),
            detectors,
            egress_body: (!blocked).then_some(outcome.egress_body),
        })
    }
}
