#!/usr/bin/env bash
# Builds the ACME example's protected-data indexes from the synthetic sources
# next to this script. The .idx files are build output (gitignored): each
# build draws a fresh random key, so the bytes change on every run.
#   bash policies/examples/acme/protected/build-indexes.sh [path/to/airlock]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
airlock="${1:-${CARGO_TARGET_DIR:-$here/../../../../target}/debug/airlock}"
"$airlock" index documents --out "$here/acme-source.idx" "$here/src" "$here/docs"
"$airlock" index records --out "$here/customers.idx" \
  --columns name,email,phone,postcode "$here/customers.csv"
