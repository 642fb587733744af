#!/usr/bin/env bash
# Wall time of a scale-out build with 1, 2 and 4 workers on this machine (issue 9), and of a
# single `pidx build` for comparison. Each run: `pidx plan`, N workers in parallel
# (GNU parallel -j N, nproc/N threads each), then `pidx publish`, into a fresh stage and index;
# the published version is checked equal to the single build (`pidx diff`).
#   tests/bench/workers.sh CATALOG WORKDIR [PIDX_BIN]
# Prints one line per configuration:
#   workers=N  plan=..s  workers=..s  publish=..s  total=..s
# On 2 cores the point is correctness and overhead, not speed-up: every worker scans the
# whole catalog and analyzes only its shards.
set -euo pipefail
catalog="${1:?usage: $0 CATALOG WORKDIR [PIDX_BIN]}"
work="${2:?usage: $0 CATALOG WORKDIR [PIDX_BIN]}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
pidx="${3:-$root/build/apps/pidx}"
command -v parallel >/dev/null || { echo "GNU parallel is needed (apt-get install parallel)" >&2; exit 1; }
mkdir -p "$work"
export PIDX_LOG_FORMAT=json PIDX_QUIET=true

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

rm -rf "$work/single"
t0=$(now)
"$pidx" build --catalog "$catalog" --index "$work/single" >/dev/null
t1=$(now)
echo "single build        total=$(secs "$t0" "$t1")s"

for n in 1 2 4; do
  rm -rf "$work/stage-$n" "$work/index-$n" "$work/plan-$n.json"
  threads=$(($(nproc) / n))
  [ "$threads" -ge 1 ] || threads=1
  t0=$(now)
  "$pidx" plan --catalog "$catalog" --index "$work/index-$n" --workers "$n" \
    --out "$work/plan-$n.json" >/dev/null
  t1=$(now)
  seq 0 $((n - 1)) | parallel --will-cite --halt now,fail=1 -j "$n" \
    "$pidx" build --plan "$work/plan-$n.json" --worker {} --stage "$work/stage-$n" \
    --threads "$threads" >/dev/null
  t2=$(now)
  "$pidx" publish --index "$work/index-$n" --stage "$work/stage-$n" --plan "$work/plan-$n.json" \
    >/dev/null
  t3=$(now)
  "$pidx" diff "$work/index-$n" "$work/single" >/dev/null ||
    { echo "workers=$n: the published version differs from the single build" >&2; exit 1; }
  echo "workers=$n  plan=$(secs "$t0" "$t1")s  workers=$(secs "$t1" "$t2")s" \
    "publish=$(secs "$t2" "$t3")s  total=$(secs "$t0" "$t3")s"
done
