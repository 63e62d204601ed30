"""End-to-end forward time: PyTorch alone against PyTorch with kjit, in the
same process, on the networks of models.py (random weights, batch 1).

ConvNeXt-T and RepLKNet-31B get kjit through kjit.torch.optimize(); NAT-Mini
and the Hyena stack through kjit.torch.neighborhood_attention / fft_conv
(models.set_backend). Both variants share the weights. For each thread
count: one untimed run of each (kernels compile there), the outputs compared
(max |kjit - torch| / max |torch| <= 1e-4), then --repeats ABAB-interleaved
timed forwards; min and median of each, and the speed-up torch / kjit.

  /usr/bin/python3 bench/torch/e2e_bench.py --threads 1,2 --repeats 5
  /usr/bin/python3 bench/torch/e2e_bench.py --models convnext_t --image 64 \\
      --repeats 1          # smoke run
"""
import argparse
import copy
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models as M  # noqa: E402

import kjit.torch as kt  # noqa: E402

GOALS = {"convnext_t": 1.3, "replknet31b": 2.0}


def blas_in_use():
    """The BLAS library this process loaded (Debian's torch takes whatever
    libblas.so.3 resolves to: netlib's reference BLAS unless OpenBLAS or
    BLIS is installed or put on LD_LIBRARY_PATH)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
    except OSError:
        return "unknown"
    return ", ".join(sorted(os.path.realpath(p) for p in libs)) or "none"


def kjit_variant(name, model, how, x, tune_seconds):
    """A copy of `model` computing through kjit, and a line on what moved."""
    m = copy.deepcopy(model)
    if how == "optimize":
        report = kt.optimize(m, tune_seconds=tune_seconds, example_inputs=x)
        shapes = {(e.input_shape, e.kernel, e.stride) for e in report}
        sources = sorted({s for e in report for s in e.config_sources})
        return m, ("%s: %d depthwise convs on kjit (%d distinct workloads), "
                   "config sources: %s" % (name, len(report), len(shapes),
                                           ", ".join(sources))), report
    M.set_backend(m, "kjit")
    return m, "%s: attention / long convolution through kjit.torch" % name, None


def forward(model, x):
    t = time.perf_counter()
    y = model(x)
    return y, time.perf_counter() - t


def rel_error(y, ref):
    return ((y.double() - ref.double()).abs().max()
            / ref.double().abs().max()).item()


def bench(name, threads, repeats, image, hyena_len, hyena_depth, tune_seconds,
          profile, show_report):
    ctor, shape, how = M.MODELS[name]
    if name == "hyena":
        shape = (1, hyena_len, shape[2])
        ctor = lambda: M.hyena_stack(depth=hyena_depth)  # noqa: E731
    elif image and how == "optimize":   # NAT needs every level >= 7x7
        shape = shape[:2] + (image, image)
    torch.manual_seed(0)
    model = ctor().eval()
    x = torch.randn(*shape)
    rows, notes = [], []
    with torch.no_grad():
        try:
            fast, note, report = kjit_variant(name, model, how, x, tune_seconds)
        except AttributeError as e:       # an op not in this kjit.torch yet
            return [], ["%s: not run: %s" % (name, e)]
        notes.append(note)
        if report is not None and show_report:
            notes.append(str(report))
        for t in threads:
            torch.set_num_threads(t)
            y_ref, _ = forward(model, x)              # warm-up; compiles
            try:
                y, _ = forward(fast, x)
            except AttributeError as e:
                notes.append("%s: kjit variant not run: %s" % (name, e))
                break
            err = rel_error(y, y_ref)
            a, b = [], []
            for _ in range(repeats):                  # ABAB
                a.append(forward(model, x)[1])
                b.append(forward(fast, x)[1])
            rows.append(dict(model=name, threads=t, shape=shape,
                             torch_min=min(a), torch_med=statistics.median(a),
                             kjit_min=min(b), kjit_med=statistics.median(b),
                             err=err))
            if profile:
                for label, m in (("torch", model), ("kjit", fast)):
                    with torch.autograd.profiler.profile() as prof:
                        m(x)
                    notes.append("%s, %d thread(s), %s: top ops\n%s" % (
                        name, t, label, prof.key_averages().table(
                            sort_by="self_cpu_time_total", row_limit=8)))
    return rows, notes


def table(rows, repeats):
    out = ["| model | input | threads | PyTorch min / median (ms) | "
           "PyTorch+kjit min / median (ms) | speed-up (median) | "
           "speed-up (min) | goal | rel. error | |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        med = r["torch_med"] / r["kjit_med"]
        goal = GOALS.get(r["model"])
        ok = "ok" if r["err"] <= 1e-4 else "FAILS 1e-4"
        out.append("| %s | %s | %d | %.1f / %.1f | %.1f / %.1f | %.2fx | "
                   "%.2fx | %s | %.1e | %s |" % (
                       r["model"], "x".join(map(str, r["shape"])),
                       r["threads"], 1e3 * r["torch_min"],
                       1e3 * r["torch_med"], 1e3 * r["kjit_min"],
                       1e3 * r["kjit_med"], med,
                       r["torch_min"] / r["kjit_min"],
                       "%.1fx" % goal if goal and r["threads"] == 1 else "",
                       r["err"], ok))
    out.append("")
    out.append("%d ABAB-interleaved forwards of each after one untimed "
               "run; batch 1; rel. error = max|kjit - torch| / max|torch| "
               "(goal <= 1e-4)." % repeats)
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(M.MODELS),
                   help="comma-separated: " + ", ".join(M.MODELS))
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--image", type=int, default=0,
                   help="image size instead of 224 for ConvNeXt and RepLKNet (smoke runs)")
    p.add_argument("--hyena-len", type=int, default=2048)
    p.add_argument("--hyena-depth", type=int, default=2,
                   help="Hyena blocks in the stack")
    p.add_argument("--tune", type=float, default=0.0,
                   help="kjit.torch.optimize(tune_seconds=...) budget")
    p.add_argument("--show-report", action="store_true",
                   help="print optimize()'s report (every layer's config)")
    p.add_argument("--profile", action="store_true",
                   help="print the top ops of one forward of each variant")
    args = p.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    names = args.models.split(",")
    for n in names:
        if n not in M.MODELS:
            p.error("unknown model %r (known: %s)" % (n, ", ".join(M.MODELS)))
    print("torch %s, BLAS: %s, OPENBLAS_NUM_THREADS=%s" % (
        torch.__version__, blas_in_use(),
        os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")), flush=True)
    rows, notes = [], []
    for n in names:
        t0 = time.time()
        r, nt = bench(n, threads, args.repeats, args.image, args.hyena_len,
                      args.hyena_depth, args.tune, args.profile,
                      args.show_report)
        rows += r
        notes += nt + ["%s: %.0f s in all" % (n, time.time() - t0)]
        print("\n".join(nt), flush=True)
        if r:
            print(table(r, args.repeats), flush=True)
    print("\n## All\n")
    print(table(rows, args.repeats))
    return 0 if all(r["err"] <= 1e-4 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
