#!/usr/bin/env bash
# Install what the deployment tests need, on top of envoy/setup.sh's .venv:
#   - Debian packages: docker-registry (a real OCI registry, run on loopback by the tests)
#     and prometheus (prometheus + promtool). Installed with apt-get when missing; needs root
#     (or sudo) on a fresh Debian 12 machine.
#   - deploy/requirements.txt (oras, check-jsonschema) into <repo>/.venv.
# Idempotent: nothing is installed when the commands exist and the requirements' stamp matches.
#   bash deploy/setup.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="$repo/.venv"
req="$here/requirements.txt"
stamp="$venv/.airlock-deploy-requirements.sha256"

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || missing+=(prometheus)
if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "deploy/setup.sh: need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "deploy/setup.sh: apt-get install ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # No service is started: the tests run their own registry and Prometheus on loopback.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
docker-registry --version
promtool --version 2>&1 | sed -n 1p

if [[ ! -x "$venv/bin/python" ]]; then
  bash "$repo/envoy/setup.sh"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
   && "$venv/bin/python" -c 'import oras' 2>/dev/null && [[ -x "$venv/bin/check-jsonschema" ]]; then
  echo "deploy/setup.sh: $venv is up to date"
  exit 0
fi
echo "deploy/setup.sh: installing deploy/requirements.txt into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "deploy/setup.sh: done"
