"""What a relay must not get, through Envoy + Airlock (default policy) with the official SDKs.

- Key theft: a vendor-format key in the SDK's own key header, sent to a relay host, is answered
  with the SDK's permission error naming the vendor and the host; the upstream never sees the
  request (nor the key). The same key to the vendor's host passes. A vendor key in the body to a
  relay is key theft too. `airlock_key_theft_total{airlock_tier=...}` counts them.
- Field rules: `store: false` is forced on OpenAI requests to the approved vendor (Responses:
  added; Chat Completions: an explicit `store: true` overruled), and `metadata` / `user` are
  removed before a relay. The fake upstream records what arrived.

Every key below is generated here in the vendor's documented shape; none is real.
"""

from __future__ import annotations

import json
import secrets

import pytest

import e2e
from e2e import ANTHROPIC_MODEL, GEMINI_MODEL, OPENAI_HOST, OPENAI_MODEL, RELAY_HOST

URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _chars(n: int) -> str:
    return "".join(secrets.choice(URLSAFE) for _ in range(n))


OPENAI_KEY = "sk-proj-" + _chars(120)
ANTHROPIC_KEY = "sk-ant-api03-" + _chars(93) + "AA"
GOOGLE_KEY = "AIza" + _chars(35)
KEYS = [OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY]
CLEAN = "Explain the difference between TCP and UDP in two sentences."


def _msg(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _openai(envoy, cap, host: str, key: str):
    import openai
    return openai.OpenAI(api_key=key, base_url=envoy.url + "/v1", default_headers={"Host": host},
                         http_client=cap.client(), max_retries=0)


def _assert_key_theft(message: str, vendor: str, host: str) -> None:
    assert "key theft" in message, message
    assert vendor in message and host in message, message
    for key in KEYS:
        assert key not in message, "the reply holds the key"


def _sent_json(upstream, path_part: str) -> dict:
    return json.loads(e2e.only_request(upstream, path_part)["body"])


# ---------------------------------------------------------------- key theft

def test_openai_key_header_to_a_relay_is_blocked_and_to_openai_passes(envoy, upstream):
    import openai
    cap = e2e.Capture()
    relay = _openai(envoy, cap, RELAY_HOST, OPENAI_KEY)
    with pytest.raises(openai.PermissionDeniedError) as err:
        relay.chat.completions.create(model=OPENAI_MODEL, messages=_msg(CLEAN))
    assert err.value.response.headers.get("x-airlock-decision") == "block"
    _assert_key_theft(err.value.response.json()["error"]["message"], "OpenAI", RELAY_HOST)
    # A request without a body (GET /v1/models) is checked too.
    with pytest.raises(openai.PermissionDeniedError) as err:
        relay.models.list()
    _assert_key_theft(err.value.response.json()["error"]["message"], "OpenAI", RELAY_HOST)
    e2e.assert_nothing_reached_upstream(upstream)

    vendor = _openai(envoy, cap, OPENAI_HOST, OPENAI_KEY)
    raw = vendor.chat.completions.with_raw_response.create(model=OPENAI_MODEL, messages=_msg(CLEAN))
    assert raw.headers.get("x-airlock-decision") == "allow"
    rec = e2e.only_request(upstream, "/v1/chat/completions")
    assert e2e.header(rec, "authorization") == f"Bearer {OPENAI_KEY}"
    assert rec["body"] == cap.sent[-1]["content"]


def test_openai_key_in_the_body_to_a_relay_is_blocked(envoy, upstream):
    import openai
    cap = e2e.Capture()
    relay = _openai(envoy, cap, RELAY_HOST, "sk-e2e-not-a-key")
    with pytest.raises(openai.PermissionDeniedError) as err:
        relay.chat.completions.create(
            model=OPENAI_MODEL, messages=_msg(f"Is OPENAI_API_KEY={OPENAI_KEY} still valid?"))
    message = err.value.response.json()["error"]["message"]
    _assert_key_theft(message, "OpenAI", RELAY_HOST)
    assert "$.messages[0].content" in message
    e2e.assert_upstream_never_saw(upstream, OPENAI_KEY)
    e2e.assert_nothing_reached_upstream(upstream)


def test_anthropic_and_google_keys_to_a_relay_are_blocked(envoy, upstream):
    import anthropic
    from google import genai
    from google.genai import errors, types
    cap = e2e.Capture()
    ac = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=envoy.url,
                             default_headers={"Host": RELAY_HOST}, http_client=cap.client(),
                             max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        ac.messages.create(model=ANTHROPIC_MODEL, max_tokens=32, messages=_msg(CLEAN))
    _assert_key_theft(err.value.response.json()["error"]["message"], "Anthropic", RELAY_HOST)

    gc = genai.Client(api_key=GOOGLE_KEY, http_options=types.HttpOptions(
        base_url=envoy.url, api_version="v1beta", headers={"Host": RELAY_HOST},
        httpx_client=cap.client()))
    with pytest.raises(errors.ClientError) as err:
        gc.models.generate_content(model=GEMINI_MODEL, contents=CLEAN)
    assert err.value.code == 403
    _assert_key_theft(err.value.message, "Google", RELAY_HOST)
    e2e.assert_nothing_reached_upstream(upstream)

    # Each to its own vendor passes.
    ac_ok = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=envoy.url,
                                default_headers={"Host": e2e.ANTHROPIC_HOST},
                                http_client=cap.client(), max_retries=0)
    assert ac_ok.messages.create(model=ANTHROPIC_MODEL, max_tokens=32, messages=_msg(CLEAN)).content
    gc_ok = genai.Client(api_key=GOOGLE_KEY, http_options=types.HttpOptions(
        base_url=envoy.url, api_version="v1beta", headers={"Host": e2e.GEMINI_HOST},
        httpx_client=cap.client()))
    assert gc_ok.models.generate_content(model=GEMINI_MODEL, contents=CLEAN).text
    assert len(e2e.completed(upstream)) == 2


