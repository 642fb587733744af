# Shared by scripts/demo, scripts/test and scripts/bench: install what is missing, build.
# Sourced, not run.

PIDX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages pidx needs to build and test.
PIDX_PACKAGES=(
  cmake g++ make pkg-config
  libcli11-dev libroaring-dev libfmt-dev libspdlog-dev libxxhash-dev catch2
  libsimdjson-dev nlohmann-json3-dev libicu-dev zlib1g-dev libzstd-dev
  util-linux gzip zstd
  golang-go
  clang libclang-rt-14-dev
  slurm-wlm munge parallel
  libsqlite3-dev libbenchmark-dev
  strace eatmydata python3
)

pidx_install_deps() {
  local missing=()
  for p in "${PIDX_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# pidx_build BUILD_DIR [cmake args...]
pidx_build() {
  local dir="$1"
  shift
  cmake -S "$PIDX_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="${PIDX_BUILD_TYPE:-RelWithDebInfo}" \
    -DPIDX_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}
