#!/usr/bin/env bash
# Where kjit builds (needs MLIR/LLVM 22): make the bundle bench/gpu/run.sh
# uses on a GPU machine that cannot build kjit. For every workload of
# bench/gpu/gpu_bench.py: inputs, kjit's CPU reference output and, for each op
# with a GPU generator, the CUDA kernel library (host object + embedded
# cubin/PTX for --chip). Also a prebuilt runner, used there only when no C++
# compiler is found. Output: .gpu-bundle/ (git-ignored; pass it to the device
# run as carry=[".gpu-bundle"]).
# KJIT_GPU_SMOKE=1: the smoke bundle instead (tiny bench shapes, device code
# for the CPU emulator: KJIT_GPU_EMULATE=1), for run.sh under
# KJIT_CUDA_DRIVER=build/tests/gpu/libkjit_emu_cuda.so; never for a GPU.
# KJIT_RUN=path: that kjit-run, without building it (the ctest).
set -euo pipefail
cd "$(dirname "$0")/../.."
CHIP=${CHIP:-sm_90}
BUNDLE=${KJIT_GPU_BUNDLE:-.gpu-bundle}
SMOKE=()
if [ "${KJIT_GPU_SMOKE:-0}" = 1 ]; then
  SMOKE=(--smoke)
  export KJIT_GPU_EMULATE=1
fi
if [ -z "${KJIT_RUN:-}" ]; then
  cmake --build build -j2 --target kjit-run
  KJIT_RUN=build/tools/kjit-run/kjit-run
fi
/usr/bin/python3 bench/gpu/gpu_bench.py prepare \
  --kjit-run "$KJIT_RUN" --out "$BUNDLE" --chip "$CHIP" "${SMOKE[@]}"
# The project's compiler (scripts/setup.sh installs clang-22; a fresh
# machine need not have a `c++`).
CXX=${CXX:-$(command -v clang++-22 || command -v c++ || command -v clang++)}
"$CXX" -O2 -std=c++17 -DKJIT_CUDA_EXPORT_MGPU -rdynamic -Iruntime/lib \
  bench/gpu/kjit_gpu_runner.cpp runtime/lib/CudaDriver.cpp -ldl \
  -o "$BUNDLE/kjit_gpu_runner"
du -sh "$BUNDLE"
