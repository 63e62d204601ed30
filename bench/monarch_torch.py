"""Monarch product (kjit.butterfly_matmul) against PyTorch's two bmm, 1 thread.

Per shape (m1, m2, B), in one process, interleaved A B C A B C ... so every
implementation sees the same machine load:
  - kjit, default config (what a user gets),
  - kjit, the config the default was before 2026-12-08 (one row vector x
    12 outputs, 16 rows per task, weights read in place): the "before" rows,
  - PyTorch: the fastest of two two-bmm forms (batch on the rows: bmm of the
    (m1, B, m2) view by r^T, then of the permuted X1 by l^T; or weights on
    the left: bmm of r by the (m1, m2, B) view, then of l by X1^T). Weights
    are transposed by views only, as a model would hold them.
Every output is checked against a float64 einsum of ARCHITECTURE.md's steps
(relative L2 error printed); times are the calling thread's CPU time
(time.thread_time: kjit threads=1 and torch.set_num_threads(1) both run on
it), min and median of `reps`; GFLOP/s = 2 B N (m1 + m2) / min. With
--threads N > 1 (OPENBLAS_NUM_THREADS=N too) the times are wall clock.

Run (PyTorch's BLAS is whatever libblas.so.3 resolves to; Debian's default is
the netlib reference BLAS):
  PYTHONPATH=build/python KJIT_TUNING_DB=off /usr/bin/python3 \
      bench/monarch_torch.py [--reps 7] [--target cpu:x86-64-v3] [--peak 117]
"""
import argparse
import re
import time

import numpy as np
import torch

import kjit
from kjit import _mlir

SHAPES = [(64, 64, 3136), (16, 256, 3136), (8, 512, 1568), (512, 8, 1568),
          (32, 128, 3136)]


def before_config(vw):
    return ("#kjit.config<{vector_width = %d, row_tile = 16, row_block = 1, "
            "block_tile = 12, transpose = \"fused\", threads = 1, "
            "weights = \"direct\"}>" % vw)


def view(t):
    return (t.data_ptr(), "f32", tuple(t.shape), tuple(t.stride()))


def reference(x, r, l):
    B, (m1, m2) = x.shape[0], r.shape[:2]
    X1 = torch.einsum("ipq,biq->bip", r.double(), x.double().view(B, m1, m2))
    return torch.einsum("jik,bkj->bij", l.double(), X1).reshape(B, m1 * m2)


def torch_rows(x, r, l):
    """bmm over blocks with the rows as the GEMMs' M dimension."""
    B, (m1, m2) = x.shape[0], r.shape[:2]
    X1 = torch.bmm(x.view(B, m1, m2).transpose(0, 1), r.transpose(1, 2))
    X3 = torch.bmm(X1.permute(2, 1, 0), l.transpose(1, 2))
    return X3.permute(1, 2, 0).reshape(B, m1 * m2)


def torch_weights_left(x, r, l):
    """bmm over blocks with the weights on the left, rows as N."""
    B, (m1, m2) = x.shape[0], r.shape[:2]
    X1 = torch.bmm(r, x.view(B, m1, m2).permute(1, 2, 0))
    X3 = torch.bmm(l, X1.transpose(0, 1))
    return X3.permute(2, 1, 0).reshape(B, m1 * m2)


def rel_err(y, ref):
    return ((y.double() - ref).norm() / ref.norm()).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--target", default="host")
    ap.add_argument("--peak", type=float, default=117.0,
                    help="one core's fp32 FMA peak, GFLOP/s (bench/fma_peak.c)")
    ap.add_argument("--threads", type=int, default=1,
                    help="kjit threads and torch.set_num_threads; above 1 the "
                    "times are wall clock (the work is on other threads too)")
    ap.add_argument("--shapes", default="",
                    help="m1xm2xB,... (default: the five of the table)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    torch.manual_seed(0)
    shapes = SHAPES
    if args.shapes:
        shapes = [tuple(int(v) for v in s.split("x"))
                  for s in args.shapes.split(",")]
    jit = kjit.Jit(args.target)
    print("| m1 x m2 | B | impl | min ms | median ms | GFLOP/s | % peak "
          "| torch / impl | rel. L2 err | config |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m1, m2, B in shapes:
        N = m1 * m2
        x = torch.randn(B, N)
        r = torch.randn(m1, m2, m2) / m2 ** 0.5
        l = torch.randn(m2, m1, m1) / m1 ** 0.5
        ref = reference(x, r, l)
        text = _mlir.module(
            "kjit.butterfly_matmul",
            [_mlir.tensor((B, N)), _mlir.tensor((m1, m2, m2)),
             _mlir.tensor((m2, m1, m1))], [_mlir.tensor((B, N))], {})
        impls = []
        for name, cfg in [("kjit default", ""), ("kjit before", None)]:
            if cfg is None:  # the default's vector width: the target's
                cfg = before_config(int(re.search(
                    r"vector_width = (\d+)", impls[0][3]).group(1)))
            if cfg:  # the before config, at the requested threads
                cfg = cfg.replace("threads = 1", "threads = %d" % args.threads)
            k = jit.compile_module(text, config=cfg, threads=args.threads)
            y = torch.full((B, N), float("nan"))
            ins, outs = [view(x), view(r), view(l)], [view(y)]
            impls.append([name, (lambda k=k, i=ins, o=outs: k.run(i, o)),
                          lambda y=y: y, k.configs[0] if k.configs else cfg])
        for name, f in [("torch 2xbmm (rows)", torch_rows),
                        ("torch 2xbmm (weights left)", torch_weights_left)]:
            box = {}

            def run(f=f, box=box):
                box["y"] = f(x, r, l)
            impls.append([name, run, lambda box=box: box["y"], ""])
        for impl in impls:
            impl[1]()
            impl.append(rel_err(impl[2](), ref))
            impl.append([])
        for _ in range(args.reps):
            for impl in impls:
                t0 = clock()
                impl[1]()
                impl[5].append(clock() - t0)
        torch_best = min(min(i[5]) for i in impls if i[0].startswith("torch"))
        flops = 2.0 * B * N * (m1 + m2)
        for name, _, _, cfg, err, ts in impls:
            g = flops / min(ts) / 1e9
            print("| %dx%d | %d | %s | %.2f | %.2f | %.1f | %.0f%% | %.2fx "
                  "| %.1e | %s |" % (
                      m1, m2, B, name, min(ts) * 1e3, np.median(ts) * 1e3, g,
                      100 * g / args.peak, torch_best / min(ts), err,
                      ("`%s`" % cfg) if cfg else ""), flush=True)


if __name__ == "__main__":
    main()
