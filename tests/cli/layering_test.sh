#!/bin/sh
# The app layer includes only lib's public face (docs/ARCHITECTURE.md): a cmd_*.cc, or a
# header or helper of apps/pidx other than main.cc, may include pidx/ops/, pidx/query/,
# pidx/scaleout/, pidx/obs/ and pidx/base/status.h, nothing else of lib.
set -eu
root=${1:?source dir}
bad=$(grep -Hn '#include "pidx/' "$root"/apps/pidx/*.cc "$root"/apps/pidx/*.h |
  grep -v '/main\.cc:' |
  grep -Ev '"pidx/(ops|query|scaleout|obs)/[a-z_]+\.h"|"pidx/base/status\.h"' || true)
if [ -n "$bad" ]; then
  echo "apps/pidx includes lib internals:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "apps/pidx includes only lib's public face"
