#!/usr/bin/env bash
# ctest go:test: gofmt, go vet and `go test -race` of the Go package and example service
# (lib/go) against the build tree's libpidx (found through pidx-uninstalled.pc on
# PKG_CONFIG_PATH, set by ctest). Nothing is downloaded: the module has no dependencies.
# Usage: go_test.sh MODULE_DIR WORK_DIR PIDX PIDX_GEN. Exit 77 only when go is not installed.
set -euo pipefail
module="$1" work="$2"
PIDX_BIN="$(realpath "$3")" PIDX_GEN="$(realpath "$4")"
export PIDX_BIN PIDX_GEN
command -v go >/dev/null || { echo "go is not installed (Debian: golang-go): skipped"; exit 77; }
export GOPATH="$work/gopath" GOCACHE="$work/gocache" GOTOOLCHAIN=local GOPROXY=off GOFLAGS= \
  GOENV=off CGO_ENABLED=1
cd "$module"
unformatted="$(gofmt -l .)"
[ -z "$unformatted" ] || { echo "not gofmt-formatted: $unformatted"; exit 1; }
go vet ./...
go test -race -count=1 -v ./... 2>&1 | grep -v -e '^=== RUN' -e '^=== PAUSE' -e '^=== CONT'
exit "${PIPESTATUS[0]}"
