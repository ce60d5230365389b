//! Stats and audit lines, defined without any proxy types.
//!
//! Metric names put each label in a `.<tag>.<value>` suffix
//! (`airlock.findings_total.detector.aws-access-key-id`), which the `stats_tags`
//! regexes in `envoy/` turn into Prometheus labels. Values are detector ids,
//! class and tier names: the compiler restricts them to `[a-z0-9-]`, so they
//! never contain a dot and a tag regex cannot swallow a neighbouring segment.
//!
//! Names follow Prometheus conventions once the tags are extracted: counters end in `_total`
//! (`airlock_findings_total{airlock_detector="..."}`), the unit is in the name
//! (`inspected_bytes_total`, `inspection_time_microseconds`). The histogram is in microseconds,
//! not Prometheus's base unit (seconds), because proxy-wasm records integer samples; the unit is
//! spelled out so no dashboard mistakes it for seconds or milliseconds.
//!
//! The audit line says what was found where and a keyed fingerprint of it;
//! it is built from a [`Verdict`], which never holds matched bytes.

use crate::engine::{fingerprint_hex, Origin, Verdict};
use crate::policy::{Action, Policy};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Histogram,
}

/// Counter of policy configurations that failed to load (defined before any policy exists).
pub const POLICY_LOAD_FAILURES: &str = "airlock.policy_load_failures_total";

/// Every metric of a loaded policy, by the host's metric id type.
#[derive(Debug, Clone)]
pub struct Metrics<Id> {
    pub requests_inspected: Id,
    pub bytes_inspected: Id,
    pub decisions: Vec<Id>,
    pub by_detector: Vec<Id>,
    pub by_class: Vec<Id>,
    pub by_tier: Vec<Id>,
    pub inspection_errors: Vec<Id>,
    pub fail_mode: Vec<Id>,
    /// Per safety limit, in [`crate::engine::LimitHits::counts`] order.
    pub limits_hit: Vec<Id>,
    pub inspection_time_us: Id,
    /// Fields (and joined-matching windows) the inspection cache served, those it inspected and
    /// remembered, and the entries it evicted.
    pub cache_hits: Id,
    pub cache_misses: Id,
    pub cache_evictions: Id,
    /// Requests with a vendor key bound for a host not the vendor's, by tier.
    pub key_theft: Vec<Id>,
    /// Requests whose body a tier's field rules changed, by tier.
    pub fields_enforced: Vec<Id>,
}

impl<Id: Copy> Metrics<Id> {
    /// Defines every metric through `define(kind, name)`.
    pub fn define<E>(
        policy: &Policy,
        define: &mut dyn FnMut(MetricKind, &str) -> Result<Id, E>,
    ) -> Result<Self, E> {
        let mut counter = |name: String| define(MetricKind::Counter, &name);
        let mut list =
            |prefix: &str, names: &mut dyn Iterator<Item = &str>| -> Result<Vec<Id>, E> {
                names.map(|n| counter(format!("{prefix}.{n}"))).collect()
            };
        let decisions = list(
            "airlock.decisions_total.action",
            &mut Action::ALL.iter().map(|a| a.as_str()),
        )?;
        let by_detector = list(
            "airlock.findings_total.detector",
            &mut policy.detectors.iter().map(|d| d.id.as_str()),
        )?;
        let by_class = list(
            "airlock.findings_by_class_total.class",
            &mut policy.classes.iter().map(String::as_str),
        )?;
        let by_tier = list(
            "airlock.findings_by_tier_total.tier",
            &mut policy.tiers.iter().map(|t| t.name.as_str()),
        )?;
        let errors = list(
            "airlock.inspection_errors_total.reason",
            &mut crate::engine::Uninspectable::REASONS.iter().copied(),
        )?;
        let fail_mode = list(
            "airlock.fail_mode_total.outcome",
            &mut ["block", "allow"].iter().copied(),
        )?;
        let limit_names = crate::engine::LimitHits::default()
            .counts()
            .map(|(name, _)| name);
        let limits_hit = list(
            "airlock.limit_hits_total.limit",
            &mut limit_names.iter().copied(),
        )?;
        let key_theft = list(
            "airlock.key_theft_total.tier",
            &mut policy.tiers.iter().map(|t| t.name.as_str()),
        )?;
        let fields_enforced = list(
            "airlock.fields_enforced_total.tier",
            &mut policy.tiers.iter().map(|t| t.name.as_str()),
        )?;
        let requests_inspected = define(MetricKind::Counter, "airlock.requests_inspected_total")?;
        let bytes_inspected = define(MetricKind::Counter, "airlock.inspected_bytes_total")?;
        let inspection_time_us = define(
            MetricKind::Histogram,
            "airlock.inspection_time_microseconds",
        )?;
        let cache_hits = define(MetricKind::Counter, "airlock.cache_hits_total")?;
        let cache_misses = define(MetricKind::Counter, "airlock.cache_misses_total")?;
        let cache_evictions = define(MetricKind::Counter, "airlock.cache_evictions_total")?;
        Ok(Metrics {
            requests_inspected,
            bytes_inspected,
            decisions,
            by_detector,
            by_class,
            by_tier,
            inspection_errors: errors,
            fail_mode,
            limits_hit,
            inspection_time_us,
            cache_hits,
            cache_misses,
            cache_evictions,
            key_theft,
            fields_enforced,
        })
    }

