"""Speed up a PyTorch model with kjit: kjit.torch.optimize() moves its
depthwise convolutions to kjit kernels (same parameters, same outputs).

  /usr/bin/python3 examples/optimize_model.py               # ConvNeXt-T, 224
  /usr/bin/python3 examples/optimize_model.py --image 96 --repeats 3
  /usr/bin/python3 examples/optimize_model.py --tune 60     # tune, then time

--tune S tunes each distinct layer workload within S seconds in all and
records the results in kjit's tuning database ($KJIT_TUNING_DB, else
<kjit cache dir>/tuning.sqlite), so later runs start tuned.
"""
import argparse
import copy
import os
import statistics
import sys
import time

import torch

import kjit.torch as kt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "bench", "torch"))
from models import convnext_t  # noqa: E402  ConvNeXt-T from its paper


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", type=int, default=224)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--tune", type=float, default=0.0,
                   help="tuning budget in seconds (0: tuned or default configs)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = convnext_t().eval()
    x = torch.randn(1, 3, args.image, args.image)
    original = copy.deepcopy(model)

    # The one call: in place, returns what it replaced and the kernels' configs.
    report = kt.optimize(model, tune_seconds=args.tune, example_inputs=x)
    print(report, "\n")

    with torch.no_grad():
        ref, y = original(x), model(x)
        err = ((y - ref).abs().max() / ref.abs().max()).item()
        print("max |kjit - PyTorch| / max |PyTorch| = %.1e (%s 1e-4)"
              % (err, "within" if err <= 1e-4 else "NOT within"))
        a, b = [], []
        for _ in range(args.repeats):         # interleaved: A B A B ...
            for model_, times in ((original, a), (model, b)):
                t = time.perf_counter()
                model_(x)
                times.append(time.perf_counter() - t)
    print("ConvNeXt-T, 1x3x%dx%d, %d thread(s), %d runs each:"
          % (args.image, args.image, args.threads, args.repeats))
    for name, t in (("PyTorch", a), ("PyTorch + kjit", b)):
        print("  %-15s min %8.1f ms   median %8.1f ms"
              % (name, 1e3 * min(t), 1e3 * statistics.median(t)))
    print("  speed-up: %.2fx (median), %.2fx (min)"
          % (statistics.median(a) / statistics.median(b), min(a) / min(b)))
    return 0 if err <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
