//! The response path's stats, defined without proxy types (like `crate::telemetry`).
//!
//! Counts only: how many tokens went out and came back, why a response was not restored,
//! (labeled with the tier) responses whose model was not the one asked for, and what the
//! inspection of responses found (`inspect_responses`), labeled `direction.response` so a
//! dashboard can put them beside the request's `findings_total` and `decisions_total`. Never
//! a token, an original or a matched value.

use super::body::Skip;
use crate::policy::{Action, Policy};
use crate::telemetry::MetricKind;

/// Every response-path metric of a loaded policy, by the host's metric id type.
#[derive(Debug, Clone)]
pub struct ResponseMetrics<Id> {
    /// Distinct tokens in request bodies that went out.
    pub tokens_sent: Id,
    /// Tokens put back in responses.
    pub tokens_restored: Id,
    /// Responses (or their rest) passed on unrestored, by [`Skip::REASONS`].
    pub restore_skipped: Vec<Id>,
    /// Responses whose `model` is not the requested one, by tier.
    pub model_mismatch: Vec<Id>,
    /// Findings in responses, by detector (defined only when a tier inspects responses).
    pub response_findings: Vec<Id>,
    /// Responses with findings, by the response action: `monitor`, `mask`.
    pub response_decisions: Vec<Id>,
}

/// The actions a response inspection takes, in the order `response_decisions` defines them.
pub const RESPONSE_ACTIONS: [Action; 2] = [Action::Monitor, Action::Mask];

impl<Id: Copy> ResponseMetrics<Id> {
    /// Defines every metric through `define(kind, name)`.
    pub fn define<E>(
        policy: &Policy,
        define: &mut dyn FnMut(MetricKind, &str) -> Result<Id, E>,
    ) -> Result<Self, E> {
        let tokens_sent = define(MetricKind::Counter, "airlock.tokens_sent_total")?;
        let tokens_restored = define(MetricKind::Counter, "airlock.tokens_restored_total")?;
        let restore_skipped = Skip::REASONS
            .iter()
            .map(|r| {
                define(
                    MetricKind::Counter,
                    &format!("airlock.restore_skipped_total.reason.{r}"),
                )
            })
            .collect::<Result<_, E>>()?;
        let model_mismatch = policy
            .tiers
            .iter()
            .map(|t| {
                define(
                    MetricKind::Counter,
                    &format!("airlock.model_mismatch_total.tier.{}", t.name),
                )
            })
            .collect::<Result<_, E>>()?;
        let inspects = policy.tiers.iter().any(|t| t.inspect_responses.is_some());
        let mut response_findings = Vec::new();
        let mut response_decisions = Vec::new();
        if inspects {
            for d in &policy.detectors {
                let name = format!(
                    "airlock.findings_total.direction.response.detector.{}",
                    d.id
                );
                response_findings.push(define(MetricKind::Counter, &name)?);
            }
            for a in RESPONSE_ACTIONS {
                let name = format!(
                    "airlock.decisions_total.direction.response.action.{}",
                    a.as_str()
                );
                response_decisions.push(define(MetricKind::Counter, &name)?);
            }
        }
        Ok(ResponseMetrics {
            response_findings,
            response_decisions,
            tokens_sent,
            tokens_restored,
            restore_skipped,
            model_mismatch,
        })
    }

    /// The counter for a skip reason.
    pub fn skipped(&self, why: Skip) -> Option<Id> {
        Skip::REASONS
            .iter()
            .position(|r| *r == why.reason())
            .and_then(|i| self.restore_skipped.get(i))
            .copied()
    }
}

impl<Id: Copy> ResponseMetrics<Id> {
    /// Reports one response's inspection through `add(id, delta)`: each distinct finding by
    /// its detector, and the response once by its action.
    pub fn record_inspection(
        &self,
        inspection: &super::OutputInspection,
        add: &mut dyn FnMut(Id, u64),
    ) {
        if inspection.findings.is_empty() {
            return;
        }
        for f in &inspection.findings {
            if let Some(id) = self.response_findings.get(usize::from(f.detector)) {
                add(*id, 1);
            }
        }
        let action = RESPONSE_ACTIONS
            .iter()
            .position(|a| *a == inspection.action);
        if let Some(id) = action.and_then(|i| self.response_decisions.get(i)) {
            add(*id, 1);
        }
    }
}

/// The audit line of one response's inspection (`{"event":"response_findings", ...}`): each
/// distinct finding's detector, class, kind, how it was reached and keyed fingerprint, never
/// the matched bytes. `path` loses its query string, as in the request's line.
pub fn inspection_audit_line(
    policy: &Policy,
    inspection: &super::OutputInspection,
    ctx: &crate::telemetry::AuditContext<'_>,
) -> String {
    let findings: Vec<serde_json::Value> = inspection
        .findings
        .iter()
        .filter_map(|f| {
            let d = policy.detector(f.detector)?;
            Some(serde_json::json!({
                "detector": d.id,
                "class": policy.class_name(d.class),
                "kind": d.kind.as_str(),
                "via": f.via.as_str(),
                "fingerprint": format!("hmac-sha256:{}", crate::engine::fingerprint_hex(&f.fingerprint)),
            }))
        })
        .collect();
    serde_json::json!({
        "event": "response_findings",
        "direction": "response",
        "action": inspection.action.as_str(),
        "seen": inspection.seen,
        "masked": inspection.masked,
        "findings": findings,
        "tier": policy.tier_name(inspection.tier),
        "request_id": ctx.request_id,
        "host": ctx.host,
        "path": ctx.path.split('?').next().unwrap_or(""),
    })
    .to_string()
}
