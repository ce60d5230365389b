#!/usr/bin/env bash
# Runs every test of Airlock: lints, the native suites, the compiled .wasm in
# the wasmtime harness, the policies' own test cases, and (when present) the
# end-to-end suite against a real Envoy. Installs what it needs. README's
# second command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: wasm32-wasip1 target and clippy"
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

step "lint (warnings are errors; the filter denies unwrap/expect/panic/indexing outside tests)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p airlock-filter --target wasm32-wasip1 --locked -- -D warnings

step "build the filter (.wasm) and the CLI"
cargo build --release --locked --target wasm32-wasip1 -p airlock-filter
cargo build --locked -p airlock-cli

step "protected-data indexes of the ACME example (build output, gitignored)"
bash policies/examples/acme/protected/build-indexes.sh ./target/debug/airlock

step "cargo test --workspace (engine, CLI, wasmtime harness driving the .wasm)"
cargo test --workspace --locked

step "fuzz corpus replay (every input libFuzzer ever saved, through the same invariants; stable, no sanitizer)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" cargo test --locked --manifest-path fuzz/Cargo.toml

step "policy test cases through the compiled .wasm"
for policy in policies/default policies/examples/acme; do
  ./target/debug/airlock check --require-examples "$policy"
done

step "the Envoy benches' own logic: schedules, intervals, listener configs (no Envoy)"
python3 -m unittest discover -s benches -p 'test_envoy_*.py'

step "policy files against the JSON Schemas generated from the policy types (check-jsonschema)"
bash policies/schema/check.sh

step "the policy repository pipeline (policies/examples/ci): check, diff, build, sign, verify"
ci_out="$(mktemp -d)"
./target/debug/airlock keygen --out "$ci_out/ci"
AIRLOCK=./target/debug/airlock bash policies/examples/ci/pipeline.sh policies/examples/acme \
  policies/default policies/examples/corpus "$ci_out/ci.key" "$ci_out/ci.pub" "$ci_out"
rm -rf "$ci_out"

if [ -x envoy/run-tests.sh ] || [ -f envoy/run-tests.sh ]; then
  step "end to end: real Envoy, official SDKs"
  bash envoy/run-tests.sh
fi

step "all tests passed"
