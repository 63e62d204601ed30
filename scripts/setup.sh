#!/usr/bin/env bash
# Installs everything kjit's build, tests and benchmarks need from Debian's
# packages. Idempotent and quiet: when everything is present it only checks.
set -euo pipefail

PKGS=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22 libomp-22-dev
  libclang-rt-22-dev  # libFuzzer and the sanitizer runtimes (scripts/fuzz.sh, scripts/sanitize.sh)
  cmake ninja-build ccache
  libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev zlib1g-dev libzstd-dev
  libdnnl-dev libfftw3-dev libeigen3-dev libgraphblas-dev libxnnpack-dev
  libpthreadpool-dev
  python3 python3-numpy
  # the Python package (python/, kjit.torch) and its tests
  python3-torch pybind11-dev python3-pytest python3-scipy
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# lit is not packaged for LLVM 22 as a command; llvm-22-tools ships it as a
# Python module. FileCheck and not come from llvm-22-tools.
for t in /usr/lib/llvm-22/bin/FileCheck /usr/lib/llvm-22/bin/mlir-opt; do
  [ -x "$t" ] || { echo "setup: $t missing after install" >&2; exit 1; }
done

# `import kjit` for Debian's python3 (the one with python3-torch): a .pth
# file naming the build tree's python/ folder (scripts/build.sh fills it;
# KJIT_BUILD_DIR moves it).
root="$(cd "$(dirname "$0")/.." && pwd)"
site="$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')"
pth="$site/kjit.pth"
want="${KJIT_BUILD_DIR:-$root/build}/python"
if [ "$(cat "$pth" 2>/dev/null)" != "$want" ]; then
  if mkdir -p "$site" 2>/dev/null && echo "$want" > "$pth" 2>/dev/null; then
    echo "setup: /usr/bin/python3 imports kjit from $want ($pth)"
  else
    echo "setup: cannot write $pth; use PYTHONPATH=$want" >&2
  fi
fi
