#!/usr/bin/env bash
# Install and consume (issue 20): `cmake --install` of the build tree into a scratch prefix,
# then two tiny programs built against that tree only, one with pkg-config (C API), one with
# find_package(pidx) (C++ API); both must count what `pidx query --count` counts. Also checks
# the SONAME and that libpidx.so exports only the pidx_ C API and pidx::reader.
# Usage: install_test.sh BUILD_DIR PIDX PIDX_GEN. Exit 77 (skipped) only when cc, pkg-config
# or cmake is not installed.
set -euo pipefail
build="$1" pidx="$2" gen="$3"
here="$(cd "$(dirname "$0")" && pwd)"
for t in cc c++ pkg-config cmake readelf nm; do
  command -v "$t" >/dev/null || { echo "$t is not installed: skipped"; exit 77; }
done
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
prefix="$dir/prefix"
cmake --install "$build" --prefix "$prefix" >"$dir/install.log"

libdir=""
for d in lib lib64 lib/x86_64-linux-gnu; do
  [ -e "$prefix/$d/pkgconfig/pidx.pc" ] && libdir="$prefix/$d"
done
[ -n "$libdir" ] || { echo "no pidx.pc installed:"; cat "$dir/install.log"; exit 1; }
for f in include/pidx/pidx.h include/pidx/reader.h; do
  [ -f "$prefix/$f" ] || { echo "missing $f"; exit 1; }
done
[ -f "$libdir/cmake/pidx/pidxConfig.cmake" ] || { echo "missing the CMake package"; exit 1; }
# No internal header leaks into the installed tree.
if [ "$(find "$prefix/include" -name '*.h' | wc -l)" -ne 2 ]; then
  echo "headers installed:"; find "$prefix/include" -name '*.h'; exit 1
fi

soname="$(readelf -d "$libdir/libpidx.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ "$soname" = "libpidx.so.0" ] || { echo "SONAME is '$soname', want libpidx.so.0"; exit 1; }
[ -L "$libdir/libpidx.so" ] && [ -L "$libdir/libpidx.so.0" ] || { echo "symlinks missing"; ls -l "$libdir"; exit 1; }
other="$(nm -D -C --defined-only "$libdir/libpidx.so" | sed 's/^[0-9a-f]* . //; s/@@PIDX_0$//' |
         grep -v -e '^pidx_' -e '^pidx::reader::' -e '^PIDX_0$' || true)"
[ -z "$other" ] || { echo "libpidx.so exports more than its API:"; echo "$other" | head; exit 1; }

"$gen" --products 500 --seed 4 --out "$dir/c.jsonl" 2>/dev/null
"$pidx" build -q --catalog "$dir/c.jsonl" --index "$dir/idx" >/dev/null
query='black OR set -leather'
want="v1 $("$pidx" query --log-level warn --index "$dir/idx" --count -- "$query")"

# 1. pkg-config, C.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror -o "$dir/consumer-c" "$here/consumer/consumer.c" \
  $(pkg-config --cflags --libs pidx) -Wl,-rpath,"$libdir"
got="$("$dir/consumer-c" "$dir/idx" "$query")"
[ "$got" = "$want" ] || { echo "pkg-config consumer printed '$got', want '$want'"; exit 1; }
# It runs against the installed library, not the build tree's.
# grep -q stops reading at the first match; under pipefail ldd's SIGPIPE would then fail the test.
ldd_out=$(ldd "$dir/consumer-c")
grep -q "$libdir/libpidx.so.0" <<<"$ldd_out" || { echo "not linked to the installed libpidx"; echo "$ldd_out"; exit 1; }

# 2. CMake, C++.
cmake -S "$here/consumer" -B "$dir/cb" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_RPATH="$libdir" >"$dir/cmake.log" || { cat "$dir/cmake.log"; exit 1; }
cmake --build "$dir/cb" >"$dir/cbuild.log" || { cat "$dir/cbuild.log"; exit 1; }
got="$("$dir/cb/consumer" "$dir/idx" "$query")"
[ "$got" = "$want" ] || { echo "CMake consumer printed '$got', want '$want'"; exit 1; }
echo "installed into $prefix: $soname, pidx.pc and find_package(pidx) consumers agree ($want)"
