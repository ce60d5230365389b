"""HTTP/2 (cleartext, prior knowledge) cannot slip a body past inspection.

Bodies go out in tiny DATA frames with the secret split across frames, and with
request trailers so that no DATA frame carries END_STREAM (a known bypass when a
filter only judges on end_of_stream in the body callback).
"""

from __future__ import annotations

import json
import socket
import time

import e2e
from e2e import AWS_KEY_ID, EMAIL, OPENAI_HOST

PATH = "/v1/chat/completions"
TRAILERS = [("x-client-checksum", "abc123")]


def _error_message(body: bytes) -> str:
    return json.loads(body)["error"]["message"]


def test_h2_tiny_frames_with_trailers_blocked(envoy, upstream):
    body = e2e.chat_body(f"my key is {AWS_KEY_ID} ok")
    status, headers, resp = e2e.h2_request(envoy.port, OPENAI_HOST, PATH,
                                           e2e.split_every(body, 3), trailers=TRAILERS)
    assert status == 403, resp
    assert headers.get("x-airlock-decision") == "block"
    e2e.assert_names_aws_detector(_error_message(resp))
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)
    e2e.assert_nothing_reached_upstream(upstream)


def test_h2_tiny_frames_without_trailers_blocked(envoy, upstream):
    body = e2e.chat_body(f"my key is {AWS_KEY_ID} ok")
    status, headers, resp = e2e.h2_request(envoy.port, OPENAI_HOST, PATH, e2e.split_every(body, 1))
    assert status == 403, resp
    assert headers.get("x-airlock-decision") == "block"
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)
    e2e.assert_nothing_reached_upstream(upstream)


def test_h2_secret_split_exactly_across_frames_with_trailers(envoy, upstream):
    body = e2e.chat_body(f"my key is {AWS_KEY_ID} ok")
    cut = body.index(AWS_KEY_ID.encode()) + 4   # "AKIA" | rest
    status, _, resp = e2e.h2_request(envoy.port, OPENAI_HOST, PATH, [body[:cut], body[cut:]],
                                     trailers=TRAILERS)
    assert status == 403, resp
    e2e.assert_nothing_reached_upstream(upstream)


def test_h2_clean_with_trailers_passes_unchanged(envoy, upstream):
    body = e2e.chat_body("nothing to see here, just a long enough prompt " * 5)
    status, headers, resp = e2e.h2_request(envoy.port, OPENAI_HOST, PATH,
                                           e2e.split_every(body, 5), trailers=TRAILERS)
    assert status == 200, resp
    assert headers.get("x-airlock-decision") == "allow"
    rec = e2e.only_request(upstream, PATH)
    assert rec["body"] == body
    assert e2e.header(rec, "host") == OPENAI_HOST


def test_h2_masked_with_trailers(envoy, upstream):
    text = f"write to {EMAIL} today"
    body = e2e.chat_body(text)
    status, headers, resp = e2e.h2_request(envoy.port, OPENAI_HOST, PATH,
                                           e2e.split_every(body, 4), trailers=TRAILERS)
    assert status == 200, resp
    assert headers.get("x-airlock-decision") == "tokenize"
    rec = e2e.only_request(upstream, PATH)
    assert EMAIL.encode() not in rec["body"]
    got = json.loads(rec["body"])["messages"][0]["content"]
    assert got.startswith("write to ") and got.endswith(" today") and got != text


def test_h2_with_content_length_blocked(envoy, upstream):
    body = e2e.chat_body(f"my key is {AWS_KEY_ID} ok")
    status, _, _ = e2e.h2_request(envoy.port, OPENAI_HOST, PATH, e2e.split_every(body, 2),
                                  extra_headers=[("content-length", str(len(body)))])
    assert status == 403
    e2e.assert_nothing_reached_upstream(upstream)


# ---------------------------------------------------------------- headers held until the verdict

WINDOW_S = 1.0   # time given to a premature upstream request to show up (not a speed claim)


def _slow_h1_request(port: int, upstream, secret_after_window: bytes) -> tuple[int, list]:
    """Send headers and half a body, watch the upstream for WINDOW_S, then finish the body."""
    body = e2e.chat_body("half of the body, then the rest: " + secret_after_window.decode())
    half = len(body) // 2
    head = (f"POST {PATH} HTTP/1.1\r\nHost: {OPENAI_HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head + body[:half])
        seen: list = []
        end = time.monotonic() + WINDOW_S
        while time.monotonic() < end and not seen:
            seen = upstream.requests()
            time.sleep(0.05)
        s.sendall(body[half:])
        resp = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            resp += d
    return int(resp.split(b" ", 2)[1]), seen


def test_headers_do_not_reach_upstream_before_verdict(envoy, envoy_factory, wasm, cli,
                                                      default_plugin_config, upstream):
    """Nothing of a request reaches the upstream before Airlock has judged the whole body,
    so a blocked request leaves no trace there at all: with the shipped bootstrap (buffer
    filter after Airlock), and with Airlock holding the headers itself (`--hold-headers`,
    which needs allow_on_headers_stop_iteration)."""
    status, seen = _slow_h1_request(envoy.port, upstream, AWS_KEY_ID.encode())
    assert status == 403
    assert seen == [], f"the upstream saw the request before the verdict: {seen}"
    e2e.assert_nothing_reached_upstream(upstream)

    held = envoy_factory("hold-headers", wasm=str(wasm), buffer_requests=False,
                         plugin_config=e2e.build_policy(cli, e2e.DEFAULT_POLICY_DIR,
                                                        "--hold-headers"))
    status, seen = _slow_h1_request(held.port, upstream, AWS_KEY_ID.encode())
    assert status == 403
    assert seen == [], f"--hold-headers: the upstream saw the request before the verdict: {seen}"
    e2e.assert_nothing_reached_upstream(upstream)
    clean = e2e.chat_body("fine")
    assert e2e.post(held.url, clean, OPENAI_HOST)[0] == 200
    assert e2e.only_request(upstream)["body"] == clean

    # Control: neither, and the headers do reach the upstream before the verdict (which
    # also shows the window above is long enough to catch it).
    upstream.reset()
    bare = envoy_factory("no-hold", wasm=str(wasm), plugin_config=default_plugin_config,
                         buffer_requests=False)
    status, seen = _slow_h1_request(bare.port, upstream, AWS_KEY_ID.encode())
    assert status == 403
    assert seen, "control failed: headers were held even without the buffer filter"
    e2e.assert_upstream_never_saw(upstream, AWS_KEY_ID)


def test_h2_streaming_sse_through_httpx(envoy, upstream):
    """An HTTP/2 (h2c) client streaming an SSE reply: request masked, reply streamed."""
    import uuid

    import httpx
    tok = uuid.uuid4().hex
    body = e2e.chat_body(f"write to {EMAIL} today", stream=True)
    with httpx.Client(http1=False, http2=True, timeout=30) as client:
        with client.stream("POST", envoy.url + PATH, content=body,
                           headers={"host": OPENAI_HOST, "content-type": "application/json",
                                    "x-e2e-hold": tok}) as resp:
            assert resp.http_version == "HTTP/2"
            assert resp.status_code == 200
            assert resp.headers.get("x-airlock-decision") == "tokenize"
            lines = resp.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            upstream.release(tok)
            rest = [line for line in lines if line.startswith("data: ")]
    events = [first] + rest
    assert events[-1] == "data: [DONE]"
    text = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1])
    assert text == e2e.REPLY_TEXT
    rec = e2e.only_request(upstream, PATH)
    assert rec["hold"] == "released", "the SSE reply was buffered"
    assert EMAIL.encode() not in rec["body"]
