#!/usr/bin/env python3
"""kjit on the GPU: numerics of every op with a GPU generator, and timings
against PyTorch peers.

Two steps, because the GPU machine cannot build kjit (no MLIR/LLVM there):

  gpu_bench.py prepare --kjit-run build/tools/kjit-run/kjit-run --out DIR
      (where kjit is built) For every workload below: the MLIR module,
      random inputs (fixed seed), the CPU reference output (kjit-run
      --target=cpu, itself tested against independent references), and the
      CUDA host object (kjit-run --target=cuda --emit=host-object) linked
      into a kernel library. An op whose GPU compile fails is recorded with
      the compiler's message ("no GPU generator" and the like), so ops that
      gain a generator are picked up by the next prepare, untouched here.

  gpu_bench.py run --bundle DIR --runner RUNNER --out FILE.md
      (on the GPU) Each kernel library through kjit_gpu_runner: outputs
      compared with the CPU reference (max |gpu - cpu| <= rtol * (1 +
      max |cpu|); integer outputs, spgemm's row_ptr and col_idx, equal;
      spgemm's col_idx and values are allocated by the kernel), then timed (CUDA events, L2 flushed before each run,
      median of --repeat). The PyTorch peer of each workload is timed the same
      way in this process. Writes a markdown table.

bench/gpu/run.sh does the `run` step in one call; bench/gpu/prepare.sh the
`prepare` step.

Smoke mode (prepare --smoke, KJIT_GPU_SMOKE=1 for the shell scripts): the
same path without a GPU, for CI. The check shapes are the real ones (small
already); the bench shapes are tiny stand-ins (SMOKE_BENCH). The kernels
are built with KJIT_GPU_EMULATE=1 (LLVM bitcode instead of cubin/PTX) and
run on the CPU emulating driver (tests/gpu/EmuCudaDriver.cpp, loaded through
KJIT_CUDA_DRIVER). Every check must match; every workload must have a
kernel; PyTorch peers are not timed, and kjit's times are the emulator's
(meaningless). The manifest says which kind a bundle is: `run` takes a smoke
bundle's table only to a file outside bench/results, and a real bundle's
prepare refuses KJIT_GPU_EMULATE=1 (bitcode would not load on a GPU).
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys

import numpy as np

RTOL = 1e-4


def t(shape, dtype="f32"):
    return "tensor<" + "x".join(str(d) for d in shape) + "x" + dtype + ">"


def module(op, operands, types, result, attrs=""):
    args = ", ".join(f"%a{i}: {ty}" for i, ty in enumerate(types))
    ops = ", ".join(f"%a{i}" for i in range(len(operands)))
    return (f"func.func @main({args}) -> {result} {{\n"
            f"  %y = \"kjit.{op}\"({ops}) {attrs} : ({', '.join(types)}) -> "
            f"{result}\n  return %y : {result}\n}}\n")


# ---------------------------------------------------------------- workloads
# Each: name, op, inputs [(name, shape, dtype)], output shape, MLIR, and a
# generator of valid inputs. Shapes are the bench's usual ones.

def dw(name, n, h, w, c, k, bias=True, layout="nhwc"):
    p = (k - 1) // 2
    act = (n, h, w, c) if layout == "nhwc" else (n, c, h, w)
    ins = [("x", act, "f32"), ("w", (c, k, k), "f32")]
    if bias:
        ins.append(("b", (c,), "f32"))
    attrs = (f"{{padding = array<i64: {p}, {p}, {p}, {p}>, "
             f"layout = \"{layout}\"}}")
    return dict(name=name, op="depthwise_conv2d", inputs=ins,
                output=act, attrs=attrs,
                params=dict(n=n, h=h, w=w, c=c, k=k, bias=bias,
                            layout=layout))


def inception(name, n, h, w, c, ksq, kb, g):
    ins = [("x", (n, h, w, c), "f32"), ("sq", (g, ksq, ksq), "f32"),
           ("bw", (g, 1, kb), "f32"), ("bh", (g, kb, 1), "f32")]
    attrs = f"{{layout = \"nhwc\", branch_channels = array<i64: {g}, {g}, {g}>}}"
    return dict(name=name, op="inception_depthwise_conv2d", inputs=ins,
                output=(n, h, w, c), attrs=attrs,
                params=dict(n=n, h=h, w=w, c=c, ksq=ksq, kb=kb, g=g))


def fftconv(name, b, c, l, lk):
    ins = [("u", (b, c, l), "f32"), ("k", (c, lk), "f32"), ("d", (c,), "f32")]
    return dict(name=name, op="fft_conv", inputs=ins, output=(b, c, l),
                attrs="", params=dict(b=b, c=c, l=l, lk=lk))


def butterfly(name, b, m1, m2):
    ins = [("x", (b, m1 * m2), "f32"), ("r", (m1, m2, m2), "f32"),
           ("l", (m2, m1, m1), "f32")]
    return dict(name=name, op="butterfly_matmul", inputs=ins,
                output=(b, m1 * m2), attrs="",
                params=dict(b=b, m1=m1, m2=m2))


def spmm(name, m, k, n, density):
    nnz = int(round(m * k * density))
    ins = [("row_ptr", (m + 1,), "i32"), ("col_idx", (nnz,), "i32"),
           ("values", (nnz,), "f32"), ("b", (k, n), "f32")]
    return dict(name=name, op="spmm", inputs=ins, output=(m, n), attrs="",
                params=dict(m=m, k=k, n=n, nnz=nnz))


def attention1d(name, b, heads, l, d, ks):
    ins = [(x, (b, heads, l, d), "f32") for x in ("q", "k", "v")]
    attrs = (f"{{kernel_size = array<i64: {ks}>, dilation = array<i64: 1>}}")
    return dict(name=name, op="window_attention", inputs=ins,
                output=(b, heads, l, d), attrs=attrs,
                params=dict(b=b, heads=heads, l=l, d=d, ks=ks))


def attention2d(name, b, heads, h, w, d, ks):
    ins = [(x, (b, heads, h, w, d), "f32") for x in ("q", "k", "v")]
    attrs = (f"{{kernel_size = array<i64: {ks}, {ks}>, "
             f"dilation = array<i64: 1, 1>}}")
    return dict(name=name, op="window_attention", inputs=ins,
                output=(b, heads, h, w, d), attrs=attrs,
                params=dict(b=b, heads=heads, h=h, w=w, d=d, ks=ks))


def spgemm(name, m, k, n, density):
    # CSR x CSR -> CSR: row_ptr (static) and col_idx / values, which the
    # kernel allocates at their run-time length (the runner's SHAPE "?").
    nnz_a = int(round(m * k * density))
    nnz_b = int(round(k * n * density))
    return dict(name=name, op="spgemm",
                inputs=[("a_row_ptr", (m + 1,), "i32"),
                        ("a_col_idx", (nnz_a,), "i32"),
                        ("a_values", (nnz_a,), "f32"),
                        ("b_row_ptr", (k + 1,), "i32"),
                        ("b_col_idx", (nnz_b,), "i32"),
                        ("b_values", (nnz_b,), "f32")],
                output=None, attrs=f"{{shape = array<i64: {m}, {k}, {n}>}}",
                params=dict(m=m, k=k, n=n, density=density))


# (check, bench): the check shape (small, odd and prime sizes) is run
# against the CPU reference; the bench shape is timed against the peers, on
# inputs made on the GPU machine (no reference needed, and the bundle stays
# small).
WORKLOADS = [
    (dw("dw_k7_check", 2, 23, 19, 37, 7), dw("dw_k7_56x56x256", 1, 56, 56, 256, 7)),
    (dw("dw_k13_check", 1, 17, 29, 45, 13, bias=False),
     dw("dw_k13_28x28x512", 1, 28, 28, 512, 13, bias=False)),
    (dw("dw_k31_check", 1, 41, 37, 24, 31),
     dw("dw_k31_32x32x256", 1, 32, 32, 256, 31)),
    (inception("inception_check", 1, 19, 23, 40, 3, 11, 8),
     inception("inception_k3_b11_56x56x256", 1, 56, 56, 256, 3, 11, 32)),
    (fftconv("fft_conv_check", 2, 5, 1000, 333),
     fftconv("fft_conv_4x256_L4096", 4, 256, 4096, 4096)),
    (butterfly("butterfly_check", 7, 12, 10),
     butterfly("butterfly_1024x(64x64)", 1024, 64, 64)),
    (spmm("spmm_check", 37, 41, 53, 0.2),
     spmm("spmm_512x512x3136_10pct", 512, 512, 3136, 0.10)),
    (attention1d("natten1d_check", 1, 2, 101, 16, 7),
     attention1d("natten1d_2x4x4096x32_k7", 2, 4, 4096, 32, 7)),
    (spgemm("spgemm_check", 37, 41, 43, 0.1),
     spgemm("spgemm_2048_1pct", 2048, 2048, 2048, 0.01)),
    # PERFORMANCE.md's shapes: NCHW large kernels (oneDNN has nothing fast
    # there on the CPU) and 2-D neighborhood attention, 56x56, 4 heads, D32.
    (dw("dw_k31_nchw_check", 1, 29, 31, 12, 31, layout="nchw"),
     dw("dw_k31_nchw_32x32x256", 1, 32, 32, 256, 31, layout="nchw")),
    (attention2d("natten2d_check", 1, 2, 13, 11, 16, 5),
     attention2d("natten2d_1x4x56x56x32_k7", 1, 4, 56, 56, 32, 7)),
]

# Smoke mode: the same check shapes, and a tiny bench shape per workload
# (odd sizes too) that the CPU emulator runs in well under a second.
SMOKE_BENCH = [
    dw("dw_k7_smoke_1x12x10x32", 1, 12, 10, 32, 7),
    dw("dw_k13_smoke_1x9x11x16", 1, 9, 11, 16, 13, bias=False),
    dw("dw_k31_smoke_1x16x16x8", 1, 16, 16, 8, 31),
    inception("inception_smoke_1x12x12x32", 1, 12, 12, 32, 3, 11, 8),
    fftconv("fft_conv_smoke_1x4_L256", 1, 4, 256, 200),
    butterfly("butterfly_smoke_4x(8x8)", 4, 8, 8),
    spmm("spmm_smoke_32x32x48", 32, 32, 48, 0.1),
    attention1d("natten1d_smoke_1x2x64x16_k7", 1, 2, 64, 16, 7),
    spgemm("spgemm_smoke_64_5pct", 64, 64, 64, 0.05),
    dw("dw_k31_nchw_smoke_1x16x16x8", 1, 16, 16, 8, 31, layout="nchw"),
    attention2d("natten2d_smoke_1x2x12x12x16_k5", 1, 2, 12, 12, 16, 5),
]
assert [b["op"] for b in SMOKE_BENCH] == [c["op"] for c, _ in WORKLOADS]
SMOKE_WORKLOADS = [(c, b) for (c, _), b in zip(WORKLOADS, SMOKE_BENCH)]


def workloads(smoke):
    return SMOKE_WORKLOADS if smoke else WORKLOADS



def make_inputs(wl, rng):
    """Valid inputs for the workload, in order."""
    p = wl["params"]
    out = []
    if wl["op"] in ("spmm", "spgemm"):
        def csr(m, k, nnz):
            rows = np.sort(rng.integers(0, m, nnz))
            counts = np.bincount(rows, minlength=m)
            rp = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            ci = rng.integers(0, k, nnz).astype(np.int32)
            for r in range(m):  # sorted within rows (cuSPARSE likes it)
                ci[rp[r]:rp[r + 1]].sort()
            vals = rng.uniform(-1, 1, nnz).astype(np.float32)
            return [rp, ci, vals]
        if wl["op"] == "spmm":
            out = csr(p["m"], p["k"], p["nnz"])
            out.append(rng.uniform(-1, 1, (p["k"], p["n"])).astype(np.float32))
        else:
            out = (csr(p["m"], p["k"], wl["inputs"][1][1][0]) +
                   csr(p["k"], p["n"], wl["inputs"][4][1][0]))
        return out
    for _, shape, dtype in wl["inputs"]:
        out.append(rng.uniform(-1, 1, shape).astype(np.float32))
    return out


# ------------------------------------------------------------------ prepare

DTYPES = {"f32": np.float32, "i32": np.int32}


def output_specs(wl):
    """The outputs of a workload as the runner takes them: dtype, shape ("?"
    for one the kernel allocates) and the reference's file."""
    if wl["output"] is not None:
        return [dict(shape=list(wl["output"]), dtype="f32", file="ref.bin")]
    m = wl["params"]["m"]  # spgemm: CSR
    return [dict(shape=[m + 1], dtype="i32", file="ref_row_ptr.bin"),
            dict(shape="?", dtype="i32", file="ref_col_idx.bin"),
            dict(shape="?", dtype="f32", file="ref_values.bin")]


