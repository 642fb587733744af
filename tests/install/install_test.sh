#!/usr/bin/env bash
# cmake --install into a temporary prefix installs pidx like a Unix tool: the binary, the man
# page (man pidx finds it through MANPATH), and the bash, zsh and fish completions where each
# shell looks for them, identical to what `pidx completion SHELL` prints.
#   install_test.sh BUILD_DIR
set -euo pipefail
build="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/usr" >"$tmp/install.log" || {
  cat "$tmp/install.log" >&2
  fail "cmake --install failed"
}
prefix="$tmp/usr"
for f in bin/pidx share/man/man1/pidx.1 share/bash-completion/completions/pidx \
  share/zsh/site-functions/_pidx share/fish/vendor_completions.d/pidx.fish; do
  [ -f "$prefix/$f" ] || fail "not installed: $f"
done
[ -x "$prefix/bin/pidx" ] || fail "bin/pidx is not executable"

pidx="$prefix/bin/pidx"
"$pidx" --version | head -1 | grep -Eq '^pidx [0-9]+\.[0-9]+\.[0-9]+$' || fail "pidx --version"

# man pidx, as a user would run it once the prefix is on MANPATH.
page="$(MANPATH="$prefix/share/man" man -w pidx)" || fail "man -w pidx found nothing"
[ "$page" = "$prefix/share/man/man1/pidx.1" ] || fail "man -w pidx gave $page"
MANPATH="$prefix/share/man" MANWIDTH=80 man -P cat pidx >"$tmp/man.txt" 2>"$tmp/man.err" ||
  fail "man pidx failed: $(cat "$tmp/man.err")"
grep -q 'rebuild-shard' "$tmp/man.txt" || fail "man pidx does not show rebuild-shard"
grep -q 'EXIT STATUS' "$tmp/man.txt" || fail "man pidx has no EXIT STATUS"

# The installed completions are the ones the binary prints.
cmp -s "$prefix/share/bash-completion/completions/pidx" <("$pidx" completion bash) ||
  fail "installed bash completion differs from pidx completion bash"
cmp -s "$prefix/share/zsh/site-functions/_pidx" <("$pidx" completion zsh) ||
  fail "installed zsh completion differs"
cmp -s "$prefix/share/fish/vendor_completions.d/pidx.fish" <("$pidx" completion fish) ||
  fail "installed fish completion differs"
# And bash-completion's lazy loading finds the function in the installed file.
out="$(bash --norc -c "source '$prefix/share/bash-completion/completions/pidx'; complete -p pidx")"
[ "$out" = "complete -F _pidx pidx" ] || fail "complete -p pidx gave: $out"
echo "install: binary, man page and 3 completions under $prefix; man pidx renders"
