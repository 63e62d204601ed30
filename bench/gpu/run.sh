#!/usr/bin/env bash
# On a GPU machine, in one call (about 2-4 minutes on an H100): build the
# kernel runner (runtime/lib/CudaDriver.cpp, no MLIR needed), then check
# every GPU kernel of the bundle against kjit's CPU reference and time it
# against its PyTorch peers (CUDA events, L2 flushed). The bundle comes from
# bench/gpu/prepare.sh on a machine where kjit builds (carry .gpu-bundle).
# Writes bench/results/gpu-<date>.md (and copies it to $OUT when set).
# Exit status: 0 when every GPU kernel matched its reference.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUNDLE=${KJIT_GPU_BUNDLE:-.gpu-bundle}
if [ ! -f "$BUNDLE/manifest.json" ]; then
  echo "run.sh: no bundle in $BUNDLE: run bench/gpu/prepare.sh where kjit" \
       "builds and carry $BUNDLE to this machine" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem \
  --format=csv 2>/dev/null || echo "(no nvidia-smi)"
mkdir -p build-gpu
RUNNER=build-gpu/kjit_gpu_runner
CXX=${CXX:-$(command -v c++ || command -v g++ || command -v clang++ || true)}
if [ -n "$CXX" ] && "$CXX" -O2 -std=c++17 -DKJIT_CUDA_EXPORT_MGPU -rdynamic \
     -Iruntime/lib bench/gpu/kjit_gpu_runner.cpp runtime/lib/CudaDriver.cpp \
     -ldl -o "$RUNNER"; then
  echo "runner built with $CXX"
else
  echo "no working C++ compiler here: using the bundle's prebuilt runner"
  RUNNER="$BUNDLE/kjit_gpu_runner"
fi
# The Python with numpy (and PyTorch for the peers; on the GPU machines the
# plain python3 has both).
PY=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import numpy" 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then echo "run.sh: no Python with numpy" >&2; exit 2; fi
OUTFILE=bench/results/gpu-$(date -u +%Y-%m-%d).md
PYTHONUNBUFFERED=1 timeout 420 "$PY" bench/gpu/gpu_bench.py run \
  --bundle "$BUNDLE" --runner "$RUNNER" --out "$OUTFILE" \
  --repeat "${REPEAT:-20}"
rc=$?
if [ -n "${OUT:-}" ] && [ -f "$OUTFILE" ]; then cp "$OUTFILE" "$OUT/"; fi
exit $rc
