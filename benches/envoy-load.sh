#!/usr/bin/env bash
# Airlock in real Envoy: the latency it adds to an 8 KiB chat request, and saturation throughput.
#
# Three front Envoys, one after the other, each on loopback in front of the same upstream:
#   none     no HTTP filter but the router
#   noop     a no-op buffering wasm filter (benches/noop-filter: holds the body to end of stream, copies it
#            into the VM, lets it go) + the buffer filter, exactly as Airlock is deployed (envoy/config.py)
#   airlock  Airlock with the embedded default policy + the buffer filter
#   base     the same with another Airlock module, $BASE_WASM (an A/B of two builds in one run; see envoy-ab.sh)
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
# Also reported: Airlock's own airlock.inspection_time_microseconds histogram (real clock inside V8), and the
# front Envoy's RSS before and after its runs.
# The added p50 read across separate fronts moves with the machine's load between them (0.46–0.81 ms for the
# no-op alone on a shared 2-core machine): benches/envoy-paired.sh reads it with the filters side by side.
#
# Bounded: about 2 min in all with the defaults (plus a one-off build of benches/envoy-load-body); loopback
# only; every process it starts is in its own process group and is stopped on exit (envoy/harness.py), also
# on failure, Ctrl-C or SIGTERM.
#
# Usage: bash benches/envoy-load.sh        (env: RATE=200 CONNS=4 DURATION=15 SAT_CONNS=16 SAT_DURATION=10
#                                           WARMUP=3 ENVOY_CONCURRENCY=1 BODY=path/to/body.json VARIANTS="none noop airlock"; BASE_WASM=old.wasm with base)
# Needs: .venv/bin/envoy (bash envoy/setup.sh), both modules built (the commands are printed when one is
#        missing; the noop module is looked for in $CARGO_TARGET_DIR, else benches/noop-filter/target), wrk.
# Fails (exit 1) when a filter is not engaged: the noop probe must echo the body length (x-noop-bytes), the
# airlock probe must carry x-airlock-decision and airlock.requests_inspected_total must grow by at least the number of
# requests wrk completed, with no inspection errors; any non-2xx response also fails the run.
set -euo pipefail

export RATE=${RATE:-200} CONNS=${CONNS:-4} DURATION=${DURATION:-15} SAT_CONNS=${SAT_CONNS:-16}
export SAT_DURATION=${SAT_DURATION:-10} WARMUP=${WARMUP:-3} ENVOY_CONCURRENCY=${ENVOY_CONCURRENCY:-1}
export VARIANTS=${VARIANTS:-"none noop airlock"}
for v in $VARIANTS; do
  case $v in none|noop|airlock|base) ;; *) echo "envoy-load: unknown variant '$v' in VARIANTS (none, noop, airlock, base)" >&2; exit 1;; esac
done
BENCH=envoy-load
# REPO, the modules, RUN, BODY, die, run_in_background
source "$(dirname "${BASH_SOURCE[0]}")/envoy-env.sh"
if ! command -v wrk >/dev/null; then
  echo "envoy-load: installing wrk (Debian package)" >&2
  { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || die "could not install wrk (apt-get install wrk)"
fi

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
# In the background so that a TERM/INT/HUP to this script reaches it (run_in_background, envoy-env.sh): it
# then stops both Envoys and wrk before exiting.
run_in_background "$REPO/.venv/bin/python" - <<'PY'
import os, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "envoy"))
sys.path.insert(0, os.path.join(os.getcwd(), "benches"))
import config, harness  # noqa: E402
import envoy_bench  # noqa: E402
from envoy_bench import Failure, airlock_counters, check_inspected, cpu_s, inspection_quantiles, log_problems, probe  # noqa: E402

RUN, BODY = os.environ["RUN"], os.environ["BODY"]
RATE, CONNS, DURATION = int(os.environ["RATE"]), int(os.environ["CONNS"]), int(os.environ["DURATION"])
SAT_CONNS, SAT_DURATION, WARMUP = int(os.environ["SAT_CONNS"]), int(os.environ["SAT_DURATION"]), int(os.environ["WARMUP"])
CONC = int(os.environ["ENVOY_CONCURRENCY"])
body = open(BODY, "rb").read()

