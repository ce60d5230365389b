#!/usr/bin/env python3
"""Soak: many requests through a real Envoy with Airlock, every decision checked.

    .venv/bin/python envoy/soak.py [--requests 100000] [--workers 6] [--ecds-every 3]
                                   [--report soak.json]

Starts the fake upstream and an Envoy whose Airlock filter comes through ECDS from a
file, then sends the requests from `--workers` threads, each with a keep-alive HTTP/1.1
connection and an HTTP/2 (h2c) connection. The mix, drawn with a fixed seed:
clean, masked (an e-mail for an approved vendor) and blocked (a cloud key anywhere, an
e-mail for an unknown relay) bodies; HTTP/1.1 and HTTP/2; `"stream": true` requests
(the upstream answers with SSE, which must stream through); gzip bodies; bodies sent
in 1-byte chunks (HTTP/1.1 chunked) or 1-byte DATA frames (HTTP/2). Every
`--ecds-every` seconds a new version of the policy is published (the versions differ in
`metadata.version` only, so every request has one right answer).

Checks (the exit code is non-zero if any fails):
- each response's decision (`x-airlock-decision`, and 403 for a block) equals what
  `airlock scan` decides for the same body and host: 0 requests lost or misjudged;
- no secret of a blocked or masked request ever reached the upstream;
- Envoy's memory (admin `/memory`: allocated and heap) and its resident set, which holds
  the VMs' linear memory, grow by at most 5 % from the 10 % mark of the run to its end;
  the number of live VMs does not change;
- ECDS updates were accepted (`config_reload`) while traffic ran;
- no secret (nor the HMAC key) appears in Envoy's log, `/stats` or `/stats/prometheus`.

`run()` is what `tests/test_soak_short.py` calls with a few hundred requests.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import secrets as _secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "tests"))

import config  # noqa: E402
import e2e  # noqa: E402
import harness  # noqa: E402

PATH = "/v1/chat/completions"
APPROVED = ["api.openai.com", "api.anthropic.com"]
RELAY = "llm-relay.example.net"
WORDS = ("please summarise the quarterly plan for the team and list three risks we should "
         "watch while the migration runs across regions with careful rollback steps").split()
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


# ---------------------------------------------------------------- the request catalogue

@dataclass
class Entry:
    """One distinct request: host and plain body, with its secret (if any) and the decision
    `airlock scan` gives it."""
    host: str
    body: bytes
    kind: str
    secret: str | None = None
    stream: bool = False
    expected: str = ""


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def catalogue(rng: random.Random, size: int) -> list[Entry]:
    out: list[Entry] = []
    for i in range(size):
        kind = ["clean", "clean", "masked", "blocked_key", "blocked_relay"][i % 5]
        stream = i % 4 == 0
        extra = {"stream": True} if stream else {}
        text = _sentence(rng, rng.randint(3, 60))
        secret = None
        host = rng.choice(APPROVED)
        if kind == "masked":
            secret = f"soak.{rng.randrange(10**6)}.{_secrets.token_hex(3)}@example-corp.net"
        elif kind == "blocked_key":
            secret = "AKIA" + "".join(rng.choice(B32) for _ in range(16))
        elif kind == "blocked_relay":
            secret = f"relay.{rng.randrange(10**6)}.{_secrets.token_hex(3)}@example-corp.net"
            host = RELAY
        if secret:
            cut = rng.randint(0, len(text))
            text = f"{text[:cut]} {secret} {text[cut:]}"
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}],
                           **extra}).encode()
        out.append(Entry(host=host, body=body, kind=kind, secret=secret, stream=stream))
    return out


def scan_expectations(cli: str, entries: list[Entry], hash_key: str) -> None:
    """Fills `expected` with `airlock scan`'s decision, one scan per host over a directory."""
    env = dict(os.environ, AIRLOCK_HASH_KEY=hash_key)
    by_host: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        by_host.setdefault(e.host, []).append(i)
    for host, idx in by_host.items():
        with tempfile.TemporaryDirectory() as d:
            for i in idx:
                with open(os.path.join(d, f"{i:06d}.json"), "wb") as f:
                    f.write(entries[i].body)
            r = subprocess.run([cli, "scan", "--host", host, "--content-type", "application/json",
                                d], capture_output=True, timeout=600, env=env)
            lines = [json.loads(x) for x in r.stdout.decode().splitlines() if x.strip()]
            if len(lines) != len(idx):
                raise RuntimeError(f"`airlock scan` printed {len(lines)} lines for {len(idx)} "
                                   f"bodies (exit {r.returncode}): {r.stderr.decode()[:300]}")
            for line in lines:
                i = int(os.path.basename(line["input"]).split(".")[0])
                entries[i].expected = line["decision"]


