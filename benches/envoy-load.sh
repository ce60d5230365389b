#!/usr/bin/env bash
# Airlock in real Envoy: the latency it adds to an 8 KiB chat request, and saturation throughput.
#
# Three front Envoys, one after the other, each on loopback in front of the same upstream:
#   none     no HTTP filter but the router
#   noop     a no-op buffering wasm filter (benches/noop-filter: holds the body to end of stream, copies it
#            into the VM, lets it go) + the buffer filter, exactly as Airlock is deployed (envoy/config.py)
#   airlock  Airlock with the embedded default policy + the buffer filter
# The upstream is a second Envoy (concurrency 1) that buffers the request and answers with a fixed
# chat-completion JSON (direct_response), so neither Python nor the upstream limits the numbers.
#
# Load generator: wrk 4 from Debian (`apt-get install wrk`; wrk2 with its -R is not packaged). A fixed
# rate is approximated with wrk's Lua `delay()` hook: each of CONNS connections waits an exponentially
# distributed time (mean CONNS/RATE s) before each request, so arrivals are close to Poisson at a little
# under RATE (the achieved rate is reported). A constant delay is wrong here: the connections fall into
# lockstep and every burst of CONNS requests queues on the worker, which inflated "added latency" 10x
# in our first runs. Latency is measured per request by wrk (send to last response byte, microsecond
# histogram); the offered load is far below saturation, so coordinated omission hides little.
# Saturation: SAT_CONNS connections, no delay, SAT_DURATION seconds; requests per second reported.
# Also reported: Airlock's own airlock.inspection_time_us histogram (real clock inside V8), and the
# front Envoy's RSS before and after its runs.
#
# Bounded: about 100 s in all with the defaults; loopback only; every process it starts is in its own
# process group and is stopped on exit (envoy/harness.py), also on failure or Ctrl-C.
#
# Usage: bash benches/envoy-load.sh        (env: RATE=200 CONNS=4 DURATION=15 SAT_CONNS=16 SAT_DURATION=10
#                                           WARMUP=3 ENVOY_CONCURRENCY=1 BODY=path/to/body.json VARIANTS="none noop airlock")
# Needs: .venv/bin/envoy (bash envoy/setup.sh), both modules built (see benches/RESULTS.md), wrk.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
export AIRLOCK_WASM=${AIRLOCK_WASM:-$TARGET/wasm32-wasip1/release/airlock_filter.wasm}
export NOOP_WASM=${NOOP_WASM:-$TARGET/wasm32-wasip1/release/airlock_bench_noop_filter.wasm}
export RATE=${RATE:-200} CONNS=${CONNS:-4} DURATION=${DURATION:-15} SAT_CONNS=${SAT_CONNS:-16}
export SAT_DURATION=${SAT_DURATION:-10} WARMUP=${WARMUP:-3} ENVOY_CONCURRENCY=${ENVOY_CONCURRENCY:-1}
export VARIANTS=${VARIANTS:-"none noop airlock"}

for f in "$AIRLOCK_WASM" "$NOOP_WASM"; do
  [ -f "$f" ] || { echo "missing $f: build it (see benches/RESULTS.md, 'Reproduce')" >&2; exit 1; }
done
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

RUN=$(mktemp -d "${TMPDIR:-/tmp}/airlock-envoy-load.XXXXXX")
export RUN
if [ -z "${BODY:-}" ]; then
  BODY=$RUN/body.json
  (cd "$REPO" && cargo run -q --release -p airlock-benches --example corpus -- prose 8192 1) > "$BODY"
fi
export BODY

cat > "$RUN/load.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Host"] = "api.openai.com"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
if delay_ms > 0 then
  -- Exponential think time: each connection is a Poisson source, so the connections do not fall
  -- into lockstep (a fixed delay makes them send in synchronised bursts that queue behind each other).
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  function delay() return math.floor(-math.log(1 - math.random()) * delay_ms) end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50=%d p90=%d p99=%d p999=%d max=%d mean=%.1f\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
LUA

cd "$REPO"
exec "$REPO/.venv/bin/python" - <<'PY'
import json, os, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "envoy"))
import config, harness  # noqa: E402

RUN, BODY = os.environ["RUN"], os.environ["BODY"]
RATE, CONNS, DURATION = int(os.environ["RATE"]), int(os.environ["CONNS"]), int(os.environ["DURATION"])
SAT_CONNS, SAT_DURATION, WARMUP = int(os.environ["SAT_CONNS"]), int(os.environ["SAT_DURATION"]), int(os.environ["WARMUP"])
CONC = int(os.environ["ENVOY_CONCURRENCY"])
body = open(BODY, "rb").read()

UPSTREAM = """
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
                  body: {inline_string: '{"id":"chatcmpl-bench","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}'}
          http_filters:
          - name: envoy.filters.http.buffer
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer, max_request_bytes: 8388608}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
"""

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def wrk(url, conns, duration, delay_ms):
    env = dict(os.environ, BODY_FILE=BODY, DELAY_MS=str(delay_ms))
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "5s", "-s", os.path.join(RUN, "load.lua"), url + "/v1/chat/completions"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + 30).stdout
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError("wrk gave no result:\n" + out)
    r = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r

