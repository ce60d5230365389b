#!/usr/bin/env bash
# Builds Airlock's fuzz targets with libFuzzer on the STABLE toolchain and runs them.
#
#   bash fuzz/run.sh build                 # build every target (instrumented, release)
#   bash fuzz/run.sh run TARGET [SECS] [libFuzzer args...]   # fuzz one target, corpus in fuzz/corpus/TARGET
#   bash fuzz/run.sh cmin TARGET           # minimize fuzz/corpus/TARGET in place (merge)
#   bash fuzz/run.sh replay                # the plain `cargo test` replay of every saved corpus file
#
# What cargo-fuzz does, without nightly: the instrumentation is LLVM's SanitizerCoverage pass
# (`-Cpasses=sancov-module` and its `-Cllvm-args`, both stable codegen options), `--cfg fuzzing`,
# and libFuzzer itself, which `libfuzzer-sys` compiles from its bundled C++ sources (needs a C++
# compiler: g++). No sanitizer (`-Zsanitizer` is nightly-only), so crashes are panics, aborts and
# timeouts; the filter's own code is safe Rust, so ASan would add little. `--target` keeps the flags
# off build scripts and proc macros. Output: $FUZZ_TARGET_DIR (default ${CARGO_TARGET_DIR:-target}/fuzz).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$here/../target}/fuzz}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
command -v c++ >/dev/null || { echo "fuzz/run.sh: libFuzzer needs a C++ compiler: apt-get install g++" >&2; exit 1; }

build() {
  RUSTFLAGS="-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing -Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers" \
  cargo build --release --locked --features libfuzzer --bins \
    --manifest-path "$here/Cargo.toml" --target "$triple" --target-dir "$target_dir"
}

bin() { echo "$target_dir/$triple/release/$1"; }

case "${1:-}" in
  build) build ;;
  run)
    t="${2:?target}"; secs="${3:-600}"; shift 3 || shift $#
    mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
    "$(bin "$t")" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -artifact_prefix="$here/artifacts/$t/" -print_final_stats=1 "$@" "$here/corpus/$t"
    ;;
  cmin)
    t="${2:?target}"; tmp="$(mktemp -d)"
    "$(bin "$t")" -merge=1 -timeout=10 "$tmp" "$here/corpus/$t"
    # Named inputs (hand-written `seed-*`, `crash-*` that once broke a check) keep their names:
    # the merge writes only hash-named files.
    for f in "$here/corpus/$t"/seed-* "$here/corpus/$t"/crash-*; do
      [ -e "$f" ] && cp "$f" "$tmp/"
    done
    rm -rf "$here/corpus/$t" && mv "$tmp" "$here/corpus/$t"
    ;;
  replay) cargo test --locked --manifest-path "$here/Cargo.toml" ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
