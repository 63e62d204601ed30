#!/usr/bin/env bash
# bench/gpu's device path without a GPU: kjit-run --emit=host-object, the
# object linked into a kernel library, kjit_gpu_runner (CudaDriver.cpp with
# the exported mgpu* functions) loading it on the fake driver: device code
# loaded, one launch, the output file written (the fake's 0xAB fill), timing
# with events (the fake's 0.25 ms). Then a launch error is one clear line.
# Then kjit.spgemm (outputs the kernel allocates: SHAPE `?` for the runner,
# three .npy for kjit-run): the fake's fresh memory
# (KJIT_FAKE_CUDA_ALLOC_FILL) decides the nnz the host code reads back,
# which it clamps to min(M x N, nnzA x min(nnzB, N)) = 54.
# Args: KJIT_RUN RUNNER FAKE_DRIVER CXX MLIR SPGEMM_MLIR
set -euo pipefail
KJIT_RUN=$1 RUNNER=$2 FAKE=$3 CXX=$4 MLIR=$5 SPGEMM=$6
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
# spgemm through the runner: the dynamic outputs come back sized by the
# kernel (0x01 fill: nnz 0x0101010101010101 clamped to 54; 0x00: empty).
"$KJIT_RUN" "$SPGEMM" --target=cuda --emit=host-object --chip=sm_90 -o "$tmp/s.o"
"$CXX" -shared -o "$tmp/s.so" "$tmp/s.o"
/usr/bin/python3 -c "
import numpy as np, sys
d = sys.argv[1]
arrays = dict(arp=[0, 1, 2, 2, 3, 4, 5, 6], aci=[0, 1, 2, 3, 4, 0],
              brp=[0, 2, 4, 6, 8, 9], bci=[0, 10, 1, 9, 2, 8, 3, 7, 4])
for k, v in arrays.items():
    np.array(v, np.int32).tofile(f'{d}/{k}.bin'); np.save(f'{d}/{k}.npy', np.array(v, np.int32))
for k, n in (('av', 6), ('bv', 9)):
    a = np.random.rand(n).astype(np.float32); a.tofile(f'{d}/{k}.bin'); np.save(f'{d}/{k}.npy', a)
" "$tmp"
sargs=("$tmp/s.so" main --input "i32:8:$tmp/arp.bin" --input "i32:6:$tmp/aci.bin"
       --input "f32:6:$tmp/av.bin" --input "i32:6:$tmp/brp.bin"
       --input "i32:9:$tmp/bci.bin" --input "f32:9:$tmp/bv.bin"
       --output "i32:8:$tmp/crp.bin" --output "i32:?:$tmp/cci.bin"
       --output "f32:?:$tmp/cv.bin")
for fill in 1 0; do
  out=$(KJIT_CUDA_DRIVER=$FAKE KJIT_FAKE_CUDA_LAUNCH_OK=1 \
        KJIT_FAKE_CUDA_ALLOC_FILL=$fill "$RUNNER" "${sargs[@]}" --repeat 3)
  echo "$out"
  grep -q "^time_ms median=0.25000 min=0.25000 max=0.25000 runs=3$" <<<"$out"
  want=$(( fill ? 54 * 4 : 0 ))
  [ "$(stat -c %s "$tmp/cci.bin")" -eq $want ]
  [ "$(stat -c %s "$tmp/cv.bin")" -eq $want ]
  [ "$(stat -c %s "$tmp/crp.bin")" -eq 32 ]
done
[ "$(od -An -tx1 -N4 "$tmp/cci.bin" | tr -d ' ')" = "" ]
if err=$(KJIT_CUDA_DRIVER=$FAKE "$RUNNER" "${sargs[@]}" 2>&1); then
  echo "a failing spgemm launch must fail"; exit 1
fi
grep -q "kjit_gpu_runner: error: kernel launch: CUDA driver: cuLaunchKernel failed" <<<"$err"
if err=$("$RUNNER" "$tmp/s.so" main --input "i32:?:$tmp/arp.bin" 2>&1); then
  echo "a dynamic input must fail"; exit 1
fi
grep -q "only outputs may have the dynamic shape" <<<"$err"

# spgemm through kjit-run --target=cuda: three .npy outputs, --repeat.
out=$(KJIT_CUDA_DRIVER=$FAKE KJIT_FAKE_CUDA_LAUNCH_OK=1 KJIT_FAKE_CUDA_ALLOC_FILL=1 \
      "$KJIT_RUN" "$SPGEMM" --target=cuda \
      --input="$tmp/arp.npy" --input="$tmp/aci.npy" --input="$tmp/av.npy" \
      --input="$tmp/brp.npy" --input="$tmp/bci.npy" --input="$tmp/bv.npy" \
      --output="$tmp/c0.npy" --output="$tmp/c1.npy" --output="$tmp/c2.npy" \
      --repeat=2)
echo "$out"
grep -q "^time_ms median=0.2500 min=0.2500 max=0.2500 runs=2 (cuda events, L2 flushed)$" <<<"$out"
/usr/bin/python3 -c "
import numpy as np, sys
d = sys.argv[1]
c0, c1, c2 = (np.load(f'{d}/c{i}.npy') for i in range(3))
assert c0.shape == (8,) and c0.dtype == np.int32, c0
assert (c0.view(np.uint32) == 0x01010101).all(), c0  # staged, kernels did not run
assert c1.shape == (54,) and c1.dtype == np.int32, c1.shape
assert c2.shape == (54,) and c2.dtype == np.float32, c2.shape
assert (c1.view(np.uint32) == 0x01010101).all() and (c2.view(np.uint32) == 0x01010101).all()
" "$tmp"
if err=$(KJIT_CUDA_DRIVER=$FAKE "$KJIT_RUN" "$SPGEMM" --target=cuda \
      --input="$tmp/arp.npy" --input="$tmp/aci.npy" --input="$tmp/av.npy" \
      --input="$tmp/brp.npy" --input="$tmp/bci.npy" --input="$tmp/bv.npy" \
      --output="$tmp/c0.npy" --output="$tmp/c1.npy" --output="$tmp/c2.npy" 2>&1); then
  echo "a failing spgemm launch must fail"; exit 1
fi
echo "$err"
grep -q "kjit-run: error: CUDA kernel launch: CUDA driver: cuLaunchKernel failed" <<<"$err"
echo PASS
