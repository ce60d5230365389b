"""Parser differentials through a real Envoy, judged by the Python upstream's own parser.

Each case hides a key where a lenient parser finds it and a strict one does not (a BOM,
`NaN`, a duplicate key, a lone surrogate, nesting past 128 levels, a card as a JSON
number, a twice-gzipped body, a body in UTF-16 or UTF-32). For each, the test first shows that Python's `json` (what
the fake upstream parses with) really reads the secret from the original body, so the
case is a real leak path, then sends it through Envoy with Airlock and the default policy:
a block must leave nothing at the upstream; a mask must leave nothing Python's `json`
can read back; the clean twin must reach the upstream byte-identical and parse there
(the upstream answers 400 to a body its `json.loads` rejects). The same cases (and more)
run in the wasmtime harness: host-tests/tests/differentials.rs. Failure messages name
cases, never secrets.
"""

from __future__ import annotations

import gzip
import json

import pytest

import e2e
from e2e import OPENAI_HOST

PATH = "/v1/chat/completions"
# An AWS access key id of the documented shape; not the documented example key.
KEY = "AKIAR7UZ3WQ4XK2M6PLD"
CARD = "4916338506124576"
ESCAPED_KEY = "\\u0041" + KEY[1:]   # the first letter as a JSON escape


def chat(content_literal: str, extra: str = "") -> str:
    return ('{"model":"gpt-4o-mini","messages":[{"role":"user","content":%s}]%s}'
            % (content_literal, extra))


def q(text: str) -> str:
    return '"%s"' % text


CASES = {
    "duplicate-key-last-wins": lambda t: (
        '{"model":"m","messages":[{"role":"user","content":"hello"}],'
        '"messages":[{"role":"user","content":%s}]}' % q(t)).encode(),
    "utf8-bom": lambda t: b"\xef\xbb\xbf" + chat(q(t)).encode(),
    "nan-and-infinity": lambda t: chat(q(t), ',"temperature":NaN,"top_p":Infinity').encode(),
    "nesting-past-limit": lambda t: (
        '{"model":"m","messages":%s%s%s}' % ("[" * 300, q(t), "]" * 300)).encode(),
    "lone-surrogate-in-key": lambda t: chat(q(t.replace(ESCAPED_KEY, KEY[:8] + "\\ud800" + KEY[8:]))).encode(),
    # json.loads sniffs UTF-16 and UTF-32 from the first bytes, whatever the Content-Type says.
    "utf-16le-sniffed": lambda t: chat(q(t)).encode("utf-16-le"),
    "utf-32be-with-bom": lambda t: b"\x00\x00\xfe\xff" + chat(q(t)).encode("utf-32-be"),
}


def python_strings(value) -> list[str]:
    """Every string and integer Python's json made of a document, keys included."""
    out: list[str] = []
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, list):
        for v in value:
            out += python_strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append(k)
            out += python_strings(v)
    return out


def python_reads(body: bytes, secret: str) -> bool:
    """Whether the secret is in what Python's json reads (surrogates and U+FFFD dropped, as a
    reader drops a character that renders as nothing or as a box)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return False
    for s in python_strings(doc):
        seen = "".join(c for c in s if not (0xD800 <= ord(c) <= 0xDFFF or c == "\ufffd"))
        if secret in seen:
            return True
    return False


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_differential_is_blocked(envoy, upstream, name):
    body = CASES[name](f"my key is {ESCAPED_KEY}")
    assert python_reads(body, KEY), f"{name}: Python's json does not read the key: not a leak path"
    status, headers, _ = e2e.post(envoy.url, body, OPENAI_HOST)
    assert status == 403, f"{name}: expected a block, got {status}"
    assert headers.get("x-airlock-decision") == "block"
    e2e.assert_nothing_reached_upstream(upstream)


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_differential_clean_twin_passes(envoy, upstream, name):
    body = CASES[name]("please summarise the meeting notes")
    status, headers, _ = e2e.post(envoy.url, body, OPENAI_HOST)
    assert headers.get("x-airlock-decision") == "allow", f"{name}: clean twin not allowed"
    rec = e2e.only_request(upstream, PATH)
    assert rec["body"] == body, f"{name}: clean twin changed on its way"
    # The upstream parsed it with json.loads (it answers 400 when it cannot).
    assert status == 200, f"{name}: the upstream could not parse the clean twin ({status})"


CARD_BODIES = {
    "json-number": (chat(q("charge my card"), ',"metadata":{"card":%s}' % CARD).encode(), "utf-8"),
    # json.loads reads UTF-16 from bytes; the mask must keep the body UTF-16.
    "utf-16-body": (chat(q(f"charge my card {CARD}")).encode("utf-16-le"), "utf-16-le"),
}


@pytest.mark.parametrize("name", sorted(CARD_BODIES))
def test_card_is_tokenized_where_python_reads_it(envoy, upstream, name):
    body, encoding = CARD_BODIES[name]
    assert python_reads(body, CARD)
    status, headers, _ = e2e.post(envoy.url, body, OPENAI_HOST)
    assert headers.get("x-airlock-decision") == "tokenize"
    assert status == 200, "the tokenized body must still parse at the upstream"
    got = e2e.only_request(upstream, PATH)["body"]
    assert not python_reads(got, CARD), "Python's json still reads the card upstream"
    assert CARD not in got.decode(encoding)
    json.loads(got.decode(encoding))  # in the encoding it was sent in


def test_twice_gzipped_body_is_inspected(envoy, upstream):
    body = gzip.compress(gzip.compress(e2e.chat_body(f"my key is {KEY}")))
    status, headers, _ = e2e.post(envoy.url, body, OPENAI_HOST,
                                  headers={"Content-Encoding": "gzip, gzip"})
    assert status == 403 and headers.get("x-airlock-decision") == "block"
    e2e.assert_nothing_reached_upstream(upstream)


def test_unknown_content_coding_fails_closed(envoy, upstream):
    body = e2e.chat_body("please summarise the meeting notes")
    status, headers, _ = e2e.post(envoy.url, body, OPENAI_HOST,
                                  headers={"Content-Encoding": "x-airlock-unknown"})
    assert status == 403 and headers.get("x-airlock-decision") == "block"
    e2e.assert_nothing_reached_upstream(upstream)


def test_multipart_with_two_boundaries_is_read_as_text(envoy, upstream):
    body = ("--aaa\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--aaa--\r\n"
            "--bbb\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
            f"my key is {KEY}\r\n--bbb--\r\n").encode()
    status, headers, _ = e2e.post(envoy.url, body, OPENAI_HOST, path="/v1/files", headers={
        "Content-Type": "multipart/form-data; boundary=aaa; boundary=bbb"})
    assert status == 403 and headers.get("x-airlock-decision") == "block"
    e2e.assert_nothing_reached_upstream(upstream)
