#!/usr/bin/env python3
"""kjit.spgemm's GPU kernels run on CPU threads: numerics without a GPU.

The module goes through the front half of the NVVM pipeline and
kjit-generate-gpu-kernels (KjitToGPU/SpgemmGPU.cpp), then the test-only
kjit-test-gpu-launch-to-omp (tools/kjit-opt: each block an OpenMP team of
blockDim.x threads, gpu.barrier -> omp.barrier, host memory) and the CPU
lowering with kjit-emit-packed-entry; mlir-translate and clang++ make a
shared object that ctypes calls through kjit_packed_main (the
dynamic-output protocol: col_idx / values descriptors filled by the entry).
Each case is fresh random CSRs (seed printed; --seed to replay) against a
dict-per-row reference: row_ptr and col_idx exact, values within
1e-4 * (1 + max |ref|). Odd and prime shapes, empty rows, duplicate and
unsorted input columns, rows past sort_capacity (the compaction path),
several blocks per row set (rows sharing a block's markers), group = 32,
wide N; every malformed-CSR kind in a and in b must set the device error
record (kjit_gpu_error) with the CPU's code and give row_ptr all zero and
nnz 0, and the kernel must work again afterwards. The threads really run
concurrently, so a missing barrier shows up (as it did in the count pass),
though not deterministically.
"""
import argparse, ctypes, os, random, subprocess, sys
import numpy as np


ARGS = None

PIPELINE = ("builtin.module(kjit-attach-configs{{gpu-chip=sm_90 config={cfg}}},"
            "kjit-outline-kernels,canonicalize,"
            "one-shot-bufferize{{bufferize-function-boundaries=1 "
            "function-boundary-type-conversion=identity-layout-map}},"
            "buffer-results-to-out-params{{hoist-static-allocs=1 "
            "modify-public-functions=1}},kjit-return-dynamic-results,"
            "buffer-deallocation-pipeline,kjit-generate-gpu-kernels,cse,"
            "kjit-test-gpu-launch-to-omp,expand-strided-metadata,lower-affine,"
            "convert-scf-to-cf,finalize-memref-to-llvm,convert-arith-to-llvm,"
            "convert-index-to-llvm,convert-ub-to-llvm,convert-cf-to-llvm,"
            "convert-func-to-llvm,convert-openmp-to-llvm,"
            "reconcile-unrealized-casts,kjit-emit-packed-entry{{entry=main}})")


def compile_so(src, out, cfg):
    subprocess.run([ARGS.kjit_opt, src, "--pass-pipeline=" +
                    PIPELINE.format(cfg=cfg), "-o", out + ".mlir"], check=True)
    subprocess.run([ARGS.mlir_translate, "--mlir-to-llvmir", out + ".mlir",
                    "-o", out + ".ll"], check=True)
    libdir = os.path.dirname(ARGS.libomp)
    subprocess.run([ARGS.cxx, "-O1", "-shared", "-fPIC", "-Wno-override-module",
                    out + ".ll", "-o", out, ARGS.libomp, "-Wl,-rpath," + libdir],
                   check=True)

