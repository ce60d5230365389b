//! What an inspection decided, and why.

pub(crate) mod fingerprint;
pub(crate) mod rewrite;

use crate::engine::body::content_coding::EncodingError;
use crate::engine::limits::LimitHits;
use crate::engine::scan::scanner::DetectorIndex;
use crate::engine::span::Span;
use crate::policy::{Action, Policy, TierIndex};

/// One detector match. Holds where it was and a keyed fingerprint, never the matched bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub detector: DetectorIndex,
    /// JSON path of the field (`$.messages[0].content`); `$` for a body scanned as text.
    pub path: String,
    /// Byte span in the field's decoded text.
    pub span: Span,
    /// The action for this finding on the request's tier (before monitor mode).
    pub action: Action,
    /// First 8 bytes of HMAC-SHA256 of the matched bytes, keyed with the policy's key.
    pub fingerprint: [u8; 8],
    /// How the matched bytes were reached: as written, folded, or decoded.
    pub via: crate::engine::Via,
    /// A pattern match, or which protected document or record was matched.
    pub origin: crate::engine::Origin,
}

/// Why a request could not be inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uninspectable {
    TooLarge {
        size: usize,
        limit: usize,
    },
    /// The body decompresses to more than the limit.
    Decompressed {
        limit: usize,
    },
    /// The content coding cannot be undone (or, after masking, redone).
    Encoding(EncodingError),
    /// Neither JSON, JSON Lines, multipart nor text (the declared content type is kept).
    Opaque(String),
    Internal(String),
}

impl Uninspectable {
    /// Every value [`Uninspectable::reason`] takes, in the order stats define them.
    pub const REASONS: [&'static str; 4] =
        ["too_large", "bad_encoding", "unsupported_body", "internal"];

    /// A stable, label-safe reason for stats: one of [`Uninspectable::REASONS`].
    pub fn reason(&self) -> &'static str {
        let [too_large, bad_encoding, unsupported_body, internal] = Self::REASONS;
        match self {
            Uninspectable::TooLarge { .. } | Uninspectable::Decompressed { .. } => too_large,
            Uninspectable::Encoding(_) => bad_encoding,
            Uninspectable::Opaque(_) => unsupported_body,
            Uninspectable::Internal(_) => internal,
        }
    }

    /// A sentence for replies and logs; header values are reduced to token characters.
    pub fn message(&self) -> String {
        match self {
            Uninspectable::TooLarge { size, limit } => {
                format!("the request body ({size} bytes) is larger than the policy's inspection limit ({limit} bytes)")
            }
            Uninspectable::Decompressed { limit } => {
                format!("the request body decompresses to more than the policy's inspection limit ({limit} bytes)")
            }
            Uninspectable::Encoding(error) => {
                let shown: String = error
                    .to_string()
                    .chars()
                    .filter(|c| c.is_ascii_graphic() || *c == ' ')
                    .take(160)
                    .collect();
                format!("the request body cannot be decoded for inspection: {shown}")
            }
            Uninspectable::Opaque(content_type) => {
                let shown: String = content_type
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(60)
                    .collect();
                format!(
                    "the request body (content-type {shown}) is binary data Airlock cannot inspect"
                )
            }
            Uninspectable::Internal(what) => format!("internal inspection error: {what}"),
        }
    }
}

/// The outcome of one inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What happens to the request (after monitor mode).
    pub decision: Action,
    /// What would happen in enforce mode.
    pub planned: Action,
    pub tier: TierIndex,
    pub findings: Vec<Finding>,
    /// The body to send instead, when findings were masked or hashed.
    pub body: Option<Vec<u8>>,
    /// Set when the request could not be inspected and the fail mode decided.
    pub uninspectable: Option<Uninspectable>,
    /// Safety limits reached while inspecting.
    pub limits: LimitHits,
    /// How the inspection cache served this request (fields found in it, fields remembered).
    pub cache: crate::engine::CacheUse,
    /// Key theft found, and the tier's field rules that changed the body.
    pub relay: crate::engine::relay::RelayOutcome,
    /// The reversible tokens in the rewritten body, for restoring the response (empty unless
    /// that body goes out). Its `Debug` shows counts only.
    pub tokens: crate::response::RestoreMap,
}

impl Verdict {
    /// Distinct detector ids of the findings, sorted.
    pub fn detector_ids<'p>(&self, policy: &'p Policy) -> Vec<&'p str> {
        let mut ids: Vec<&str> = self
            .findings
            .iter()
            .filter_map(|f| policy.detector(f.detector).map(|d| d.id.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Findings whose own action is the decision's (the ones that caused it).
    pub fn deciding_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| f.action == self.planned)
    }
}
