"""`stream: true` requests: inspected like any other, and the SSE reply still streams.

Streaming proof without timing: the upstream sends the first SSE event, then holds
the rest until the test releases it (`x-e2e-hold`). The SDK must hand the test that
first event before the release, so neither Envoy nor Airlock buffered the response.
"""

from __future__ import annotations

import json
import uuid

import pytest

import e2e
from e2e import (ANTHROPIC_MODEL, AWS_KEY_ID, EMAIL, GEMINI_MODEL, OPENAI_MODEL, REPLY_TEXT)

PREFIX = "Draft a reply to "
SUFFIX = " about the invoice."


def _token() -> str:
    return uuid.uuid4().hex


def _held(upstream, path_part: str) -> dict:
    rec = e2e.only_request(upstream, path_part)
    assert rec["hold"] == "released", \
        "the first SSE event did not reach the client while the upstream held the stream " \
        f"(hold={rec['hold']!r}): the response was buffered"
    return rec


def test_openai_stream_clean(envoy, upstream):
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    tok = _token()
    stream = client.chat.completions.create(
        model=OPENAI_MODEL, stream=True, messages=[{"role": "user", "content": "Tell me a joke."}],
        extra_headers={"x-e2e-hold": tok})
    it = iter(stream)
    first = next(it)
    upstream.release(tok)
    chunks = [first] + list(it)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY_TEXT
    assert len(chunks) > 2
    assert cap.last_decision() == "allow"
    rec = _held(upstream, "/v1/chat/completions")
    assert rec["body"] == cap.sent[-1]["content"]
    assert json.loads(rec["body"])["stream"] is True


def test_openai_stream_masked(envoy, upstream):
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    tok = _token()
    stream = client.chat.completions.create(
        model=OPENAI_MODEL, stream=True,
        messages=[{"role": "user", "content": PREFIX + EMAIL + SUFFIX}],
        extra_headers={"x-e2e-hold": tok})
    it = iter(stream)
    first = next(it)
    upstream.release(tok)
    text = "".join(c.choices[0].delta.content or "" for c in [first, *it] if c.choices)
    assert text == REPLY_TEXT
    assert cap.last_decision() == "tokenize"
    rec = _held(upstream, "/v1/chat/completions")
    assert EMAIL.encode() not in rec["body"]
    doc = json.loads(rec["body"])
    assert doc["stream"] is True
    content = doc["messages"][0]["content"]
    assert content.startswith(PREFIX) and content.endswith(SUFFIX) and content != PREFIX + EMAIL + SUFFIX


def test_openai_stream_blocked(envoy, upstream):
    import openai
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(
            model=OPENAI_MODEL, stream=True,
            messages=[{"role": "user", "content": f"key {AWS_KEY_ID} leaks?"}])
    e2e.assert_names_aws_detector(err.value.response.json()["error"]["message"])
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)
    e2e.assert_nothing_reached_upstream(upstream)


def test_openai_responses_stream(envoy, upstream):
    cap = e2e.Capture()
    client = e2e.openai_client(envoy.url, cap)
    tok = _token()
    stream = client.responses.create(model=OPENAI_MODEL, input="Tell me a joke.", stream=True,
                                     extra_headers={"x-e2e-hold": tok})
    it = iter(stream)
    first = next(it)
    assert first.type == "response.created"
    upstream.release(tok)
    events = list(it)
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == REPLY_TEXT
    _held(upstream, "/v1/responses")


def test_anthropic_stream(envoy, upstream):
    import anthropic
    cap = e2e.Capture()
    client = e2e.anthropic_client(envoy.url, cap)
    tok = _token()
    stream = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=64, stream=True,
                                    messages=[{"role": "user", "content": PREFIX + EMAIL + SUFFIX}],
                                    extra_headers={"x-e2e-hold": tok})
    it = iter(stream)
    first = next(it)
    assert first.type == "message_start"
    upstream.release(tok)
    events = list(it)
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == REPLY_TEXT
    assert events[-1].type == "message_stop"
    assert cap.last_decision() == "tokenize"
    rec = _held(upstream, "/v1/messages")
    assert EMAIL.encode() not in rec["body"]
    assert json.loads(rec["body"])["stream"] is True

    upstream.reset()
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        client.messages.create(model=ANTHROPIC_MODEL, max_tokens=64, stream=True,
                               messages=[{"role": "user", "content": f"key {AWS_KEY_ID}"}])
    e2e.assert_names_aws_detector(err.value.response.json()["error"]["message"])
    e2e.assert_nothing_reached_upstream(upstream)


def test_gemini_stream(envoy, upstream):
    from google.genai import errors, types
    cap = e2e.Capture()
    client = e2e.gemini_client(envoy.url, cap)
    tok = _token()
    cfg = types.GenerateContentConfig(http_options=types.HttpOptions(
        headers={"x-e2e-hold": tok, "Host": e2e.GEMINI_HOST}))
    it = iter(client.models.generate_content_stream(
        model=GEMINI_MODEL, contents=PREFIX + EMAIL + SUFFIX, config=cfg))
    first = next(it)
    upstream.release(tok)
    assert first.text + "".join(c.text for c in it) == REPLY_TEXT
    assert cap.last_decision() == "tokenize"
    rec = _held(upstream, ":streamGenerateContent")
    assert rec["path"] == f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse"
    assert EMAIL.encode() not in rec["body"]
    json.loads(rec["body"])

    upstream.reset()
    with pytest.raises(errors.ClientError) as err:
        for _ in client.models.generate_content_stream(model=GEMINI_MODEL,
                                                        contents=f"key {AWS_KEY_ID}"):
            pass
    assert err.value.code == 403
    e2e.assert_names_aws_detector(err.value.message)
    e2e.assert_nothing_reached_upstream(upstream)
