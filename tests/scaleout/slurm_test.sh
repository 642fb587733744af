#!/usr/bin/env bash
# Scale-out on a real batch engine (issue 9): a one-node Slurm cluster on localhost, started
# here without systemd (tests/scaleout/slurm_lib.sh). An 8-task job array builds the shards of
# a generated catalog into a stage, a dependent job publishes them:
#   1. the published version equals a single-machine `pidx build` (pidx diff exit 0);
#   2. one task made to fail: the dependent publish job is cancelled (kill_invalid_depend),
#      CURRENT is unchanged, and a publish by hand refuses with exit 66 naming the missing shards;
#   3. a task run twice (as after a requeue): the result is unchanged, publishing again makes
#      no new version.
# Needs root (slurmd and munged run as root, as on a CI machine); otherwise SKIP, visibly.
# Registered with ctest only in the normal build, not under PIDX_SANITIZE (tests/CMakeLists.txt).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/slurm_lib.sh"

for tool in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol; do
  command -v "$tool" >/dev/null || skip "$tool not installed (Debian packages slurm-wlm, munge)"
done
[ "$(id -u)" -eq 0 ] || skip "slurmd and munged must run as root for a private test cluster"

W=$(mktemp -d /tmp/pidx-slurm.XXXXXX)
cleanup() {
  slurm_stop
  if [ "$FAILURES" -eq 0 ]; then rm -rf "$W"; else echo "kept $W for inspection"; fi
}
trap cleanup EXIT
if ! slurm_start "$W/cluster"; then
  echo "--- slurmctld.log"; tail -n 20 "$W/cluster/log/slurmctld.log" 2>/dev/null || true
  echo "--- slurmd.log"; tail -n 20 "$W/cluster/log/slurmd.log" 2>/dev/null || true
  echo "FAIL - the Slurm cluster did not start"
  exit 1
fi
pass "one-node Slurm cluster is up ($(sinfo -h -o '%P %D %T'))"

D="$W/data"
mkdir -p "$D"
"$PIDX_GEN" --products 6000 --seed 7 --out "$D/catalog.jsonl" >/dev/null 2>&1
"$PIDX" build --catalog "$D/catalog.jsonl" --index "$D/single" --quiet >/dev/null
"$PIDX" plan --catalog "$D/catalog.jsonl" --index "$D/index" --workers 8 --out "$D/plan.json" \
  --quiet >/dev/null

# A worker task; FAIL_TASK makes one task fail before it builds (a node lost, a bad task).
cat >"$D/worker.sh" <<WORKER
#!/bin/sh
if [ "\${SLURM_ARRAY_TASK_ID}" = "\${FAIL_TASK:-none}" ]; then
  echo "task \${SLURM_ARRAY_TASK_ID} made to fail" >&2
  exit 3
fi
exec "$PIDX" build --plan "$D/plan.json" --stage "\$1" --quiet --threads 1
WORKER
chmod +x "$D/worker.sh"

# submit STAGE INDEX [FAIL_TASK]: the job array and its dependent publish job; prints both ids.
submit() {
  local stage="$1" index="$2" fail_task="${3:-none}" array publish
  array=$(FAIL_TASK="$fail_task" sbatch --parsable --array=0-7 --export=ALL -o "$D/task-%A-%a.out" \
    -e "$D/task-%A-%a.err" "$D/worker.sh" "$stage")
  publish=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
    -o "$D/publish-%j.out" -e "$D/publish-%j.err" \
    --wrap "'$PIDX' publish --index '$index' --stage '$stage' --plan '$D/plan.json'")
  echo "$array $publish"
}

# 1. job array + dependent publish == single-machine build
read -r array publish < <(submit "$D/stage" "$D/index")
slurm_wait_jobs "$array" "$publish"
states=$(slurm_job_state "$array" | sort | uniq -c | tr -s ' ')
check "8 array tasks completed (${states# })" test "$(slurm_job_state "$array" | grep -c COMPLETED)" -eq 8
check "the dependent publish job completed" test "$(slurm_job_state "$publish")" = COMPLETED
check "the index has one version" test "$(current_of "$D/index")" = v000001
expect_exit 0 "published version equals a single-machine build" \
  "$PIDX" diff "$D/index" "$D/single" --quiet
"$PIDX" verify --index "$D/index" --catalog "$D/catalog.jsonl" --quiet >/dev/null 2>&1 &&
  pass "verify with the catalog finds nothing" || fail "verify with the catalog"

# 2. one task fails: the publish job is cancelled, CURRENT unchanged
before=$(cat "$D/index/CURRENT")
read -r array2 publish2 < <(submit "$D/stage2" "$D/index" 3)
slurm_wait_jobs "$array2" "$publish2"
check "task 3 failed" test "$(slurm_job_state "${array2}_3")" = FAILED
check "the publish job was cancelled, not run ($(slurm_job_state "$publish2"))" \
  test "$(slurm_job_state "$publish2")" = CANCELLED
check "CURRENT unchanged" test "$(cat "$D/index/CURRENT")" = "$before"
expect_exit 66 "publish by hand refuses the incomplete stage" \
  "$PIDX" publish --index "$D/index" --stage "$D/stage2" --plan "$D/plan.json" 2>"$D/refused.err"
missing=$(grep '"index.publish.refused"' "$D/refused.err" | sed -n 's/.*"missing_shards":\[\([^]]*\)\].*/\1/p')
planned=$(sed -n '/"shards": \[/,$p' "$D/plan.json" | grep -B2 '"worker": 3$' | grep -c '"shard"' || true)
check "the refusal names the $planned shards of worker 3" \
  test "$(echo "$missing" | tr ',' '\n' | grep -c .)" -eq "$planned"
check "CURRENT still unchanged" test "$(cat "$D/index/CURRENT")" = "$before"

# 3. a task run twice (requeue): same stage, same result, no second version
segments_before=$(ls "$D/stage/segments" | sort | md5sum)
array3=$(sbatch --parsable --array=2 -o "$D/rerun-%a.out" "$D/worker.sh" "$D/stage")
slurm_wait_jobs "$array3"
check "the re-run task completed" test "$(slurm_job_state "$array3")" = COMPLETED
check "the stage holds the same segments" test "$(ls "$D/stage/segments" | sort | md5sum)" = "$segments_before"
publish3=$(sbatch --parsable -o "$D/publish-again.out" \
  --wrap "'$PIDX' publish --index '$D/index' --stage '$D/stage' --plan '$D/plan.json' --json")
slurm_wait_jobs "$publish3"
check "publishing again completed" test "$(slurm_job_state "$publish3")" = COMPLETED
check "publishing again reports unchanged" grep -q '"unchanged": true' "$D/publish-again.out"
check "no second version" test "$(versions_of "$D/index")" -eq 1
expect_exit 0 "still equal to the single-machine build" "$PIDX" diff "$D/index" "$D/single" --quiet

finish
