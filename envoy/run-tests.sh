#!/usr/bin/env bash
# Run Airlock's Envoy end-to-end tests against the already built filter and CLI:
#   cargo build --release --target wasm32-wasip1 -p airlock-filter
#   cargo build --release -p airlock-cli
#   bash envoy/run-tests.sh [pytest args...]
# AIRLOCK_WASM / AIRLOCK_CLI / AIRLOCK_ENVOY override the artefact paths.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bash "$here/setup.sh"
# the registry, Prometheus, oras and check-jsonschema of the deployment tests
bash "$repo/deploy/setup.sh"
cd "$repo"
set +e
.venv/bin/python -m pytest envoy/tests -q "$@"
rc=$?
set -e
exit "$rc"
