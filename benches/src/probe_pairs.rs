//! Fuel between probes: a module built with the filter's `fuel-probes` feature logs a tag at
//! each stage boundary it marks, and a host tracing its calls with fuel metering sees each tag's
//! `proxy_log` call with the fuel left. This sums, per pair of consecutive tags within one
//! callback, the wasm instructions spent between them (`scan_probes`, `protected_probes`).

use airlock_host_tests::state::TraceEntry;
use airlock_host_tests::Host;
use std::collections::BTreeMap;

/// Per (tag, next tag): how many times the pair occurred and the instructions between them.
pub type Pairs = BTreeMap<(String, String), (u64, u64)>;

/// Adds to `pairs` the request `host` last traced (`Host::trace_calls` before it): its call
/// trace, and its log lines as the tags, cut to their first `width` characters.
pub fn add(pairs: &mut Pairs, host: &mut Host, width: usize) {
    let trace = host.take_call_trace();
    let mut tags = host.log_entries().iter().map(|e| e.message.clone());
    let mut last: Option<(String, u64)> = None;
    for entry in trace {
        match entry {
            TraceEntry::Callback { .. } | TraceEntry::Return { .. } => last = None,
            TraceEntry::HostCall { name, fuel_left } if name == "proxy_log" => {
                let tag: String = tags
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(width)
                    .collect();
                if let Some((prev, prev_fuel)) = last.take() {
                    let e = pairs.entry((prev, tag.clone())).or_default();
                    e.0 += 1;
                    e.1 += prev_fuel.saturating_sub(fuel_left);
                }
                last = Some((tag, fuel_left));
            }
            TraceEntry::HostCall { .. } => {}
        }
    }
}
