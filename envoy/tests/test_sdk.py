"""The official openai, anthropic and google-genai clients through Envoy + Airlock.

Each client points at Envoy's listener and sets the Host header (`:authority`) of
the vendor it stands for; Envoy routes on to the fake upstream with that Host.
- clean: the request arrives byte-identical to what the SDK sent, decision `allow`;
- tokenized: an e-mail address to an approved vendor arrives as a reversible token, as valid JSON;
- blocked: an AWS access key id raises the SDK's permission error naming the
  detector, and the upstream never sees the key (nor even the request).
"""

from __future__ import annotations

import json

import pytest

import e2e
from e2e import (ANTHROPIC_HOST, ANTHROPIC_MODEL, AWS_KEY_ID, EMAIL, GEMINI_HOST,
                 GEMINI_MODEL, OPENAI_HOST, OPENAI_MODEL, REPLY_TEXT)

PREFIX = "Please forward the report to "
SUFFIX = " before Friday."
CLEAN = "Summarise the attached meeting notes in three bullet points."
SECRET_TEXT = f"Our deploy key is {AWS_KEY_ID}, why does the upload fail?"


def _msg(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _assert_masked(sent: bytes, received: bytes, field_path) -> None:
    """`received` is valid JSON equal to `sent` except for the masked e-mail inside one string."""
    assert EMAIL.encode() not in received, "the e-mail address reached the upstream"
    got = json.loads(received)  # valid JSON
    want = json.loads(sent)
    got_text, want_text = field_path(got), field_path(want)
    assert want_text == PREFIX + EMAIL + SUFFIX
    assert got_text != want_text
    assert got_text.startswith(PREFIX) and got_text.endswith(SUFFIX), got_text
    # nothing else in the document changed
    field_path(got, replace=want_text)
    assert got == want


def _openai_text(doc, replace=None):
    if replace is not None:
        doc["messages"][0]["content"] = replace
    return doc["messages"][0]["content"]


def _gemini_text(doc, replace=None):
    if replace is not None:
        doc["contents"][0]["parts"][0]["text"] = replace
    return doc["contents"][0]["parts"][0]["text"]


# ---------------------------------------------------------------- openai

def test_openai_clean_request_is_byte_identical(envoy, upstream):
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    raw = client.chat.completions.with_raw_response.create(model=OPENAI_MODEL, messages=_msg(CLEAN))
    assert raw.parse().choices[0].message.content == REPLY_TEXT
    assert raw.headers.get("x-airlock-decision") == "allow"
    rec = e2e.only_request(upstream, "/v1/chat/completions")
    assert rec["body"] == cap.sent[-1]["content"]
    assert e2e.header(rec, "host") == OPENAI_HOST
    assert e2e.header(rec, "content-type") == "application/json"


def test_openai_masked_email(envoy, upstream):
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    raw = client.chat.completions.with_raw_response.create(
        model=OPENAI_MODEL, messages=_msg(PREFIX + EMAIL + SUFFIX))
    assert raw.parse().choices[0].message.content == REPLY_TEXT
    assert raw.headers.get("x-airlock-decision") == "tokenize"
    rec = e2e.only_request(upstream, "/v1/chat/completions")
    _assert_masked(cap.sent[-1]["content"], rec["body"], _openai_text)


def test_openai_blocked_aws_key(envoy, upstream):
    import openai
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(model=OPENAI_MODEL, messages=_msg(SECRET_TEXT))
    e = err.value
    assert e.status_code == 403
    assert e.response.headers.get("x-airlock-decision") == "block"
    assert e.response.headers.get("content-type", "").startswith("application/json")
    body = e.response.json()
    assert body["error"]["type"] == "permission_error"
    assert body["error"]["code"] == "airlock_policy_violation"
    e2e.assert_names_aws_detector(body["error"]["message"])
    e2e.assert_names_aws_detector(str(e))
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)
    e2e.assert_nothing_reached_upstream(upstream)


def test_openai_responses_and_embeddings(envoy, upstream):
    import openai
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    assert client.responses.create(model=OPENAI_MODEL, input=CLEAN).output_text == REPLY_TEXT
    assert client.embeddings.create(model="text-embedding-3-small", input=CLEAN).data[0].embedding
    got = [r["body"] for r in e2e.completed(upstream)]
    sent = [s["content"] for s in cap.sent]
    # The default policy tells the approved vendor not to store Responses (test_relay.py).
    assert json.loads(got[0]) == {**json.loads(sent[0]), "store": False}
    assert got[1:] == sent[1:]
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.responses.create(model=OPENAI_MODEL, input=SECRET_TEXT)
    e2e.assert_names_aws_detector(err.value.response.json()["error"]["message"])
    with pytest.raises(openai.PermissionDeniedError):
        client.embeddings.create(model="text-embedding-3-small", input=SECRET_TEXT)
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)


