#!/usr/bin/env python3
"""kjit.spgemm (default config) against torch.sparse.mm on real matrices.

C = A A (A A^T when A is not square) for each Matrix Market file given
(default: ../shared/data/mtx/*.mtx next to the repository), at each thread
count of --threads. PyTorch 1.13 has no CSR x CSR product without MKL, so
torch.sparse.mm runs on coalesced COO tensors (the fastest it offers here).
kjit's result is checked against scipy's (float64 of the same matrices:
structure, with kjit's explicit zeros from cancellation allowed, and values
to 1e-4 relative) before timing. Timed ABAB (torch call, kjit call, ...) so
that both see the same load; prints min and median of each and the ratio of
the minimums as a markdown table.

Run with Debian's python3 (it has torch and scipy):
  PYTHONPATH=build/python /usr/bin/python3 bench/spgemm_vs_torch.py --threads 1,2
"""
import argparse
import glob
import os
import time

import numpy as np
import scipy.io
import scipy.sparse as sp
import torch

import kjit
from kjit import _mlir


def load(path):
    a = scipy.io.mmread(path).tocsr().astype(np.float32)
    b = a if a.shape[0] == a.shape[1] else a.T.tocsr()
    a.sum_duplicates()
    b.sum_duplicates()
    return a, b


def coo(m):
    """Coalesced torch COO of a scipy CSR (explicit zeros kept)."""
    c = m.tocoo()
    idx = torch.from_numpy(np.vstack([c.row, c.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(c.data),
                                   m.shape).coalesce()


def kernel(a, b, threads):
    arrs = [a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data,
            b.indptr.astype(np.int32), b.indices.astype(np.int32), b.data]
    elem = lambda t: "i32" if t.dtype == np.int32 else "f32"
    m, k = a.shape
    n = b.shape[1]
    text = _mlir.module(
        "kjit.spgemm", [_mlir.tensor(t.shape, elem(t)) for t in arrs],
        [_mlir.tensor((m + 1,), "i32"), _mlir.tensor((None,), "i32"),
         _mlir.tensor((None,), "f32")],
        {"shape": _mlir.i64_array((m, k, n))})
    kern = kjit.compile_module(text, threads=threads)
    views = [(t.ctypes.data, elem(t), t.shape, (1,)) for t in arrs]
    return kern, views, arrs


def check(out, a, b):
    """kjit's CSR against scipy's float64 product: same values everywhere,
    columns ascending, every scipy entry present (kjit keeps cancellations
    as explicit zeros, scipy drops them)."""
    rp, ci, v = out
    m, n = a.shape[0], b.shape[1]
    ref = (a.astype(np.float64) @ b.astype(np.float64)).tocsr()
    got = sp.csr_matrix((v.astype(np.float64), ci, rp), shape=(m, n))
    rows = np.repeat(np.arange(m), np.diff(rp))
    assert np.all((np.diff(ci) > 0) | (np.diff(rows) > 0)), "unsorted columns"
    ref_keys = set(zip(*ref.nonzero()))
    got_keys = set(zip(rows.tolist(), ci.tolist()))
    assert ref_keys <= got_keys, "entries missing"
    err = abs(got - ref).max() if ref.nnz else 0.0
    scale = 1.0 + (abs(ref).max() if ref.nnz else 0.0)
    assert err <= 1e-4 * scale, "values differ by %g" % err


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*")
    p.add_argument("--threads", default="1")
    p.add_argument("--reps", type=int, default=15)
    args = p.parse_args()
    files = args.files or sorted(
        glob.glob(os.path.join(root, "..", "shared", "data", "mtx", "*.mtx")))
    print("| matrix | threads | torch.sparse.mm min / median ms | kjit min / "
          "median ms | torch / kjit (min) |\n|---|---|---|---|---|")
    for path in files:
        a, b = load(path)
        ta, tb = coo(a), coo(b)
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            kern, views, _keep = kernel(a, b, threads)
            check(kern.run_allocating(views), a, b)
            f_torch = lambda: torch.sparse.mm(ta, tb)
            f_kjit = lambda: kern.run_allocating(views)
            f_torch()
            f_kjit()
            tt, kt = [], []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                f_torch()
                t1 = time.perf_counter()
                f_kjit()
                t2 = time.perf_counter()
                tt.append((t1 - t0) * 1e3)
                kt.append((t2 - t1) * 1e3)
            tt.sort()
            kt.sort()
            name = os.path.basename(path)[:-4]
            print("| %s | %d | %.3f / %.3f | %.3f / %.3f | %.2f× |" % (
                name, threads, tt[0], tt[len(tt) // 2], kt[0],
                kt[len(kt) // 2], tt[0] / kt[0]), flush=True)


if __name__ == "__main__":
    main()
