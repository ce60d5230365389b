#!/usr/bin/env bash
# Airlock in real Envoy under conversation replay: what the inspection cache saves in Envoy CPU.
#
# Coding agents and chat clients re-send the whole conversation every turn. This replays seeded
# sessions (benches/src/conversation.rs: a coding agent's 50 turns growing to ~415 KB, in the OpenAI
# chat, OpenAI Responses and Anthropic shapes) through three front Envoys, one after the other, each
# on loopback in front of the same upstream (a second Envoy answering every request itself):
#   noop       the no-op buffering wasm filter + the buffer filter (what any wasm filter costs)
#   uncached   Airlock, default policy, `cache.max_bytes: 0` (every request inspected whole)
#   cached     Airlock, default policy, the cache at its default budget (8 MiB per VM)
#   cached-spread    the same with two workers (--concurrency 2, so two VMs, each its own cache) and
#                    a new connection per request, so a caller's turns land on either worker: what
#                    per-VM caches lose when nothing keeps a caller on one worker (the upper bound
#                    of what sharing the cache across VMs could win back)
#   uncached-spread  the same without the cache
# Each session is one caller (its own `authorization` header, so its own cache partition); the
# sessions run at the same time, each sending its turns in order. Measured per variant: the front
# Envoy's CPU time (user + system, /proc) over the replay, per request and per MB sent, and Airlock's
# cache counters. Envoy CPU is a count of work, not a latency, so a loaded machine inflates it less
# than wall-clock figures; still, compare the variants of one run only.
#
# Checked (exit 1 otherwise): every request is answered 200 or 403; the cached and uncached runs give
# every request the same decision (x-airlock-decision or the block), in the same order; the cached run
# served fields from the cache and the uncached one did not.
#
# WARMUP (default none; e.g. WARMUP="agent:openai-chat:7 agent:anthropic:8") names sessions each front
# Envoy is sent first, from other callers, outside the measured time: V8 compiles a module's hot
# functions again (optimizing tier) while the first requests run, and on its own threads, which a
# cold measure charges to the first session; a long-lived proxy pays it once, not per session.
#
# Usage: bash benches/envoy-replay.sh     (env: SESSIONS="agent:openai-chat:1 agent:openai-responses:2
#                                           agent:anthropic:3" VARIANTS="noop uncached cached",
#                                           also cached-spread, uncached-spread; WARMUP)
# Needs: .venv/bin/envoy (bash envoy/setup.sh) and both modules built, as benches/envoy-load.sh.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
export AIRLOCK_WASM=${AIRLOCK_WASM:-$TARGET/wasm32-wasip1/release/airlock_filter.wasm}
if [ -z "${NOOP_WASM:-}" ]; then
  NOOP_WASM=$TARGET/wasm32-wasip1/release/airlock_bench_noop_filter.wasm
  [ -n "${CARGO_TARGET_DIR:-}" ] || NOOP_WASM=$REPO/benches/noop-filter/target/wasm32-wasip1/release/airlock_bench_noop_filter.wasm
fi
export NOOP_WASM
export SESSIONS=${SESSIONS:-"agent:openai-chat:1 agent:openai-responses:2 agent:anthropic:3"}
export VARIANTS=${VARIANTS:-"noop uncached cached"}
export WARMUP=${WARMUP:-}

die() { echo "envoy-replay: $*" >&2; exit 1; }
[ -f "$AIRLOCK_WASM" ] || die "missing $AIRLOCK_WASM: cargo build --release --target wasm32-wasip1 -p airlock-filter"
case " $VARIANTS " in *" noop "*)
  [ -f "$NOOP_WASM" ] || die "missing $NOOP_WASM: cargo build --release --target wasm32-wasip1 --manifest-path benches/noop-filter/Cargo.toml";;
esac
[ -x "$REPO/.venv/bin/envoy" ] || die "no $REPO/.venv/bin/envoy: run bash envoy/setup.sh"

RUN=$(mktemp -d "${TMPDIR:-/tmp}/airlock-envoy-replay.XXXXXX")
export RUN
trap 'rc=$?; if [ $rc -eq 0 ] && [ -z "${KEEP_RUN:-}" ]; then rm -rf "$RUN"; else echo "envoy-replay: logs kept in $RUN" >&2; fi' EXIT
cargo build -q -j"${CARGO_JOBS:-1}" --release --manifest-path "$REPO/benches/envoy-load-body/Cargo.toml" \
  || die "could not build benches/envoy-load-body"
BODIES=${CARGO_TARGET_DIR:-$REPO/benches/envoy-load-body/target}/release/airlock-envoy-load-body
for s in $SESSIONS $WARMUP; do
  IFS=: read -r kind shape seed <<<"$s"
  "$BODIES" session "$kind" "$shape" "$seed" "$RUN/sessions/$s" || die "could not write session $s"
done

cd "$REPO"
exec "$REPO/.venv/bin/python" - <<'PY'
import json, os, sys, threading, time, http.client
sys.path.insert(0, os.path.join(os.getcwd(), "envoy"))
sys.path.insert(0, os.path.join(os.getcwd(), "benches"))
import config, harness  # noqa: E402
import envoy_bench  # noqa: E402
from envoy_bench import cpu_s  # noqa: E402

RUN = os.environ["RUN"]
UPSTREAM = envoy_bench.upstream_bootstrap('{"id":"replay","choices":[]}')

def load(names):
    out = []
    for name in names.split():
        d = os.path.join(RUN, "sessions", name)
        host, path = open(os.path.join(d, "target")).read().split()
        turns = [open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d)) if f.startswith("turn-")]
        out.append((name, host, path, turns))
    return out

