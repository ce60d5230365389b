"""What the Envoy benches (envoy-load.sh, envoy-replay.sh, envoy-paired.sh) share: the upstream
Envoy that answers every request itself, the CPU time of a process, and the checks that a front
Envoy's filter really ran (a probe request, Airlock's counters, the log)."""
import json
import os
import re
import signal
import sys

import harness  # envoy/harness.py: the callers put envoy/ on sys.path

# The upstream's answer to every request, and what a probe looks for to know it got through.
CHAT_ANSWER = ('{"id":"chatcmpl-bench","object":"chat.completion","choices":[{"index":0,'
               '"message":{"role":"assistant","content":"ok"}}]}')
BENCH_HASH_KEY = "airlock-bench-key-0123456789abcdef"  # a fixed, public bench key (not a secret)


class Failure(RuntimeError):
    """A run whose numbers are worthless (a filter not engaged, a non-2xx answer, a dead Envoy)."""


def upstream_bootstrap(answer: str) -> str:
    """An Envoy bootstrap (admin and listener on free ports) that buffers each request and
    answers it with `answer` (a JSON text without single quotes), so neither Python nor a real
    upstream limits the numbers."""
    return """
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: upstream
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    per_connection_buffer_limit_bytes: 8388608
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: upstream
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                direct_response:
                  status: 200
                  body: {inline_string: '%s'}
          http_filters:
          - name: envoy.filters.http.buffer
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer, max_request_bytes: 8388608}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
""" % answer


def cpu_s(pid: int) -> float:
    """User plus system CPU time of process `pid`, in seconds (/proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def filter_kind(variant: str) -> str:
    """What filter a variant's name stands for: none, noop or airlock. A name may carry a suffix
    so that one kind can appear twice in a run (noop2 for an A/A check); base is Airlock too."""
    for kind in ("none", "noop", "airlock"):
        if variant.startswith(kind):
            return kind
    if variant.startswith("base"):
        return "airlock"
    raise ValueError(f"unknown variant {variant!r} (none, noop, airlock, base, with an optional suffix)")


def probe(url: str, variant: str, body: bytes, front) -> str:
    """Send one request through `url` and check that `variant`'s filter handled it; return
    Airlock's decision header ("-" for the others). `front` is the harness.Envoy, for its log."""
    status, headers, resp = harness.http("POST", url + "/v1/chat/completions", body,
                                         {"content-type": "application/json", "host": "api.openai.com"})
    headers = {k.lower(): v for k, v in headers.items()}
    if status != 200 or b"chatcmpl-bench" not in resp:
        raise Failure(f"{variant}: the probe request got {status} {resp[:300]!r} instead of the upstream's "
                      f"answer; front log {front.log_path}:\n{front.proc.log_tail(40)}")
    kind = filter_kind(variant)
    if kind == "noop" and headers.get("x-noop-bytes") != str(len(body)):
        raise Failure(f"{variant}: the no-op filter did not see the {len(body)}-byte body "
                      f"(x-noop-bytes: {headers.get('x-noop-bytes')!r}): the wasm filter is not engaged")
    if kind == "airlock" and "x-airlock-decision" not in headers:
        raise Failure(f"{variant}: the response has no x-airlock-decision header: Airlock did not inspect the request")
    if kind == "none" and ("x-airlock-decision" in headers or "x-noop-bytes" in headers):
        raise Failure(f"{variant}: a filter answered in the no-filter variant")
    return headers.get("x-airlock-decision", "-")


def airlock_counters(envoy) -> dict:
    """Airlock's own counters: /stats shows them as wasmcustom.airlock.* (full names, tags not extracted)."""
    return {k.removeprefix("wasmcustom."): v for k, v in envoy.stats(r"^wasmcustom\.airlock\.").items()}


def check_inspected(before: dict, after: dict, completed: int, what: str) -> str:
    """Fail unless airlock.requests_inspected_total grew by at least `completed` (requests still in
    flight when a load stopped may have been inspected too) with no inspection error; return how
    much it grew and a line saying what was checked and which counters moved."""
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    inspected = delta.get("airlock.requests_inspected_total", 0)
    if inspected < completed:
        raise Failure(f"{what}: airlock.requests_inspected_total grew by {inspected} while {completed} requests "
                      f"completed: Airlock did not inspect the traffic that was measured (counter changes: {delta})")
    bad = {k: v for k, v in delta.items()
           if k.startswith(("airlock.inspection_errors", "airlock.fail_mode", "airlock.limit_hits_total",
                            "airlock.policy_load_failures_total"))}
    if bad:
        raise Failure(f"{what}: inspection errors during the run: {bad}")
    return int(inspected), (f"airlock.requests_inspected_total +{int(inspected)} for {completed} completed requests ({what}); "
            "counters that moved: " + ", ".join(f"{k} +{int(v)}" for k, v in sorted(delta.items())))


def inspection_quantiles(envoy, name: str = "inspection_time_microseconds", kind: str = "cumulative"):
    """The p50 and p99 of one of Airlock's histograms from /stats (`kind`: cumulative or interval;
    stats flush every stats_flush_interval, so "interval" is the last such interval)."""
    _, _, raw = harness.http("GET", envoy.admin + "/stats?format=json&filter=" + name)
    for s in json.loads(raw).get("stats", []):
        h = s.get("histograms")
        if not h:
            continue
        qs = h["supported_quantiles"]
        for cq in h.get("computed_quantiles", []):
            if cq["name"].endswith(name):
                vals = {q: v.get(kind) for q, v in zip(qs, cq["values"])}
                return vals.get(50), vals.get(99)
    return None, None


def log_problems(envoy) -> list:
    """Lines of an Envoy's log (level warning and up) that say something went wrong."""
    try:
        text = envoy.log_text()
    except OSError:
        return []
    return [l for l in text.splitlines()
            if re.search(r"\]\[(error|critical)\]|wasm|panic|Failed|failed", l)]


def exit_on_signals(bench: str, what: str) -> None:
    """Turn TERM, HUP and INT into SystemExit, so that the callers' finally blocks and harness's
    atexit stop `what` (the load and the Envoys) before the process ends."""
    def terminate(signum, _frame):
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            # once: a second signal (Ctrl-C reaches us and the shell) must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        print(f"\n{bench}: interrupted ({signal.Signals(signum).name}): stopping {what}", file=sys.stderr)
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, terminate)