    /// Reports one verdict through `add(id, delta)`.
    pub fn record(
        &self,
        policy: &Policy,
        verdict: &Verdict,
        body_bytes: usize,
        add: &mut dyn FnMut(Id, u64),
    ) {
        add(self.requests_inspected, 1);
        if body_bytes > 0 {
            add(
                self.bytes_inspected,
                u64::try_from(body_bytes).unwrap_or(u64::MAX),
            );
        }
        if let Some(id) = Action::ALL
            .iter()
            .position(|a| *a == verdict.decision)
            .and_then(|i| self.decisions.get(i))
        {
            add(*id, 1);
        }
        for finding in &verdict.findings {
            let Some(detector) = policy.detector(finding.detector) else {
                continue;
            };
            if let Some(id) = self.by_detector.get(usize::from(finding.detector)) {
                add(*id, 1);
            }
            if let Some(id) = self.by_class.get(usize::from(detector.class)) {
                add(*id, 1);
            }
            if let Some(id) = self.by_tier.get(usize::from(verdict.tier)) {
                add(*id, 1);
            }
        }
        for ((_, count), id) in verdict.limits.counts().iter().zip(&self.limits_hit) {
            if *count > 0 {
                add(*id, u64::from(*count));
            }
        }
        let cache = verdict.cache;
        for (id, count) in [
            // Fields served from the cache: looked up, or resumed past (`cache/resume.rs`).
            (
                self.cache_hits,
                (cache.hits.saturating_add(cache.window_hits))
                    .saturating_add(cache.resumed_fields)
                    .saturating_add(cache.resumed_windows),
            ),
            (
                self.cache_misses,
                cache.misses.saturating_add(cache.window_misses),
            ),
            (self.cache_evictions, cache.evictions),
        ] {
            if count > 0 {
                add(id, u64::from(count));
            }
        }
        let tier = usize::from(verdict.tier);
        if let Some(id) = self.key_theft.get(tier) {
            if verdict.relay.key_theft.is_some() {
                add(*id, 1);
            }
        }
        if let Some(id) = self.fields_enforced.get(tier) {
            if verdict.relay.fields.any() {
                add(*id, 1);
            }
        }
        if let Some(why) = &verdict.uninspectable {
            if let Some(id) = crate::engine::Uninspectable::REASONS
                .iter()
                .position(|r| *r == why.reason())
                .and_then(|i| self.inspection_errors.get(i))
            {
                add(*id, 1);
            }
            let outcome = usize::from(verdict.decision != Action::Block);
            if let Some(id) = self.fail_mode.get(outcome) {
                add(*id, 1);
            }
        }
    }
}

/// Request facts the audit line names besides the verdict.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditContext<'a> {
    pub request_id: &'a str,
    pub host: &'a str,
    pub path: &'a str,
}

/// One finding as the audit log and `airlock scan` report it: where, what kind, which layer,
/// a keyed fingerprint; never the value. Fields in name order, as `serde_json` orders an
/// object's keys.
#[derive(serde::Serialize)]
pub struct FindingEntry<'a> {
    action: &'static str,
    class: &'a str,
    detector: &'a str,
    /// A protected document's number, or its name when the index stores names.
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<usize>,
    /// Of a protected record: how many of the row's fields the text holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<u8>,
    fingerprint: String,
    /// Of a protected document: the share of its fingerprints found, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    fraction: Option<f64>,
    kind: &'static str,
    /// Of a protected document: the characters of the text the copy covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    matched_chars: Option<u32>,
    path: &'a str,
    /// Of a protected record: the row's number in the indexed table.
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<usize>,
    via: &'static str,
}

/// What a finding of a protected document or record adds to its entry: numbers, never text.
#[derive(Default)]
struct OriginFields {
    document: Option<String>,
    matched_chars: Option<u32>,
    fraction: Option<f64>,
    row: Option<u32>,
    fields: Option<u8>,
}

impl OriginFields {
    fn of(policy: &Policy, finding: &crate::engine::Finding) -> OriginFields {
        match finding.origin {
            Origin::Pattern => OriginFields::default(),
            Origin::Document {
                document,
                matched_chars,
                fraction_bp,
            } => OriginFields {
                document: Some(
                    policy
                        .protected_document_name(finding.detector, document)
                        .map_or_else(|| document.to_string(), str::to_string),
                ),
                matched_chars: Some(matched_chars),
                fraction: Some(f64::from(fraction_bp) / 10_000.0),
                ..OriginFields::default()
            },
            Origin::Record { row, fields } => OriginFields {
                row: Some(row),
                fields: Some(fields),
                ..OriginFields::default()
            },
        }
    }
}

