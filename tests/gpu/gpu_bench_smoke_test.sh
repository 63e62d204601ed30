#!/usr/bin/env bash
# The device benchmark (bench/gpu/prepare.sh -> kjit_gpu_runner ->
# gpu_bench.py, driven by bench/gpu/run.sh) end to end without a GPU: the
# smoke bundle (KJIT_GPU_SMOKE=1: the real check shapes, tiny bench shapes,
# device code as LLVM bitcode) run on the CPU emulating driver. Every
# workload must have a kernel and every check must match kjit's CPU
# reference (max |gpu - cpu| <= 1e-4 * (1 + max |cpu|), row_ptr/col_idx
# equal). Then: a hung runner call is one FAILED row (timeout), a run killed
# half way leaves its finished rows marked PARTIAL, a corrupted reference
# says WRONG and fails, the bitcode bundle on a non-emulating driver (the
# fake) fails to load, and the guards: a GPU bundle is refused under
# KJIT_GPU_EMULATE=1, a smoke table never goes to bench/results, a smoke run
# takes only a smoke bundle and the emulating driver. Exit 77 (skip)
# without /usr/bin/python3 and numpy.
# Args: SOURCE_DIR KJIT_RUN EMU_DRIVER FAKE_DRIVER CXX
set -euo pipefail
SRC=$1 KJIT_RUN=$2 EMU=$3 FAKE=$4 CXX=$5
if ! /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  echo "SKIP: no /usr/bin/python3 with numpy"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CXX
KJIT_GPU_SMOKE=1 KJIT_RUN=$KJIT_RUN KJIT_GPU_BUNDLE=$tmp/bundle \
  "$SRC/bench/gpu/prepare.sh"
grep -q '"smoke": true' "$tmp/bundle/manifest.json"
KJIT_GPU_SMOKE=1 KJIT_GPU_BUNDLE=$tmp/bundle KJIT_GPU_SMOKE_OUT=$tmp/out \
  KJIT_CUDA_DRIVER=$EMU "$SRC/bench/gpu/run.sh"
table=$tmp/out/gpu-smoke.md
cat "$table"
grep -q "SMOKE RUN under the CPU emulator" "$table"
grep -q "kjit ms (emulated: meaningless)" "$table"
grep -q "kjit CPU emulator" "$table"
# One row per workload of gpu_bench.py, each ok, each timed.
n=$(/usr/bin/python3 -c "
import sys; sys.path.insert(0, sys.argv[1])
import gpu_bench; print(len(gpu_bench.SMOKE_WORKLOADS))" "$SRC/bench/gpu")
rows=$(grep -cE '^\| [a-z0-9_]+_smoke' "$table")
[ "$rows" -eq "$n" ] || { echo "$rows rows, expected $n"; exit 1; }
okrows=$(grep -cE '^\| [^|]+ \| ok \([^|]*max err [^|]* \| [0-9.]+ \| \(smoke: no peer\)' "$table")
[ "$okrows" -eq "$n" ] || { echo "$okrows ok rows of $n"; exit 1; }
for op in dw_k7 dw_k13 dw_k31 inception fft_conv butterfly spmm natten1d spgemm; do
  grep -q "^| ${op}_smoke" "$table" || { echo "no $op row"; exit 1; }
done
[ -z "$(ls "$SRC/bench/results" | grep -i smoke || true)" ]

grep -q PARTIAL "$table" && { echo "a finished run's table is not partial"; exit 1; }

# A hung kernel (a runner that sleeps on spmm's kernels) costs its timeout,
# not the run: its row says so, the others are ok, exit 1.
cat > "$tmp/hang_runner" <<HANG
#!/usr/bin/env bash
case "\$1" in *spmm_*) exec sleep 30;; esac
exec "$tmp/out/kjit_gpu_runner" "\$@"
HANG
chmod +x "$tmp/hang_runner"
if KJIT_GPU_KERNEL_TIMEOUT_S=2 KJIT_CUDA_DRIVER=$EMU /usr/bin/python3 \
     "$SRC/bench/gpu/gpu_bench.py" run --bundle "$tmp/bundle" \
     --runner "$tmp/hang_runner" --out "$tmp/hang.md" --repeat 1 \
     > "$tmp/hang.log" 2>&1; then
  echo "a hung kernel must fail the run"; exit 1
fi
grep -qE '^\| spmm_smoke[^|]* \| FAILED to run: timed out after 2 s' "$tmp/hang.md"
[ "$(grep -cE '^\| [a-z0-9_]+_smoke[^|]* \| ok ' "$tmp/hang.md")" -eq $((n - 1)) ]
# A run killed half way (the runner kills gpu_bench.py at spmm, as
# run.sh's timeout would) leaves the rows it finished, marked PARTIAL.
cat > "$tmp/kill_runner" <<KILL
#!/usr/bin/env bash
case "\$1" in *spmm_*) kill -9 \$PPID; exit 1;; esac
exec "$tmp/out/kjit_gpu_runner" "\$@"
KILL
chmod +x "$tmp/kill_runner"
KJIT_CUDA_DRIVER=$EMU /usr/bin/python3 "$SRC/bench/gpu/gpu_bench.py" run \
  --bundle "$tmp/bundle" --runner "$tmp/kill_runner" --out "$tmp/kill.md" \
  --repeat 1 > "$tmp/kill.log" 2>&1 || true
