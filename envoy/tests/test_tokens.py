"""Reversible tokens through a real Envoy (issue 13): tokens out, originals back.

The default policy tokenizes personal data bound for an approved vendor and restores it in
that vendor's responses. The fake upstream plays a model that repeats the tokens it was sent
(`x-e2e-echo`, see envoy/upstream.py) in each vendor's real shapes: reply text, tool-call /
function-call arguments (JSON inside a JSON string), Responses API output items, SSE deltas
cut into 1-3 character pieces and HTTP chunks down to one byte. Every test checks both sides:
the official client (openai, anthropic, google-genai) sees the originals, and the upstream
never saw them.
"""

from __future__ import annotations

import json
import os
import re

import pytest

import e2e
from e2e import (ANTHROPIC_HOST, ANTHROPIC_MODEL, EMAIL, GEMINI_HOST, GEMINI_MODEL,
                 OPENAI_HOST, OPENAI_MODEL)

EMAIL2 = "jan.de-vries@fernhollow-bakery.nl"
ASK = f"Write to {EMAIL} and copy {EMAIL2} about the order."
TOKEN = re.compile(r"\[EMAIL_[0-9A-HJKMNP-TV-Z]{4,12}\]")
WANT_TEXT = f"Noted: {EMAIL} and {EMAIL2}."
WANT_ARGS = {"to": EMAIL, "cc": [EMAIL, EMAIL2], "note": "from " + WANT_TEXT}


