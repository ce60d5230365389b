#!/usr/bin/env bash
# The policy pipeline a policy repository's CI runs (policy-repository.yml calls it), and
# test.sh runs on the shipped policies: check, diff against the base, build, sign, verify.
#   AIRLOCK=airlock bash pipeline.sh POLICY BASE_POLICY CORPUS SIGNING_KEY PUBLIC_KEY OUT_DIR
# Writes OUT_DIR/diff.md (the PR comment), OUT_DIR/diff.jsonl and OUT_DIR/airlock-config.json
# (the signed configuration the mesh loads). Exits non-zero at the first failing step.
set -euo pipefail
airlock="${AIRLOCK:-airlock}"
policy="$1" base="$2" corpus="$3" key="$4" pub="$5" out="$6"
mkdir -p "$out"

echo "pipeline: check $policy"
"$airlock" check ${AIRLOCK_CHECK_FLAGS:-} --require-examples "$policy"
echo "pipeline: diff $base -> $policy over $corpus"
"$airlock" diff "$base" "$policy" --corpus "$corpus" > "$out/diff.md"
"$airlock" diff "$base" "$policy" --corpus "$corpus" --json > "$out/diff.jsonl"
echo "pipeline: build and sign"
"$airlock" build "$policy" --sign "$key" > "$out/airlock-config.json"
"$airlock" verify "$out/airlock-config.json" --key "$pub"
echo "pipeline: $out/airlock-config.json signed and verified"
