#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, in build-fuzz/) if needed and runs each for
# SECONDS (default 60) on its committed seed corpus (tests/fuzz/corpus/<target>/, read-only:
# new inputs go to a scratch directory). Prints one line per target:
#   fuzz <target>: 0 crashes, N execs
# and exits non-zero when any target crashed, hung or reported (the input is saved as
# build-fuzz/crash-<target>-*; copy it into the corpus as a regression once fixed).
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_segment fuzz_manifest fuzz_current fuzz_jsonl fuzz_csv fuzz_query)
build="${PIDX_FUZZ_BUILD_DIR:-$root/build-fuzz}"

if ! command -v clang++ >/dev/null; then
  echo "tests/fuzz/run.sh: clang++ is not installed (Debian: clang, libclang-rt-14-dev)" >&2
  exit 2
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 -g1, as libFuzzer's documentation builds targets: a little faster to compile than
# RelWithDebInfo's -O2 -g (segment_reader.cc 12 s against 15 s), and a report keeps its file
# and line.
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  -DPIDX_FUZZ=ON -DPIDX_SANITIZE=ON -DPIDX_TESTS=OFF -DPIDX_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# One target per core at a time: 6 targets of 60 s take 3 minutes on 2 cores.
jobs="${PIDX_FUZZ_JOBS:-$(nproc)}"
run_one() {
  local t="$1" scratch log rc=0
  scratch="$(mktemp -d)"
  log="$build/$t.log"
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb bounds memory.
  "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$build/crash-$t-" -print_final_stats=1 \
    "$scratch" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  rm -rf "$scratch"
  echo "$rc" >"$build/$t.rc"
}
pids=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  run_one "$t" &
  pids+=($!)
done
wait "${pids[@]}" || true
failed=0
for t in "${targets[@]}"; do
  log="$build/$t.log"
  rc="$(cat "$build/$t.rc" 2>/dev/null || echo 1)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: 0 crashes, ${execs:-0} execs"
  else
    echo "fuzz $t: CRASHED (exit $rc) after ${execs:-?} execs; see $log and $build/crash-$t-*"
    failed=1
  fi
done
exit "$failed"