def _msg(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _sent_tokens(upstream, path_part: str) -> list[str]:
    """The tokens the upstream received; it never received an original, and asked for identity."""
    rec = e2e.only_request(upstream, path_part)
    body = rec["body"].decode()
    assert EMAIL not in body and EMAIL2 not in body, "an original reached the upstream"
    assert e2e.header(rec, "accept-encoding") == "identity"
    tokens = list(dict.fromkeys(TOKEN.findall(body)))
    assert len(tokens) == 2, body
    return tokens


def openai(envoy, cap, **headers):
    import openai as sdk
    return sdk.OpenAI(api_key="sk-e2e-not-a-key", base_url=envoy.url + "/v1",
                      default_headers={"Host": OPENAI_HOST, **headers},
                      http_client=cap.client(), max_retries=0)


def anthropic(envoy, cap, **headers):
    import anthropic as sdk
    return sdk.Anthropic(api_key="sk-ant-e2e-not-a-key", base_url=envoy.url,
                         default_headers={"Host": ANTHROPIC_HOST, **headers},
                         http_client=cap.client(), max_retries=0)


def gemini(envoy, cap, **headers):
    from google import genai
    from google.genai import types
    return genai.Client(api_key="e2e-not-a-key", http_options=types.HttpOptions(
        base_url=envoy.url, api_version="v1beta", headers={"Host": GEMINI_HOST, **headers},
        httpx_client=cap.client()))


TOOLS = {"x-e2e-echo": "tools"}
# One-byte HTTP chunks, 1-character deltas: every byte of the stream is a cut point.
EVERY_BYTE = {"x-e2e-echo": "tools", "x-e2e-piece": "1", "x-e2e-chunk-bytes": "1",
              "x-e2e-chunk-delay-ms": "0.3"}
SMALL_CHUNKS = {"x-e2e-echo": "tools", "x-e2e-piece": "3", "x-e2e-chunk-bytes": "7"}


# ---------------------------------------------------------------- openai chat completions

def test_openai_chat_json_text_and_tool_call_arguments(envoy, upstream):
    cap = e2e.Capture()
    raw = openai(envoy, cap, **TOOLS).chat.completions.with_raw_response.create(
        model=OPENAI_MODEL, messages=_msg(ASK))
    assert raw.headers.get("x-airlock-decision") == "tokenize"
    message = raw.parse().choices[0].message
    assert message.content == WANT_TEXT
    assert json.loads(message.tool_calls[0].function.arguments) == WANT_ARGS
    assert message.tool_calls[0].function.name == "send_mail"
    _sent_tokens(upstream, "/chat/completions")


@pytest.mark.parametrize("shape", [EVERY_BYTE, SMALL_CHUNKS], ids=["every-byte", "chunks"])
def test_openai_chat_stream(envoy, upstream, shape):
    cap = e2e.Capture()
    stream = openai(envoy, cap, **shape).chat.completions.create(
        model=OPENAI_MODEL, messages=_msg(ASK), stream=True)
    text, args, names, ids = "", "", "", ""
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            args += call.function.arguments or ""
            names += call.function.name or ""
            ids += call.id or ""
    assert text == WANT_TEXT
    assert json.loads(args) == WANT_ARGS
    assert (names, ids) == ("send_mail", "call_e2e1"), "each tool-call field once"
    _sent_tokens(upstream, "/chat/completions")


def test_openai_gzip_is_narrowed_and_a_forced_gzip_json_is_reencoded(envoy, upstream):
    cap = e2e.Capture()
    client = openai(envoy, cap, **TOOLS, **{"x-e2e-gzip": "1"})
    message = client.chat.completions.create(model=OPENAI_MODEL, messages=_msg(ASK)).choices[0].message
    assert message.content == WANT_TEXT
    assert "gzip" in cap.sent[-1]["headers"].get("accept-encoding", ""), "the SDK asked for gzip"
    _sent_tokens(upstream, "/chat/completions")   # ... and Airlock asked for identity
    upstream.reset()
    client = openai(envoy, cap, **TOOLS, **{"x-e2e-gzip": "force"})
    raw = client.chat.completions.with_raw_response.create(model=OPENAI_MODEL, messages=_msg(ASK))
    assert raw.headers.get("content-encoding") == "gzip"
    message = raw.parse().choices[0].message
    assert message.content == WANT_TEXT
    assert json.loads(message.tool_calls[0].function.arguments) == WANT_ARGS


# ---------------------------------------------------------------- openai responses

def test_openai_responses_json_and_stream(envoy, upstream):
    cap = e2e.Capture()
    r = openai(envoy, cap, **TOOLS).responses.create(model=OPENAI_MODEL, input=ASK)
    assert r.output_text == WANT_TEXT
    calls = [o for o in r.output if o.type == "function_call"]
    assert json.loads(calls[0].arguments) == WANT_ARGS
    _sent_tokens(upstream, "/responses")
    upstream.reset()
    text, args, final = "", "", None
    for ev in openai(envoy, cap, **SMALL_CHUNKS).responses.create(
            model=OPENAI_MODEL, input=ASK, stream=True):
        if ev.type == "response.output_text.delta":
            text += ev.delta
        elif ev.type == "response.function_call_arguments.delta":
            args += ev.delta
        elif ev.type == "response.function_call_arguments.done":
            assert json.loads(ev.arguments) == WANT_ARGS
        elif ev.type == "response.completed":
            final = ev.response
    assert text == WANT_TEXT
    assert json.loads(args) == WANT_ARGS
    assert final is not None and final.output_text == WANT_TEXT
    _sent_tokens(upstream, "/responses")


# ---------------------------------------------------------------- anthropic

def test_anthropic_json_and_stream(envoy, upstream):
    cap = e2e.Capture()
    msg = anthropic(envoy, cap, **TOOLS).messages.create(
        model=ANTHROPIC_MODEL, max_tokens=64, messages=_msg(ASK))
    assert msg.content[0].text == WANT_TEXT
    assert msg.content[1].type == "tool_use" and msg.content[1].input == WANT_ARGS
    _sent_tokens(upstream, "/v1/messages")
    for shape in (EVERY_BYTE, SMALL_CHUNKS):
        upstream.reset()
        with anthropic(envoy, cap, **shape).messages.stream(
                model=ANTHROPIC_MODEL, max_tokens=64, messages=_msg(ASK)) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == WANT_TEXT
        assert final.content[1].input == WANT_ARGS
        _sent_tokens(upstream, "/v1/messages")


# ---------------------------------------------------------------- gemini

def test_gemini_json_and_stream(envoy, upstream):
    cap = e2e.Capture()
    r = gemini(envoy, cap, **TOOLS).models.generate_content(model=GEMINI_MODEL, contents=ASK)
    assert r.text == WANT_TEXT
    assert dict(r.function_calls[0].args) == WANT_ARGS
    _sent_tokens(upstream, ":generateContent")
    for shape in (EVERY_BYTE, SMALL_CHUNKS):
        upstream.reset()
        text, calls = "", []
        for chunk in gemini(envoy, cap, **shape).models.generate_content_stream(
                model=GEMINI_MODEL, contents=ASK):
            for part in chunk.candidates[0].content.parts or []:
                text += part.text or ""
                if part.function_call:
                    calls.append(dict(part.function_call.args))
        assert text == WANT_TEXT
        assert calls == [WANT_ARGS]
        _sent_tokens(upstream, ":streamGenerateContent")


# ---------------------------------------------------------------- what is left alone

def test_tokens_not_from_this_request_and_unreadable_streams_stay(envoy, upstream):
    """A clean request's reply is untouched even if it holds token-shaped text; a stream the
    upstream gzips against Airlock's accept-encoding passes unrestored (and is counted)."""
    cap = e2e.Capture()
    first = openai(envoy, cap, **TOOLS).chat.completions.create(
        model=OPENAI_MODEL, messages=_msg(ASK))
    assert first.choices[0].message.content == WANT_TEXT
    tokens = _sent_tokens(upstream, "/chat/completions")
    upstream.reset()
    # A new request without personal data, whose "model" repeats the old tokens anyway.
    clean = f"Repeat after me: {tokens[0]} {tokens[1]}"
    r = openai(envoy, cap, **TOOLS).chat.completions.create(model=OPENAI_MODEL, messages=_msg(clean))
    assert r.choices[0].message.content == f"Noted: {tokens[0]} and {tokens[1]}."
    upstream.reset()
    before = envoy.stats("airlock.restore_skipped_total").get(
        "wasmcustom.airlock.restore_skipped_total.reason.bad_encoding", 0)
    stream = openai(envoy, cap, **TOOLS, **{"x-e2e-gzip": "force"}).chat.completions.create(
        model=OPENAI_MODEL, messages=_msg(ASK), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert EMAIL not in text and len(TOKEN.findall(text)) == 2, text
    e2e.poll(lambda: envoy.stats("airlock.restore_skipped_total").get(
        "wasmcustom.airlock.restore_skipped_total.reason.bad_encoding", 0) > before,
        what="restore_skipped bad_encoding counted")


# ---------------------------------------------------------------- added latency per event

def _event_latencies(envoy, upstream, body: bytes, n: int, added_at_end: int = 0) -> list[int]:
    """Per SSE event: client arrival minus upstream send (ns, same monotonic clock).
    `added_at_end`: events the filter adds just before the last ones (response inspection
    flushes a channel's held text in a copy of its last event when the channel ends); they
    are left out of the pairing."""
    import http.client
    import time
    upstream.reset()
    conn = http.client.HTTPConnection("127.0.0.1", envoy.port, timeout=60)
    conn.request("POST", "/v1/chat/completions", body=body, headers={
        "Host": OPENAI_HOST, "content-type": "application/json", "x-e2e-echo": "text",
        "x-e2e-piece": "1", "x-e2e-event-gap-ms": os.environ.get("E2E_GAP_MS", "12")})
    resp = conn.getresponse()
    arrived, buf = [], b""
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        now = time.monotonic_ns()
        buf += chunk
        while b"\n\n" in buf:
            _, buf = buf.split(b"\n\n", 1)
            arrived.append(now)
    conn.close()
    sent = e2e.poll(lambda: (e2e.completed(upstream) or [{}])[-1].get("sent_ns"),
                    what="the upstream's send times")
    if added_at_end and len(arrived) == len(sent) + added_at_end:
        arrived = arrived[:len(sent) - 2] + arrived[-2:]
    assert len(sent) == len(arrived) >= n, (len(sent), len(arrived))
    return [a - s for a, s in zip(arrived, sent)]


def latency_bodies() -> tuple[bytes, bytes]:
    """A streaming chat request with both addresses, and its twin with nothing to restore."""
    body = json.dumps({"model": OPENAI_MODEL, "stream": True,
                       "messages": _msg(ASK + " Repeat both addresses many times. " * 8)}).encode()
    plain_body = body.replace(EMAIL.encode(), b"[EMAIL_ZZZZ]").replace(EMAIL2.encode(),
                                                                      b"[EMAIL_YYYY]")
    return body, plain_body


def median_latencies(upstream, runs, rounds: int = 3, events: int = 20) -> list[float]:
    """The median SSE event latency of each `(envoy, body, latencies)` run, the runs
    interleaved round by round so that all see the same machine load."""
    import statistics
    samples = [[] for _ in runs]
    for _ in range(rounds):
        for got, (envoy, body, latencies) in zip(samples, runs):
            got += latencies(envoy, upstream, body, events)
    return [statistics.median(x) for x in samples]


def test_added_latency_per_sse_event(envoy, plain_envoy, upstream):
    """The median time an SSE event spends in Envoy with Airlock restoring it, minus the same
    with nothing to restore and without the filter (events 12 ms apart, so each is read alone).
    Printed for benches/RESULTS.md. Asserted only against what a real fault would cost: an
    event held until the next one arrives would add the whole 12 ms gap."""
    body, plain_body = latency_bodies()
    a, p, b = median_latencies(upstream, [(envoy, body, _event_latencies),
                                          (envoy, plain_body, _event_latencies),
                                          (plain_envoy, plain_body, _event_latencies)])
    print(f"\nSSE event latency through Envoy, median of 60 events: "
          f"Airlock restoring {a / 1000:.1f} us, Airlock with nothing to restore "
          f"{p / 1000:.1f} us, no filter {b / 1000:.1f} us; added by restoring "
          f"{(a - p) / 1000:.1f} us, by the filter in all {(a - b) / 1000:.1f} us")
    assert a - p < 6_000_000, "restoring holds events back (more than half the gap added)"