def module_text(wl):
    types = [t(s, dt) for _, s, dt in wl["inputs"]]
    if wl["output"] is not None:
        return module(wl["op"], wl["inputs"], types, t(wl["output"]),
                      wl["attrs"])
    # spgemm: CSR results with a dynamic nnz.
    m = wl["params"]["m"]
    res = f"{t((m + 1,), 'i32')}, tensor<?xi32>, tensor<?xf32>"
    args = ", ".join(f"%a{i}: {ty}" for i, ty in enumerate(types))
    ops = ", ".join(f"%a{i}" for i in range(len(types)))
    return (f"func.func @main({args}) -> ({res}) {{\n"
            f"  %r:3 = \"kjit.{wl['op']}\"({ops}) {wl['attrs']} : "
            f"({', '.join(types)}) -> ({res})\n"
            f"  return %r#0, %r#1, %r#2 : {res}\n}}\n")


def prepare(args):
    emulate = os.environ.get("KJIT_GPU_EMULATE") == "1"
    if args.smoke and not emulate:
        # The emulator runs LLVM bitcode only.
        os.environ["KJIT_GPU_EMULATE"] = "1"
    elif not args.smoke and emulate:
        print("gpu_bench.py prepare: KJIT_GPU_EMULATE=1 makes device code "
              "for the CPU emulator, which a GPU cannot load: unset it, or "
              "pass --smoke for an emulator bundle", file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rng = np.random.default_rng(args.seed)
    manifest = dict(chip=args.chip, seed=args.seed, rtol=RTOL,
                    smoke=bool(args.smoke),
                    device_code=("LLVM bitcode for the CPU emulator"
                                 if args.smoke else "cubin/PTX"),
                    created=datetime.datetime.now(datetime.timezone.utc)
                    .strftime("%Y-%m-%dT%H:%MZ"),
                    commit=subprocess.run(
                        ["git", "rev-parse", "--short", "HEAD"],
                        capture_output=True, text=True).stdout.strip(),
                    workloads=[])
    for check, bench in workloads(args.smoke):
        for role, wl in (("check", check), ("bench", bench)):
            d = os.path.join(out, wl["name"])
            os.makedirs(d)
            with open(os.path.join(d, "module.mlir"), "w") as f:
                f.write(module_text(wl))
            entry = dict(name=wl["name"], role=role, op=wl["op"],
                         inputs=[dict(name=n, shape=list(sh), dtype=dt,
                                      file=f"{n}.bin")
                                 for n, sh, dt in wl["inputs"]],
                         outputs=output_specs(wl),
                         kernel=None, status="")
            manifest["workloads"].append(entry)
            # The GPU host object first: an op without a GPU generator stops
            # here, with the compiler's message.
            obj = os.path.join(d, "kernel.o")
            r = subprocess.run([args.kjit_run, os.path.join(d, "module.mlir"),
                                "--target=cuda", "--emit=host-object",
                                f"--chip={args.chip}", "-o", obj],
                               capture_output=True, text=True)
            if r.returncode != 0:
                entry["status"] = "no GPU kernel: " + r.stderr.strip().replace(
                    "kjit-run: error: ", "").replace(
                        os.path.join(d, "module.mlir") + ": ", "")
                print(f"{wl['name']}: {entry['status'][:160]}", flush=True)
                continue
            so = os.path.join(d, "kernel.so")
            r = subprocess.run([args.cxx, "-shared", "-o", so, obj],
                               capture_output=True, text=True)
            os.remove(obj)
            if r.returncode != 0:
                entry["status"] = "link failed: " + r.stderr.strip()[:300]
                continue
            entry["kernel"] = "kernel.so"
            entry["status"] = "ready"
            if role == "bench":
                print(f"{wl['name']}: GPU kernel ready", flush=True)
                continue
            # Check shapes: inputs and the CPU reference (kjit's CPU kernel,
            # tested against independent references in tests/).
            npys = []
            for (n, _, _), a in zip(wl["inputs"], make_inputs(wl, rng)):
                a.tofile(os.path.join(d, f"{n}.bin"))
                np.save(os.path.join(d, f"{n}.npy"), a)
                npys.append(os.path.join(d, f"{n}.npy"))
            ref_npys = [os.path.join(d, o["file"][:-4] + ".npy")
                        for o in entry["outputs"]]
            r = subprocess.run([args.kjit_run, os.path.join(d, "module.mlir"),
                                "--target=cpu"] +
                               [f"--input={p}" for p in npys] +
                               [f"--output={p}" for p in ref_npys],
                               capture_output=True, text=True)
            if r.returncode != 0:
                entry["kernel"] = None
                entry["status"] = ("CPU reference failed: " +
                                   r.stderr.strip()[:300])
                continue
            for o, p in zip(entry["outputs"], ref_npys):
                np.load(p).astype(DTYPES[o["dtype"]]).tofile(
                    os.path.join(d, o["file"]))
            for p in npys + ref_npys:
                os.remove(p)
            print(f"{wl['name']}: GPU kernel and CPU reference ready",
                  flush=True)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(dp, fn))
                for dp, _, fns in os.walk(out) for fn in fns)
    print(f"bundle {out}: {total / 1e6:.1f} MB")
    return 0


