#!/usr/bin/env bash
# ctest smoke test: on a tiny generated catalog, pidx (pidx_query_bench) and the SQLite FTS5
# peer (fts5_peer) must return the same counts and the same first-10 ids for every query of
# the three benchmark query sets. Usage: smoke_test.sh PIDX PIDX_GEN FTS5_PEER QUERY_BENCH
set -euo pipefail
pidx="$1" gen="$2" peer="$3" qbench="$4"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$gen" --products 2000 --seed 7 --out "$dir/c.jsonl" 2>/dev/null
"$pidx" build -q --catalog "$dir/c.jsonl" --index "$dir/idx" >/dev/null
"$peer" build --catalog "$dir/c.jsonl" --db "$dir/fts.db" 2>/dev/null
"$qbench" gen-queries --catalog "$dir/c.jsonl" --out-dir "$dir" --count 50 --seed 3 2>/dev/null
for set in and2 cat rare; do
  for mode in "--count" "--top 10"; do
    # shellcheck disable=SC2086
    "$qbench" query --index "$dir/idx" --queries "$dir/$set.tsv" $mode --out "$dir/p.out" 2>/dev/null
    # shellcheck disable=SC2086
    "$peer" query --db "$dir/fts.db" --queries "$dir/$set.tsv" $mode --out "$dir/f.out" 2>/dev/null
    [ "$(wc -l <"$dir/p.out")" -eq 50 ] || { echo "pidx answered $(wc -l <"$dir/p.out") of 50 $set queries"; exit 1; }
    if ! diff "$dir/p.out" "$dir/f.out" >"$dir/diff"; then
      echo "pidx and FTS5 disagree on $set ($mode):"
      head -20 "$dir/diff"
      exit 1
    fi
    [ "$set $mode" = "and2 --count" ] && cp "$dir/p.out" "$dir/and2.counts"
  done
done
# Counts must not be all zero: the sets are sampled from words that occur.
awk -F'\t' '$2 > 0 {n++} END {exit !(n > 0)}' "$dir/and2.counts" || { echo "every 2-term AND count is 0"; exit 1; }
echo "pidx and FTS5 agree on 3 x 50 queries (counts and first-10 ids)"
