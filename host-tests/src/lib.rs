//! Host-side test harness for Airlock: loads a compiled proxy-wasm module
//! (`wasm32-wasip1`, ABI 0.2.1, as built with the `proxy-wasm` Rust SDK 0.2.5)
//! into wasmtime and plays Envoy's part, so tests can drive the real filter
//! through its whole lifecycle without Envoy:
//!
//! ```no_run
//! use airlock_host_tests::{send_request, Host};
//! let mut host = Host::load("target/wasm32-wasip1/release/airlock_filter.wasm")?;
//! host.set_env("AIRLOCK_HASH_KEY", "a-test-key-of-at-least-16-bytes");
//! assert!(host.configure(b"")?);
//! let out = send_request(
//!     &mut host,
//!     &[(":method", "POST"), (":path", "/v1/chat/completions"), (":authority", "api.openai.com")],
//!     &[br#"{"messages":[]}"#],
//!     None,
//! )?;
//! assert!(out.local_response.is_none());
//! # Ok::<(), wasmtime::Error>(())
//! ```
//!
//! What it models (see each module): the proxy-wasm `env` host functions
//! (`host.rs`), the WASI functions a Rust module imports (`wasi.rs`),
//! per-stream buffering and release like Envoy's HTTP
//! filter ([`stream`]), header maps ([`headers`]), metrics ([`metrics`]).
//! Everything is deterministic: clocks are counters and randomness is seeded
//! (every VM gets the same random bytes unless [`Host::set_random_seed`]).
//! [`filter_wasm`] finds the compiled filter for the tests.
//!
//! Environment knobs: `AIRLOCK_HARNESS_ECHO=1` echoes the module's log lines
//! and stdout/stderr; `AIRLOCK_HARNESS_COMPILER=cranelift|winch` picks the
//! compiler (Winch on x86_64 by default); `AIRLOCK_HARNESS_CACHE=DIR|off` sets
//! or disables the on-disk cache of compiled modules (default
//! `$TMPDIR/airlock-host-tests-cache`); `AIRLOCK_HARNESS_FUEL=off` turns off the
//! fuel metering that stops runaway loops (the benchmarks do, as Envoy meters
//! nothing); `AIRLOCK_HARNESS_PROFILER=perfmap` lets `perf` name wasm functions.

pub mod abi;
mod driver;
pub mod evasions;
mod guest;
pub mod headers;
mod host;
pub mod metrics;
mod module_path;
mod outcome;
pub mod state;
pub mod stream;
mod vm;
mod wasi;

pub use abi::{Action, LogLevel, MetricType};
pub use driver::Stream;
pub use metrics::Metric;
pub use module_path::{filter_wasm, workspace_root, FILTER_WASM};
pub use outcome::{
    send_request, send_request_with_response, ClientReply, Headers, Outcome, UpstreamResponse,
};
pub use state::LogEntry;
pub use stream::LocalResponse;

use std::collections::BTreeMap;
use std::path::Path;
use vm::Vm;
pub use wasmtime::{Error, Result};

/// One VM running the module, with its root context.
pub struct Host {
    vm: Vm,
    started: bool,
    next_context_id: u32,
    local_reply_through_filter: bool,
}

impl Host {
    /// Compiles (once per process and file version) and instantiates the
    /// module at `path`. Fails, naming them, if the module imports anything
    /// this harness does not implement.
    pub fn load(path: impl AsRef<Path>) -> Result<Host> {
        let module = vm::load_module(path.as_ref())?;
        Ok(Host::with_vm(Vm::new(&module)?))
    }

    /// Like [`Host::load`], from bytes (compiled every time).
    pub fn from_bytes(wasm: &[u8]) -> Result<Host> {
        let module = vm::compile(wasm)?;
        Ok(Host::with_vm(Vm::new(&module)?))
    }

    fn with_vm(vm: Vm) -> Host {
        Host {
            vm,
            started: false,
            next_context_id: 2,
            local_reply_through_filter: true,
        }
    }

    fn state(&self) -> &state::HostState {
        self.vm.store.data()
    }

    fn state_mut(&mut self) -> &mut state::HostState {
        self.vm.store.data_mut()
    }

    /// The module's linear memory in bytes. Linear memory never shrinks, so this is the VM's peak
    /// so far.
    pub fn memory_bytes(&self) -> usize {
        self.state()
            .memory
            .map_or(0, |m| m.data_size(&self.vm.store))
    }

