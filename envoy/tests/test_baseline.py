"""The fake upstream and the no-filter bootstrap: the ground the other tests stand on.

None of these needs the Airlock filter: they check that the upstream records exactly
what arrives (also chunked bodies with trailers), that the official SDKs parse its
replies through a real Envoy, and that HTTP/2 prior knowledge works on the listener.
"""

from __future__ import annotations

import json
import socket

import e2e
from e2e import OPENAI_HOST, ANTHROPIC_HOST, GEMINI_HOST


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while b"\r\n\r\n" not in out:
            out += s.recv(65536)
        return out


def test_upstream_records_chunked_body_and_trailers(upstream):
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           b"5\r\n{\"a\":\r\n3;ext=1\r\n 1}\r\n0\r\nX-Trailer: t1\r\n\r\n")
    resp = _raw(upstream.port, req)
    assert resp.startswith(b"HTTP/1.1 200")
    rec = e2e.only_request(upstream, "/v1/chat/completions")
    assert rec["body"] == b'{"a": 1}'
    assert rec["chunked"] is True
    assert rec["trailers"] == [["X-Trailer", "t1"]]
    assert e2e.header(rec, "host") == OPENAI_HOST


def test_upstream_records_content_length_body(upstream):
    body = e2e.chat_body("hello")
    status, _, _ = e2e.post(upstream.url, body, OPENAI_HOST)
    assert status == 200
    rec = e2e.only_request(upstream)
    assert rec["body"] == body and rec["chunked"] is False


def test_sdks_parse_replies_through_envoy_without_filter(plain_envoy, upstream):
    cap = e2e.Capture()
    oc = e2e.openai_client(plain_envoy.url, cap)
    r = oc.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "Hello from the fake upstream."
    chunks = [c.choices[0].delta.content for c in
              oc.chat.completions.create(model="gpt-4o-mini", stream=True,
                                         messages=[{"role": "user", "content": "hi"}])
              if c.choices and c.choices[0].delta.content]
    assert "".join(chunks) == "Hello from the fake upstream."
    assert oc.responses.create(model="gpt-4o-mini", input="hi").output_text
    with oc.responses.stream(model="gpt-4o-mini", input="hi") as st:
        assert st.get_final_response().output_text == "Hello from the fake upstream."
    assert oc.embeddings.create(model="text-embedding-3-small", input="hi").data[0].embedding

    ac = e2e.anthropic_client(plain_envoy.url, cap)
    m = ac.messages.create(model=e2e.ANTHROPIC_MODEL, max_tokens=16,
                           messages=[{"role": "user", "content": "hi"}])
    assert m.content[0].text == "Hello from the fake upstream."
    with ac.messages.stream(model=e2e.ANTHROPIC_MODEL, max_tokens=16,
                            messages=[{"role": "user", "content": "hi"}]) as st:
        assert "".join(st.text_stream) == "Hello from the fake upstream."

    gc = e2e.gemini_client(plain_envoy.url, cap)
    assert gc.models.generate_content(model="gemini-2.5-flash", contents="hi").text == \
        "Hello from the fake upstream."
    assert "".join(c.text for c in gc.models.generate_content_stream(
        model="gemini-2.5-flash", contents="hi")) == "Hello from the fake upstream."

    hosts = {e2e.header(r, "host") for r in upstream.requests()}
    assert hosts == {OPENAI_HOST, ANTHROPIC_HOST, GEMINI_HOST}
    # what each SDK sent is what arrived
    sent = [s["content"] for s in cap.sent]
    got = [r["body"] for r in e2e.completed(upstream)]
    assert sent == got
    gem = [r["path"] for r in upstream.requests() if GEMINI_HOST == e2e.header(r, "host")]
    assert gem[0].startswith("/v1beta/models/gemini-2.5-flash:generateContent")
    assert gem[1].startswith("/v1beta/models/gemini-2.5-flash:streamGenerateContent")


def test_http2_prior_knowledge_with_trailers_without_filter(plain_envoy, upstream):
    body = e2e.chat_body("hello over h2")
    status, headers, resp = e2e.h2_request(plain_envoy.port, OPENAI_HOST, "/v1/chat/completions",
                                           e2e.split_every(body, 7), trailers=[("x-t", "1")])
    assert status == 200, resp
    assert json.loads(resp)["object"] == "chat.completion"
    rec = e2e.only_request(upstream)
    assert rec["body"] == body
    assert e2e.header(rec, "host") == OPENAI_HOST
