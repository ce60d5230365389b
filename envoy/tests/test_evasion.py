"""The evasion corpus through a real Envoy running Airlock with the default policy.

The corpus is the one the wasmtime harness runs (host-tests/src/evasions.rs): every
technique (encodings, look-alike characters, request shapes of the three vendors,
content codings, body formats, tiny chunks, trailers) carries a credential, a card
number, a Chinese resident id and a classification marking, plus a clean control.
`examples/evasion_corpus.rs` writes it to a file (secrets included, never printed);
set AIRLOCK_EVASION_CORPUS to use a corpus file already written, and
AIRLOCK_EVASION_TOOL to a built `evasion_corpus` binary to skip `cargo run`.

For every case: the decision header; a block is a 403 and nothing reaches the
upstream; a mask reaches it with no form of the secret in what the upstream
recorded (content codings undone), as valid JSON if the request was JSON; a clean
request arrives byte-identical. Cases listed in KNOWN_GAPS must still be allowed,
so a fix shows up here too. Failure messages name `technique/payload`, never a secret.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import pathlib
import re
import subprocess

import pytest

import e2e

CORPUS_ENV = "AIRLOCK_EVASION_CORPUS"
TOOL_ENV = "AIRLOCK_EVASION_TOOL"
CASE_HEADER = "x-evasion-case"
TRAILERS = [("x-client-checksum", "abc123")]


# ---------------------------------------------------------------- corpus

def _tool() -> list[str]:
    exe = os.environ.get(TOOL_ENV)
    if exe:
        return [exe]
    return ["cargo", "run", "-q", "-p", "airlock-host-tests", "--example", "evasion_corpus", "--"]


def _run_tool(*args: str) -> None:
    r = subprocess.run(_tool() + list(args), cwd=e2e.REPO, capture_output=True, timeout=1800)
    if r.returncode != 0:
        pytest.fail(f"`{' '.join(_tool() + list(args))}` exited {r.returncode}:\n"
                    f"{r.stderr.decode(errors='replace')[-3000:]}", pytrace=False)


class Case:
    def __init__(self, n: int, d: dict) -> None:
        self.n = n
        self.technique: str = d["technique"]
        self.payload: str = d["payload"]
        self.host: str = d["host"]
        self.path: str = d["path"]
        self.headers: list[tuple[str, str]] = [(k, v) for k, v in d["headers"]]
        self.body = base64.b64decode(d["body_b64"])
        self.secret: str | None = d["secret"]
        self.forms = [base64.b64decode(f) for f in d["forms_b64"]]
        self.delivery: str = d["delivery"]
        self.expect: str = d["expect"]
        self.expect_now: str = d["expect_now"]
        self.known_gap: str | None = d["known_gap"]
        self.detector: str | None = d["detector"]

    @property
    def name(self) -> str:
        return f"{self.technique}/{self.payload}"

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def leak_in(self, body: bytes) -> str | None:
        """Where the secret shows in `body` (content-decoded), without its value."""
        if not self.secret:
            return None
        needles = [(self.secret.encode(), "the raw secret")]
        needles += [(f, f"form #{i} of the secret") for i, f in enumerate(self.forms) if f]
        hays = [(body, "the body bytes")] + [(s, "a JSON string of the body")
                                             for s in _json_strings_of_body(body)]
        for needle, what in needles:
            for hay, where in hays:
                if needle in hay:
                    return f"{what} in {where}"
        return None


def _json_strings(value, out: list[bytes], depth: int = 0) -> None:
    if isinstance(value, str):
        out.append(value.encode("utf-8", "surrogatepass"))
        t = value.lstrip()
        if depth < 8 and t[:1] in ("{", "["):
            try:
                _json_strings(json.loads(value), out, depth + 1)
            except ValueError:
                pass
    elif isinstance(value, list):
        for v in value:
            _json_strings(v, out, depth)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append(k.encode("utf-8", "surrogatepass"))
            _json_strings(v, out, depth)


def _json_strings_of_body(body: bytes) -> list[bytes]:
    out: list[bytes] = []
    try:
        _json_strings(json.loads(body), out)
        return out
    except (ValueError, RecursionError):
        pass
    for line in body.split(b"\n"):
        try:
            _json_strings(json.loads(line), out)
        except (ValueError, RecursionError):
            pass
    return out


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
        return True
    except (ValueError, RecursionError):
        return False


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Case]:
    path = os.environ.get(CORPUS_ENV)
    if not path:
        path = str(tmp_path_factory.mktemp("evasion") / "corpus.jsonl")
        _run_tool(path)
    with open(path, encoding="utf-8") as f:
        cases = [Case(n, json.loads(line)) for n, line in enumerate(f) if line.strip()]
    techniques = {c.technique for c in cases}
    assert len(techniques) >= 30, f"the corpus has only {len(techniques)} techniques"
    return cases


def _decode_all(bodies: dict[str, tuple[str, bytes]], workdir: pathlib.Path) -> dict[str, bytes | str]:
    """Undoes content codings with the corpus tool (Python has no brotli/zstd): id -> body or error."""
    if not bodies:
        return {}
    src, dst = workdir / "encoded.jsonl", workdir / "decoded.jsonl"
    with open(src, "w") as f:
        for i, (coding, body) in bodies.items():
            f.write(json.dumps({"id": i, "content_encoding": coding,
                                "body_b64": base64.b64encode(body).decode()}) + "\n")
    _run_tool("--decode", str(src), str(dst))
    out: dict[str, bytes | str] = {}
    with open(dst) as f:
        for line in f:
            d = json.loads(line)
            out[d["id"]] = base64.b64decode(d["body_b64"]) if "body_b64" in d else d["error"]
    return out


# ---------------------------------------------------------------- sending

class Http1:
    """One keep-alive HTTP/1.1 connection to Envoy, reopened when either side closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def post(self, case: Case) -> tuple[int, list[str], bytes]:
        headers = {"Host": case.host, CASE_HEADER: str(case.n),
                   "Content-Length": str(len(case.body))}
        headers.update(dict(case.headers))
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request("POST", case.path, body=case.body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
                continue
            decisions = [v for k, v in r.getheaders() if k.lower() == "x-airlock-decision"]
            if r.will_close:
                self.close()
            return r.status, decisions, data
        raise AssertionError("unreachable")


def _send(case: Case, envoy, client: Http1) -> tuple[int, list[str], bytes]:
    if case.delivery == "whole":
        return client.post(case)
    # HTTP/2: one DATA frame per chunk; with trailers no DATA frame ends the stream.
    if case.header("content-type") != "application/json" or case.header("content-encoding"):
        raise AssertionError(f"{case.name}: h2 delivery supports plain JSON bodies only")
    if case.delivery == "one-byte-chunks":
        chunks, trailers = e2e.split_every(case.body, 1), None
    else:
        third = max(1, -(-len(case.body) // 3))
        chunks, trailers = e2e.split_every(case.body, third), TRAILERS
    status, headers, data = e2e.h2_request(envoy.port, case.host, case.path, chunks,
                                           trailers=trailers,
                                           extra_headers=[(CASE_HEADER, str(case.n))])
    decision = headers.get("x-airlock-decision")
    return status, [decision] if decision is not None else [], data


# ---------------------------------------------------------------- the test

def test_every_evasion_is_caught_and_every_clean_variant_passes(envoy, upstream, corpus,
                                                                 tmp_path):
    client = Http1(envoy.port)
    results = []
    try:
        for case in corpus:
            status, decisions, reply = _send(case, envoy, client)
            results.append((case, status, decisions, reply))
    finally:
        client.close()

    records: dict[int, list[dict]] = {}
    for r in upstream.requests():
        n = e2e.header(r, CASE_HEADER)
        if n is not None:
            records.setdefault(int(n), []).append(r)

    # Masked bodies (and what was sent) to undo content codings on, in one call of the tool.
    to_decode: dict[str, tuple[str, bytes]] = {}
    for case, _, _, _ in results:
        done = [r for r in records.get(case.n, []) if r.get("complete")]
        coding = e2e.header(done[0], "content-encoding") if len(done) == 1 else None
        if case.expect_now in ("mask", "tokenize") and coding:
            to_decode[f"egress-{case.n}"] = (coding, done[0]["body"])
            to_decode[f"sent-{case.n}"] = (case.header("content-encoding") or "", case.body)
    decoded = _decode_all(to_decode, tmp_path)

    failures: list[str] = []
    counts: dict[str, int] = {}
    for case, status, decisions, reply in results:
        error = _check(case, status, decisions, reply, records.get(case.n, []), decoded)
        if error:
            failures.append(f"{case.name} ({case.delivery}): {error}")
        else:
            counts[case.expect_now] = counts.get(case.expect_now, 0) + 1

    log = envoy.log_text()
    for case in corpus:
        if case.known_gap is None and case.leak_in(log.encode("utf-8", "replace")):
            failures.append(f"{case.name}: Envoy's log contains the secret")

    techniques = len({c.technique for c in corpus})
    gaps = sum(1 for c in corpus if c.known_gap)
    print(f"\nevasion corpus through Envoy: {len(corpus) - len(failures)} of {len(corpus)} cases "
          f"as expected ({techniques} techniques; {counts}; {gaps} known gaps still missed)")
    if failures:
        pytest.fail(f"{len(failures)} of {len(corpus)} evasion cases failed:\n" + "\n".join(failures),
                    pytrace=False)


def _check(case: Case, status: int, decisions: list[str], reply: bytes, recs: list[dict],
           decoded: dict[str, bytes | str]) -> str | None:
    want = case.expect_now
    got = decisions[0] if len(decisions) == 1 else f"<{len(decisions)} decision headers>"
    if got != want:
        hint = ""
        if case.known_gap and got != "allow":
            hint = " - this KNOWN_GAPS case is caught now: remove it from KNOWN_GAPS"
        elif not case.known_gap and got == "allow":
            hint = " - the secret got through"
        return f"decision {got!r} (status {status}), expected {want!r}{hint}"
    done = [r for r in recs if r.get("complete")]
    if want == "block":
        if status != 403:
            return f"a block must be a 403, got {status}"
        if done:
            return "a blocked request reached the upstream complete"
        for r in recs:
            blob = r["body"] + json.dumps(r["headers"]).encode() + json.dumps(r["trailers"]).encode()
            leak = case.leak_in(blob)
            if leak:
                return f"the upstream saw {leak}"
        leak = case.leak_in(reply)
        if leak:
            return f"the block reply contains {leak}"
        if case.detector and case.detector.encode() not in reply:
            return f"the block reply does not name detector {case.detector}"
        return None
    if len(done) != 1:
        return f"expected one request at the upstream, got {len(done)}"
    rec = done[0]
    if want in ("mask", "tokenize"):
        coding = e2e.header(rec, "content-encoding")
        if coding != case.header("content-encoding"):
            return f"content-encoding changed from {case.header('content-encoding')!r} to {coding!r}"
        body = decoded.get(f"egress-{case.n}", b"") if coding else rec["body"]
        original = decoded.get(f"sent-{case.n}", b"") if coding else case.body
        if isinstance(body, str) or isinstance(original, str):
            return f"the masked body does not decode as {coding!r}: {body if isinstance(body, str) else original}"
        leak = case.leak_in(body)
        if leak:
            return f"the upstream received {leak}"
        if body == original:
            return "the body went upstream unchanged"
        if _is_json(original) and not _is_json(body):
            return "the masked body is no longer valid JSON"
        marked = (re.search(rb"\[[A-Z][A-Z0-9_]*_[0-9A-HJKMNP-TV-Z]{4,12}\]", body)
                  if want == "tokenize" else f"[REDACTED:{case.detector}]".encode() in body)
        if case.detector and not marked:
            return f"the rewritten body has no {want} marker for {case.detector}"
        return None
    # allow
    if rec["body"] != case.body:
        return f"an allowed body must pass byte-identical ({len(case.body)} bytes sent, " \
               f"{len(rec['body'])} received)"
    return None
