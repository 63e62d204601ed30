"""Per-call overhead of kjit.torch on a kernel-cache hit, against trivial
torch ops on the same tiny tensors (goal: at most 20 us of overhead).

Rows (each a loop of --calls calls, best of --rounds rounds, us per call):
- torch.add(x, x) and F.conv2d(x, w, groups=C): what PyTorch's own
  dispatch costs on the same tensors;
- Kernel.time: the kjit kernel alone (timed in C++: no Python, no checks);
- Kernel.run with ready-made views: the extension's call (argument
  conversion, GIL release) on top of the kernel;
- kjit.torch.depthwise_conv2d: the whole call (argument checks, cache
  lookup, output allocation, views).
Overhead = kjit.torch.depthwise_conv2d - Kernel.time.

  /usr/bin/python3 bench/torch/dispatch_bench.py --threads 1
"""
import argparse
import sys
import time

import torch
import torch.nn.functional as F

import kjit.torch as kt
from kjit import _runtime
from kjit.torch._tensors import view


def per_call_us(fn, calls, rounds):
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t) / calls)
    return 1e6 * best


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--shape", default="1,8,8,8",
                   help="N,C,H,W of the tiny input (3x3 kernel, padding 1)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    n, c, h, w = map(int, args.shape.split(","))
    x, wt = torch.randn(n, c, h, w), torch.randn(c, 1, 3, 3)

    with torch.no_grad():
        y = kt.depthwise_conv2d(x, wt, padding=1)          # compiles
        ref = F.conv2d(x, wt, padding=1, groups=c)
        err = ((y - ref).abs().max() / ref.abs().max()).item()
        assert err <= 1e-4, "kjit output differs from F.conv2d: %g" % err
        (key, kernel), = [kv for kv in _runtime.cached_kernels()
                          if kv[0][0] == "depthwise_conv2d"]
        ins, outs = [view(x), view(wt.reshape(c, 3, 3))], [view(y)]

        calls, rounds = args.calls, args.rounds
        kernel_us = 1e3 * min(kernel.time(ins, outs, warmup=100,
                                          repeat=calls // 10))
        rows = [
            ("torch.add(x, x)", per_call_us(lambda: torch.add(x, x),
                                            calls, rounds)),
            ("F.conv2d(x, w, padding=1, groups=C)", per_call_us(
                lambda: F.conv2d(x, wt, padding=1, groups=c), calls, rounds)),
            ("kjit Kernel.time (kernel alone)", kernel_us),
            ("kjit Kernel.run, ready views", per_call_us(
                lambda: kernel.run(ins, outs), calls, rounds)),
            ("kjit.torch.depthwise_conv2d", per_call_us(
                lambda: kt.depthwise_conv2d(x, wt, padding=1), calls, rounds)),
        ]
    total = rows[-1][1]
    print("input %s, weight %dx1x3x3, padding 1, %d thread(s); best of %d "
          "rounds of %d calls\n" % ("x".join(map(str, x.shape)), c,
                                    args.threads, rounds, calls))
    print("| call | us per call |\n|---|---|")
    for name, us in rows:
        print("| %s | %.2f |" % (name, us))
    overhead = total - kernel_us
    print("\nkjit.torch dispatch overhead on a cache hit: %.2f us per call "
          "(goal <= 20 us): %s" % (overhead, "met" if overhead <= 20
                                   else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
