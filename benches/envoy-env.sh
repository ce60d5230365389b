# Sourced by benches/envoy-load.sh and benches/envoy-paired.sh: what both need before their Python
# runs. Sets REPO, AIRLOCK_WASM, NOOP_WASM, BASE_WASM (exported), checks that the modules VARIANTS
# names are built and that the venv's Envoy is there, makes the run directory RUN (removed on
# success, kept on failure or with KEEP_RUN=1), and writes the request body BODY unless one is given
# (BODY_CLASS and BODY_SIZE pick it from the benchmark corpus; prose 8192 by default).
# Also defines die() (prefixed with $BENCH, the caller's name) and run_in_background.
# Variant names: none, noop, airlock, base, optionally with a suffix (noop2) for a second listener.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "$BENCH: $*" >&2; exit 1; }

TARGET=${CARGO_TARGET_DIR:-$REPO/target}
export AIRLOCK_WASM=${AIRLOCK_WASM:-$TARGET/wasm32-wasip1/release/airlock_filter.wasm}
if [ -z "${NOOP_WASM:-}" ]; then
  # benches/noop-filter is its own workspace: without CARGO_TARGET_DIR it builds into its own target/.
  NOOP_WASM=$TARGET/wasm32-wasip1/release/airlock_bench_noop_filter.wasm
  if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    NOOP_WASM=$REPO/benches/noop-filter/target/wasm32-wasip1/release/airlock_bench_noop_filter.wasm
  fi
fi
export NOOP_WASM BASE_WASM=${BASE_WASM:-}

for v in $VARIANTS; do
  case $v in
    airlock*) [ -f "$AIRLOCK_WASM" ] || die "missing $AIRLOCK_WASM: build it with
    rustup target add wasm32-wasip1
    cargo build --release --target wasm32-wasip1 -p airlock-filter";;
    base*) [ -f "$BASE_WASM" ] || die "the $v variant needs BASE_WASM, another build of the Airlock module";;
    noop*) [ -f "$NOOP_WASM" ] || die "missing $NOOP_WASM: build it with
    rustup target add wasm32-wasip1
    cargo build --release --target wasm32-wasip1 --manifest-path benches/noop-filter/Cargo.toml";;
    none*) ;;
    *) die "unknown variant '$v' in VARIANTS (none, noop, airlock, base, each with an optional suffix)";;
  esac
done
[ -x "$REPO/.venv/bin/envoy" ] && [ -x "$REPO/.venv/bin/python" ] || die "no $REPO/.venv/bin/envoy: run bash envoy/setup.sh"

RUN=$(mktemp -d "${TMPDIR:-/tmp}/airlock-$BENCH.XXXXXX")
export RUN
trap 'rc=$?; if [ $rc -eq 0 ] && [ -z "${KEEP_RUN:-}" ]; then rm -rf "$RUN"; else echo "$BENCH: logs and configs kept in $RUN" >&2; fi' EXIT
if [ -z "${BODY:-}" ]; then
  # A body of the benchmark corpus (benches/src/corpus.rs), printed by a small crate of its own:
  # `cargo run --example corpus` would first build the benches' dev-dependencies (criterion, wasmtime).
  BODY=$RUN/body.json
  cargo build -q -j"${CARGO_JOBS:-1}" --release --manifest-path "$REPO/benches/envoy-load-body/Cargo.toml" \
    || die "could not build benches/envoy-load-body"
  "${CARGO_TARGET_DIR:-$REPO/benches/envoy-load-body/target}/release/airlock-envoy-load-body" \
    "${BODY_CLASS:-prose}" "${BODY_SIZE:-8192}" 1 > "$BODY" || die "could not generate the body"
fi
[ -s "$BODY" ] || die "empty or missing body $BODY"
export BODY

# Run "$@" (the bench's Python, stdin passed on) in the background and wait for it, forwarding
# TERM/INT/HUP as TERM so that it stops its Envoys and load before exiting (a background job
# ignores SIGINT, hence TERM for all three). Returns its exit status.
run_in_background() {
  "$@" 0<&0 &
  local py=$! rc=0
  trap 'kill -TERM "$py" 2>/dev/null' INT TERM HUP
  wait "$py" || rc=$?
  # wait returns early when a trapped signal arrives: wait again for the real exit status.
  while kill -0 "$py" 2>/dev/null; do rc=0; wait "$py" || rc=$?; done
  return "$rc"
}
