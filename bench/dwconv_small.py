"""Depthwise conv through kjit.torch vs F.conv2d on the small/strided and
large-kernel shapes of issue 14 (batch 1, padding k//2, fp32).

Times PyTorch on NCHW and channels_last and kjit on both layouts in one
process (min and median of --reps calls after a warm-up call), after
checking kjit's outputs against F.conv2d in float64. 'ratio' is PyTorch's
best layout (min) / kjit's min, per kjit layout; the goal is >= 1.0.

Run: PYTHONPATH=build/python KJIT_TUNING_DB=off /usr/bin/python3 \\
         bench/dwconv_small.py [--threads 1] [C,H,K,S ...]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import kjit.torch as kt

SHAPES = [(128, 112, 3, 1), (128, 112, 3, 2), (256, 56, 3, 2), (512, 28, 3, 2),
          (64, 56, 5, 1), (128, 56, 5, 2), (768, 7, 7, 1), (256, 56, 7, 1),
          (512, 14, 31, 1), (128, 56, 13, 1), (256, 56, 31, 1)]


def timed(fn, reps):
    fn()
    t = time.perf_counter()
    fn()
    if time.perf_counter() - t > 0.05:  # PyTorch's NCHW 31x31: ~1 s a call
        reps = min(reps, 5)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1e3, statistics.median(ts) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("shapes", nargs="*", help="C,H,K,S (default: all)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shapes = [tuple(map(int, s.split(","))) for s in a.shapes] or SHAPES
    print("| C,H,K,S | torch NCHW | torch CL | kjit NCHW | kjit NHWC "
          "| ratio NCHW, NHWC |  (ms, min / median)")
    print("|---|---|---|---|---|---|")
    for c, h, k, s in shapes:
        torch.manual_seed(0)
        x = torch.randn(1, c, h, h)
        w = torch.randn(c, 1, k, k)
        p = k // 2
        xl = x.to(memory_format=torch.channels_last)
        ref = F.conv2d(x.double(), w.double(), None, s, p, 1, c)
        for xx in (x, xl):
            got = kt.depthwise_conv2d(xx, w, None, s, p).double()
            err = ((got - ref).abs().max() / ref.abs().max()).item()
            assert err < 1e-5, (c, h, k, s, err)
        r = [timed(lambda: F.conv2d(x, w, None, s, p, 1, c), a.reps),
             timed(lambda: F.conv2d(xl, w, None, s, p, 1, c), a.reps),
             timed(lambda: kt.depthwise_conv2d(x, w, None, s, p), a.reps),
             timed(lambda: kt.depthwise_conv2d(xl, w, None, s, p), a.reps)]
        best = min(r[0][0], r[1][0])
        print(f"| {c},{h},{k},{s} | "
              + " | ".join(f"{m:.3f} / {md:.3f}" for m, md in r)
              + f" | {best / r[2][0]:.2f}, {best / r[3][0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
