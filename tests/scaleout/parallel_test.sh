#!/usr/bin/env bash
# Scale-out with GNU parallel, the zero-setup path (docs/SCALE-OUT.md): no daemon, the same
# plan, workers and publish as on Slurm.
#   1. 8 workers (-j 4) + publish == a single-machine `pidx build` (pidx diff exit 0);
#   2. one worker made to fail: parallel exits nonzero so `&&` never publishes; a publish by
#      hand refuses with exit 66, CURRENT unchanged; re-running only the failed worker
#      (parallel --resume-failed) completes the stage, which then publishes as the same version;
#   3. a worker run twice: the stage is unchanged, publishing again makes no second version;
#   4. the worker index from SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX works like --worker.
source "$(dirname "$0")/common.sh"
command -v parallel >/dev/null || skip "GNU parallel not installed (Debian package parallel)"

W=$(mktemp -d /tmp/pidx-parallel.XXXXXX)
trap 'if [ "$FAILURES" -eq 0 ]; then rm -rf "$W"; else echo "kept $W"; fi' EXIT
"$PIDX_GEN" --products 6000 --seed 11 --out "$W/catalog.jsonl" >/dev/null 2>&1
"$PIDX" build --catalog "$W/catalog.jsonl" --index "$W/single" --quiet >/dev/null
"$PIDX" plan --catalog "$W/catalog.jsonl" --index "$W/index" --workers 8 --out "$W/plan.json" \
  --quiet >/dev/null
export PIDX W

# 1.
run_all() {
  parallel --will-cite --halt never -j 4 --joblog "$W/$1.joblog" \
    "$PIDX" build --plan "$W/plan.json" --worker {} --stage "$W/$1" --quiet --threads 1 \
    ::: 0 1 2 3 4 5 6 7 >/dev/null &&
    "$PIDX" publish --index "$W/index" --stage "$W/$1" --plan "$W/plan.json" --quiet >/dev/null
}
check "8 workers and publish" run_all stage
check "one version" test "$(current_of "$W/index")" = v000001
expect_exit 0 "equal to a single-machine build" "$PIDX" diff "$W/index" "$W/single" --quiet

# 2. worker 5 fails (its task is told to use a worker index beyond the plan: exit 64)
before=$(cat "$W/index/CURRENT")
flaky() {
  parallel --will-cite --halt never -j 4 --joblog "$W/stage2.joblog" \
    'w={}; [ "$w" = 5 ] && [ ! -e "$W/fixed" ] && w=99; "$PIDX" build --plan "$W/plan.json" --worker $w --stage "$W/stage2" --quiet --threads 1' \
    ::: 0 1 2 3 4 5 6 7 >/dev/null 2>"$W/flaky.err" &&
    "$PIDX" publish --index "$W/index" --stage "$W/stage2" --plan "$W/plan.json" --quiet >/dev/null
}
expect_exit 1 "parallel reports the failed worker, publish does not run" flaky
check "CURRENT unchanged" test "$(cat "$W/index/CURRENT")" = "$before"
expect_exit 66 "publish by hand refuses the incomplete stage" \
  "$PIDX" publish --index "$W/index" --stage "$W/stage2" --plan "$W/plan.json" 2>"$W/refused.err"
check "the refusal is an index.publish.refused event naming worker 5's shards" \
  grep -q '"event":"index.publish.refused".*"workers_to_rerun":\[5\]' "$W/refused.err"
check "CURRENT still unchanged" test "$(cat "$W/index/CURRENT")" = "$before"
touch "$W/fixed"
check "--resume-failed re-runs the failed worker" parallel --will-cite --resume-failed -j 4 \
  --joblog "$W/stage2.joblog" \
  'w={}; [ "$w" = 5 ] && [ ! -e "$W/fixed" ] && w=99; "$PIDX" build --plan "$W/plan.json" --worker $w --stage "$W/stage2" --quiet --threads 1' \
  ::: 0 1 2 3 4 5 6 7
expect_exit 0 "the completed stage publishes" \
  "$PIDX" publish --index "$W/index" --stage "$W/stage2" --plan "$W/plan.json" --quiet
check "as the same content: still one version" test "$(versions_of "$W/index")" -eq 1

# 3. a worker run twice
segs_before=$(cat "$W"/stage/segments/* | md5sum)
"$PIDX" build --plan "$W/plan.json" --worker 6 --stage "$W/stage" --quiet >/dev/null
check "a re-run leaves the staged segments byte-identical" \
  test "$(cat "$W"/stage/segments/* | md5sum)" = "$segs_before"
check "same segment set after the re-run" test "$(ls "$W/stage/segments" | wc -l)" -eq \
  "$(grep -c '"shard":' "$W/plan.json")"
"$PIDX" publish --index "$W/index" --stage "$W/stage" --plan "$W/plan.json" --json \
  >"$W/again.json" 2>/dev/null
check "publishing again reports unchanged" grep -q '"unchanged": true' "$W/again.json"
check "no second version" test "$(versions_of "$W/index")" -eq 1

# 4. worker index from the engine's variable
SLURM_ARRAY_TASK_ID=4 "$PIDX" build --plan "$W/plan.json" --stage "$W/stage4" --json \
  >"$W/env.json" 2>/dev/null
check "SLURM_ARRAY_TASK_ID picks worker 4" grep -q '"worker_source": "SLURM_ARRAY_TASK_ID"' "$W/env.json"
check "and stages worker 4's fragment" test -s "$W/stage4/workers/worker-00004.manifest"

finish