cat "$tmp/kill.md"
grep -q "PARTIAL.*: 6 of $n workloads" "$tmp/kill.md"
[ "$(grep -cE '^\| [a-z0-9_]+_smoke[^|]* \| ok ' "$tmp/kill.md")" -eq 6 ]

# The comparison can fail: one f32 reference entry off by 1e-2 (dw_k7's
# tolerance is 1.1e-3) and one of spgemm's col_idx changed: exactly those two
# rows WRONG, exit 1.
/usr/bin/python3 -c "
import numpy as np, sys
d = sys.argv[1]
r = np.fromfile(f'{d}/dw_k7_check/ref.bin', np.float32); r[1234] += 1e-2
r.tofile(f'{d}/dw_k7_check/ref.bin')
c = np.fromfile(f'{d}/spgemm_check/ref_col_idx.bin', np.int32); c[100] ^= 1
c.tofile(f'{d}/spgemm_check/ref_col_idx.bin')" "$tmp/bundle"
if KJIT_CUDA_DRIVER=$EMU /usr/bin/python3 "$SRC/bench/gpu/gpu_bench.py" run \
     --bundle "$tmp/bundle" --runner "$tmp/out/kjit_gpu_runner" \
     --out "$tmp/bad.md" --repeat 1 > "$tmp/bad.log" 2>&1; then
  echo "a wrong reference must fail the smoke"; exit 1
fi
grep -qE '^\| dw_k7_smoke[^|]* \| WRONG \(2x23x19x37: max err 1\.0e-02' "$tmp/bad.md"
grep -qE '^\| spgemm_smoke[^|]* \| WRONG \(CSR nnz [0-9]+[^|]*output 1: 1 of [0-9]+ differ' "$tmp/bad.md"
[ "$(grep -cE '^\| [a-z0-9_]+_smoke[^|]* \| ok ' "$tmp/bad.md")" -eq $((n - 2)) ]

# The bitcode bundle on a driver that is not the emulator (the fake, as a
# GPU's would) is a clear load error in every row, exit 1.
if KJIT_CUDA_DRIVER=$FAKE KJIT_FAKE_CUDA_LAUNCH_OK=1 /usr/bin/python3 \
     "$SRC/bench/gpu/gpu_bench.py" run --bundle "$tmp/bundle" \
     --runner "$tmp/out/kjit_gpu_runner" --out "$tmp/fake.md" --repeat 1 \
     > "$tmp/fake.log" 2>&1; then
  echo "a bitcode bundle must not run on a non-emulating driver"; exit 1
fi
[ "$(grep -cE '^\| [a-z0-9_]+_smoke[^|]* \| FAILED to run: .*cuModuleLoadData \(LLVM bitcode\) failed' "$tmp/fake.md")" -eq "$n" ]

# Guards.
if err=$(KJIT_GPU_EMULATE=1 /usr/bin/python3 "$SRC/bench/gpu/gpu_bench.py" \
         prepare --kjit-run "$KJIT_RUN" --out "$tmp/gpu" 2>&1); then
  echo "a GPU bundle under KJIT_GPU_EMULATE=1 must be refused"; exit 1
fi
grep -q "which a GPU cannot load" <<<"$err"
[ ! -e "$tmp/gpu" ]
if err=$(/usr/bin/python3 "$SRC/bench/gpu/gpu_bench.py" run \
         --bundle "$tmp/bundle" --runner "$tmp/out/kjit_gpu_runner" \
         --out "$SRC/bench/results/gpu-smoke-must-not-exist.md" 2>&1); then
  echo "a smoke table must not go to bench/results"; exit 1
fi
grep -q "never goes to bench/results" <<<"$err"
[ ! -e "$SRC/bench/results/gpu-smoke-must-not-exist.md" ]
sed -i 's/"smoke": true/"smoke": false/' "$tmp/bundle/manifest.json"
if err=$(KJIT_GPU_SMOKE=1 KJIT_GPU_BUNDLE=$tmp/bundle KJIT_CUDA_DRIVER=$EMU \
         "$SRC/bench/gpu/run.sh" 2>&1); then
  echo "a smoke run of a GPU bundle must be refused"; exit 1
fi
grep -q "needs a smoke bundle" <<<"$err"
if err=$(env -u KJIT_CUDA_DRIVER KJIT_GPU_SMOKE=1 KJIT_GPU_BUNDLE=$tmp/bundle \
         "$SRC/bench/gpu/run.sh" 2>&1); then
  echo "a smoke run without the emulating driver must be refused"; exit 1
fi
grep -q "needs KJIT_CUDA_DRIVER" <<<"$err"
echo PASS
