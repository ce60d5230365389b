#!/usr/bin/env bash
# An A/B of two Airlock modules in real Envoy: `envoy-load.sh` run ROUNDS times, each round the no-op
# filter, the new module (AIRLOCK_WASM) and the old one (BASE_WASM), the two modules' order swapped every
# round. A single run cannot separate two builds on a shared 2-core machine (the no-op filter's own p50
# moves by 20 % between runs), so each module is read against the no-op run of its own round, and the
# summary gives medians and the best round. Every run's full output is kept in OUT.
# For the added latency, prefer benches/envoy-paired.sh with VARIANTS="noop airlock base": both modules
# and the no-op on one Envoy, requests interleaved one by one and paired; this script remains for the
# saturation throughput and Envoy's CPU per request, which need a front Envoy to themselves.
#
# Usage: AIRLOCK_WASM=new.wasm BASE_WASM=old.wasm bash benches/envoy-ab.sh
#        (env: ROUNDS=4 OUT=dir, and every envoy-load.sh variable but VARIANTS)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "envoy-ab: $*" >&2; exit 1; }
[ -f "${AIRLOCK_WASM:-}" ] || die "set AIRLOCK_WASM to the new module"
[ -f "${BASE_WASM:-}" ] || die "set BASE_WASM to the old module"
ROUNDS=${ROUNDS:-4}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/airlock-envoy-ab.XXXXXX")}
mkdir -p "$OUT"
export AIRLOCK_WASM BASE_WASM

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="noop airlock base"; else order="noop base airlock"; fi
  echo "envoy-ab: round $round of $ROUNDS ($order), load average $(cut -d' ' -f1 /proc/loadavg)" >&2
  VARIANTS=$order bash "$REPO/benches/envoy-load.sh" > "$OUT/round-$round.txt" 2> "$OUT/round-$round.err" \
    || die "round $round failed: see $OUT/round-$round.err"
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = {"airlock": [], "base": []}
for r in range(1, rounds + 1):
    text = open(f"{out}/round-{r}.txt").read()
    table = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in ("noop", "airlock", "base"):
            table[cells[0]] = {"p50": float(cells[3]), "sat": float(cells[9]), "cpu_sat": float(cells[12])}
    inspection = dict(re.findall(r"^(airlock|base): airlock\.inspection_time_microseconds inside V8, last second at saturation: p50 (\d+) us", text, re.M))
    for name in rows:
        a, noop = table[name], table["noop"]
        rows[name].append({"round": r, "added_p50_ms": a["p50"] - noop["p50"], "sat_ratio": a["sat"] / noop["sat"],
                           "cpu_us": a["cpu_sat"], "noop_cpu_us": noop["cpu_sat"],
                           "inspection_us": float(inspection.get(name, "nan"))})
print(f"Runs kept in {out}\n")
print("| round | module | added p50 vs no-op | saturation ratio | Envoy CPU µs/req at sat. (no-op) | V8 inspection p50 at sat. |")
print("| ---: | --- | ---: | ---: | ---: | ---: |")
for r in range(rounds):
    for name in ("airlock", "base"):
        x = rows[name][r]
        print(f"| {x['round']} | {'new' if name == 'airlock' else 'old'} | {x['added_p50_ms']:.3f} ms | {x['sat_ratio']:.2f}× | "
              f"{x['cpu_us']:.0f} ({x['noop_cpu_us']:.0f}) | {x['inspection_us']:.0f} µs |")
print("\n| module | added p50: median (best) | saturation ratio: median (best) | Envoy CPU µs/req: median (best) | V8 inspection p50: median |")
print("| --- | ---: | ---: | ---: | ---: |")
for name in ("airlock", "base"):
    xs = rows[name]
    col = lambda k: [x[k] for x in xs]
    print(f"| {'new' if name == 'airlock' else 'old'} | {statistics.median(col('added_p50_ms')):.3f} ms ({min(col('added_p50_ms')):.3f}) | "
          f"{statistics.median(col('sat_ratio')):.2f}× ({max(col('sat_ratio')):.2f}×) | "
          f"{statistics.median(col('cpu_us')):.0f} ({min(col('cpu_us')):.0f}) | {statistics.median(col('inspection_us')):.0f} µs |")
PY