UPSTREAM = envoy_bench.upstream_bootstrap(envoy_bench.CHAT_ANSWER)

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

def wrk(url, conns, duration, delay_ms):
    env = dict(os.environ, BODY_FILE=BODY, DELAY_MS=str(delay_ms))
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "5s", "-s", os.path.join(RUN, "load.lua"), url + "/v1/chat/completions"]
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=duration + 30)
    line = next((l for l in p.stdout.splitlines() if l.startswith("RESULT ")), None)
    if p.returncode != 0 or line is None:
        raise Failure(f"wrk exited with {p.returncode} and gave no result:\n{p.stdout}\n{p.stderr}")
    r = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    if r["requests"] <= 0:
        raise Failure(f"wrk completed no request:\n{p.stdout}")
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r

envoy_bench.exit_on_signals("envoy-load", "wrk and the Envoys")

results, warnings = {}, []
load_at_start = os.getloadavg()
upstream = None
try:
    upstream = harness.Envoy(RUN, None, name="upstream", bootstrap_text=UPSTREAM, concurrency=1,
                             log_level="warning", component_log_level="")
    for variant in os.environ["VARIANTS"].split():
        wasm = {"none": None, "noop": os.environ["NOOP_WASM"], "airlock": os.environ["AIRLOCK_WASM"],
                "base": os.environ["BASE_WASM"]}[variant]
        is_airlock = variant in ("airlock", "base")
        opts = config.Options(upstream_port=upstream.port, wasm=wasm, plugin_config="",
                              hash_key=envoy_bench.BENCH_HASH_KEY if is_airlock else None,
                              stats_flush_interval="1s")
        front = harness.Envoy(RUN, opts, name=f"front-{variant}", concurrency=CONC, log_level="warning",
                              component_log_level="")
        try:
            decision = probe(front.url, variant, body, front)
            counters0 = airlock_counters(front) if is_airlock else {}
            warm = wrk(front.url, CONNS, WARMUP, 0)
            rss_before = rss_kib(front.proc.popen.pid)
            cpu0 = cpu_s(front.proc.popen.pid)
            fixed = wrk(front.url, CONNS, DURATION, CONNS * 1000 // RATE)
            fixed["cpu_us"] = (cpu_s(front.proc.popen.pid) - cpu0) * 1e6 / max(fixed["requests"], 1)
            # Stats flush every 1 s; the last interval's quantiles are the end of the fixed-rate run.
            time.sleep(1.1)
            insp_fixed = inspection_quantiles(front, "inspection_time_microseconds", "interval") if is_airlock else (None, None)
            cpu0 = cpu_s(front.proc.popen.pid)
            sat = wrk(front.url, SAT_CONNS, SAT_DURATION, 0)
            sat["cpu_us"] = (cpu_s(front.proc.popen.pid) - cpu0) * 1e6 / max(sat["requests"], 1)
            time.sleep(1.1)
            insp_sat = inspection_quantiles(front, "inspection_time_microseconds", "interval") if is_airlock else (None, None)
            rss_after = rss_kib(front.proc.popen.pid)
            if not front.alive():
                raise Failure(f"{variant}: the front Envoy died during the run:\n{front.proc.log_tail(40)}")
            for phase, r in (("warm-up", warm), ("fixed rate", fixed), ("saturation", sat)):
                if r["non2xx"]:
                    raise Failure(f"{variant}: {int(r['non2xx'])} of {int(r['requests'])} responses were not 2xx "
                                  f"during the {phase} run (a failing filter answers 500/503): numbers are worthless; "
                                  f"front log {front.log_path}:\n{front.proc.log_tail(40)}")
                if r["errors"]:
                    warnings.append(f"{variant}: {int(r['errors'])} socket errors (connect/read/write/timeout) "
                                    f"in the {phase} run")
            inspected, checked = None, None
            if is_airlock:
                completed = int(warm["requests"] + fixed["requests"] + sat["requests"])
                inspected, checked = check_inspected(counters0, airlock_counters(front), completed,
                                                     f"{variant}: warm-up, fixed rate, saturation")
                if insp_fixed == (None, None) and insp_sat == (None, None):
                    warnings.append(f"{variant}: no airlock.inspection_time_microseconds histogram in /stats")
            problems = log_problems(front)
            if problems:
                warnings.append(f"{variant}: the front Envoy logged (warning and up):\n    " + "\n    ".join(problems[:10]))
            results[variant] = dict(decision=decision, fixed=fixed, sat=sat, rss_before=rss_before,
                                    rss_after=rss_after, insp_fixed=insp_fixed, insp_sat=insp_sat,
                                    inspected=inspected, checked=checked)
            print(f"{variant}: done ({int(fixed['requests'])} + {int(sat['requests'])} requests"
                  + (f", airlock.requests_inspected_total +{inspected}" if inspected is not None else "") + ")",
                  file=sys.stderr)
        finally:
            front.stop()
except (Failure, harness.StartError) as e:
    print(f"\nenvoy-load: FAILED: {e}", file=sys.stderr)
    sys.exit(1)
finally:
    if upstream is not None:
        upstream.stop()

def ms(us):
    return f"{us / 1000:.3f}"

print(f"\n{os.cpu_count()} CPUs, load average when the run started {load_at_start[0]:.2f} (1 min), "
      f"at its end {os.getloadavg()[0]:.2f}")
print(f"body: {len(body)} bytes ({BODY}); front Envoy --concurrency {CONC}; fixed rate: {CONNS} connections, "
      f"target {RATE} rps, {DURATION} s; saturation: {SAT_CONNS} connections, {SAT_DURATION} s\n")
print("| front | decision | achieved rps | p50 ms | p90 ms | p99 ms | p99.9 ms | Envoy CPU µs/req | errors | saturation rps | sat. p50 ms | sat. p99 ms | sat. Envoy CPU µs/req | RSS before → after (MiB) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for v, r in results.items():
    f, s = r["fixed"], r["sat"]
    errs = int(f["errors"] + f["non2xx"] + s["errors"] + s["non2xx"])
    print(f"| {v} | {r['decision']} | {f['rps']:.0f} | {ms(f['p50'])} | {ms(f['p90'])} | {ms(f['p99'])} | {ms(f['p999'])} | {f['cpu_us']:.0f} | {errs} | "
          f"{s['rps']:.0f} | {ms(s['p50'])} | {ms(s['p99'])} | {s['cpu_us']:.0f} | {r['rss_before'] / 1024:.1f} → {r['rss_after'] / 1024:.1f} |")
def us(v):
    return "n/a" if v is None else f"{v:.0f}"
for name in ("airlock", "base"):
    if name not in results:
        continue
    a = results[name]
    label = "Airlock" if name == "airlock" else "Airlock (base: BASE_WASM)"
    print()
    for base in ("none", "noop"):
        if base in results:
            b = results[base]
            print(f"{label} adds vs {base}: p50 {ms(a['fixed']['p50'] - b['fixed']['p50'])} ms, "
                  f"p99 {ms(a['fixed']['p99'] - b['fixed']['p99'])} ms; saturation "
                  f"{100 * (a['sat']['rps'] / b['sat']['rps'] - 1):+.0f}%")
    for phase in ("fixed", "sat"):
        p50, p99 = a[f"insp_{phase}"]
        what = "at the fixed rate" if phase == "fixed" else "at saturation"
        print(f"{name}: airlock.inspection_time_microseconds inside V8, last second {what}: p50 {us(p50)} us, p99 {us(p99)} us")
    print(f"{name} checked: {a['checked']}")
for w in warnings:
    print(f"WARNING: {w}")
PY
