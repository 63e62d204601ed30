#!/usr/bin/env bash
# bench/gpu's device path without a GPU: kjit-run --emit=host-object, the
# object linked into a kernel library, kjit_gpu_runner (CudaDriver.cpp with
# the exported mgpu* functions) loading it on the fake driver: device code
# loaded, one launch, the output file written (the fake's 0xAB fill), timing
# with events (the fake's 0.25 ms). Then a launch error is one clear line.
# Args: KJIT_RUN RUNNER FAKE_DRIVER CXX MLIR
set -euo pipefail
KJIT_RUN=$1 RUNNER=$2 FAKE=$3 CXX=$4 MLIR=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$KJIT_RUN" "$MLIR" --target=cuda --emit=host-object --chip=sm_90 -o "$tmp/k.o"
"$CXX" -shared -o "$tmp/k.so" "$tmp/k.o"
head -c $((13 * 17 * 40 * 4)) /dev/urandom > "$tmp/x.bin"
head -c $((40 * 49 * 4)) /dev/urandom > "$tmp/w.bin"
args=("$tmp/k.so" main --input "f32:1x13x17x40:$tmp/x.bin"
      --input "f32:40x7x7:$tmp/w.bin" --output "f32:1x13x17x40:$tmp/y.bin")
out=$(KJIT_CUDA_DRIVER=$FAKE KJIT_FAKE_CUDA_LAUNCH_OK=1 "$RUNNER" "${args[@]}" --repeat 3)
echo "$out"
grep -q "^device kjit fake GPU;cc=90;sms=132;driver=13000$" <<<"$out"
grep -q "^time_ms median=0.25000 min=0.25000 max=0.25000 runs=3$" <<<"$out"
[ "$(stat -c %s "$tmp/y.bin")" -eq $((13 * 17 * 40 * 4)) ]
[ "$(od -An -tx1 -N4 "$tmp/y.bin" | tr -d ' ')" = abababab ]
if err=$(KJIT_CUDA_DRIVER=$FAKE "$RUNNER" "${args[@]}" 2>&1); then
  echo "a failing launch must fail"; exit 1
fi
echo "$err"
grep -q "kjit_gpu_runner: error: kernel launch: CUDA driver: cuLaunchKernel failed" <<<"$err"
if err=$(KJIT_CUDA_DRIVER=libkjit-no-such-cuda.so.1 "$RUNNER" "${args[@]}" 2>&1); then
  echo "no driver must fail"; exit 1
fi
grep -q "kjit_gpu_runner: error: no CUDA driver" <<<"$err"

# kjit-run --target=cuda itself on the fake driver: .npy in, the staged
# output back (0xAB fill), device timing.
/usr/bin/python3 -c "
import numpy as np, sys
np.save(sys.argv[1], np.random.rand(1, 13, 17, 40).astype(np.float32))
np.save(sys.argv[2], np.random.rand(40, 7, 7).astype(np.float32))" \
  "$tmp/x.npy" "$tmp/w.npy"
out=$(KJIT_CUDA_DRIVER=$FAKE KJIT_FAKE_CUDA_LAUNCH_OK=1 "$KJIT_RUN" "$MLIR" \
      --target=cuda --input="$tmp/x.npy" --input="$tmp/w.npy" \
      --output="$tmp/y.npy" --repeat=4)
echo "$out"
grep -q "^time_ms median=0.2500 min=0.2500 max=0.2500 runs=4 (cuda events, L2 flushed)$" <<<"$out"
/usr/bin/python3 -c "
import numpy as np, sys
y = np.load(sys.argv[1])
assert y.shape == (1, 13, 17, 40), y.shape
assert (y.view(np.uint32) == 0xABABABAB).all()" "$tmp/y.npy"
if err=$(KJIT_CUDA_DRIVER=$FAKE "$KJIT_RUN" "$MLIR" --target=cuda \
         --input="$tmp/x.npy" --input="$tmp/w.npy" --output="$tmp/y.npy" 2>&1); then
  echo "a failing launch must fail"; exit 1
fi
echo "$err"
grep -q "kjit-run: error: CUDA kernel launch: CUDA driver: cuLaunchKernel failed" <<<"$err"
echo PASS