    /// Sets a VM environment variable (Envoy's `vm_config.environment_variables`).
    /// Takes effect for reads after this call; set it before `configure`.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let env = &mut self.state_mut().env;
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
    }

    pub fn remove_env(&mut self, key: &str) {
        self.state_mut().env.retain(|(k, _)| k != key);
    }

    pub fn set_args(&mut self, args: &[&str]) {
        self.state_mut().args = args.iter().map(|a| a.to_string()).collect();
    }

    /// The VmConfiguration buffer passed to `proxy_on_vm_start`.
    pub fn set_vm_configuration(&mut self, config: &[u8]) {
        self.state_mut().vm_config = config.to_vec();
    }

    pub fn set_vm_id(&mut self, vm_id: &str) {
        self.state_mut().vm_id = vm_id.to_string();
    }

    /// What `proxy_get_log_level` answers (all lines are recorded regardless).
    pub fn set_log_level(&mut self, level: LogLevel) {
        self.state_mut().log_level = level;
    }

    /// Wall-clock time returned by `proxy_get_current_time_nanoseconds` and WASI's realtime clock.
    pub fn set_time_ns(&mut self, ns: u64) {
        self.state_mut().clock.realtime_ns = ns;
    }

    /// How far the monotonic clock advances on every read.
    pub fn set_monotonic_step_ns(&mut self, step: u64) {
        self.state_mut().clock.monotonic_step_ns = step;
    }

    pub fn set_random_seed(&mut self, seed: u64) {
        self.state_mut().rng = state::Rng(seed);
    }

    /// A VM-wide property (`proxy_get_property`), e.g. `&["plugin_name"]`.
    pub fn set_property(&mut self, path: &[&str], value: &[u8]) {
        let path = path.iter().map(|s| s.to_string()).collect();
        self.state_mut().properties.insert(path, value.to_vec());
    }

    /// Instructions each callback may run before it is stopped with a trap.
    pub fn set_fuel_per_call(&mut self, fuel: u64) {
        self.vm.set_fuel_per_call(fuel);
    }

    /// Fuel left when the last callback returned (`None` without fuel metering): with
    /// [`Host::set_fuel_per_call`], what that callback consumed, i.e. a deterministic count of
    /// its work that a loaded machine does not blur.
    pub fn fuel_left(&self) -> Option<u64> {
        self.vm.store.get_fuel().ok()
    }

    /// The fuel every callback took so far, summed (0 without fuel metering): a deterministic
    /// count of the wasm instructions the filter ran, across the callbacks of a request.
    pub fn fuel_used(&self) -> u64 {
        self.vm.fuel_used()
    }

    /// Starts (or restarts) recording every callback and host call with the fuel left at each
    /// (fuel metering must be on for the counts to mean anything).
    pub fn trace_calls(&mut self) {
        self.state_mut().call_trace = Some(Vec::new());
    }

    /// The calls recorded since [`Host::trace_calls`]; tracing goes on with an empty record.
    pub fn take_call_trace(&mut self) -> Vec<state::TraceEntry> {
        self.state_mut()
            .call_trace
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Whether a local response goes through the filter's own response
    /// callbacks after the callback that sent it returns, as in Envoy
    /// (default true).
    pub fn set_local_reply_through_filter(&mut self, on: bool) {
        self.local_reply_through_filter = on;
    }

    /// Echo the module's log lines and stdout/stderr to this process's stderr.
    pub fn set_echo(&mut self, on: bool) {
        self.state_mut().echo = on;
    }

    /// Starts the VM once: `_initialize` (or `_start`), then
    /// `proxy_on_context_create(root, 0)` and `proxy_on_vm_start`. Returns
    /// what `proxy_on_vm_start` returned.
    pub fn start(&mut self) -> Result<bool> {
        if self.started {
            return Ok(true);
        }
        self.started = true;
        if self.vm.has_export("_initialize") {
            self.vm.call(0, "_initialize", &[])?;
        } else if self.vm.has_export("_start") {
            self.vm.call(0, "_start", &[])?;
        }
        let root = self.root_context_id();
        self.vm
            .call(root, "proxy_on_context_create", &[root as i32, 0])?;
        let size = self.state().vm_config.len() as i32;
        let ok = self
            .vm
            .call(root, "proxy_on_vm_start", &[root as i32, size])?;
        Ok(ok.is_none_or(|v| v != 0))
    }

    /// Starts the VM if needed, then calls `proxy_on_configure` with
    /// `plugin_config` as the PluginConfiguration buffer; returns its result.
    /// Can be called again to reconfigure.
    pub fn configure(&mut self, plugin_config: &[u8]) -> Result<bool> {
        if !self.start()? {
            return Ok(false);
        }
        self.state_mut().plugin_config = plugin_config.to_vec();
        let root = self.root_context_id();
        let ok = self.vm.call(
            root,
            "proxy_on_configure",
            &[root as i32, plugin_config.len() as i32],
        )?;
        Ok(ok.is_none_or(|v| v != 0))
    }

    /// Calls `proxy_on_tick` on the root context.
    pub fn tick(&mut self) -> Result<()> {
        let root = self.root_context_id();
        self.vm.call(root, "proxy_on_tick", &[root as i32])?;
        Ok(())
    }

    /// Creates an HTTP stream context (`proxy_on_context_create(id, root)`).
    pub fn new_stream(&mut self) -> Result<Stream<'_>> {
        let id = self.next_context_id;
        self.next_context_id += 1;
        self.state_mut().streams.insert(id, Default::default());
        let root = self.root_context_id();
        self.vm
            .call(id, "proxy_on_context_create", &[id as i32, root as i32])?;
        Ok(Stream::new(self, id))
    }

    /// The imports of the module at `path` (`module.name`), e.g. to see which
    /// host functions a filter build uses.
    pub fn module_imports(path: impl AsRef<Path>) -> Result<Vec<String>> {
        Ok(vm::module_imports(&vm::load_module(path.as_ref())?))
    }

    pub fn root_context_id(&self) -> u32 {
        self.state().root_context_id
    }

    /// Every metric the module defined, by name (without Envoy's `wasmcustom.` prefix).
    pub fn metrics(&self) -> BTreeMap<String, Metric> {
        self.state().metrics.snapshot()
    }

    /// How many times the module called `proxy_define_metric` (Envoy keeps an entry per call).
    pub fn metric_definitions(&self) -> usize {
        self.state().metrics.definitions()
    }

    /// A counter's or gauge's value (a histogram's number of records); 0 if undefined.
    pub fn metric(&self, name: &str) -> u64 {
        self.metrics().get(name).map(|m| m.value).unwrap_or(0)
    }

    /// Values recorded into histogram `name`.
    pub fn histogram(&self, name: &str) -> Vec<u64> {
        self.metrics()
            .get(name)
            .map(|m| m.recorded.clone())
            .unwrap_or_default()
    }

    /// Every `proxy_log` line so far, as (level, message).
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.state()
            .logs
            .iter()
            .map(|l| (l.level, l.message.clone()))
            .collect()
    }

    /// The JSON of every audit line so far (`airlock.audit {...}`), in order. Panics on an
    /// audit line that is not JSON: the contract says every audit line is one JSON object.
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        const MARK: &str = "airlock.audit";
        self.state()
            .logs
            .iter()
            .filter_map(|l| {
                let json = l.message.get(l.message.find(MARK)? + MARK.len()..)?.trim();
                Some(
                    serde_json::from_str(json)
                        .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {}", l.message)),
                )
            })
            .collect()
    }

    /// Every `proxy_log` line so far, with the context that logged it.
    pub fn log_entries(&self) -> &[LogEntry] {
        &self.state().logs
    }

    pub fn clear_logs(&mut self) {
        self.state_mut().logs.clear();
    }

    /// What the module wrote to stdout (fd 1).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.state().stdout).into_owned()
    }

    /// What the module wrote to stderr (fd 2).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.state().stderr).into_owned()
    }

    /// Whether a callback trapped (the VM is then unusable, as in Envoy).
    pub fn trapped(&self) -> bool {
        self.vm.trap().is_some()
    }

    /// The first trap, naming the callback, the trap and what the module logged.
    pub fn trap_message(&self) -> Option<&str> {
        self.vm.trap()
    }

    /// Host calls answered with Unimplemented (e.g. `proxy_http_call`).
    pub fn unimplemented_calls(&self) -> &[String] {
        &self.state().unimplemented_calls
    }

    /// The tick period the module asked for, in milliseconds (0: none).
    pub fn tick_period_ms(&self) -> u32 {
        self.state().tick_period_ms
    }

    /// Shared data set by the module, by key.
    pub fn shared_data(&self, key: &str) -> Option<Vec<u8>> {
        self.state().shared_data.get(key).map(|(v, _)| v.clone())
    }
}
