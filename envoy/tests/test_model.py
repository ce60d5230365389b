"""Model substitution through a real Envoy (issue 13): the model a response reports is
compared with the one the request asked for, dated suffixes and aliases normalized.

The fake upstream plays a relay that answers with another model (`x-e2e-model`). A mismatch
is counted (`airlock.model_mismatch_total`, tier label), audited, and flagged in the response
header `x-airlock-model-mismatch`; with `on_model_mismatch: block` a response whose model is
known before its headers leave becomes a provider-shaped error the SDKs raise.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

import e2e
from e2e import (ANTHROPIC_HOST, ANTHROPIC_MODEL, GEMINI_HOST, GEMINI_MODEL, OPENAI_HOST,
                 OPENAI_MODEL)

HEADER = "x-airlock-model-mismatch"
STAT = "wasmcustom.airlock.model_mismatch_total.tier.approved-vendor"


def _mismatches(envoy) -> int:
    return envoy.stats("airlock.model_mismatch_total").get(STAT, 0)


def _clients(envoy, cap, model: str | None):
    import anthropic
    import openai
    from google import genai
    from google.genai import types
    extra = {"x-e2e-echo": "text", **({"x-e2e-model": model} if model else {})}
    o = openai.OpenAI(api_key="sk-e2e-not-a-key", base_url=envoy.url + "/v1",
                      default_headers={"Host": OPENAI_HOST, **extra}, http_client=cap.client(),
                      max_retries=0)
    a = anthropic.Anthropic(api_key="sk-ant-e2e-not-a-key", base_url=envoy.url,
                            default_headers={"Host": ANTHROPIC_HOST, **extra},
                            http_client=cap.client(), max_retries=0)
    g = genai.Client(api_key="e2e-not-a-key", http_options=types.HttpOptions(
        base_url=envoy.url, api_version="v1beta", headers={"Host": GEMINI_HOST, **extra},
        httpx_client=cap.client()))
    return o, a, g


def test_dated_versions_and_aliases_are_the_same_model(envoy, upstream):
    cap = e2e.Capture()
    before = _mismatches(envoy)
    o, a, g = _clients(envoy, cap, None)
    for model, reported in [("gpt-4o-mini", "gpt-4o-mini-2024-07-18"), ("gpt-4o", "gpt-4o-2024-08-06")]:
        o2, _, _ = _clients(envoy, cap, reported)
        raw = o2.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hi"}])
        assert raw.parse().model == reported
        assert raw.headers.get(HEADER) is None
    _, a2, _ = _clients(envoy, cap, "claude-3-5-sonnet-20241022")
    with a2.messages.stream(model="claude-3-5-sonnet-latest", max_tokens=16,
                            messages=[{"role": "user", "content": "hi"}]) as s:
        s.get_final_message()
        assert s.response.headers.get(HEADER) is None
    r = g.models.generate_content(model=GEMINI_MODEL, contents="hi")
    assert r.text
    assert cap.received[-1]["headers"].get(HEADER) is None
    assert _mismatches(envoy) == before


def test_substituted_model_is_flagged_counted_and_audited(envoy, upstream):
    cap = e2e.Capture()
    before = _mismatches(envoy)
    o, a, g = _clients(envoy, cap, "gpt-3.5-turbo-0125")
    raw = o.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content
    assert raw.headers.get(HEADER) == "requested=gpt-4o; reported=gpt-3.5-turbo-0125"
    # A stream: the model is in the first chunk, before the headers leave.
    stream = o.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert stream.headers.get(HEADER) == "requested=gpt-4o; reported=gpt-3.5-turbo-0125"
    text = "".join(c.choices[0].delta.content or "" for c in stream.parse() if c.choices)
    assert text
    _, a, _ = _clients(envoy, cap, "claude-3-haiku-20240307")
    with a.messages.stream(model="claude-opus-4-1", max_tokens=16,
                           messages=[{"role": "user", "content": "hi"}]) as s:
        s.get_final_message()
        assert s.response.headers.get(HEADER) == \
            "requested=claude-opus-4-1; reported=claude-3-haiku-20240307"
    _, _, g = _clients(envoy, cap, "gemini-1.5-flash-8b")
    g.models.generate_content(model="gemini-2.5-pro", contents="hi")
    assert cap.received[-1]["headers"].get(HEADER) == \
        "requested=gemini-2.5-pro; reported=gemini-1.5-flash-8b"
    e2e.poll(lambda: _mismatches(envoy) >= before + 4, what="airlock.model_mismatch_total counted")
    samples = e2e.prometheus_samples(envoy.prometheus())
    assert e2e.prom_value(samples, "airlock_model_mismatch_total", airlock_tier="approved-vendor") >= 4

    def audited():
        lines = [json.loads(m.group(1)) for m in
                 re.finditer(r"airlock\.audit (\{.*\})", envoy.log_text())]
        return [x for x in lines if x.get("event") == "model_mismatch"] or None
    lines = e2e.poll(audited, what="a model_mismatch audit line")
    assert {"requested": "gpt-4o", "reported": "gpt-3.5-turbo-0125", "tier": "approved-vendor",
            "action": "monitor"}.items() <= lines[0].items()


@pytest.fixture(scope="module")
def blocking_envoy(session_envoy_factory, wasm, cli, tmp_path_factory):
    """The default policy with `on_model_mismatch: block` on the approved-vendor tier."""
    dst = tmp_path_factory.mktemp("model-block") / "policy"
    shutil.copytree(e2e.DEFAULT_POLICY_DIR, dst)
    pol = dst / "policy.yaml"
    text = pol.read_text()
    anchor = "      restore: [internal, confidential]\n"
    assert anchor in text
    pol.write_text(text.replace(anchor, anchor + "      on_model_mismatch: block\n"))
    config = e2e.build_policy(cli, dst)
    return session_envoy_factory("model-block", wasm=str(wasm), plugin_config=config)


def test_on_model_mismatch_block_is_a_provider_shaped_error(blocking_envoy, upstream):
    import anthropic
    import openai
    from google.genai import errors
    cap = e2e.Capture()
    o, _, _ = _clients(blocking_envoy, cap, "gpt-4o-mini")
    with pytest.raises(openai.InternalServerError) as err:
        o.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 502
    body = err.value.response.json()
    assert body["error"]["code"] == "airlock_model_mismatch"
    assert "gpt-4o-mini" in body["error"]["message"]
    # The right model passes.
    o, a, g = _clients(blocking_envoy, cap, None)
    assert o.chat.completions.create(model=OPENAI_MODEL,
                                     messages=[{"role": "user", "content": "hi"}]).choices
    _, a, _ = _clients(blocking_envoy, cap, "claude-3-haiku-20240307")
    with pytest.raises(anthropic.APIStatusError) as err:
        a.messages.create(model=ANTHROPIC_MODEL, max_tokens=16, stream=True,
                          messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 502
    assert err.value.response.json()["error"]["type"] == "api_error"
    _, _, g = _clients(blocking_envoy, cap, "gemini-1.5-flash-8b")
    with pytest.raises(errors.ServerError) as err:
        g.models.generate_content(model=GEMINI_MODEL, contents="hi")
    assert err.value.code == 502