class Desc(ctypes.Structure):
    _fields_ = [("alloc", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                ("offset", ctypes.c_int64), ("size", ctypes.c_int64),
                ("stride", ctypes.c_int64)]

def rand_csr(rng, rows, cols, per_row, empty=False, dup=False, shuffle=False):
    rp, ci, v = [0], [], []
    for i in range(rows):
        c = []
        if cols > 0 and not (empty and i % 3 == 1):
            n = min(int(np.random.default_rng(rng.getrandbits(32)).poisson(per_row)), cols)
            c = sorted(rng.sample(range(cols), n))
            if dup and c:
                c += [rng.choice(c) for _ in range(max(1, n // 2))]
            if shuffle:
                rng.shuffle(c)
        ci += c
        v += [rng.uniform(-1, 1) for _ in c]
        rp.append(len(ci))
    return (np.array(rp, np.int32), np.array(ci, np.int32), np.array(v, np.float32))

def reference(m, a, b):
    arp, aci, av = a; brp, bci, bv = b
    rp, ci, v = [0], [], []
    for i in range(m):
        row = {}
        for p in range(arp[i], arp[i + 1]):
            k = aci[p]
            for q in range(brp[k], brp[k + 1]):
                row[bci[q]] = row.get(bci[q], 0.0) + float(av[p]) * float(bv[q])
        for j in sorted(row):
            ci.append(j); v.append(row[j])
        rp.append(len(ci))
    return np.array(rp), np.array(ci), np.array(v)

def module(m, k, n, nnza, nnzb):
    t = lambda d, e: f"tensor<{d}x{e}>"
    ins = [t(m + 1, "i32"), t(nnza, "i32"), t(nnza, "f32"), t(k + 1, "i32"), t(nnzb, "i32"), t(nnzb, "f32")]
    outs = f"{t(m + 1, 'i32')}, tensor<?xi32>, tensor<?xf32>"
    args = ", ".join(f"%a{i}: {x}" for i, x in enumerate(ins))
    return (f"func.func @main({args}) -> ({outs}) {{\n  %c:3 = kjit.spgemm %a0, %a1, %a2, %a3, %a4, %a5 "
            f"{{shape = array<i64: {m}, {k}, {n}>}} : {', '.join(ins)} -> {outs}\n"
            f"  return %c#0, %c#1, %c#2 : {outs}\n}}\n")

_cache = {}
def build(m, k, n, nnza, nnzb, cfg):
    key = (m, k, n, nnza, nnzb, cfg)
    if key not in _cache:
        name = os.path.join(ARGS.workdir, "k%d" % len(_cache))
        open(name + ".in.mlir", "w").write(module(m, k, n, nnza, nnzb))
        compile_so(name + ".in.mlir", name + ".so", cfg)
        _cache[key] = ctypes.CDLL(name + ".so")
    return _cache[key]

def desc(arr):
    return Desc(arr.ctypes.data, arr.ctypes.data, 0, arr.size, 1)

def run(lib, m, a, b):
    err = (ctypes.c_int64 * 4).in_dll(lib, "kjit_gpu_error")
    for i in range(4): err[i] = 0
    crp = np.full(m + 1, -7, np.int32)
    arrs = list(a) + list(b) + [crp]
    ds = [desc(x) for x in arrs] + [Desc(), Desc()]
    ptrs = (ctypes.c_void_p * 9)(*[ctypes.cast(ctypes.pointer(d), ctypes.c_void_p) for d in ds])
    lib.kjit_packed_main(ptrs)
    ci_d, v_d = ds[7], ds[8]
    nnz = ci_d.size
    ci = np.ctypeslib.as_array(ctypes.cast(ci_d.aligned, ctypes.POINTER(ctypes.c_int32)), (max(nnz, 1),))[:nnz].copy() if nnz else np.zeros(0, np.int32)
    v = np.ctypeslib.as_array(ctypes.cast(v_d.aligned, ctypes.POINTER(ctypes.c_float)), (max(nnz, 1),))[:nnz].copy() if nnz else np.zeros(0, np.float32)
    libc = ctypes.CDLL("libc.so.6")
    libc.free(ctypes.c_void_p(ci_d.alloc)); libc.free(ctypes.c_void_p(v_d.alloc))
    return crp, ci, v, (err[0], err[1], err[2], err[3])

def check(name, m, k, n, ao, bo, cfg, seed):
    rng = random.Random(seed)
    a = rand_csr(rng, m, k, **ao); b = rand_csr(rng, k, n, **bo)
    lib = build(m, k, n, a[1].size, b[1].size, cfg)
    crp, ci, v, err = run(lib, m, a, b)
    rrp, rci, rv = reference(m, a, b)
    ok = err[0] == 0 and np.array_equal(crp, rrp) and np.array_equal(ci, rci)
    tol = 1e-4 * (1 + (np.abs(rv).max() if rv.size else 0))
    if ok and rv.size:
        ok = np.abs(v - rv).max() <= tol
    print(("ok  " if ok else "FAIL"), name, f"M={m} K={k} N={n} nnzA={a[1].size} nnzB={b[1].size} nnzC={rci.size} cfg='{cfg}' seed={seed}", "" if ok else f"err={err} rp={crp[:8]} ref={rrp[:8]}")
    return ok, lib, a, b

def malformed(seed):
    rng = random.Random(seed)
    m, k, n = 11, 13, 17
    while True:
        a = rand_csr(rng, m, k, 4)
        if a[0][m] != a[0][m - 1] and a[1].size >= 3: break
    while True:
        b = rand_csr(rng, k, n, 4)
        if b[0][k] != b[0][k - 1] and b[1].size >= 3: break
    lib = build(m, k, n, a[1].size, b[1].size, "")
    muts = [("start", 1, lambda c: c[0].__setitem__(0, 1)),
            ("monotone", 2, lambda c: c[0].__setitem__(2, c[0][3] + 1)),
            ("end", 3, lambda c: c[0].__setitem__(len(c[0]) - 1, c[0][-1] - 1)),
            ("col big", 4, None), ("col neg", 4, None)]
    good = True
    for src, which in ((2, "a"), (3, "b")):
        for what, kind, fn in muts:
            aa = tuple(x.copy() for x in a); bb = tuple(x.copy() for x in b)
            t = aa if which == "a" else bb
            cols = k if which == "a" else n
            if what == "col big": t[1][1] = cols
            elif what == "col neg": t[1][-1] = -3
            else: fn(t)
            crp, ci, v, err = run(lib, m, aa, bb)
            ok = err[0] >= 1 and err[1] == src * 100 + kind and not crp.any() and ci.size == 0
            print(("ok  " if ok else "FAIL"), f"malformed {which} {what}: err={err} rp_zero={not crp.any()} nnz={ci.size}")
            good &= ok
    crp, ci, v, err = run(lib, m, a, b)
    rrp, rci, rv = reference(m, a, b)
    ok = err[0] == 0 and np.array_equal(crp, rrp) and np.array_equal(ci, rci)
    print(("ok  " if ok else "FAIL"), "valid after malformed")
    return good and ok

def cancellation():
    """c[0] = [1, -1] x two equal rows of b: explicit zeros, kept."""
    a = (np.array([0, 2, 3], np.int32), np.array([0, 1, 1], np.int32),
         np.array([1, -1, 2], np.float32))
    b = (np.array([0, 2, 4], np.int32), np.array([3, 1, 1, 3], np.int32),
         np.array([0.25, 0.5, 0.5, 0.25], np.float32))
    lib = build(2, 2, 5, 3, 4, "#kjit.config<{threads = 32}>")
    crp, ci, v, err = run(lib, 2, a, b)
    ok = (err[0] == 0 and list(crp) == [0, 2, 4] and list(ci) == [1, 3, 1, 3]
          and list(v) == [0.0, 0.0, 1.0, 0.5])
    print(("ok  " if ok else "FAIL"), "cancellation keeps explicit zeros:",
          list(crp), list(ci), list(v))
    return ok


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for a in ("kjit-opt", "mlir-translate", "cxx", "libomp", "workdir"):
        p.add_argument("--" + a, required=True)
    p.add_argument("--seed", type=int, default=None)
    ARGS = p.parse_args()
    os.makedirs(ARGS.workdir, exist_ok=True)
    # Oversubscribed teams (up to 64 threads per block on few cores): no
    # spinning at barriers.
    os.environ.setdefault("KMP_BLOCKTIME", "0")
    seed = ARGS.seed if ARGS.seed is not None else random.randrange(1 << 30)
    print("seed", seed, "(--seed to replay)")
    cases = [
        ("tiny", 1, 1, 1, dict(per_row=1), dict(per_row=1), ""),
        ("odd", 13, 11, 17, dict(per_row=3), dict(per_row=3), "#kjit.config<{threads = 32}>"),
        ("prime_empty", 31, 29, 101, dict(per_row=4, empty=True), dict(per_row=5, empty=True), "#kjit.config<{threads = 64, group = 4}>"),
        ("dup_shuffle", 37, 23, 41, dict(per_row=5, dup=True, shuffle=True), dict(per_row=4, dup=True, shuffle=True), "#kjit.config<{threads = 32, group = 2, blocks = 5}>"),
        ("long_rows", 11, 29, 401, dict(per_row=8), dict(per_row=12), "#kjit.config<{sort_capacity = 32, threads = 32, group = 4, blocks = 3}>"),
        ("group32", 19, 7, 3001, dict(per_row=3), dict(per_row=100), "#kjit.config<{threads = 64, blocks = 7, group = 32}>"),
        ("k_empty_b", 5, 3, 7, dict(per_row=2), dict(per_row=0), "#kjit.config<{threads = 32}>"),
        ("wide_n", 9, 5, 20011, dict(per_row=3), dict(per_row=9), "#kjit.config<{threads = 32, blocks = 4}>"),
    ]
    allok = True
    for i, c in enumerate(cases):
        allok &= check(*c, seed + i)[0]
    allok &= cancellation()
    allok &= malformed(seed)
    print("ALL OK" if allok else "FAILURES")
    sys.exit(0 if allok else 1)
