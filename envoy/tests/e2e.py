"""Shared helpers for Airlock's Envoy end-to-end tests (imported by conftest and tests)."""

from __future__ import annotations

import glob
import json
import os
import pathlib
import re
import secrets as _secrets
import shutil
import socket
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ENVOY_DIR = HERE.parent
REPO = ENVOY_DIR.parent
sys.path.insert(0, str(ENVOY_DIR))

import config  # noqa: E402,F401
import harness  # noqa: E402,F401

# ---------------------------------------------------------------- sample secrets
# Every value below is fake. The AWS access key id is shaped like a real one
# (AKIA + 16 of [A-Z2-7]) and is NOT the allowlisted documentation example.
AWS_KEY_ID = "AKIA" + "Z4Q7XW2MRT5KPLBN"
AWS_KEY_HEAD, AWS_KEY_TAIL = AWS_KEY_ID[:9], AWS_KEY_ID[9:]
EMAIL = "maria.gonzalez@northwind-traders.com"
# HMAC key handed to the VM; random per test session so it can be searched for in logs.
HASH_KEY = "e2e-hmac-" + _secrets.token_hex(16)
# Everything that must never show up in Envoy's log.
SECRETS = [AWS_KEY_ID, EMAIL, HASH_KEY]

OPENAI_HOST = "api.openai.com"
ANTHROPIC_HOST = "api.anthropic.com"
GEMINI_HOST = "generativelanguage.googleapis.com"
RELAY_HOST = "llm-relay.example.net"   # not in any tier: unknown-relay
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-e2e-test"
GEMINI_MODEL = "gemini-2.5-flash"
REPLY_TEXT = "Hello from the fake upstream."

DEFAULT_POLICY_DIR = REPO / "policies" / "default"

# ---------------------------------------------------------------- artefacts

def wasm_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get(
        "AIRLOCK_WASM", REPO / "target" / "wasm32-wasip1" / "release" / "airlock_filter.wasm"))


def cli_path() -> pathlib.Path | None:
    env = os.environ.get("AIRLOCK_CLI")
    if env:
        return pathlib.Path(env)
    for cand in (REPO / "target" / "release" / "airlock", REPO / "target" / "debug" / "airlock"):
        if cand.exists():
            return cand
    return None


def build_policy(cli: pathlib.Path, policy_dir: os.PathLike, *flags: str) -> str:
    """Run `airlock build DIR [FLAGS]` and return its stdout: the plugin configuration JSON."""
    r = subprocess.run([str(cli), "build", str(policy_dir), *flags], capture_output=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"`{cli} build {policy_dir} {' '.join(flags)}` exited {r.returncode}:\n"
                             f"{r.stderr.decode(errors='replace')}")
    text = r.stdout.decode()
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise AssertionError(f"`airlock build` did not print JSON: {text[:300]!r}") from exc
    assert doc.get("airlock_config") == 1 and isinstance(doc.get("policy"), dict), \
        f"`airlock build` output does not follow the contract: {text[:300]!r}"
    return text


def custom_policy_dir(dst: pathlib.Path, edits: dict[str, str]) -> pathlib.Path:
    """Copy policies/default to dst and apply `key: value` line edits to policy.yaml.

    edits maps a YAML key appearing once in policy.yaml (e.g. "max_body_bytes") to its new
    scalar value; the test fails clearly when the key is not there.
    """
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(DEFAULT_POLICY_DIR, dst)
    pol = dst / "policy.yaml"
    text = pol.read_text()
    for key, value in edits.items():
        pat = re.compile(rf"^(\s*{re.escape(key)}:\s*)(\S.*?)(\s*(#.*)?)$", re.M)
        text, n = pat.subn(lambda m: m.group(1) + value + m.group(3), text, count=1)
        assert n == 1, f"policies/default/policy.yaml has no `{key}:` line to edit"
    pol.write_text(text)
    return dst


# ---------------------------------------------------------------- detectors

