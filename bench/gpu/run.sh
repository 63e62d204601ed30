#!/usr/bin/env bash
# On a GPU machine, in one call (about 2-4 minutes on an H100): build the
# kernel runner (runtime/lib/CudaDriver.cpp, no MLIR needed), then check
# every GPU kernel of the bundle against kjit's CPU reference and time it
# against its PyTorch peers (CUDA events, L2 flushed). The bundle comes from
# bench/gpu/prepare.sh on a machine where kjit builds (carry .gpu-bundle).
# Writes bench/results/gpu-<date>.md (and copies it to $OUT when set).
# Exit status: 0 when every GPU kernel matched its reference.
# KJIT_GPU_SMOKE=1 (with a smoke bundle from KJIT_GPU_SMOKE=1 prepare.sh and
# KJIT_CUDA_DRIVER naming the CPU emulating driver): the same steps without
# a GPU; the runner and the table go to a temporary folder (KJIT_GPU_SMOKE_OUT
# or mktemp), never to build-gpu/ or bench/results.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUNDLE=${KJIT_GPU_BUNDLE:-.gpu-bundle}
SMOKE=${KJIT_GPU_SMOKE:-0}
if [ "$SMOKE" = 1 ] && [ -z "${KJIT_CUDA_DRIVER:-}" ]; then
  echo "run.sh: KJIT_GPU_SMOKE=1 needs KJIT_CUDA_DRIVER=<the emulating" \
       "driver, build/tests/gpu/libkjit_emu_cuda.so>" >&2
  exit 2
fi
if [ ! -f "$BUNDLE/manifest.json" ]; then
  echo "run.sh: no bundle in $BUNDLE: run bench/gpu/prepare.sh where kjit" \
       "builds and carry $BUNDLE to this machine" >&2
  exit 2
fi
if [ "$SMOKE" = 1 ] && ! grep -q '"smoke": true' "$BUNDLE/manifest.json"; then
  echo "run.sh: KJIT_GPU_SMOKE=1 needs a smoke bundle (KJIT_GPU_SMOKE=1" \
       "bench/gpu/prepare.sh); $BUNDLE is a GPU one" >&2
  exit 2
fi
if [ "$SMOKE" = 1 ]; then
  WORK=${KJIT_GPU_SMOKE_OUT:-$(mktemp -d)}
  mkdir -p "$WORK"
  RUNNER=$WORK/kjit_gpu_runner
  OUTFILE=$WORK/gpu-smoke.md
else
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem \
    --format=csv 2>/dev/null || echo "(no nvidia-smi)"
  mkdir -p build-gpu
  RUNNER=build-gpu/kjit_gpu_runner
  OUTFILE=bench/results/gpu-$(date -u +%Y-%m-%d).md
fi
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
PYTHONUNBUFFERED=1 timeout 420 "$PY" bench/gpu/gpu_bench.py run \
  --bundle "$BUNDLE" --runner "$RUNNER" --out "$OUTFILE" \
  --repeat "${REPEAT:-$([ "$SMOKE" = 1 ] && echo 3 || echo 20)}"
rc=$?
if [ -n "${OUT:-}" ] && [ -f "$OUTFILE" ]; then cp "$OUTFILE" "$OUT/"; fi
exit $rc
