"""Airlock's alert rules and Grafana dashboard against a real Prometheus scraping a real Envoy.

`promtool` checks the rules and runs their unit tests (deploy/prometheus/*.test.yml). Then a
Prometheus (Debian package, 1 s scrape interval) scrapes the e2e Envoy's /stats/prometheus with
the rules loaded, the test sends traffic that exercises every series (clean, masked, blocked,
too large for the policy, nested past the JSON depth limit, a resent conversation), and every
PromQL query of every dashboard panel, parsed out of deploy/grafana/airlock.json, must return a
series with a value above zero: no panel is silently empty because a series was renamed. The
one exception is a panel whose healthy value is zero (policy load failures): it must return a
series. Everything is polled with a deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import subprocess
import urllib.parse

import pytest

import e2e
from e2e import AWS_KEY_ID, EMAIL, OPENAI_HOST, RELAY_HOST
from realparts import Prometheus, tool

DEPLOY = e2e.REPO / "deploy"
RULES = DEPLOY / "prometheus" / "airlock-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "airlock.json"
# Grafana's variables, as Grafana would expand them for a 1 s scrape interval.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1s", "$__range": "5m"}
ZERO_WHEN_HEALTHY = ("airlock_policy_load_failures_total",)


def dashboard_queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    out = []
    for panel in doc["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            assert "$" not in expr, f"panel {panel['title']!r}: unexpanded variable in {expr!r}"
            out.append((panel["title"], expr))
    return out


def test_promtool_checks_and_unit_tests_the_rules():
    promtool = tool("promtool")
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([promtool, "test", "rules", "airlock-rules.test.yml"],
                       cwd=RULES.parent, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dashboard_has_a_query_for_each_part():
    """The issue's list: decisions by action and tier, findings by detector and class,
    inspection time percentiles, fail mode and limit hits, bytes inspected."""
    text = " ".join(expr for _, expr in dashboard_queries())
    for needle in ["airlock_decisions_total", "airlock_findings_by_tier_total",
                   "by (airlock_detector)", "by (airlock_class)", "histogram_quantile(0.99",
                   "airlock_fail_mode_total", "airlock_limit_hits_total",
                   "airlock_inspected_bytes_total"]:
        assert needle in text, f"no dashboard query uses {needle}"


def _traffic(url: str) -> None:
    post = e2e.post
    assert post(url, e2e.chat_body("summarise the meeting notes"), OPENAI_HOST)[0] == 200
    assert post(url, e2e.chat_body(f"mail {EMAIL} about it"), OPENAI_HOST)[0] == 200
    assert post(url, e2e.chat_body(f"key {AWS_KEY_ID}"), OPENAI_HOST)[0] == 403
    assert post(url, e2e.chat_body(f"mail {EMAIL}"), RELAY_HOST)[0] == 403
    # over the default policy's 1 MiB max_body_bytes: the fail mode (block) answers
    big = e2e.chat_body("a" * (1536 * 1024))
    assert post(url, big, OPENAI_HOST)[0] == 403
    # nested past the JSON depth limit (128)
    nested = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"metadata":' \
        + '{"a":' * 200 + '1' + '}' * 200 + '}'
    post(url, nested.encode(), OPENAI_HOST)
    # a conversation resent turn after turn by one caller (the cache is keyed by the caller's
    # credential header, and is per VM: with 2 workers, 4 sends put 2 on one VM at least)
    turns = [{"role": "user", "content": f"turn {i}: please review the design document"} for i in range(5)]
    for n in (2, 3, 4, 5):
        body = json.dumps({"model": "gpt-4o-mini", "messages": turns[:n]}).encode()
        assert post(url, body, OPENAI_HOST, headers={"Authorization": "Bearer e2e-caller"})[0] == 200
    # the response path (issue 13): tokens restored by an echoing upstream, a reply from
    # another model, a gzip stream left unrestored, a vendor key bound for a relay, a field
    # rule, and a credential in a relay's reply (inspected with `monitor`, see below)
    echo = {"x-e2e-echo": "text"}
    assert post(url, e2e.chat_body(f"mail {EMAIL}"), OPENAI_HOST, headers=echo)[0] == 200
    assert post(url, e2e.chat_body("hi", "gpt-4o"), OPENAI_HOST,
                headers={**echo, "x-e2e-model": "gpt-4o-mini"})[0] == 200
    assert post(url, e2e.chat_body(f"mail {EMAIL}", stream=True), OPENAI_HOST,
                headers={**echo, "x-e2e-gzip": "force"})[0] == 200
    key = "sk-proj-" + "Q7x2Lm9Zr4Tb8Wc1Yd6Nf3Hg5Jk0Pv" * 4
    assert post(url, e2e.chat_body("hi"), RELAY_HOST,
                headers={"Authorization": f"Bearer {key}"})[0] == 403
    assert post(url, e2e.chat_body("hi", metadata={"user_id": "u1"}), RELAY_HOST)[0] == 200
    said = base64.b64encode(f"use {AWS_KEY_ID}".encode()).decode()
    assert post(url, e2e.chat_body("hi"), RELAY_HOST,
                headers={**echo, "x-e2e-say-b64": said})[0] == 200


def _inspecting_relay_policy(cli, tmp_path) -> str:
    """The default policy, its relay tier inspecting responses (`monitor`): the dashboard's
    response-inspection panels then have a series to show."""
    dst = tmp_path / "policy"
    shutil.copytree(e2e.DEFAULT_POLICY_DIR, dst)
    pol = dst / "policy.yaml"
    anchor = "      max_class: public\n"
    assert pol.read_text().count(anchor) == 1
    pol.write_text(pol.read_text().replace(anchor, anchor + "      inspect_responses: monitor\n"))
    return e2e.build_policy(cli, dst)


def test_every_dashboard_panel_returns_data(envoy_factory, wasm, cli, upstream, tmp_path):
    ev = envoy_factory("prometheus", wasm=str(wasm),
                       plugin_config=_inspecting_relay_policy(cli, tmp_path))
    admin = urllib.parse.urlparse(ev.admin).netloc
    prom = Prometheus(str(tmp_path / "prometheus"), [admin], "/stats/prometheus", [str(RULES)])
    try:
        # the counters exist (at 0) once the policy is loaded; wait for a scrape of them so
        # that rate() and increase() see the traffic as an increase
        e2e.poll(lambda: prom.query("airlock_requests_inspected_total == 0"), 30,
                 "a first scrape of airlock_requests_inspected_total at 0")
        _traffic(ev.url)

        queries = dashboard_queries()
        state: dict[str, str] = {}
        seen: set[str] = set()   # a query that returned data once has shown its panel works

        def all_have_data() -> bool:
            for title, expr in queries:
                if expr in seen:
                    continue
                values = [float(r["value"][1]) for r in prom.query(expr)]
                if not values:
                    state[expr] = f"{title!r}: no series"
                    continue
                needs_positive = not any(z in expr for z in ZERO_WHEN_HEALTHY)
                if needs_positive and not any(v > 0 and not math.isnan(v) for v in values):
                    state[expr] = f"{title!r}: only {values}"
                    continue
                state.pop(expr, None)
                seen.add(expr)
            return not state

        try:
            e2e.poll(all_have_data, 60, "every dashboard query to return data", every=1.0)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\npanels without data:\n  " + "\n  ".join(state.values()))

        # the rules loaded and evaluate without error against the real series
        rules = e2e.poll(lambda: [r for r in prom.rules() if r.get("lastEvaluation", "").startswith("2")]
                         if all(r.get("health") == "ok" for r in prom.rules()) else None,
                         30, "every rule evaluated healthy")
        assert {r["name"] for r in rules if r["type"] == "alerting"} >= {
            "AirlockFailOpen", "AirlockFailModeBlocking", "AirlockBlockedRateJump",
            "AirlockInspectionP99OverBudget", "AirlockConfigRejected"}
        # the recording rule in seconds agrees with the raw microsecond histogram; its first
        # evaluations may precede the scrape that holds the traffic (rate 0/0: NaN), so wait for
        # an evaluation with a number, then check it
        def p99_evaluated():
            result = prom.query("airlock:inspection_time_seconds:p99_5m")
            return result if result and not math.isnan(float(result[0]["value"][1])) else None

        p99 = e2e.poll(p99_evaluated, 30, "the p99 recording rule evaluated over the traffic")
        assert 0 < float(p99[0]["value"][1]) < 5, p99
    finally:
        prom.stop()


def test_config_rejected_alert_fires_on_a_rejected_ecds_update(envoy_factory, wasm, upstream,
                                                               default_plugin_config, tmp_path):
    """A policy update the filter rejects (through ECDS, as in test_ecds.py) makes
    AirlockConfigRejected fire in the real Prometheus, with the rules file as shipped."""
    from e2e import HASH_KEY, config

    resource = tmp_path / "airlock-filter.yaml"

    def publish(plugin_config: str) -> None:
        config.write_ecds_resource(str(resource), config.Options(
            wasm=str(wasm), plugin_config=plugin_config, hash_key=HASH_KEY))

    publish(default_plugin_config)
    ev = envoy_factory("prom-ecds", ecds_path=str(resource))
    admin = urllib.parse.urlparse(ev.admin).netloc
    prom = Prometheus(str(tmp_path / "prometheus"), [admin], "/stats/prometheus", [str(RULES)])
    try:
        e2e.poll(lambda: prom.query("airlock_policy_load_failures_total == 0"), 30,
                 "a first scrape of airlock_policy_load_failures_total at 0")
        publish(json.dumps({"airlock_config": 1, "policy": {"schema": 1, "classes": "nope"}}))

        def firing():
            _, _, body = e2e.harness.http("GET", prom.url + "/api/v1/alerts")
            alerts = json.loads(body)["data"]["alerts"]
            return [a for a in alerts
                    if a["labels"]["alertname"] == "AirlockConfigRejected" and a["state"] == "firing"]

        alerts = e2e.poll(firing, 60, "AirlockConfigRejected firing", every=1.0)
        assert alerts[0]["labels"]["severity"] == "critical"
        # the previous policy keeps serving
        assert e2e.post(ev.url, e2e.chat_body(f"key {AWS_KEY_ID}"), OPENAI_HOST)[0] == 403
    finally:
        prom.stop()
