"""Protected documents and records (issue 12) through Envoy + Airlock with official SDKs.

The ACME example policy (policies/examples/acme) carries a documents index of its
protected source tree and a records index of its synthetic customer table, both
built here from protected/ with the CLI and carried whole by `airlock build`.
- a pasted fragment of protected source is blocked for an unknown relay (the SDK's
  permission error names the detector), masked for the approved vendor (the upstream
  sees the prompt without the copied region), allowed to the internal model;
- two fields of one customer row are masked for Anthropic; two fields of different
  rows pass untouched.
"""

from __future__ import annotations

import json
import subprocess

import pytest

import e2e
from e2e import ANTHROPIC_MODEL, OPENAI_MODEL, REPLY_TEXT

ACME = e2e.REPO / "policies" / "examples" / "acme"
PROTECTED = ACME / "protected"
INTERNAL_HOST = "llm.internal.acme.example"
SOURCE = (PROTECTED / "src" / "pricing" / "rebate.py").read_text()
FRAGMENT = SOURCE[SOURCE.index("def weighted_volume"):SOURCE.index("def clawback")]
PROMPT = "Why is this rebate too high for big customers?\n\n" + FRAGMENT
# A line of the copied region that must never reach a vendor or relay.
COPIED_LINE = "rate += band.loyalty_bonus * min(years_as_customer - 2, 4)"
SAME_ROW = "Write a win-back email to Ignatius Farrowby, phone +1 312 555 0199."
OTHER_ROWS = "Write a win-back email to Ignatius Farrowby, phone +1 646 555 0134."


def _msg(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def acme_envoy(session_envoy_factory, wasm, cli):
    r = subprocess.run(["bash", str(PROTECTED / "build-indexes.sh"), str(cli)],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    plugin_config = e2e.build_policy(cli, ACME)
    assert COPIED_LINE not in plugin_config, "the configuration carries protected text"
    return session_envoy_factory("acme-protected", wasm=str(wasm), plugin_config=plugin_config)


def test_pasted_source_is_blocked_for_an_unknown_relay(acme_envoy, upstream):
    import openai
    client = e2e.openai_client(acme_envoy.url, e2e.Capture(), host=e2e.RELAY_HOST)
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(model=OPENAI_MODEL, messages=_msg(PROMPT))
    assert err.value.response.headers.get("x-airlock-decision") == "block"
    assert "acme-source" in err.value.response.json()["error"]["message"]
    e2e.assert_nothing_reached_upstream(upstream)


def test_pasted_source_is_masked_for_the_approved_vendor(acme_envoy, upstream):
    cap = e2e.Capture()
    client = e2e.openai_client(acme_envoy.url, cap)
    raw = client.chat.completions.with_raw_response.create(model=OPENAI_MODEL,
                                                           messages=_msg(PROMPT))
    assert raw.parse().choices[0].message.content == REPLY_TEXT
    assert raw.headers.get("x-airlock-decision") == "mask"
    rec = e2e.only_request(upstream, "/v1/chat/completions")
    sent = json.loads(rec["body"])["messages"][0]["content"]
    assert "[REDACTED:acme-source]" in sent
    assert sent.startswith("Why is this rebate too high")
    e2e.assert_upstream_never_saw(upstream, COPIED_LINE)


def test_pasted_source_is_allowed_to_the_internal_model(acme_envoy, upstream):
    cap = e2e.Capture()
    client = e2e.openai_client(acme_envoy.url, cap, host=INTERNAL_HOST)
    raw = client.chat.completions.with_raw_response.create(model="acme-llama-70b",
                                                           messages=_msg(PROMPT))
    assert raw.parse().choices[0].message.content == REPLY_TEXT
    assert raw.headers.get("x-airlock-decision") == "allow"
    rec = e2e.only_request(upstream, "/v1/chat/completions")
    assert rec["body"] == cap.sent[-1]["content"]


def test_customer_record_fields_of_one_row_match_of_different_rows_do_not(acme_envoy, upstream):
    cap = e2e.Capture()
    client = e2e.anthropic_client(acme_envoy.url, cap)
    raw = client.messages.with_raw_response.create(model=ANTHROPIC_MODEL, max_tokens=64,
                                                   messages=_msg(SAME_ROW))
    assert raw.headers.get("x-airlock-decision") == "mask"
    e2e.assert_upstream_never_saw(upstream, "Farrowby", "555 0199")
    upstream.reset()
    raw = client.messages.with_raw_response.create(model=ANTHROPIC_MODEL, max_tokens=64,
                                                   messages=_msg(OTHER_ROWS))
    assert raw.headers.get("x-airlock-decision") == "allow"
    rec = e2e.only_request(upstream, "/v1/messages")
    assert rec["body"] == cap.sent[-1]["content"]


@pytest.fixture(scope="module")
def acme_envelope_envoy(session_envoy_factory, wasm, cli, acme_envoy):
    """The same policy as `airlock build --envelope` writes it: the indexes raw after the JSON,
    given to Envoy as a BytesValue (the indexes were built by `acme_envoy`)."""
    r = subprocess.run([str(cli), "build", "--envelope", str(ACME)], capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stdout.startswith(b"\0AIRLENV"), r.stdout[:16]
    assert COPIED_LINE.encode() not in r.stdout, "the envelope carries protected text"
    return session_envoy_factory("acme-protected-envelope", wasm=str(wasm),
                                 plugin_config_bytes=r.stdout)


def test_the_envelope_configuration_carries_both_indexes_through_envoy(acme_envelope_envoy,
                                                                        upstream):
    import openai
    relay = e2e.openai_client(acme_envelope_envoy.url, e2e.Capture(), host=e2e.RELAY_HOST)
    with pytest.raises(openai.PermissionDeniedError) as err:
        relay.chat.completions.create(model=OPENAI_MODEL, messages=_msg(PROMPT))
    assert "acme-source" in err.value.response.json()["error"]["message"]
    e2e.assert_nothing_reached_upstream(upstream)
    client = e2e.anthropic_client(acme_envelope_envoy.url, e2e.Capture())
    raw = client.messages.with_raw_response.create(model=ANTHROPIC_MODEL, max_tokens=64,
                                                   messages=_msg(SAME_ROW))
    assert raw.headers.get("x-airlock-decision") == "mask"
    e2e.assert_upstream_never_saw(upstream, "Farrowby", "555 0199")
