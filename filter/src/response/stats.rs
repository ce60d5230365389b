//! The response path's stats, defined without proxy types (like `crate::telemetry`).
//!
//! Counts only: how many tokens went out and came back, why a response was not restored,
//! and (labeled with the tier) responses whose model was not the one asked for. Never a
//! token or an original.

use super::body::Skip;
use crate::policy::Policy;
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
}

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
            .map(|r| define(MetricKind::Counter, &format!("airlock.restore_skipped_total.reason.{r}")))
            .collect::<Result<_, E>>()?;
        let model_mismatch = policy
            .tiers
            .iter()
            .map(|t| define(MetricKind::Counter, &format!("airlock.model_mismatch_total.tier.{}", t.name)))
            .collect::<Result<_, E>>()?;
        Ok(ResponseMetrics {
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
