//! What a relay must not get: vendor keys it could spend, and data-handling fields it
//! could exploit. The request-side checks of issue 13, host-agnostic like the rest of the engine.
//!
//! - [`key_theft`]: a key in a vendor's format (found by the policy's own credential
//!   detectors, mapped to vendors by the policy's `key_theft` section) bound for a host that
//!   is not that vendor's is blocked, whether it sits in a key header or in the body.
//! - [`fields`]: per tier, JSON members are set (`store: false`) or removed (`metadata`,
//!   `user`) by path, on the final body, after masking, without re-serialising the rest.
//!
//! Both are compiled by `policy::relay` into [`Relay`], which the [`crate::policy::Policy`] holds.
//! Trade-off: key formats are the detectors' (one source of truth, so a new key shape is one
//! detector and one id in a vendor's list), so a key is recognised only as well as its detector.

pub mod fields;
mod json_members;
pub mod key_theft;
pub(crate) mod parsed;

pub use fields::{FieldOp, FieldRule, FieldsApplied};
pub use key_theft::{KeyPlace, KeyTheft, KeyTheftRules, Vendor};

/// The compiled relay checks of a policy.
#[derive(Debug, Default)]
pub struct Relay {
    pub key_theft: KeyTheftRules,
    /// Field rules by tier index (a tier without rules has an empty list).
    pub fields: Vec<Vec<FieldRule>>,
}

impl Relay {
    /// The field rules of `tier`.
    pub fn fields_of(&self, tier: crate::policy::TierIndex) -> &[FieldRule] {
        self.fields
            .get(usize::from(tier))
            .map_or(&[], Vec::as_slice)
    }
}

/// What the relay checks did to one request: on the [`crate::engine::Verdict`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayOutcome {
    /// The first vendor key bound for a host that is not the vendor's.
    pub key_theft: Option<KeyTheft>,
    /// The tier's field rules that changed the body (or would have, in monitor mode).
    pub fields: FieldsApplied,
}
