//! Catch-all detectors yield to specific ones: `SLACK_TOKEN=xoxb-...` is a Slack bot token, not
//! also a "generic token", so a `fallback` detector's finding is dropped when a detector of the
//! same kind that is not a fallback found an overlapping span in the same field (the specific
//! detector knows the value's extent; a catch-all often runs on past it, `Key=...;EntityPath=x`).

use crate::engine::scan::scanner::Hit;
use crate::policy::Policy;

/// Drops every fallback finding that a non-fallback finding of the same kind overlaps.
pub(super) fn drop_covered<T>(found: &mut Vec<T>, policy: &Policy, hit: impl Fn(&T) -> Hit) {
    let fallback = |h: &Hit| policy.detector(h.detector).is_some_and(|d| d.fallback);
    if !found.iter().any(|f| fallback(&hit(f))) {
        return;
    }
    let kind = |h: &Hit| policy.detector(h.detector).map(|d| d.kind);
    let specific: Vec<Hit> = found.iter().map(&hit).filter(|h| !fallback(h)).collect();
    found.retain(|f| {
        let h = hit(f);
        !(fallback(&h)
            && specific.iter().any(|s| {
                s.span.start < h.span.end && h.span.start < s.span.end && kind(s) == kind(&h)
            }))
    });
}