def detector_ids() -> list[str]:
    """All `id` values found in policies/default/detectors/*.yaml (any nesting)."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is in requirements.txt
        return []
    ids: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            v = node.get("id")
            if isinstance(v, str):
                ids.append(v)
            for x in node.values():
                walk(x)
        elif isinstance(node, list):
            for x in node:
                walk(x)

    for f in sorted(glob.glob(str(DEFAULT_POLICY_DIR / "detectors" / "*.y*ml"))):
        with open(f) as fh:
            for doc in yaml.safe_load_all(fh):
                walk(doc)
    return ids


def assert_names_aws_detector(message: str) -> None:
    """The block message names the detector that found the AWS access key id."""
    assert AWS_KEY_ID not in message, "the block message contains the secret itself"
    ids = [i for i in detector_ids() if "aws" in i.lower()]
    if ids:
        assert any(i in message for i in ids), \
            f"block message does not name any AWS detector {ids}: {message!r}"
    else:
        assert re.search(r"(?i)aws", message), \
            f"block message does not name an AWS detector: {message!r}"


def assert_names_email_detector(message: str) -> None:
    assert EMAIL not in message, "the block message contains the e-mail address itself"
    ids = [i for i in detector_ids() if "mail" in i.lower()]
    if ids:
        assert any(i in message for i in ids), \
            f"block message does not name any e-mail detector {ids}: {message!r}"
    else:
        assert re.search(r"(?i)e-?mail", message), \
            f"block message does not name an e-mail detector: {message!r}"


# ---------------------------------------------------------------- upstream checks

def completed(upstream, path_part: str = "") -> list[dict]:
    return [r for r in upstream.requests() if r.get("complete") and path_part in r["path"]]


def only_request(upstream, path_part: str = "") -> dict:
    reqs = completed(upstream, path_part)
    assert len(reqs) == 1, f"expected one request to {path_part!r} at the upstream, got " \
                           f"{[(r['method'], r['path']) for r in upstream.requests()]}"
    return reqs[0]


def header(rec: dict, name: str) -> str | None:
    for k, v in rec["headers"]:
        if k.lower() == name.lower():
            return v
    return None


def assert_upstream_never_saw(upstream, *values: str) -> None:
    for r in upstream.requests():
        blob = r["body"] + json.dumps(r["headers"]).encode() + json.dumps(r["trailers"]).encode()
        for v in values:
            assert v.encode() not in blob, f"the upstream received {v!r} in {r['method']} {r['path']}"


def assert_nothing_reached_upstream(upstream) -> None:
    reqs = upstream.requests()
    assert not reqs, "the upstream saw a request it should not have: " + \
        repr([(r["method"], r["path"], r.get("aborted")) for r in reqs])


# ---------------------------------------------------------------- SDK plumbing

class Capture:
    """httpx2 event hooks: what the SDK sent and what it got back."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.received: list[dict] = []

    def on_request(self, request) -> None:
        try:
            content = request.content
        except Exception:  # noqa: BLE001 - a streaming request body
            content = None
        self.sent.append({"method": request.method, "url": str(request.url),
                          "headers": dict(request.headers), "content": content})

    def on_response(self, response) -> None:
        self.received.append({"status": response.status_code, "headers": dict(response.headers)})

    def client(self):
        import httpx2
        return httpx2.Client(event_hooks={"request": [self.on_request],
                                          "response": [self.on_response]},
                             timeout=60.0)

    def last_decision(self) -> str | None:
        return self.received[-1]["headers"].get("x-airlock-decision") if self.received else None


def openai_client(base: str, cap: Capture, host: str = OPENAI_HOST):
    import openai
    return openai.OpenAI(api_key="sk-e2e-not-a-key", base_url=base + "/v1",
                         default_headers={"Host": host}, http_client=cap.client(), max_retries=0)


def anthropic_client(base: str, cap: Capture, host: str = ANTHROPIC_HOST):
    import anthropic
    return anthropic.Anthropic(api_key="sk-ant-e2e-not-a-key", base_url=base,
                               default_headers={"Host": host}, http_client=cap.client(),
                               max_retries=0)


def gemini_client(base: str, cap: Capture, host: str = GEMINI_HOST):
    from google import genai
    from google.genai import types
    return genai.Client(api_key="e2e-not-a-key", http_options=types.HttpOptions(
        base_url=base, api_version="v1beta", headers={"Host": host},
        httpx_client=cap.client()))


# ---------------------------------------------------------------- raw HTTP/2 (h2c)

def h2_request(port: int, authority: str, path: str, chunks: list[bytes],
               trailers: list[tuple[str, str]] | None = None,
               extra_headers: list[tuple[str, str]] | None = None,
               timeout: float = 30.0, between_chunks=None) -> tuple[int, dict, bytes]:
    """POST over cleartext HTTP/2 with prior knowledge, one DATA frame per chunk.

    With `trailers`, the stream ends on a trailing HEADERS frame, so no DATA frame
    carries END_STREAM. `between_chunks(i)` is called after chunk i is flushed.
    """
    import h2.config
    import h2.connection
    import h2.events

    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        sid = conn.get_next_available_stream_id()
        headers = [(":method", "POST"), (":path", path), (":scheme", "http"),
                   (":authority", authority), ("content-type", "application/json")]
        headers += extra_headers or []
        conn.send_headers(sid, headers, end_stream=False)
        sock.sendall(conn.data_to_send())
        for i, c in enumerate(chunks):
            last = i == len(chunks) - 1 and trailers is None
            conn.send_data(sid, c, end_stream=last)
            sock.sendall(conn.data_to_send())
            if between_chunks:
                between_chunks(i)
        if not chunks and trailers is None:
            conn.end_stream(sid)
        if trailers is not None:
            conn.send_headers(sid, trailers, end_stream=True)
        sock.sendall(conn.data_to_send())

        status, resp_headers, body = 0, {}, bytearray()
        ended = False
        while not ended:
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    resp_headers = {k: v for k, v in ev.headers}
                    status = int(resp_headers.get(":status", "0"))
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if ev.stream_id == sid:
                        body += ev.data
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    ended = True
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    ended = True
                    if not status:
                        status = -1
            sock.sendall(conn.data_to_send())
        return status, resp_headers, bytes(body)
    finally:
        sock.close()


def split_every(data: bytes, n: int) -> list[bytes]:
    return [data[i:i + n] for i in range(0, len(data), n)]


def chat_body(content: str, model: str = "gpt-4o-mini", **extra) -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": content}],
                       **extra}).encode()


def post(url: str, body: bytes, host: str, path: str = "/v1/chat/completions",
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    h = {"Host": host, "Content-Type": "application/json"}
    h.update(headers or {})
    status, hdrs, data = harness.http("POST", url + path, body, h, timeout=60)
    return status, {k.lower(): v for k, v in hdrs.items()}, data


def poll(pred, deadline_s: float = 15.0, what: str = "condition", every: float = 0.1):
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        last = pred()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what} (last: {last!r})")


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$')


def prometheus_samples(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = PROM_LINE.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def prom_value(samples, name: str, **labels) -> float:
    total = 0.0
    found = False
    for n, lab, v in samples:
        if n == name and all(lab.get(k) == val for k, val in labels.items()):
            total += v
            found = True
    return total if found else -1.0
