#!/usr/bin/env bash
# Validates every shipped policy file against the JSON Schemas generated from the
# policy types (policies/schema/*.schema.json; regenerate with
# `airlock schema --write policies/schema`), with check-jsonschema at the versions
# pinned in requirements.txt, in its own venv (<repo>/.venv-schema).
#
# A policy directory has three kinds of file, each with its schema: policy.yaml
# (policy.schema.json), detectors/*.yaml (detectors.schema.json) and tests/*.yaml
# (tests.schema.json). Every directory under policies/ holding a policy.yaml is checked.
# Then a copy with a misspelt field must fail, so this check cannot pass vacuously.
#   bash policies/schema/check.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv-schema"
req="$here/requirements.txt"
stamp="$venv/.airlock-requirements.sha256"
python="${PYTHON:-python3}"

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -x "$venv/bin/check-jsonschema" ]]; then
  echo "check.sh: installing check-jsonschema into $venv"
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi
validate() { "$venv/bin/check-jsonschema" --schemafile "$here/$1" "${@:2}"; }

checked=0
while IFS= read -r main; do
  dir="$(dirname "$main")"
  echo "check.sh: ${dir#"$repo"/}"
  validate policy.schema.json "$main"
  checked=$((checked + 1))
  for kind in detectors tests; do
    shopt -s nullglob
    files=("$dir/$kind"/*.yaml "$dir/$kind"/*.yml "$dir/$kind"/*.json)
    shopt -u nullglob
    if ((${#files[@]})); then
      validate "$kind.schema.json" "${files[@]}"
      checked=$((checked + ${#files[@]}))
    fi
  done
done < <(find "$repo/policies" -name policy.yaml -not -path "*/schema/*" | sort)

# The check must be able to fail: a detector with `regx` for `regex`, a rule with an unknown action.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
printf -- '- id: typo\n  class: secret\n  kind: credential\n  regx: "x"\n' > "$scratch/detectors.yaml"
printf 'schema: 1\nmetadata: {name: t, version: "1"}\nclasses: [public]\ndestinations: {default_tier: t, tiers: [{name: t, max_class: public}]}\nrules: [{action: explode}]\ndetectors: []\n' > "$scratch/policy.yaml"
if validate detectors.schema.json "$scratch/detectors.yaml" >/dev/null 2>&1 \
   || validate policy.schema.json "$scratch/policy.yaml" >/dev/null 2>&1; then
  echo "check.sh: a misspelt field passed the schema: the schemas accept anything" >&2
  exit 1
fi
echo "check.sh: $checked policy files valid; misspelt fields rejected"