/// The findings of a verdict, with their spans in the field's text if `spans`.
pub fn finding_entries<'a>(
    policy: &'a Policy,
    verdict: &'a Verdict,
    spans: bool,
) -> impl Iterator<Item = FindingEntry<'a>> + 'a {
    verdict.findings.iter().filter_map(move |f| {
        let d = policy.detector(f.detector)?;
        let origin = OriginFields::of(policy, f);
        Some(FindingEntry {
            action: f.action.as_str(),
            class: policy.class_name(d.class),
            detector: &d.id,
            document: origin.document,
            end: spans.then_some(f.span.end),
            fields: origin.fields,
            fingerprint: format!("hmac-sha256:{}", fingerprint_hex(&f.fingerprint)),
            fraction: origin.fraction,
            kind: d.kind.as_str(),
            matched_chars: origin.matched_chars,
            path: &f.path,
            row: origin.row,
            start: spans.then_some(f.span.start),
            via: f.via.as_str(),
        })
    })
}

/// [`finding_entries`] as JSON values.
pub fn findings_json(policy: &Policy, verdict: &Verdict, spans: bool) -> Vec<serde_json::Value> {
    finding_entries(policy, verdict, spans)
        .filter_map(|entry| serde_json::to_value(entry).ok())
        .collect()
}

/// The safety limits a verdict reached, by name, or `None` if none was.
pub fn limits_json(verdict: &Verdict) -> Option<serde_json::Value> {
    verdict.limits.any().then(|| {
        let hit: serde_json::Map<String, serde_json::Value> = verdict
            .limits
            .counts()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| ((*name).to_string(), json!(n)))
            .collect();
        serde_json::Value::Object(hit)
    })
}

/// The audit JSON for a verdict: where and what was found, fingerprints, never values.
pub fn audit_line(policy: &Policy, verdict: &Verdict, ctx: &AuditContext<'_>) -> String {
    let mut out = Vec::new();
    write_audit_line(policy, verdict, ctx, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`audit_line`] appended to `out`, so that a caller can reuse one buffer for every line
/// (the proxy writes `airlock.audit ` and the line into the same buffer it hands the host).
/// Appends nothing if the line cannot be serialized.
pub fn write_audit_line(
    policy: &Policy,
    verdict: &Verdict,
    ctx: &AuditContext<'_>,
    out: &mut Vec<u8>,
) {
    /// Fields in name order, as the object form had them.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        decision: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        enforce_decision: Option<&'static str>,
        /// Field rules that changed the body: `set store`, `remove metadata` (names only).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        findings: Vec<FindingEntry<'a>>,
        fingerprint_key: &'static str,
        host: &'a str,
        /// The key theft that blocked the request: vendor, where, detector (never the key).
        #[serde(skip_serializing_if = "Option::is_none")]
        key_theft: Option<KeyTheftEntry<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        limits_hit: Option<serde_json::Value>,
        path: &'a str,
        policy: PolicyRef<'a>,
        request_id: &'a str,
        tier: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        uninspectable: Option<Why>,
    }
    #[derive(serde::Serialize)]
    struct PolicyRef<'a> {
        digest: &'a str,
        name: &'a str,
        version: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Why {
        message: String,
        reason: &'static str,
    }
    #[derive(serde::Serialize)]
    struct KeyTheftEntry<'a> {
        detector: &'a str,
        place: String,
        vendor: &'a str,
    }
    let key_theft = verdict.relay.key_theft.as_ref().map(|t| KeyTheftEntry {
        detector: policy.detector(t.detector).map_or("?", |d| d.id.as_str()),
        place: t.place.path(),
        vendor: policy.relay.key_theft.vendor_name(t.vendor),
    });
    let line = Line {
        decision: verdict.decision.as_str(),
        enforce_decision: (verdict.planned != verdict.decision).then(|| verdict.planned.as_str()),
        fields: field_edits(policy, verdict),
        findings: finding_entries(policy, verdict, false).collect(),
        fingerprint_key: match policy.key_scope {
            crate::policy::KeyScope::Configured => "configured",
            crate::policy::KeyScope::Ephemeral => "ephemeral",
        },
        host: ctx.host,
        key_theft,
        limits_hit: limits_json(verdict),
        path: ctx.path.split('?').next().unwrap_or(""),
        policy: PolicyRef {
            digest: &policy.info.digest,
            name: &policy.info.name,
            version: &policy.info.version,
        },
        request_id: ctx.request_id,
        tier: policy.tier_name(verdict.tier),
        uninspectable: verdict.uninspectable.as_ref().map(|why| Why {
            message: why.message().to_string(),
            reason: why.reason(),
        }),
    };
    let start = out.len();
    if serde_json::to_writer(&mut *out, &line).is_err() {
        out.truncate(start);
    }
}

/// The field rules that changed a verdict's body, as `set store` / `remove metadata`.
pub fn field_edits(policy: &Policy, verdict: &Verdict) -> Vec<String> {
    let rules = policy.relay.fields_of(verdict.tier);
    verdict
        .relay
        .fields
        .rules()
        .filter_map(|i| rules.get(i))
        .map(|r| format!("{} {}", r.verb(), r.shown))
        .collect()
}
