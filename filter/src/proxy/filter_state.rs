//! The verdict's names as Envoy filter state, for access logs (see [`crate::log_fields`]).

use super::host;
use crate::engine::Verdict;
use crate::log_fields::access_log_fields;
use crate::policy::Policy;

/// Writes the decision, detectors, tier and policy digest of `verdict`. A host that refuses a
/// property only loses the access-log field: the request is judged all the same.
pub fn record(policy: &Policy, verdict: &Verdict) {
    let mut detectors = String::new();
    for (name, value) in access_log_fields(policy, verdict, &mut detectors) {
        if value.is_empty() {
            continue;
        }
        if let Err(status) = host::set_property(name, value.as_bytes()) {
            host::log(
                host::LOG_INFO,
                &format!("airlock: the host refused filter state {name} ({status:?})"),
            );
            return;
        }
    }
}
