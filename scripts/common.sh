# Shared by scripts/demo, scripts/test, scripts/torture and scripts/bench: install what is
# missing, build. Sourced, not run. Each script installs only what its own job needs
# (README, "What each script installs").

PIDX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# To build pidx and run it (scripts/demo): the compiler, CMake and the libraries pidx links.
PIDX_BUILD_PACKAGES=(
  cmake g++ make pkg-config
  libcli11-dev libroaring-dev libfmt-dev libspdlog-dev libxxhash-dev
  libsimdjson-dev nlohmann-json3-dev libicu-dev zlib1g-dev libzstd-dev libstemmer-dev
  libcurl4-openssl-dev
)

# To build and run the test suite (scripts/test, scripts/torture, .ci/run), on top of the build:
#   catch2, libsqlite3-dev    the test programs (and the FTS5 smoke test)
#   util-linux gzip zstd      flock, compressed catalogs
#   python3 strace eatmydata  the model-based test, the fsync audit
#   python3-jsonschema        every command's --json output checked against docs/schemas/
#   python3-xxhash python3-zstandard   the independent segment decoder (tests/segment/decode_seg2.py)
#   clang libclang-rt-14-dev  the libFuzzer targets (tests/fuzz)
#   slurm-wlm munge parallel  scale-out on real engines (a private one-node Slurm cluster)
#   man-db dpkg-dev           man pidx after cmake --install; cpack -G DEB (dpkg-shlibdeps)
#   zsh fish                  the completion scripts, checked in the shells they are for
#   golang-go                 the Go package over the C API (lib/go), go test -race
#   prometheus prometheus-node-exporter   promtool checks, a real textfile scrape (tests/obs)
PIDX_TEST_PACKAGES=(
  catch2 libsqlite3-dev
  util-linux gzip zstd
  python3 strace eatmydata python3-jsonschema python3-xxhash python3-zstandard
  clang libclang-rt-14-dev
  slurm-wlm munge parallel
  man-db dpkg-dev
  zsh fish
  golang-go
  prometheus prometheus-node-exporter
)

# To run the benchmarks (scripts/bench), on top of the build: SQLite FTS5 (the peer), Google
# Benchmark (the micro-benchmarks), python3 (the driver).
PIDX_BENCH_PACKAGES=(libsqlite3-dev libbenchmark-dev python3)

# pidx_install_deps PACKAGE...: installs those of the packages that are missing.
pidx_install_deps() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  # Packages that ship a daemon (prometheus, prometheus-node-exporter: test tools here) must
  # not start it: a policy-rc.d that refuses every start, only while installing (and only when
  # there is none already). The tests start their own node_exporter on a free loopback port.
  local policy=/usr/sbin/policy-rc.d placed=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" &&
      placed=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2 || rc=$?
  if [ -n "$placed" ]; then $sudo rm -f "$policy"; fi
  return $rc
}

# pidx_build BUILD_DIR [cmake args...]: everything, tests included.
pidx_build() {
  local dir="$1"
  shift
  cmake -S "$PIDX_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="${PIDX_BUILD_TYPE:-RelWithDebInfo}" \
    -DPIDX_WERROR=ON -DPIDX_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}
