#!/usr/bin/env bash
# Set-up, build and every test (lit + GoogleTest + kjit-run integration +
# the installed-package test + the fuzz corpora's replay) through ctest,
# then the ASan+UBSan and TSan runs (scripts/sanitize.sh all; skip them in a
# quick local iteration with KJIT_SKIP_SANITIZERS=1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh"
build="${KJIT_BUILD_DIR:-$root/build}"
# Tests compile kernels: keep their disk cache out of the user's cache.
export KJIT_CACHE_DIR="$build/test-kernel-cache"
cd "$build"
ctest -j "$(nproc)" --output-on-failure --timeout 900
if [ "${KJIT_SKIP_SANITIZERS:-0}" != 1 ]; then
  bash "$root/scripts/sanitize.sh" all
fi