def quantiles(envoy, name, kind="cumulative"):
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

upstream = harness.Envoy(RUN, None, name="upstream", bootstrap_text=UPSTREAM, concurrency=1,
                         log_level="warning", component_log_level="")
results = {}
try:
    for variant in os.environ["VARIANTS"].split():
        wasm = {"none": None, "noop": os.environ["NOOP_WASM"], "airlock": os.environ["AIRLOCK_WASM"]}[variant]
        opts = config.Options(upstream_port=upstream.port, wasm=wasm, plugin_config="",
                              hash_key="airlock-bench-key-0123456789abcdef" if variant == "airlock" else None,
                              stats_flush_interval="1s")
        front = harness.Envoy(RUN, opts, name=f"front-{variant}", concurrency=CONC, log_level="warning",
                              component_log_level="")
        try:
            status, headers, _ = harness.http("POST", front.url + "/v1/chat/completions", body,
                                              {"content-type": "application/json", "host": "api.openai.com"})
            decision = {k.lower(): v for k, v in headers.items()}.get("x-airlock-decision", "-")
            assert status == 200, f"{variant}: status {status}"
            wrk(front.url, CONNS, WARMUP, 0)
            rss_before = rss_kib(front.proc.popen.pid)
            cpu0 = cpu_s(front.proc.popen.pid)
            fixed = wrk(front.url, CONNS, DURATION, CONNS * 1000 // RATE)
            fixed["cpu_us"] = (cpu_s(front.proc.popen.pid) - cpu0) * 1e6 / max(fixed["requests"], 1)
            # Stats flush every 1 s; the last interval's quantiles are the end of the fixed-rate run.
            time.sleep(1.1)
            insp_fixed = quantiles(front, "inspection_time_us", "interval") if variant == "airlock" else (None, None)
            cpu0 = cpu_s(front.proc.popen.pid)
            sat = wrk(front.url, SAT_CONNS, SAT_DURATION, 0)
            sat["cpu_us"] = (cpu_s(front.proc.popen.pid) - cpu0) * 1e6 / max(sat["requests"], 1)
            time.sleep(1.1)
            insp_sat = quantiles(front, "inspection_time_us", "interval") if variant == "airlock" else (None, None)
            rss_after = rss_kib(front.proc.popen.pid)
            results[variant] = dict(decision=decision, fixed=fixed, sat=sat, rss_before=rss_before,
                                    rss_after=rss_after, insp_fixed=insp_fixed, insp_sat=insp_sat)
            print(f"{variant}: done", file=sys.stderr)
        finally:
            front.stop()
finally:
    upstream.stop()

def ms(us):
    return f"{us / 1000:.3f}"

print(f"\nbody: {len(body)} bytes ({BODY}); front Envoy --concurrency {CONC}; fixed rate: {CONNS} connections, "
      f"target {RATE} rps, {DURATION} s; saturation: {SAT_CONNS} connections, {SAT_DURATION} s\n")
print("| front | decision | achieved rps | p50 ms | p90 ms | p99 ms | p99.9 ms | Envoy CPU µs/req | errors | saturation rps | sat. p50 ms | sat. p99 ms | sat. Envoy CPU µs/req | RSS before → after (MiB) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for v, r in results.items():
    f, s = r["fixed"], r["sat"]
    errs = int(f["errors"] + f["non2xx"] + s["errors"] + s["non2xx"])
    print(f"| {v} | {r['decision']} | {f['rps']:.0f} | {ms(f['p50'])} | {ms(f['p90'])} | {ms(f['p99'])} | {ms(f['p999'])} | {f['cpu_us']:.0f} | {errs} | "
          f"{s['rps']:.0f} | {ms(s['p50'])} | {ms(s['p99'])} | {s['cpu_us']:.0f} | {r['rss_before'] / 1024:.1f} → {r['rss_after'] / 1024:.1f} |")
if "airlock" in results:
    a = results["airlock"]
    print()
    for base in ("none", "noop"):
        if base in results:
            b = results[base]
            print(f"Airlock adds vs {base}: p50 {ms(a['fixed']['p50'] - b['fixed']['p50'])} ms, "
                  f"p99 {ms(a['fixed']['p99'] - b['fixed']['p99'])} ms; saturation "
                  f"{100 * (a['sat']['rps'] / b['sat']['rps'] - 1):+.0f}%")
    def us(v):
        return "n/a" if v is None else f"{v:.0f}"
    for phase in ("fixed", "sat"):
        p50, p99 = a[f"insp_{phase}"]
        what = "at the fixed rate" if phase == "fixed" else "at saturation"
        print(f"airlock.inspection_time_us inside V8, last second {what}: p50 {us(p50)} us, p99 {us(p99)} us")
PY
