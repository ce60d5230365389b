//! Everything the host functions read and write: the wasmtime `Store` data.
//! Deterministic by construction: the clocks are counters the test controls
//! and the random bytes come from a seeded generator.

use crate::abi::LogLevel;
use crate::metrics::Metrics;
use crate::stream::StreamState;
use std::collections::{BTreeMap, HashMap, VecDeque};
use wasmtime::{Memory, TypedFunc};

/// One `proxy_log` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub level: LogLevel,
    pub message: String,
    /// The context that was active when the line was logged.
    pub context_id: u32,
}

/// Deterministic clocks. Wall time stays where the test put it; the monotonic
/// clock advances by `monotonic_step_ns` on every read so durations are
/// non-zero and reproducible.
#[derive(Debug, Clone)]
pub struct Clock {
    pub realtime_ns: u64,
    pub monotonic_ns: u64,
    pub monotonic_step_ns: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            // 2026-01-01T00:00:00Z
            realtime_ns: 1_767_225_600_000_000_000,
            monotonic_ns: 1_000_000_000,
            monotonic_step_ns: 1_000,
        }
    }
}

impl Clock {
    pub fn monotonic(&mut self) -> u64 {
        self.monotonic_ns = self.monotonic_ns.wrapping_add(self.monotonic_step_ns);
        self.monotonic_ns
    }
}

/// SplitMix64: a tiny seeded generator for `random_get`.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(bytes.get(..chunk.len()).unwrap_or(&bytes));
        }
    }
}

/// Shared queues (`proxy_register_shared_queue` and friends), in memory.
#[derive(Debug, Default)]
pub struct SharedQueues {
    pub names: Vec<(String, String)>,
    pub queues: Vec<VecDeque<Vec<u8>>>,
}

/// Property paths are the NUL-separated segments the SDK sends.
pub type PropertyPath = Vec<String>;

/// The store data of one VM.
pub struct HostState {
    pub memory: Option<Memory>,
    /// `proxy_on_memory_allocate` (or `malloc`).
    pub alloc: Option<TypedFunc<i32, i32>>,
    pub vm_id: String,
    pub logs: Vec<LogEntry>,
    pub log_level: LogLevel,
    /// Echo `proxy_log` lines and guest stdout/stderr to the test's stderr.
    pub echo: bool,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub clock: Clock,
    pub rng: Rng,
    pub vm_config: Vec<u8>,
    pub plugin_config: Vec<u8>,
    pub metrics: Metrics,
    pub shared_data: HashMap<String, (Vec<u8>, u32)>,
    pub queues: SharedQueues,
    /// VM-wide properties (any context); streams can override them.
    pub properties: BTreeMap<PropertyPath, Vec<u8>>,
    pub streams: HashMap<u32, StreamState>,
    pub root_context_id: u32,
    /// The context whose callback is running (0 outside callbacks).
    pub active_context: u32,
    /// `proxy_set_effective_context` can change it during a callback.
    pub effective_context: u32,
    pub tick_period_ms: u32,
    /// Host calls answered with `Unimplemented`, e.g. `proxy_http_call`.
    pub unimplemented_calls: Vec<String>,
    /// `proc_exit` code, when the module called it.
    pub exit_code: Option<i32>,
    /// Every callback and host call in order, with the fuel left at each, while tracing
    /// (`Host::trace_calls`): what a request costs between its host calls.
    pub call_trace: Option<Vec<TraceEntry>>,
}

/// One step of [`HostState::call_trace`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEntry {
    /// The host entered the module's export `name` with `fuel` to spend.
    Callback { name: String, fuel: u64 },
    /// The module called the host's `name` with `fuel_left` of the callback's fuel unspent.
    HostCall { name: String, fuel_left: u64 },
    /// The callback returned with `fuel_left` unspent.
    Return { fuel_left: u64 },
}

impl HostState {
    pub fn new() -> HostState {
        HostState {
            memory: None,
            alloc: None,
            vm_id: String::new(),
            logs: Vec::new(),
            log_level: LogLevel::Trace,
            echo: std::env::var_os("AIRLOCK_HARNESS_ECHO").is_some(),
            env: Vec::new(),
            args: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            clock: Clock::default(),
            rng: Rng(0x5EED_A1A7_0C4B_0001),
            vm_config: Vec::new(),
            plugin_config: Vec::new(),
            metrics: Metrics::default(),
            shared_data: HashMap::new(),
            queues: SharedQueues::default(),
            properties: BTreeMap::new(),
            streams: HashMap::new(),
            root_context_id: 1,
            active_context: 0,
            effective_context: 0,
            tick_period_ms: 0,
            unimplemented_calls: Vec::new(),
            exit_code: None,
            call_trace: None,
        }
    }

    /// The stream the running callback acts on, if it is a stream context.
    pub fn current_stream(&mut self) -> Option<&mut StreamState> {
        self.streams.get_mut(&self.effective_context)
    }
}

impl Default for HostState {
    fn default() -> Self {
        HostState::new()
    }
}