def test_key_theft_stat_is_labelled_with_the_tier(envoy_factory, wasm, default_plugin_config,
                                                  upstream):
    ev = envoy_factory("relay-stats", wasm=str(wasm), plugin_config=default_plugin_config)
    status, headers, _ = e2e.post(ev.url, e2e.chat_body("hi"), RELAY_HOST,
                                  headers={"Authorization": f"Bearer {OPENAI_KEY}"})
    assert status == 403 and headers.get("x-airlock-decision") == "block"
    status, _, _ = e2e.post(ev.url, e2e.chat_body("hi", user="u-1"), RELAY_HOST)
    assert status == 200

    def ready():
        s = e2e.prometheus_samples(ev.prometheus())
        return s if e2e.prom_value(s, "airlock_key_theft_total", airlock_tier="unknown-relay") >= 1 \
            else None

    samples = e2e.poll(ready, what="airlock_key_theft_total{airlock_tier=unknown-relay} >= 1")
    assert e2e.prom_value(samples, "airlock_key_theft_total", airlock_tier="approved-vendor") == 0
    assert e2e.prom_value(samples, "airlock_fields_enforced_total", airlock_tier="unknown-relay") == 1
    text = ev.prometheus()
    assert OPENAI_KEY not in text
    assert OPENAI_KEY not in ev.log_text()
    audits = [json.loads(line.split("airlock.audit ", 1)[1])
              for line in ev.log_text().splitlines() if "airlock.audit " in line]
    assert any(a.get("key_theft", {}).get("vendor") == "OpenAI" for a in audits), audits
    assert any(a.get("fields") == ["remove user"] for a in audits), audits


# ---------------------------------------------------------------- field rules

def test_store_false_is_forced_for_the_approved_vendor(envoy, upstream):
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    assert client.responses.create(model=OPENAI_MODEL, input=CLEAN).output_text
    sent = json.loads(cap.sent[-1]["content"])
    assert "store" not in sent
    assert _sent_json(upstream, "/v1/responses") == {**sent, "store": False}

    upstream.reset()
    client.chat.completions.create(model=OPENAI_MODEL, messages=_msg(CLEAN), store=True)
    got = _sent_json(upstream, "/v1/chat/completions")
    assert got == {**json.loads(cap.sent[-1]["content"]), "store": False}

    # Chat Completions without `store` (stored only when asked) leaves byte-identical.
    upstream.reset()
    client.chat.completions.create(model=OPENAI_MODEL, messages=_msg(CLEAN))
    assert e2e.only_request(upstream, "/v1/chat/completions")["body"] == cap.sent[-1]["content"]


def test_metadata_and_user_are_removed_before_a_relay(envoy, upstream):
    cap = e2e.Capture()
    relay = e2e.openai_client(envoy.url, cap, host=RELAY_HOST)
    raw = relay.chat.completions.with_raw_response.create(
        model=OPENAI_MODEL, messages=_msg(CLEAN), user="employee-4471",
        metadata={"department": "finance", "ticket": "FIN-2231"})
    assert raw.headers.get("x-airlock-decision") == "allow"
    sent = json.loads(cap.sent[-1]["content"])
    assert sent["user"] == "employee-4471" and "metadata" in sent
    got = _sent_json(upstream, "/v1/chat/completions")
    assert "user" not in got and "metadata" not in got
    assert got == {k: v for k, v in sent.items() if k not in ("user", "metadata")}
    e2e.assert_upstream_never_saw(upstream, "employee-4471", "FIN-2231")

    # The approved vendor keeps them.
    upstream.reset()
    vendor = e2e.openai_client(envoy.url, cap)
    vendor.chat.completions.create(model=OPENAI_MODEL, messages=_msg(CLEAN), user="employee-4471")
    assert _sent_json(upstream, "/v1/chat/completions")["user"] == "employee-4471"
