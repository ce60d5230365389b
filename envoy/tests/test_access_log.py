"""Airlock's verdict in Envoy's access log, through filter state (`wasm.airlock_*`).

The filter sets the decision, the detectors, the destination tier and the policy digest of each
inspected request with `proxy_set_property`; the access-log format of envoy/config.py reads
them with %FILTER_STATE(wasm.airlock_decision:PLAIN)% and friends. The log must name detectors,
never values, and must not carry a query-string API key.
"""

from __future__ import annotations

import json
import re
import subprocess

import e2e
from e2e import AWS_KEY_ID, EMAIL, GEMINI_HOST, OPENAI_HOST

# A made-up Google API key shape for the query string (AIza + 35 characters).
QUERY_KEY = "AIza" + "SyD3vQ8xK2mN7pR4tW9zB6cF1hJ5lE0aGuX"


def _policy_digest(cli) -> str:
    r = subprocess.run([str(cli), "build", str(e2e.DEFAULT_POLICY_DIR)], capture_output=True,
                       text=True, timeout=120)
    m = re.search(r"digest ([0-9a-f]{64})", r.stderr)
    assert m, r.stderr
    return m.group(1)


def test_access_log_carries_decision_detectors_tier_and_digest(envoy_factory, wasm, cli,
                                                                default_plugin_config, upstream,
                                                                run_dir):
    log = run_dir / "access-airlock.log"
    ev = envoy_factory("accesslog", wasm=str(wasm), plugin_config=default_plugin_config,
                       access_log_path=str(log))
    sent = {
        "al-allow": e2e.post(ev.url, e2e.chat_body("plan the offsite"), OPENAI_HOST,
                             headers={"x-request-id": "al-allow"}),
        "al-tokenize": e2e.post(ev.url, e2e.chat_body(f"write to {EMAIL}"), OPENAI_HOST,
                            headers={"x-request-id": "al-tokenize"}),
        "al-block": e2e.post(ev.url, e2e.chat_body(f"use {AWS_KEY_ID}"), OPENAI_HOST,
                             headers={"x-request-id": "al-block"}),
        "al-gemini": e2e.post(
            ev.url, json.dumps({"contents": [{"parts": [{"text": "hello"}]}]}).encode(),
            GEMINI_HOST, path=f"/v1beta/models/gemini-2.5-flash:generateContent?key={QUERY_KEY}",
            headers={"x-request-id": "al-gemini"}),
    }
    assert [s[0] for s in sent.values()] == [200, 200, 403, 200], {k: v[0] for k, v in sent.items()}

    def lines():
        if not log.exists():
            return None
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        ids = {e.get("request_id") for e in entries}
        return entries if set(sent) <= ids else None

    entries = {e["request_id"]: e for e in e2e.poll(lines, 20, "four access-log lines")}
    digest = _policy_digest(cli)

    allow, tokenized, block = entries["al-allow"], entries["al-tokenize"], entries["al-block"]
    assert allow["airlock_decision"] == "allow"
    assert allow["airlock_detectors"] in (None, "-"), allow   # nothing found: not set
    assert tokenized["airlock_decision"] == "tokenize" and tokenized["response_code"] == 200
    assert "mail" in tokenized["airlock_detectors"], tokenized
    assert block["airlock_decision"] == "block" and block["response_code"] == 403
    assert "aws" in block["airlock_detectors"], block
    for e in (allow, tokenized, block):
        assert e["airlock_tier"] == "approved-vendor", e
        assert e["airlock_policy_digest"] == digest, e
    assert entries["al-gemini"]["path"].endswith(":generateContent"), entries["al-gemini"]

    text = log.read_text()
    for secret in (AWS_KEY_ID, EMAIL, e2e.HASH_KEY, QUERY_KEY):
        assert secret not in text, "a secret reached the access log"
