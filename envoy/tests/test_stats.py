"""Airlock's metrics in /stats/prometheus, with the stats_tags labels from config.py."""

from __future__ import annotations

import re

import pytest

import e2e
from e2e import AWS_KEY_ID, EMAIL, OPENAI_HOST


def test_prometheus_counters_labels_and_histogram(envoy_factory, wasm, default_plugin_config,
                                                  upstream):
    ev = envoy_factory("stats", wasm=str(wasm), plugin_config=default_plugin_config)
    assert e2e.post(ev.url, e2e.chat_body("clean"), OPENAI_HOST)[0] == 200
    assert e2e.post(ev.url, e2e.chat_body(f"mail {EMAIL}"), OPENAI_HOST)[0] == 200
    assert e2e.post(ev.url, e2e.chat_body(f"key {AWS_KEY_ID}"), OPENAI_HOST)[0] == 403

    def ready():
        s = e2e.prometheus_samples(ev.prometheus())
        return s if e2e.prom_value(s, "airlock_inspection_time_microseconds_count") >= 3 else None

    samples = e2e.poll(ready, what="airlock_inspection_time_microseconds_count >= 3 (histogram flush)")
    text = ev.prometheus()
    v = lambda name, **lab: e2e.prom_value(samples, name, **lab)  # noqa: E731

    assert v("airlock_requests_inspected_total") == 3
    assert v("airlock_inspected_bytes_total") > 0
    assert v("airlock_decisions_total", airlock_action="allow") == 1
    assert v("airlock_decisions_total", airlock_action="tokenize") == 1
    assert v("airlock_decisions_total", airlock_action="block") == 1

    detectors = {lab["airlock_detector"] for n, lab, val in samples
                 if n == "airlock_findings_total" and val >= 1}
    assert any("aws" in d.lower() for d in detectors), detectors
    assert any("mail" in d.lower() for d in detectors), detectors
    classes = {lab["airlock_class"] for n, lab, val in samples
               if n == "airlock_findings_by_class_total" and val >= 1}
    assert len(classes) >= 1, classes
    assert v("airlock_findings_by_tier_total", airlock_tier="approved-vendor") >= 2

    # the histogram, with buckets
    assert re.search(r"^# TYPE airlock_inspection_time_microseconds histogram$", text, re.M)
    assert re.search(r'^airlock_inspection_time_microseconds_bucket\{le="[^"]+"\} \d', text, re.M)

    # every airlock metric is tagged: no tag segment left inside a metric name
    names = {n for n, _, _ in samples if n.startswith("airlock")}
    leftovers = [n for n in names
                 if re.search(r"_total_(detector|class|tier|action|reason|outcome|limit)_", n)]
    assert not leftovers, f"stats_tags did not apply to: {leftovers}"
    # Prometheus naming: every counter ends in _total, the histogram names its unit
    types = dict(re.findall(r"^# TYPE (airlock_\w+) (\w+)$", text, re.M))
    assert types, "no # TYPE lines for airlock metrics"
    for name, kind in types.items():
        if kind == "counter":
            assert name.endswith("_total"), f"counter {name} does not end in _total"
        else:
            assert kind == "histogram" and name.endswith(("_seconds", "_microseconds", "_bytes")), \
                f"{kind} {name} has no unit suffix"
    # labels only carry the tag values, never a matched value
    assert AWS_KEY_ID not in text and EMAIL not in text


@pytest.mark.parametrize("name,tag,value", [
    ("wasmcustom.airlock.findings_total.detector.aws-access-key-id", "airlock_detector", "aws-access-key-id"),
    ("wasmcustom.airlock.findings_total.detector.email.v2", "airlock_detector", "email.v2"),
    ("wasmcustom.airlock.findings_by_class_total.class.secret", "airlock_class", "secret"),
    ("wasmcustom.airlock.findings_by_tier_total.tier.approved-vendor", "airlock_tier", "approved-vendor"),
    ("wasmcustom.airlock.decisions_total.action.block", "airlock_action", "block"),
    ("wasmcustom.airlock.inspection_errors_total.reason.too_large", "airlock_reason", "too_large"),
    ("wasmcustom.airlock.fail_mode_total.outcome.allow", "airlock_outcome", "allow"),
    ("wasmcustom.airlock.limit_hits_total.limit.decode_depth", "airlock_limit", "decode_depth"),
    ("wasmcustom.airlock.key_theft_total.tier.unknown-relay", "airlock_tier", "unknown-relay"),
    ("wasmcustom.airlock.fields_enforced_total.tier.approved-vendor", "airlock_tier", "approved-vendor"),
    ("wasmcustom.airlock.config_rejected_total.reason.unsigned", "airlock_reason", "unsigned"),
    ("wasmcustom.airlock.model_mismatch_total.tier.approved-vendor", "airlock_tier", "approved-vendor"),
    ("wasmcustom.airlock.restore_skipped_total.reason.not_json", "airlock_restore_skip", "not_json"),
])
def test_stats_tag_regexes_match_contract_names(name, tag, value):
    """The regexes (RE2 syntax, a subset Python's re shares here) on CONTRACT.md's names."""
    from e2e import config
    hits = []
    for spec in config.stats_tags():
        m = re.search(spec["regex"], name)
        if m:
            hits.append((spec["tag_name"], m.group(2), name.replace(m.group(1), "")))
    assert len(hits) == 1, hits
    assert hits[0][0] == tag and hits[0][1] == value
    assert "." + value not in hits[0][2]


@pytest.mark.parametrize("name", [
    "wasmcustom.airlock.requests_inspected_total", "wasmcustom.airlock.inspected_bytes_total",
    "wasmcustom.airlock.policy_load_failures_total", "wasmcustom.airlock.inspection_time_microseconds",
])
def test_stats_tag_regexes_leave_plain_metrics_alone(name):
    from e2e import config
    assert not [s for s in config.stats_tags() if re.search(s["regex"], name)]
