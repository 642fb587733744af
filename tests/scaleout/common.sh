# Shared by the scale-out tests (tests/scaleout/*_test.sh). Sourced, not run.
# Usage of a test: <test>.sh PIDX_BIN PIDX_GEN_BIN
set -euo pipefail

PIDX="${1:?usage: $0 PIDX_BIN PIDX_GEN_BIN}"
PIDX_GEN="${2:?usage: $0 PIDX_BIN PIDX_GEN_BIN}"
export PIDX_LOG_FORMAT=json
FAILURES=0

skip() {  # ctest shows exit 77 as "Skipped" (SKIP_RETURN_CODE)
  echo "SKIP: $*"
  exit 77
}

pass() { echo "ok   - $*"; }
fail() {
  echo "FAIL - $*"
  FAILURES=$((FAILURES + 1))
}

# check "what" CMD...: the command must succeed (its stdout is dropped).
check() {
  local what="$1"
  shift
  if "$@" >/dev/null; then pass "$what"; else fail "$what"; fi
}

# expect_exit CODE "what" CMD...: the command must exit with CODE (its stdout is dropped).
expect_exit() {
  local want="$1" what="$2" rc=0
  shift 2
  "$@" >/dev/null || rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$what (exit $rc)"; else fail "$what: exit $rc, want $want"; fi
}

current_of() { head -n1 "$1/CURRENT" 2>/dev/null || echo none; }
versions_of() { ls "$1/versions" 2>/dev/null | grep -c '\.manifest$' || true; }

finish() {
  if [ "$FAILURES" -gt 0 ]; then
    echo "$FAILURES check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}