sessions = load(os.environ["SESSIONS"])
warmup = load(os.environ["WARMUP"])

def replay(port, index, session, decisions, spread):
    """Sends one session's turns in order: on one kept-alive connection, or (spread) on a new
    connection each, which the kernel hands to either worker."""
    name, host, path, turns = session
    conn = None
    for body in turns:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", path, body, {"content-type": "application/json", "host": host,
                                          "authorization": f"Bearer sk-replay-caller-{index}"})
        r = conn.getresponse()
        r.read()
        decisions.append((r.status, r.getheader("x-airlock-decision", "-")))
        if spread:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()

def counters(front):
    return {k.removeprefix("wasmcustom."): v for k, v in front.stats(r"^wasmcustom\.airlock\.cache_").items()}

results, failures = {}, []
upstream = harness.Envoy(RUN, None, name="upstream", bootstrap_text=UPSTREAM, concurrency=1,
                         log_level="warning", component_log_level="")
try:
    for variant in os.environ["VARIANTS"].split():
        base, spread = variant.removesuffix("-spread"), variant.endswith("-spread")
        workers = 2 if spread else 1
        wasm = os.environ["NOOP_WASM"] if base == "noop" else os.environ["AIRLOCK_WASM"]
        plugin = {"noop": "", "cached": "",
                  "uncached": json.dumps({"airlock_config": 1, "cache": {"max_bytes": 0}})}[base]
        opts = config.Options(upstream_port=upstream.port, wasm=wasm, plugin_config=plugin,
                              hash_key=None if base == "noop" else "airlock-bench-key-0123456789abcdef",
                              stats_flush_interval="1s")
        front = harness.Envoy(RUN, opts, name=f"front-{variant}", concurrency=workers, log_level="warning",
                              component_log_level="")
        try:
            port = int(front.url.rsplit(":", 1)[1])
            per_session = [[] for _ in sessions]
            pid = front.proc.popen.pid
            # Warm-up sessions (other callers: 1000 + i), not measured.
            for i, s in enumerate(warmup):
                replay(port, 1000 + i, s, [], spread)
            cpu0, wall0 = cpu_s(pid), time.monotonic()
            threads = [threading.Thread(target=replay, args=(port, i, s, per_session[i], spread))
                       for i, s in enumerate(sessions)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            cpu, wall = cpu_s(pid) - cpu0, time.monotonic() - wall0
            time.sleep(1.2)  # a stats flush
            results[variant] = dict(cpu=cpu, wall=wall, decisions=per_session,
                                    cache=counters(front) if base != "noop" else {}, workers=workers)
            print(f"{variant}: done, Envoy CPU {cpu:.2f} s over {wall:.1f} s", file=sys.stderr)
        finally:
            front.stop()
finally:
    upstream.stop()

requests = sum(len(s[3]) for s in sessions)
mb = sum(len(b) for s in sessions for b in s[3]) / 1e6
for v, r in results.items():
    bad = [d for ds in r["decisions"] for d in ds if d[0] not in (200, 403)]
    if bad:
        failures.append(f"{v}: {len(bad)} requests answered neither 200 nor 403, e.g. {bad[0]}")
airlock = [v for v in results if v.removesuffix("-spread") != "noop"]
for v in airlock[1:]:
    if results[v]["decisions"] != results[airlock[0]]["decisions"]:
        failures.append(f"the {airlock[0]} and {v} runs decided differently")
for v in airlock:
    hits = results[v]["cache"].get("airlock.cache_hits_total", 0)
    if v.startswith("cached") and hits <= 0:
        failures.append(f"the {v} run served nothing from the cache")
    if v.startswith("uncached") and hits != 0:
        failures.append(f"the {v} run served fields from a cache")

print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {len(sessions)} sessions at once "
      f"({', '.join(s[0] for s in sessions)}), {requests} requests, {mb:.1f} MB of bodies"
      f"{'; after warm-up sessions ' + ', '.join(s[0] for s in warmup) if warmup else ''}\n")
print("| front | workers | Envoy CPU s | CPU µs / request | CPU ms / MB | above noop, µs / request | cache hits / misses |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
noop = results.get("noop")
for v, r in results.items():
    above = "" if noop is None or v == "noop" else f"{(r['cpu'] - noop['cpu']) * 1e6 / requests:.0f}"
    cache = r["cache"]
    hm = (f"{int(cache.get('airlock.cache_hits_total', 0))} / {int(cache.get('airlock.cache_misses_total', 0))}"
          if v != "noop" else "")
    print(f"| {v} | {r['workers']} | {r['cpu']:.2f} | {r['cpu'] * 1e6 / requests:.0f} | {r['cpu'] * 1e3 / mb:.1f} | {above} | {hm} |")
if noop and "cached" in results and "uncached" in results:
    u, c = results["uncached"]["cpu"] - noop["cpu"], results["cached"]["cpu"] - noop["cpu"]
    if c > 0:
        print(f"\nAirlock's own Envoy CPU (above noop): uncached {u:.2f} s, cached {c:.2f} s: {u / c:.1f}x less with the cache")
if noop and "cached" in results and "cached-spread" in results:
    c, s = results["cached"]["cpu"] - noop["cpu"], results["cached-spread"]["cpu"] - noop["cpu"]
    print(f"Spread over two workers' caches: {s:.2f} s against {c:.2f} s on one: at most {max(s - c, 0):.2f} s "
          f"({max(s - c, 0) / s * 100 if s > 0 else 0:.0f} % of the spread run) for a cache shared across VMs to win back")
for f in failures:
    print(f"FAILED: {f}")
sys.exit(1 if failures else 0)
PY