def test_filter_sees_the_host(envoy, upstream):
    """The same e-mail is masked for api.openai.com but blocked for an unknown relay."""
    import openai
    cap = e2e.Capture()
    relay = e2e.openai_client(envoy.url, cap, host=e2e.RELAY_HOST)
    with pytest.raises(openai.PermissionDeniedError) as err:
        relay.chat.completions.create(model=OPENAI_MODEL, messages=_msg(PREFIX + EMAIL + SUFFIX))
    e2e.assert_names_email_detector(err.value.response.json()["error"]["message"])
    e2e.assert_upstream_never_saw(upstream, EMAIL)
    e2e.assert_nothing_reached_upstream(upstream)
    # and a clean request to the relay goes through untouched, Host preserved
    relay.chat.completions.create(model=OPENAI_MODEL, messages=_msg(CLEAN))
    rec = e2e.only_request(upstream)
    assert e2e.header(rec, "host") == e2e.RELAY_HOST
    assert rec["body"] == cap.sent[-1]["content"]


# ---------------------------------------------------------------- anthropic

def test_anthropic_clean_masked_blocked(envoy, upstream):
    import anthropic
    cap = e2e.Capture()
    client = e2e.anthropic_client(envoy.url, cap)

    raw = client.messages.with_raw_response.create(model=ANTHROPIC_MODEL, max_tokens=64,
                                                   messages=_msg(CLEAN))
    assert raw.parse().content[0].text == REPLY_TEXT
    assert raw.headers.get("x-airlock-decision") == "allow"
    rec = e2e.only_request(upstream, "/v1/messages")
    assert rec["body"] == cap.sent[-1]["content"]
    assert e2e.header(rec, "host") == ANTHROPIC_HOST

    upstream.reset()
    raw = client.messages.with_raw_response.create(model=ANTHROPIC_MODEL, max_tokens=64,
                                                   messages=_msg(PREFIX + EMAIL + SUFFIX))
    assert raw.headers.get("x-airlock-decision") == "tokenize"
    rec = e2e.only_request(upstream, "/v1/messages")
    _assert_masked(cap.sent[-1]["content"], rec["body"], _openai_text)

    upstream.reset()
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        client.messages.create(model=ANTHROPIC_MODEL, max_tokens=64, messages=_msg(SECRET_TEXT))
    e = err.value
    assert e.status_code == 403
    assert e.response.headers.get("x-airlock-decision") == "block"
    body = e.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    e2e.assert_names_aws_detector(body["error"]["message"])
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)
    e2e.assert_nothing_reached_upstream(upstream)


# ---------------------------------------------------------------- gemini

def test_gemini_clean_masked_blocked(envoy, upstream):
    from google.genai import errors
    cap = e2e.Capture()
    client = e2e.gemini_client(envoy.url, cap)

    r = client.models.generate_content(model=GEMINI_MODEL, contents=CLEAN)
    assert r.text == REPLY_TEXT
    assert cap.last_decision() == "allow"
    rec = e2e.only_request(upstream, ":generateContent")
    assert rec["path"] == f"/v1beta/models/{GEMINI_MODEL}:generateContent"
    assert rec["body"] == cap.sent[-1]["content"]
    assert e2e.header(rec, "host") == GEMINI_HOST

    upstream.reset()
    client.models.generate_content(model=GEMINI_MODEL, contents=PREFIX + EMAIL + SUFFIX)
    assert cap.last_decision() == "tokenize"
    rec = e2e.only_request(upstream, ":generateContent")
    _assert_masked(cap.sent[-1]["content"], rec["body"], _gemini_text)

    upstream.reset()
    with pytest.raises(errors.ClientError) as err:
        client.models.generate_content(model=GEMINI_MODEL, contents=SECRET_TEXT)
    e = err.value
    assert e.code == 403
    assert e.status == "PERMISSION_DENIED"
    assert cap.last_decision() == "block"
    e2e.assert_names_aws_detector(e.message)
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)
    e2e.assert_nothing_reached_upstream(upstream)


def test_embedded_default_policy_with_empty_configuration(envoy_factory, wasm, upstream):
    """An empty plugin configuration selects the policy embedded in the filter."""
    import openai
    ev = envoy_factory("empty-config", wasm=str(wasm), plugin_config="")
    cap = e2e.Capture()
    client = e2e.openai_client(ev.url, cap)
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(model=OPENAI_MODEL, messages=_msg(SECRET_TEXT))
    msg = err.value.response.json()["error"]["message"]
    e2e.assert_names_aws_detector(msg)
    assert "airlock-default" in msg, f"block message does not name the policy: {msg!r}"
    client.chat.completions.create(model=OPENAI_MODEL, messages=_msg(CLEAN))
    assert e2e.only_request(upstream)["body"] == cap.sent[-1]["content"]
