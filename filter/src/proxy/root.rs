//! The root context: loads the plugin configuration and defines metrics.

use super::host;
use super::http::AirlockHttp;
use crate::config::{self, FilterConfig};
use crate::policy::Environment;
use crate::telemetry::{MetricKind, Metrics, POLICY_LOAD_FAILURES};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;
use std::cell::RefCell;
use std::rc::Rc;

/// Everything a request needs from its VM: immutable config, metrics, and reusable scratch.
pub struct Loaded {
    pub config: FilterConfig,
    pub metrics: Metrics<u32>,
    pub response_metrics: crate::response::ResponseMetrics<u32>,
    pub scratch: RefCell<crate::Scratch>,
    /// The audit line being written, reused request after request.
    pub audit_line: RefCell<Vec<u8>>,
}

/// Warm-up pace: a few regexes (~0.3 ms each) per tick keeps each pause short.
const WARM_UP_TICK_MS: u32 = 5;
const WARM_UP_REGEXES_PER_TICK: usize = 4;

#[derive(Default)]
pub struct AirlockRoot {
    loaded: Option<Rc<Loaded>>,
    /// The keys a plugin configuration must be signed by (none: unsigned ones load).
    trusted_keys: crate::signature::TrustedKeys,
}

impl Context for AirlockRoot {}

impl RootContext for AirlockRoot {
    fn on_vm_start(&mut self, vm_configuration_size: usize) -> bool {
        match super::signed::trusted_keys(vm_configuration_size) {
            Some(keys) => {
                self.trusted_keys = keys;
                true
            }
            None => false,
        }
    }

    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        // Defined before anything can fail, so the series exists at 0 from the start: an alert on
        // `increase()` then sees the first failure (a series born at 1 shows no increase).
        let load_failures = define(MetricKind::Counter, POLICY_LOAD_FAILURES);
        let bytes = match host::get_buffer(host::PLUGIN_CONFIGURATION, 0, plugin_configuration_size)
        {
            Ok(bytes) => bytes,
            Err(status) => {
                host::log(
                    host::LOG_ERROR,
                    &format!("airlock: cannot read the plugin configuration ({status:?})"),
                );
                return false;
            }
        };
        // Handed over whole when it is the buffer itself (unsigned), so a carried records
        // index keeps it as its storage instead of a copy (`config::load_owned`).
        let opened = match super::signed::open(&bytes, &self.trusted_keys) {
            None => return false,
            Some(std::borrow::Cow::Owned(config)) => Some(config),
            Some(std::borrow::Cow::Borrowed(config)) => {
                (config.len() != bytes.len()).then(|| config.to_vec())
            }
        };
        let bytes = opened.unwrap_or(bytes);
        let env = Environment {
            var: &|name| std::env::var(name).ok(),
            defer_regexes: true,
        };
        let loaded = config::load_owned(bytes, &env).and_then(|config| {
            let metrics = Metrics::define(&config.policy, &mut |kind, name| define(kind, name))
                .and_then(|metrics| {
                    let response = crate::response::ResponseMetrics::define(
                        &config.policy,
                        &mut |kind, name| define(kind, name),
                    )?;
                    Ok((metrics, response))
                });
            match metrics {
                Ok(metrics) => Ok((config, metrics)),
                Err(status) => Err(crate::policy::PolicyErrors(vec![
                    crate::policy::PolicyError {
                        source: config::SOURCE.to_string(),
                        path: String::new(),
                        message: format!("the host refused to define metrics ({status:?})"),
                    },
                ])),
            }
        });
        match loaded {
            Ok((config, (metrics, response_metrics))) => {
                let info = &config.policy.info;
                host::log(
                    host::LOG_INFO,
                    &format!(
                        "airlock: loaded policy {}@{} digest {} ({} detectors, hold_headers={})",
                        info.name,
                        info.version,
                        info.digest,
                        config.policy.detectors.len(),
                        config.hold_headers
                    ),
                );
                let mut scratch = config.policy.scratch();
                scratch.set_cache_budget(config.cache.max_bytes);
                let scratch = RefCell::new(scratch);
                self.loaded = Some(Rc::new(Loaded {
                    config,
                    metrics,
                    response_metrics,
                    scratch,
                    audit_line: RefCell::new(Vec::new()),
                }));
                // Regexes compile on first use; ticks compile the rest between requests, so
                // a warm VM compiles nothing on the request path.
                if host::set_tick_period(WARM_UP_TICK_MS).is_err() {
                    host::log(
                        host::LOG_INFO,
                        "airlock: no timer; detector regexes compile on first use",
                    );
                }
                true
            }
            Err(errors) => {
                if let Ok(id) = load_failures {
                    host::increment_metric(id, 1);
                }
                host::log(
                    host::LOG_ERROR,
                    &format!("airlock: configuration rejected:\n{errors}"),
                );
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let pending = match &self.loaded {
            Some(loaded) => loaded
                .config
                .policy
                .compile_pending(WARM_UP_REGEXES_PER_TICK),
            None => 0,
        };
        if pending == 0 {
            let _ = host::set_tick_period(0);
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(AirlockHttp::new(self.loaded.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

thread_local! {
    /// Metric ids this VM defined, by kind and name. Envoy hands out a new id, and keeps a
    /// new entry, on every definition, even of a name it knows: without this, each
    /// reconfiguration (an ECDS update) grew Envoy's memory by every metric again (~35 KB
    /// per update with the default policy, found by envoy/soak.py). Ids live as long as
    /// the VM, which is as long as this cache.
    static DEFINED: RefCell<std::collections::HashMap<(u32, String), u32>> =
        RefCell::new(std::collections::HashMap::new());
}

fn define(kind: MetricKind, name: &str) -> Result<u32, host::Status> {
    let kind = match kind {
        MetricKind::Counter => host::METRIC_COUNTER,
        MetricKind::Histogram => host::METRIC_HISTOGRAM,
    };
    let key = (kind, name.to_string());
    if let Some(id) = DEFINED.with(|defined| defined.borrow().get(&key).copied()) {
        return Ok(id);
    }
    let id = host::define_metric(kind, name)?;
    DEFINED.with(|defined| defined.borrow_mut().insert(key, id));
    Ok(id)
}
