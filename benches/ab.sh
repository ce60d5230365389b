#!/usr/bin/env bash
# Same-session A/B of the native engine bench: two commits' `engine` bench binaries run
# alternately, ROUNDS times each, and the minimum of each body's criterion estimate is
# printed side by side with the ratio. Use it to show a change is not slower than the noise.
#
#   bash benches/ab.sh OLD_COMMIT NEW_COMMIT [FILTER] [ROUNDS]
#
# Either commit may instead be the path of an engine bench binary kept from an earlier run.
#
# FILTER is a substring of the benchmark ids (default: `KiB`, every class at 8 and 64 KiB);
# only `engine/<class>/<size>` ids are reported. Worktrees and a shared target dir live under
# ${AB_DIR:-/tmp/airlock-ab}; nothing in this checkout changes.
set -euo pipefail
old=$1 new=$2
filter=${3:-KiB}
rounds=${4:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${AB_DIR:-/tmp/airlock-ab}
mkdir -p "$dir"
export CARGO_TARGET_DIR="$dir/target"

binary() { # commit (or the path of an engine bench binary built before) -> path of its engine bench binary
  [ -x "$1" ] && { echo "$1"; return; }
  local tree="$dir/tree-$1"
  [ -d "$tree" ] || git -C "$root" worktree add -q --detach "$tree" "$1"
  (cd "$tree" && cargo bench -q -p airlock-benches --bench engine --no-run --message-format=json 2>/dev/null) |
    python3 -c 'import sys,json
for line in sys.stdin:
    m=json.loads(line)
    if m.get("reason")=="compiler-artifact" and m.get("target",{}).get("name")=="engine" and m.get("executable"):
        print(m["executable"])' | tail -1
}

a=$(binary "$old"); [ "$a" -ef "$dir/engine-old" ] || cp "$a" "$dir/engine-old"
b=$(binary "$new"); [ "$b" -ef "$dir/engine-new" ] || cp "$b" "$dir/engine-new"
: > "$dir/runs.txt"
# Old and new alternate per benchmark, not per suite, so that a change in the machine's load
# during the run falls on both sides alike.
ids=$("$dir/engine-new" --list 2>/dev/null | sed -n 's/: benchmark$//p' | grep -F -- "$filter" | grep '^engine/')
for id in $ids; do
  for round in $(seq "$rounds"); do
    for side in old new; do
      # Criterion prints `ID  time: [low µs mid µs high µs]`, and a `change:` line against the
      # previous run (the other side's), which is skipped.
      "$dir/engine-$side" --bench "$id" --warm-up-time 1 --measurement-time 1 --noplot 2>/dev/null |
        awk -v side="$side" -v id="$id" '/time:/ && !/%/ {for (i = 1; i <= NF; i++) if ($i == "time:") print side "\t" id "\t" $(i+3) " " $(i+4)}' >> "$dir/runs.txt"
    done
  done
done
python3 - "$dir/runs.txt" <<'PY'
import sys, collections
unit = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}
best = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    side, name, value = line.rstrip("\n").split("\t")
    number, u = value.replace("[", "").split()
    us = float(number) * unit[u]
    best[name][side] = min(us, best[name].get(side, float("inf")))
print("| body | old (min) | new (min) | new ÷ old |")
print("| --- | ---: | ---: | ---: |")
for name, sides in best.items():
    if name.startswith("engine/") and "old" in sides and "new" in sides:
        print(f"| {name} | {sides['old']:.1f} µs | {sides['new']:.1f} µs | {sides['new'] / sides['old']:.3f} |")
PY
