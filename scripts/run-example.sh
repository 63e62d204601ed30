#!/usr/bin/env bash
# The main job: set-up, build, then JIT-compile and run a UniRepLKNet 13x13
# depthwise conv and an InceptionNeXt mixer from C++ (examples/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh"
build="${KJIT_BUILD_DIR:-$root/build}"
"$build/examples/kjit_example" "$@"
