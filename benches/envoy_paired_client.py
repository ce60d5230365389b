"""The client of benches/envoy-paired.sh: requests interleaved across listeners one by one.

One keep-alive HTTP/1.1 connection per listener, and one request in flight at a time in all:
  * serial, so no request ever queues in Envoy's worker behind another listener's (with
    --concurrency 1 all listeners share one worker): a request's latency is its own filter's
    work plus the moment's machine, and the requests of one block meet nearly the same moment;
  * one connection per listener rather than a pool: with one request in flight a pool would only
    rotate cold sockets; every listener keeps one warm connection, alike for all;
  * a fixed rate (slots 1/RATE apart, the variants' order shuffled in each block of one request
    per variant; with BURST=1 a block's requests go back to back, blocks len/RATE apart) far below
    saturation, so Envoy is idle between requests as in the target's
    reading, and the client sleeps most of the time: its own CPU (reported) hardly competes with
    Envoy for the 2 cores. A slot missed because a response came late is skipped, not caught up.
Latency: from the first byte written to the last byte of the response read (time.perf_counter_ns),
so it includes the client's own send and parse (some tens of µs of Python), the same for every
listener: it cancels in the paired differences, not in the absolute medians.
Every response is checked (status 200, and the filter's header: x-noop-bytes with the body's
length for the no-op filter, x-airlock-decision for Airlock), so each timed request really went
through its listener's filter."""
import gc
import socket
import time
from urllib.parse import urlparse

from envoy_bench import Failure, filter_kind


class Listener:
    """One keep-alive connection to one listener, sending the same request each time."""

    def __init__(self, variant: str, url: str, body: bytes, host: str = "api.openai.com"):
        self.variant, self.kind = variant, filter_kind(variant)
        u = urlparse(url)
        self.addr = (u.hostname, u.port)
        self.request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        self.noop_header = b"\r\nx-noop-bytes: %d\r\n" % len(body)
        self.sock = None

    def connect(self):
        self.sock = socket.create_connection(self.addr, timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def send(self) -> int:
        """One request; its latency in ns. Raises Failure on a wrong answer."""
        if self.sock is None:
            self.connect()
        t0 = time.perf_counter_ns()
        self.sock.sendall(self.request)
        head, rest = self._read_head()
        body_len = self._read_body(head, rest)
        t1 = time.perf_counter_ns()
        self._check(head, body_len)
        if b"\r\nconnection: close" in head:
            self.close()
        return t1 - t0

    def _read_head(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure(f"{self.variant}: the connection closed before a response")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        return head.lower() + b"\r\n", rest

    def _read_body(self, head: bytes, rest: bytes) -> int:
        if b"\r\ncontent-length:" in head:
            n = int(head.split(b"\r\ncontent-length:", 1)[1].split(b"\r\n", 1)[0])
            while len(rest) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise Failure(f"{self.variant}: the connection closed inside a response body")
                rest += chunk
            return n
        if b"\r\ntransfer-encoding: chunked" in head:
            # The answer is a short JSON without this sequence: its end is the last chunk.
            while not rest.endswith(b"0\r\n\r\n"):
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise Failure(f"{self.variant}: the connection closed inside a chunked body")
                rest += chunk
            return len(rest)
        raise Failure(f"{self.variant}: a response with neither content-length nor chunked encoding")

    def _check(self, head: bytes, body_len: int):
        if not head.startswith(b"http/1.1 200"):
            status_line = head.split(b"\r\n", 1)[0]
            raise Failure(f"{self.variant}: answered {status_line!r}: numbers are worthless")
        if self.kind == "noop" and self.noop_header not in head:
            raise Failure(f"{self.variant}: a response without the no-op filter's x-noop-bytes for this body")
        if self.kind == "airlock" and b"\r\nx-airlock-decision:" not in head:
            raise Failure(f"{self.variant}: a response without x-airlock-decision: Airlock did not inspect it")
        if self.kind == "none" and (b"\r\nx-noop-bytes:" in head or b"\r\nx-airlock-decision:" in head):
            raise Failure(f"{self.variant}: a filter answered on the no-filter listener")


def cpu_pressure_us():
    """The kernel's total µs during which some runnable task waited for a CPU (/proc/pressure/cpu,
    "some"), or None without PSI. Its growth over a second is the share of that second the machine
    was short of CPU: the other sessions' compilers, not us, on a shared 2-core machine."""
    try:
        with open("/proc/pressure/cpu") as f:
            return int(f.readline().rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def run(listeners: dict, blocks: list, rate: float, burst: bool = False) -> dict:
    """Send `blocks` (lists of variant names, in order) at `rate` requests per second in all:
    one request every 1/rate s, or with `burst` a block's requests back to back and one block
    every len(block)/rate s (the pair's requests then meet closer moments).
    Returns lat {variant: {block index: latency in µs}}, start {block: s since the start},
    pressure [(s since the start, cpu_pressure_us())] about once a second, missed (slots
    skipped) and took (s)."""
    lat = {v: {} for v in listeners}
    starts, pressure = {}, []
    missed = 0
    gc.disable()  # a collection in the middle of a timed request would land on one listener only
    try:
        start = next_slot = time.perf_counter()
        pressure.append((0.0, cpu_pressure_us()))
        for b, order in enumerate(blocks):
            starts[b] = time.perf_counter() - start
            if starts[b] - pressure[-1][0] >= 1.0:
                pressure.append((starts[b], cpu_pressure_us()))
            for i, v in enumerate(order):
                interval = len(order) / rate if burst else 1.0 / rate
                if i == 0 or not burst:
                    now = time.perf_counter()
                    if now < next_slot:
                        time.sleep(next_slot - now)
                    elif now > next_slot + interval:
                        missed += int((now - next_slot) / interval)
                        next_slot = now
                    next_slot += interval
                lat[v][b] = listeners[v].send() / 1000.0
        took = time.perf_counter() - start
        pressure.append((took, cpu_pressure_us()))
        return dict(lat=lat, start=starts, pressure=pressure, missed=missed, took=took)
    finally:
        gc.enable()
