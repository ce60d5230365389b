"""Envoy's log: Airlock's audit lines are there, and no secret used by any test is.

Runs last (file name) so that it can read the logs of every Envoy started in this
session; it also sends its own secret-bearing requests so it is meaningful alone.
"""

from __future__ import annotations

import glob
import json
import os
import re

import e2e
from e2e import AWS_KEY_ID, EMAIL, OPENAI_HOST, SECRETS


def _audit_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        i = line.find("airlock.audit ")
        if i >= 0:
            out.append(json.loads(line[i + len("airlock.audit "):]))
    return out


def test_audit_line_for_block_and_mask(envoy, upstream):
    assert e2e.post(envoy.url, e2e.chat_body(f"audit me {AWS_KEY_ID}"), OPENAI_HOST,
                    headers={"x-request-id": "e2e-audit-block"})[0] == 403
    assert e2e.post(envoy.url, e2e.chat_body(f"audit me {EMAIL}"), OPENAI_HOST,
                    headers={"x-request-id": "e2e-audit-mask"})[0] == 200

    def found():
        lines = _audit_lines(envoy.log_text())
        decisions = {a.get("decision") for a in lines}
        return lines if {"block", "tokenize"} <= decisions else None

    lines = e2e.poll(found, what="audit lines for a block and a tokenize in Envoy's log")
    # Response-path events (model_mismatch, restore_skipped) have their own shape.
    lines = [a for a in lines if "event" not in a]
    for a in lines:
        for key in ("request_id", "host", "path", "tier", "decision", "policy", "findings"):
            assert key in a, f"audit line without {key}: {a}"
        assert set(a["policy"]) >= {"name", "version", "digest"}
        for f in a["findings"]:
            assert set(f) >= {"detector", "class", "kind", "path", "action", "fingerprint"}
            assert re.fullmatch(r"hmac-sha256:[0-9a-f]{16}", f["fingerprint"]), f["fingerprint"]
    blocks = [a for a in lines if a["decision"] == "block"]
    assert any(a["host"] == OPENAI_HOST and a["tier"] == "approved-vendor" for a in blocks)


def test_no_secret_in_any_envoy_log(envoy, run_dir, upstream):
    # make sure every secret went through this session's Envoy at least once
    e2e.post(envoy.url, e2e.chat_body(f"{AWS_KEY_ID} and {EMAIL}"), OPENAI_HOST)
    e2e.post(envoy.url, e2e.chat_body(f"mail {EMAIL}"), OPENAI_HOST)
    e2e.post(envoy.url, e2e.chat_body(f"mail {EMAIL}"), e2e.RELAY_HOST)
    logs = sorted(glob.glob(os.path.join(str(run_dir), "envoy-*.log")))
    assert logs
    leaks = []
    for path in logs:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for s in SECRETS:
            if s in text:
                line = next(ln for ln in text.splitlines() if s in ln)
                shown = line.replace(s, "<" + s[:4] + "...>")[:300]   # never print the secret
                leaks.append(f"{os.path.basename(path)}: {shown}")
    assert not leaks, "secrets in Envoy's log:\n" + "\n".join(leaks)