# ---------------------------------------------------------------- clients

class H1:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def send(self, host: str, body: bytes, headers: dict, one_byte: bool) -> tuple[int, str, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = {"Host": host, "Content-Type": "application/json", **headers}
        try:
            if one_byte:
                self.conn.request("POST", PATH, body=(body[i:i + 1] for i in range(len(body))),
                                  headers=h, encode_chunked=True)
            else:
                self.conn.request("POST", PATH, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("connection", "").lower() == "close":
                self.close()
            return r.status, r.getheader("x-airlock-decision") or "", data
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class H2:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.conn = None

    def _connect(self) -> None:
        import h2.config
        import h2.connection
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def send(self, host: str, body: bytes, headers: dict, one_byte: bool) -> tuple[int, str, bytes]:
        import h2.events
        if self.conn is None:
            self._connect()
        conn, sock = self.conn, self.sock
        assert conn is not None and sock is not None
        try:
            sid = conn.get_next_available_stream_id()
            hs = [(":method", "POST"), (":path", PATH), (":scheme", "http"), (":authority", host),
                  ("content-type", "application/json")] + [(k.lower(), v) for k, v in headers.items()]
            conn.send_headers(sid, hs)
            chunks = [body[i:i + 1] for i in range(len(body))] if one_byte else [body]
            for c in chunks:
                conn.send_data(sid, c)
                if one_byte:
                    sock.sendall(conn.data_to_send())
            conn.end_stream(sid)
            sock.sendall(conn.data_to_send())
            status, decision, data, ended = 0, "", bytearray(), False
            while not ended:
                got = sock.recv(65536)
                if not got:
                    raise ConnectionError("h2 connection closed")
                for ev in conn.receive_data(got):
                    if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                        hd = dict(ev.headers)
                        status, decision = int(hd.get(":status", "0")), hd.get("x-airlock-decision", "")
                    elif isinstance(ev, h2.events.DataReceived):
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                        if ev.stream_id == sid:
                            data += ev.data
                    elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                        ended = True
                    elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                        raise ConnectionError(f"stream reset ({ev.error_code})")
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        raise ConnectionError("h2 connection terminated")
                sock.sendall(conn.data_to_send())
            return status, decision, bytes(data)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.conn = None, None


# ---------------------------------------------------------------- the run

@dataclass
class Report:
    requests: int = 0
    sent: dict = field(default_factory=dict)
    lost: list = field(default_factory=list)
    misjudged: list = field(default_factory=list)
    leaks: list = field(default_factory=list)
    ecds_published: int = 0
    ecds_reloads: int = 0
    ecds_fails: int = 0
    memory: list = field(default_factory=list)
    growth: dict = field(default_factory=dict)
    vms: list = field(default_factory=list)
    seconds: float = 0.0
    failures: list = field(default_factory=list)

    def ok(self) -> bool:
        return not self.failures


def _memory_sample(ev: harness.Envoy, done: int) -> dict:
    _, _, body = harness.http("GET", ev.admin + "/memory")
    mem = json.loads(body)
    rss = 0
    with open(f"/proc/{ev.proc.popen.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return {"done": done, "allocated": int(mem.get("allocated", 0)),
            "heap_size": int(mem.get("heap_size", 0)), "rss": rss}


def _growth(samples: list[dict], total: int, key: str) -> float:
    """Relative growth of `key` from the sample nearest the 10 % mark to the last sample."""
    if len(samples) < 2:
        return 0.0
    mark = min(samples, key=lambda s: abs(s["done"] - total / 10))
    base = mark[key] or 1
    return (samples[-1][key] - base) / base


def run(requests: int = 100_000, workers: int = 6, ecds_every: float = 3.0, seed: int = 17,
        wasm: str | None = None, cli: str | None = None, run_dir: str | None = None,
        upstream: harness.Upstream | None = None, max_growth: float = 0.05,
        check_memory: bool = True, log=print) -> Report:
    rng = random.Random(seed)
    wasm = wasm or str(e2e.wasm_path())
    cli = cli or str(e2e.cli_path() or "")
    run_dir = run_dir or tempfile.mkdtemp(prefix="airlock-soak-")
    hash_key = "soak-hmac-" + _secrets.token_hex(16)
    report = Report(requests=requests)

    entries = catalogue(rng, 500)
    scan_expectations(cli, entries, hash_key)
    policies = []
    for v in (1, 2):
        d = e2e.custom_policy_dir(__import__("pathlib").Path(run_dir) / f"policy-v{v}",
                                  {"version": f'"soak-{v}"'})
        policies.append(e2e.build_policy(__import__("pathlib").Path(cli), d))

    own_upstream = upstream is None
    up = upstream or harness.Upstream(run_dir)
    resource = os.path.join(run_dir, "airlock-filter.yaml")

    def publish(i: int) -> None:
        config.write_ecds_resource(resource, config.Options(
            wasm=wasm, plugin_config=policies[i % 2], hash_key=hash_key))

    publish(0)
    ev = harness.Envoy(run_dir, config.Options(upstream_port=up.port, wasm=wasm, hash_key=hash_key,
                                               ecds_path=resource), name="envoy-soak")
    stat_prefix = "extension_config_discovery.http_filter.airlock."
    try:
        up.reset()
        done = [0]
        lock = threading.Lock()
        stop = threading.Event()
        secrets_seen: set[str] = {e.secret for e in entries if e.secret}

        def check_upstream() -> None:
            recs = up.requests()
            up.reset()
            for r in recs:
                body = r["body"]
                if e2e.header(r, "content-encoding") == "gzip":
                    try:
                        body = gzip.decompress(body)
                    except OSError:
                        pass
                for s in secrets_seen:
                    if s.encode() in body:
                        report.leaks.append(f"upstream received a secret of kind "
                                            f"{'key' if s.startswith('AKIA') else 'e-mail'}")

        def background() -> None:
            last_publish = time.monotonic()
            version = 0
            while not stop.wait(0.5):
                with lock:
                    n = done[0]
                report.memory.append(_memory_sample(ev, n))
                if time.monotonic() - last_publish >= ecds_every:
                    version += 1
                    publish(version)
                    report.ecds_published += 1
                    last_publish = time.monotonic()
                    check_upstream()

        def worker(w: int) -> None:
            wrng = random.Random(seed * 1000 + w)
            h1, h2c = H1(ev.port), H2(ev.port)
            while True:
                with lock:
                    if done[0] >= requests:
                        break
                    done[0] += 1
                    n = done[0]
                e = wrng.choice(entries)
                proto = "h2" if wrng.random() < 0.5 else "h1"
                gz = wrng.random() < 0.15
                one_byte = wrng.random() < 0.03
                body = gzip.compress(e.body, 1) if gz else e.body
                headers = {"Content-Encoding": "gzip"} if gz else {}
                key = (f"{e.kind}/{proto}{'/stream' if e.stream else ''}{'/gzip' if gz else ''}"
                       f"{'/1byte' if one_byte else ''}")
                try:
                    client = h2c if proto == "h2" else h1
                    status, decision, _ = client.send(e.host, body, headers, one_byte)
                except Exception as exc:  # noqa: BLE001 - every failure is a lost request
                    with lock:
                        report.lost.append(f"#{n} {key}: {type(exc).__name__}: {exc}"[:200])
                    continue
                want_status = 403 if e.expected == "block" else 200
                with lock:
                    report.sent[key] = report.sent.get(key, 0) + 1
                    if decision != e.expected or status != want_status:
                        report.misjudged.append(f"#{n} {key} host={e.host}: got {status}/"
                                                f"{decision or '-'}, airlock scan says {e.expected}")
                if n % max(1, requests // 20) == 0:
                    log(f"soak: {n}/{requests} requests")
            h1.close()
            h2c.close()

        report.vms.append(ev.stats(filter_re="wasm").copy())
        bg = threading.Thread(target=background, daemon=True)
        started = time.monotonic()
        bg.start()
        threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report.seconds = time.monotonic() - started
        stop.set()
        bg.join()
        report.memory.append(_memory_sample(ev, requests))
        check_upstream()
        stats = ev.stats()
        report.vms.append(ev.stats(filter_re="wasm").copy())
        report.ecds_reloads = int(stats.get(stat_prefix + "config_reload", 0))
        report.ecds_fails = int(stats.get(stat_prefix + "config_fail", 0))

        # nothing secret in logs or stats
        visible = ev.log_text() + json.dumps(stats) + ev.prometheus()
        for s in list(secrets_seen) + [hash_key]:
            if s in visible:
                report.leaks.append("a secret or the HMAC key is in Envoy's log or stats")
                break
        if not ev.alive():
            report.failures.append("Envoy exited during the soak")
    finally:
        ev.stop()
        if own_upstream:
            up.stop()

    for key in ("allocated", "heap_size", "rss"):
        report.growth[key] = _growth(report.memory, requests, key)
    if report.lost:
        report.failures.append(f"{len(report.lost)} requests lost")
    if report.misjudged:
        report.failures.append(f"{len(report.misjudged)} requests misjudged")
    if report.leaks:
        report.failures.append(f"{len(report.leaks)} leaks")
    if report.ecds_published and report.ecds_reloads < 2:
        report.failures.append(f"ECDS: {report.ecds_published} published, "
                               f"{report.ecds_reloads} reloads")
    if report.ecds_fails:
        report.failures.append(f"ECDS: {report.ecds_fails} updates rejected")
    vm_keys = [k for k in report.vms[0] if k.endswith(".active")]
    if any(report.vms[0].get(k) != report.vms[-1].get(k) for k in vm_keys):
        report.failures.append("the number of active VMs changed")
    if check_memory:
        for key, g in report.growth.items():
            if g > max_growth:
                report.failures.append(f"memory grew: {key} +{g:.1%} from the 10 % mark to the end")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--ecds-every", type=float, default=3.0, help="seconds between policy versions")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--report", help="write the report as JSON here")
    a = ap.parse_args(argv)
    r = run(a.requests, a.workers, a.ecds_every, a.seed)
    summary = {
        "requests": r.requests, "seconds": round(r.seconds, 1),
        "rate_per_s": round(r.requests / r.seconds, 1) if r.seconds else None,
        "lost": len(r.lost), "misjudged": len(r.misjudged), "leaks": len(r.leaks),
        "ecds_published": r.ecds_published, "ecds_reloads": r.ecds_reloads,
        "ecds_fails": r.ecds_fails,
        "memory_first": r.memory[0] if r.memory else None,
        "memory_last": r.memory[-1] if r.memory else None,
        "growth_from_10pct": {k: round(v, 4) for k, v in r.growth.items()},
        "mix": dict(sorted(r.sent.items())), "failures": r.failures,
        "examples": {"lost": r.lost[:5], "misjudged": r.misjudged[:5]},
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if a.report:
        with open(a.report, "w") as f:
            f.write(text + "\n")
    if a.report:
        with open(a.report + ".memory.json", "w") as f:
            json.dump(r.memory, f)
    return 0 if r.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
