#!/usr/bin/env bash
# cpack -G DEB makes a Debian package that holds everything cmake --install installs, names
# its shared-library dependencies (dpkg-shlibdeps), and runs once unpacked: pidx --version and a
# tiny build and query from the unpacked tree. Exit 77 (skipped) without dpkg-deb/dpkg-shlibdeps.
#   package_test.sh BUILD_DIR
set -euo pipefail
build="$1"
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed (Debian package dpkg-dev)"; exit 77; }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1 || {
  cat "$tmp/cpack.log" >&2
  fail "cpack -G DEB failed"
}
debs=("$tmp"/out/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one .deb, got: ${debs[*]}"
deb="${debs[0]}"
echo "package: $(basename "$deb")"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = pidx ] || fail "Package: $(field Package)"
version="$("$build/apps/pidx" --version | head -1 | cut -d' ' -f2)"
[ "$(field Version)" = "$version-1" ] || fail "Version: $(field Version), pidx says $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends="$(field Depends)"
[ -n "$depends" ] || fail "no Depends (dpkg-shlibdeps did not run)"
echo "Depends: $depends"
# libcurl is loaded with dlopen for OTLP export only: shlibdeps cannot see it.
case "$(field Recommends)" in *libcurl4*) ;; *) fail "Recommends does not name libcurl4" ;; esac

# Everything cmake --install installs is in the package, and nothing else.
cmake --install "$build" --prefix "$tmp/inst/usr" >/dev/null
(cd "$tmp/inst" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$tmp/installed"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | sort >"$tmp/packaged"
diff -u "$tmp/installed" "$tmp/packaged" >&2 || fail "the package and cmake --install differ"
for f in usr/bin/pidx usr/share/man/man1/pidx.1 usr/share/bash-completion/completions/pidx \
  usr/share/zsh/site-functions/_pidx usr/share/fish/vendor_completions.d/pidx.fish; do
  grep -qx "$f" "$tmp/packaged" || fail "not in the package: $f"
done

# Unpacked, it runs.
root="$tmp/root"
dpkg -x "$deb" "$root"
pidx="$root/usr/bin/pidx"
"$pidx" --version | head -1 | grep -qx "pidx $version" || fail "the packaged pidx --version"
# Every shared library it links directly (its NEEDED entries; what those load in turn is their
# own packages' Depends) comes from a package that Depends names.
needed="$(readelf -d "$pidx" | awk '/\(NEEDED\)/ {gsub(/[][]/, "", $5); print $5}')"
ldd "$pidx" | awk '/=> \// {print $1, $3}' | while read -r soname lib; do
  grep -qxF "$soname" <<<"$needed" || continue
  real="$(readlink -f "$lib")"
  pkg="$( (dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null) | head -1 | cut -d: -f1)"
  [ -n "$pkg" ] || fail "$lib belongs to no package"
  # The package itself, or a name it Provides (libspdlog1.10 provides libspdlog1.10-fmt9).
  named=""
  for name in "$pkg" $(dpkg-query -W -f='${Provides}' "$pkg" | tr ',' '\n' | awk '{print $1}'); do
    case ", $depends," in
      *", $name "* | *", $name,"* | *"| $name "* | *"| $name,"*) named="$name" ;;
    esac
  done
  [ -n "$named" ] || fail "$pidx needs $lib from $pkg, which Depends does not name"
done
printf '%s\n' '{"id":"A","category":"Books","title":"Dune"}' \
  '{"id":"B","category":"Toys","title":"Kite"}' >"$tmp/c.jsonl"
"$pidx" build --catalog "$tmp/c.jsonl" --index "$tmp/idx" --log-level warn >/dev/null ||
  fail "the packaged pidx could not build"
[ "$("$pidx" query --index "$tmp/idx" --count dune --log-level warn)" = 1 ] ||
  fail "the packaged pidx did not find its product"
echo "package: fields, contents and Depends checked; the unpacked pidx builds and queries"