# ---------------------------------------------------------------------- run

def torch_time(fn, repeat, flush_bytes):
    """Median ms of fn() with CUDA events, L2 flushed before each run (the
    same protocol as kjit_gpu_runner / kjit::Kernel::time)."""
    import torch
    scratch = torch.empty(flush_bytes, dtype=torch.uint8, device="cuda")
    fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeat)]
    stops = [torch.cuda.Event(enable_timing=True) for _ in range(repeat)]
    for i in range(repeat):
        scratch.fill_(i & 0xFF)
        starts[i].record()
        fn()
        stops[i].record()
    torch.cuda.synchronize()
    ms = sorted(s.elapsed_time(e) for s, e in zip(starts, stops))
    return ms[len(ms) // 2]


def peers(wl, arrays):
    """(description, fn) of the PyTorch peers of a workload on GPU tensors."""
    import torch
    import torch.nn.functional as F
    p = wl["params"]
    op = wl["op"]
    g = [torch.from_numpy(a).cuda() for a in arrays]
    out = []
    if op == "depthwise_conv2d":
        nchw = p.get("layout") == "nchw"
        x = (g[0] if nchw else g[0].permute(0, 3, 1, 2).contiguous(
            memory_format=torch.channels_last))
        w = g[1].reshape(p["c"], 1, p["k"], p["k"])
        b = g[2] if p["bias"] else None
        pad = (p["k"] - 1) // 2
        out.append(("cuDNN conv2d(groups=C), " +
                    ("NCHW" if nchw else "channels_last"),
                    lambda: F.conv2d(x, w, b, padding=pad, groups=p["c"])))
    elif op == "inception_depthwise_conv2d":
        x = g[0].permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        gg, c = p["g"], p["c"]
        ident = c - 3 * gg
        wsq = g[1].reshape(gg, 1, p["ksq"], p["ksq"])
        wbw = g[2].reshape(gg, 1, 1, p["kb"])
        wbh = g[3].reshape(gg, 1, p["kb"], 1)

        def mixer():
            xi, xs, xw, xh = torch.split(x, [ident, gg, gg, gg], dim=1)
            return torch.cat(
                (xi, F.conv2d(xs, wsq, padding=p["ksq"] // 2, groups=gg),
                 F.conv2d(xw, wbw, padding=(0, p["kb"] // 2), groups=gg),
                 F.conv2d(xh, wbh, padding=(p["kb"] // 2, 0), groups=gg)),
                dim=1)
        out.append(("cuDNN: 3 depthwise convs + cat (InceptionNeXt)", mixer))
    elif op == "fft_conv":
        u, k, d = g
        n = 2 * p["l"]

        def fftconv():
            y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n),
                                n=n)[..., :p["l"]]
            return y + d[:, None] * u
        out.append(("torch.fft rfft/irfft long conv (cuFFT)", fftconv))
    elif op == "butterfly_matmul":
        x, r, l = g
        b, m1, m2 = p["b"], p["m1"], p["m2"]

        def monarch():
            x1 = torch.einsum("imn,bin->bim", r, x.view(b, m1, m2))
            x3 = torch.einsum("jik,bkj->bji", l, x1)
            return x3.transpose(1, 2).reshape(b, m1 * m2)
        out.append(("torch einsum Monarch (2 batched matmuls)", monarch))
        dense = torch.randn(m1 * m2, m1 * m2, device="cuda")
        out.append(("dense x @ W (N x N, cuBLAS fp32)", lambda: x @ dense))
    elif op == "spmm":
        rp, ci, v, bmat = g
        a = torch.sparse_csr_tensor(rp.long(), ci.long(), v,
                                    size=(p["m"], p["k"]))
        out.append(("torch.sparse.mm CSR x dense (cuSPARSE)",
                    lambda: torch.sparse.mm(a, bmat)))
        ad = a.to_dense()
        out.append(("dense matmul (cuBLAS fp32)", lambda: ad @ bmat))
    elif op == "spgemm":
        a = torch.sparse_csr_tensor(g[0].long(), g[1].long(), g[2],
                                    size=(p["m"], p["k"]))
        b = torch.sparse_csr_tensor(g[3].long(), g[4].long(), g[5],
                                    size=(p["k"], p["n"]))
        out.append(("torch CSR @ CSR (cuSPARSE SpGEMM)", lambda: a @ b))
    elif op == "window_attention" and "h" in p:
        q, k, v = g
        ks, dd = p["ks"], p["d"]

        def window(n):  # NATTEN borders: the window shifted inward
            i = torch.arange(n, device="cuda")
            start = (i - ks // 2).clamp(0, n - ks)
            return start[:, None] + torch.arange(ks, device="cuda")[None, :]
        ih, iw = window(p["h"]), window(p["w"])
        scale = 1.0 / dd ** 0.5

        def natten2d():
            # B,h,H,ks,W,ks,D (gather rows, then columns)
            kk = k[:, :, ih][:, :, :, :, iw]
            vv = v[:, :, ih][:, :, :, :, iw]
            s = torch.einsum("bhxyd,bhxiyjd->bhxyij", q, kk) * scale
            a = s.flatten(-2).softmax(-1).view_as(s)
            return torch.einsum("bhxyij,bhxiyjd->bhxyd", a, vv)
        out.append(("unfused gather + matmul + softmax (NATTEN-style, 2-D)",
                    natten2d))
    elif op == "window_attention":
        q, k, v = g
        ks, l, dd = p["ks"], p["l"], p["d"]
        i = torch.arange(l, device="cuda")
        start = (i - ks // 2).clamp(0, l - ks)
        idx = start[:, None] + torch.arange(ks, device="cuda")[None, :]
        scale = 1.0 / dd ** 0.5

        def natten():
            kk = k[:, :, idx]  # B,h,L,ks,D (gather)
            vv = v[:, :, idx]
            s = torch.einsum("bhld,bhlkd->bhlk", q, kk) * scale
            return torch.einsum("bhlk,bhlkd->bhld", s.softmax(-1), vv)
        out.append(("unfused gather + matmul + softmax (NATTEN-style)",
                    natten))
    return out


RUNNER_DEVICE = []
# One runner call (first run + --repeat timed runs of one shape) at most
# this long: a hung kernel costs this, not the whole device bound.
KERNEL_TIMEOUT_S = int(os.environ.get("KJIT_GPU_KERNEL_TIMEOUT_S", "90"))


def compare(entry, d, out_file, rtol):
    """(ok, verdict) of the GPU outputs (out_file.N) against the CPU
    reference. Float outputs: max |gpu - cpu| <= rtol * (1 + max |cpu|), all
    finite; integer outputs (spgemm's row_ptr and col_idx): equal."""
    worst, notes, ok = None, [], True
    for n, o in enumerate(entry["outputs"]):
        dt = DTYPES[o["dtype"]]
        got = np.fromfile(f"{out_file}.{n}", dtype=dt)
        ref = np.fromfile(os.path.join(d, o["file"]), dtype=dt)
        if got.shape != ref.shape:
            ok = False
            notes.append(f"output {n}: {got.size} entries, expected "
                         f"{ref.size}")
            continue
        if o["dtype"] == "i32":
            bad = int(np.count_nonzero(got != ref))
            if bad:
                ok = False
                notes.append(f"output {n}: {bad} of {ref.size} differ")
            continue
        if not got.size:
            continue
        diff = float(np.max(np.abs(got.astype(np.float64) - ref)))
        tol = rtol * (1 + float(np.max(np.abs(ref))))
        finite = bool(np.all(np.isfinite(got)))
        ok = ok and finite and diff <= tol
        worst = (diff, tol)
        if not finite:
            notes.append(f"output {n}: non-finite")
    shape = (entry["outputs"][0]["shape"] if len(entry["outputs"]) == 1 else
             None)
    what = ("x".join(map(str, shape)) if shape else
            "CSR nnz " + str(os.path.getsize(f"{out_file}.1") // 4)
            if len(entry["outputs"]) == 3 else "")
    err = (f": max err {worst[0]:.1e}, tol {worst[1]:.1e}" if worst else "")
    return ok, (f"{'ok' if ok else 'WRONG'} ({what}{err}"
                f"{'; ' + '; '.join(notes) if notes else ''})")


def shape_arg(shape):
    return shape if shape == "?" else "x".join(map(str, shape))


def run_kernel(runner, d, entry, inputs_dir, out_file, repeat):
    """kjit_gpu_runner on one kernel library: (ms or None, error or "").
    Output i goes to out_file + f".{i}"."""
    cmd = [runner, os.path.join(d, entry["kernel"]), "main"]
    for i in entry["inputs"]:
        cmd += ["--input", f"{i['dtype']}:{shape_arg(i['shape'])}:"
                f"{os.path.join(inputs_dir, i['file'])}"]
    for n, o in enumerate(entry["outputs"]):
        cmd += ["--output",
                f"{o['dtype']}:{shape_arg(o['shape'])}:{out_file}.{n}"]
    if repeat:
        cmd += ["--repeat", str(repeat)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=KERNEL_TIMEOUT_S)
    except subprocess.TimeoutExpired:  # a hung kernel: the next one runs
        return None, (f"timed out after {KERNEL_TIMEOUT_S} s (kernel hung "
                      "or far too slow)")
    if r.returncode != 0:
        return None, (r.stderr.strip() or f"exit {r.returncode}")[:300]
    ms = None
    for line in r.stdout.splitlines():
        if line.startswith("device ") and not RUNNER_DEVICE:
            RUNNER_DEVICE.append(line[len("device "):])
        if line.startswith("time_ms"):
            ms = float(line.split()[1].split("=")[1])
    return ms, ""


def run(args):
    import tempfile
    bundle = os.path.abspath(args.bundle)
    with open(os.path.join(bundle, "manifest.json")) as f:
        manifest = json.load(f)
    smoke = bool(manifest.get("smoke"))
    if smoke:
        results = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", "results")
        if (os.path.realpath(os.path.dirname(os.path.abspath(args.out))) ==
                os.path.realpath(results)):
            print("gpu_bench.py run: a smoke bundle's table (emulated, "
                  "meaningless times) never goes to bench/results: pass "
                  "--out elsewhere", file=sys.stderr)
            return 2
    torch, l2 = None, 0
    if smoke:  # emulated kernels: no peer to compare with, torch not needed
        device = "(smoke: kernels on the CPU emulator, no peers)"
    else:
        try:
            import torch
            if not torch.cuda.is_available():
                raise RuntimeError("torch sees no CUDA device")
            props = torch.cuda.get_device_properties(0)
            l2 = getattr(props, "L2_cache_size", 50 << 20)
            device = (f"{props.name} (sm_{props.major}{props.minor}, "
                      f"{props.multi_processor_count} SMs, L2 {l2 >> 20} "
                      f"MiB), torch {torch.__version__}, CUDA "
                      f"{torch.version.cuda}")
        except Exception as e:  # kjit's numerics and times still run
            torch, l2 = None, 0
            device = f"(PyTorch unusable: {e}; no peer timings)"
            print(device, flush=True)
    entries = {e["name"]: e for e in manifest["workloads"]}
    pairs = workloads(smoke)
    missing = [wl["name"] for pair in pairs for wl in pair
               if wl["name"] not in entries]
    if missing:
        print(f"gpu_bench.py run: the bundle lacks {', '.join(missing)}: "
              "it comes from another version of gpu_bench.py; rerun "
              "prepare", file=sys.stderr)
        return 2
    def write_table(done):
        """The table so far: rewritten after every workload, so that a
        run cut off by its time bound (run.sh's timeout) still leaves
        the rows it finished."""
        runner_device = RUNNER_DEVICE[0] if RUNNER_DEVICE else None
        date = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        smoke_lines = [
            "**SMOKE RUN under the CPU emulator** (bench/gpu/prepare.sh and "
            "gpu_bench.py with KJIT_GPU_SMOKE=1 / --smoke, KJIT_CUDA_DRIVER = "
            "tests/gpu/EmuCudaDriver.cpp): device code is LLVM bitcode run on "
            "the CPU, bench shapes are tiny stand-ins, no peers. The numerics "
            "are real (emulated GPU kernels against kjit's CPU kernels); the "
            "times are the emulator's and MEANINGLESS.", ""] if smoke else []
        lines = [
            f"# kjit on the GPU{' (smoke, emulated)' if smoke else ''}, {date}",
            ""] + smoke_lines + [
            f"Device: {device}; {runner_device or '?'} (kjit's driver view). "
            f"Kernels built for {manifest['chip']} from "
            f"commit {manifest.get('commit', '?')} ({manifest['created']}).", "",
            ("Command: `KJIT_GPU_SMOKE=1 bench/gpu/prepare.sh`, then "
             "`KJIT_GPU_SMOKE=1 KJIT_CUDA_DRIVER=build/tests/gpu/"
             "libkjit_emu_cuda.so bench/gpu/run.sh` (the ctest "
             "gpu-bench-smoke-emulated)." if smoke else
             "Command: `bench/gpu/run.sh` on the GPU machine, with the bundle of "
             "`bench/gpu/prepare.sh`.") + " Numerics: kjit's GPU output on the check "
            "shape (odd/prime sizes) against kjit's CPU kernel on the same "
            f"inputs, max |gpu - cpu| <= {manifest['rtol']} * (1 + max |cpu|). "
            f"Times on the bench shape: median of {args.repeat} runs, each "
            "between CUDA events with the L2 cache flushed before it (a memset "
            "of twice its size), for kjit (kjit_gpu_runner over the kernel "
            "library) and the peer (same protocol in PyTorch, same inputs). "
            "speedup = peer ms / kjit ms (> 1: kjit faster).", "",
            "| bench workload | kjit GPU numerics (check shape) | "
            f"{'kjit ms (emulated: meaningless)' if smoke else 'kjit ms'} | "
            "peer | peer ms | speedup |",
            "|---|---|---|---|---|---|"]
        for r in rows:
            lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ")
                                            for c in r) + " |")
        if not done:
            lines += ["", f"**PARTIAL**: {len(done_names)} of {len(pairs)} "
                      "workloads; the run stopped (time bound or crash) "
                      "before the others."]
        lines += ["", "A workload whose numerics cell holds a compiler message "
                  "has no GPU kernel in this build (its op has no GPU generator "
                  "yet): only the peer is timed.", ""]
        text = "\n".join(lines)
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
        return text

    done_names = []
    rng = np.random.default_rng(args.seed)
    tmp = tempfile.mkdtemp(prefix="kjit-gpu-bench-")
    rows, failures = [], 0
    for check_wl, bench_wl in pairs:
        check, bench = entries[check_wl["name"]], entries[bench_wl["name"]]
        # Numerics on the check shape.
        if check["kernel"]:
            d = os.path.join(bundle, check["name"])
            out_file = os.path.join(tmp, check["name"] + ".gpu.bin")
            _, err = run_kernel(args.runner, d, check, d, out_file, 0)
            if err:
                verdict = "FAILED to run: " + err
                failures += 1
            else:
                ok, verdict = compare(check, d, out_file, manifest["rtol"])
                failures += 0 if ok else 1
        else:
            verdict = check["status"]
            if smoke:  # the smoke proves every workload's path
                verdict = "FAILED (smoke): " + verdict
                failures += 1
        if smoke and not bench["kernel"]:
            verdict += "; bench shape FAILED (smoke): " + bench["status"]
            failures += 1
        # Timing on the bench shape, inputs made here.
        arrays = make_inputs(bench_wl, rng)
        kjit_ms = None
        if bench["kernel"]:
            for i, a in zip(bench["inputs"], arrays):
                a.tofile(os.path.join(tmp, i["file"]))
            kjit_ms, err = run_kernel(
                args.runner, os.path.join(bundle, bench["name"]), bench, tmp,
                os.path.join(tmp, "bench.gpu.bin"), args.repeat)
            if err:
                verdict += "; bench shape FAILED: " + err
                failures += 1
        try:
            pl = peers(bench_wl, arrays) if torch else []
        except Exception as e:  # a peer that cannot be built is reported
            pl = [(f"(peer setup failed: {str(e)[:100]})", None)]
        for desc, fn in pl or [("(smoke: no peer)" if smoke else
                                "(no peer)", None)]:
            peer_ms = None
            if fn is not None:
                try:
                    peer_ms = torch_time(fn, args.repeat, 2 * l2)
                except Exception as e:
                    desc += f" (failed: {str(e)[:80]})"
            ratio = (f"{peer_ms / kjit_ms:.2f}x" if kjit_ms and peer_ms
                     else "—")
            rows.append((bench["name"], verdict,
                         f"{kjit_ms:.4f}" if kjit_ms else "—", desc,
                         f"{peer_ms:.4f}" if peer_ms else "—", ratio))
        print(f"{bench['name']}: {verdict[:150]}; kjit {kjit_ms} ms",
              flush=True)
        done_names.append(bench["name"])
        write_table(False)
        if torch:
            torch.cuda.empty_cache()
    shutil.rmtree(tmp, ignore_errors=True)
    print(write_table(True))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--kjit-run", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--chip", default="sm_90")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    p.add_argument("--smoke", action="store_true",
                   help="tiny bench shapes, device code for the CPU emulator "
                        "(KJIT_GPU_EMULATE=1): the CI smoke of this script")
    r = sub.add_parser("run")
    r.add_argument("--bundle", required=True)
    r.add_argument("--runner", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--repeat", type=int, default=20)
    r.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    return prepare(a) if a.cmd == "prepare" else run(a)


if __name__ == "__main__":
    sys.exit(main())
