#!/usr/bin/env bash
# Airlock's added latency in real Envoy, request by request: one front Envoy with a listener per
# variant (the no-op buffering filter, Airlock, optionally a second Airlock module BASE_WASM), the
# same upstream, and a client that sends one request at a time, interleaving the listeners in a
# freshly shuffled order in every block, at a fixed rate far below saturation. Every module meets
# the same moment's noise, and each Airlock request is paired with the no-op request of its block:
# the report gives each listener's p50/p90/p99 and the paired added latency (median of the paired
# differences with an order-statistic interval; difference of medians with a bootstrap interval).
#
# Why not envoy-load.sh: it runs each variant in its own Envoy one after another, and on a shared
# 2-core machine the no-op's own p50 moves 0.46–0.81 ms between runs, far more than the effect.
# Trade-offs: serial requests (no concurrency, no saturation figure: envoy-load.sh has that);
# a Python client (tens of µs of its own per request, the same for every listener, so it cancels in
# the pairs but is inside the absolute p50s); the same body every request, as in envoy-load.sh (with no
# credential header the request has no caller, so Airlock's inspection cache stays out: every request
# is inspected afresh).
# Measured (benches/RESULTS.md, issue 16's seventeenth round): the client costs 1–6 % of one core; two
# identical no-op listeners pair to within a few µs; the paired median moves 40–100 µs between runs while
# the no-op's own p50 moves ~0.3 ms. The default variants carry that A/A check in every run.
#
# Usage: bash benches/envoy-paired.sh
#   env: VARIANTS="noop airlock noop2" (first = reference; noop2 - noop is the A/A check; "noop airlock
#        base" with BASE_WASM=old.wasm for two modules), RATE=200 (requests/s in all), DURATION=60, WARMUP=5, SEED=1,
#        ENVOY_CONCURRENCY=1, BODY_CLASS=prose BODY_SIZE=8192 (or BODY=file), RESAMPLES=1000,
#        BURST=1 (a block's requests back to back, blocks spaced), FAST_WARMUP=n (n blocks sent back to
#        back before the paced warm-up), RAW_CSV=file (every request's latency),
#        CLIENT_CPU=n (pin the client, not the Envoys, to CPU n), ENVOY_NICE=n (both Envoys and the client
#        at nice n, their autogroups too: -10 shields the request path from other sessions' builds), KEEP_RUN=1.
# Needs: .venv/bin/envoy (bash envoy/setup.sh) and the modules built (the commands are printed).
# Fails (exit 1) when a listener's filter is not engaged: every response must be 200 and carry its
# filter's header (x-noop-bytes = the body's length, x-airlock-decision), each listener's
# downstream_rq_2xx must grow by exactly the requests sent to it, and airlock.requests_inspected_total
# by at least those sent to Airlock listeners, with no inspection error.
# Bounded: WARMUP + DURATION seconds of load plus Envoy's start (~10 s) and the bootstrap intervals
# (~10 s for 4 000 pairs, ~1 min for 16 000);
# loopback only; both Envoys are stopped on exit, also on failure, Ctrl-C or SIGTERM.
set -euo pipefail
export VARIANTS=${VARIANTS:-"noop airlock noop2"} RATE=${RATE:-200} DURATION=${DURATION:-60} WARMUP=${WARMUP:-5}
export SEED=${SEED:-1} ENVOY_CONCURRENCY=${ENVOY_CONCURRENCY:-1} RESAMPLES=${RESAMPLES:-1000} BURST=${BURST:-0}
export FAST_WARMUP=${FAST_WARMUP:-0}
BENCH=envoy-paired
# REPO, the modules, RUN, BODY, die, run_in_background
source "$(dirname "${BASH_SOURCE[0]}")/envoy-env.sh"
cd "$REPO"
run_in_background "$REPO/.venv/bin/python" "$REPO/benches/envoy_paired.py"
