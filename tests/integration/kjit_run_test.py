#!/usr/bin/env python3
"""kjit-run end to end: random .npy inputs -> kjit-run -> .npy outputs,
compared with a float64 numpy reference; plus kjit-run's error cases.

Tolerance: max |out - ref| <= 1e-4 * (1 + max |ref|) (as the GoogleTest
numerics tests). Inputs are fresh random values each run; the seed is printed
and can be fixed with KJIT_TEST_SEED.

Usage: kjit_run_test.py --kjit-run PATH --inputs DIR --workdir DIR
                        [--only numerics|errors|repeat|isa]
"""
import argparse
import errno
import fcntl
import glob
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

import numpy as np

RTOL = 1e-4


# ----------------------------------------------------------------------------
# numpy reference (float64), written from the op semantics in ARCHITECTURE.md
# ----------------------------------------------------------------------------
# scripts/sanitize.sh runs this file against an AddressSanitizer build (it
# sets ASAN_OPTIONS); two checks cannot hold there and say so.
UNDER_ASAN = "ASAN_OPTIONS" in os.environ


def short(text, limit=400):
    """Keeps failure reports readable when a tool dumps a stack trace."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " ...[truncated]"


def dwconv_nchw(x, w, b=None, strides=(1, 1), dilations=(1, 1),
                padding=(0, 0, 0, 0)):
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    n, c, h, wd = x.shape
    _, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dilations
    pt, pb, pl, pr = padding
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    out = np.zeros((n, c, oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            patch = xp[:, :, y0:y0 + (oh - 1) * sh + 1:sh,
                       x0:x0 + (ow - 1) * sw + 1:sw]
            out += patch * w[None, :, ky, kx, None, None]
    if b is not None:
        out += b.astype(np.float64)[None, :, None, None]
    return out


def dwconv(x, w, b=None, layout="nhwc", **kw):
    if layout == "nhwc":
        return dwconv_nchw(x.transpose(0, 3, 1, 2), w, b,
                           **kw).transpose(0, 2, 3, 1)
    return dwconv_nchw(x, w, b, **kw)


def inception(x, wsq, wbw, wbh, layout="nhwc"):
    """Identity, square, band_w, band_h channel slices, each a 'same' conv."""
    xc = x.transpose(0, 3, 1, 2) if layout == "nhwc" else x
    c = xc.shape[1]
    gsq, gw, gh = wsq.shape[0], wbw.shape[0], wbh.shape[0]
    gid = c - gsq - gw - gh
    k, bnd = wsq.shape[1], wbw.shape[2]
    parts = [xc[:, :gid].astype(np.float64)]
    c0 = gid
    for g, wt, (ph, pw) in ((gsq, wsq, (k // 2, k // 2)),
                            (gw, wbw, (0, bnd // 2)),
                            (gh, wbh, (bnd // 2, 0))):
        parts.append(dwconv_nchw(xc[:, c0:c0 + g], wt,
                                 padding=(ph, ph, pw, pw)))
        c0 += g
    y = np.concatenate(parts, axis=1)
    return y.transpose(0, 2, 3, 1) if layout == "nhwc" else y


# Each case: file, entry, input shapes, and the reference of its outputs.
CASES = {
    "dw_k7_nhwc_bias.mlir": dict(
        entry=None,
        inputs=[(1, 17, 17, 37), (37, 7, 7), (37,)],
        ref=lambda x, w, b: [dwconv(x, w, b, "nhwc", padding=(3, 3, 3, 3))]),
    "dw_k13_nchw_s2_d2_asym.mlir": dict(
        entry=None,
        inputs=[(2, 3, 23, 29), (3, 13, 13)],
        ref=lambda x, w: [dwconv(x, w, None, "nchw", strides=(2, 1),
                                 dilations=(1, 2), padding=(5, 7, 0, 24))]),
    "inception_nhwc.mlir": dict(
        entry="entry",
        inputs=[(1, 19, 17, 64), (8, 3, 3), (8, 1, 11), (8, 11, 1)],
        ref=lambda x, a, b, c: [inception(x, a, b, c, "nhwc")]),
    "chain_two_results.mlir": dict(
        entry=None,
        inputs=[(1, 21, 21, 16), (16, 31, 31), (16, 1, 11), (16,)],
        ref=lambda x, w1, w2, b2: (lambda y: [
            y, dwconv(y.astype(np.float32), w2, b2, "nhwc",
                      padding=(0, 0, 5, 5))])(
            dwconv(x, w1, None, "nhwc", padding=(15, 15, 15, 15)))),
}


def monarch(x, r, l):
    b, n = x.shape
    m1, m2 = r.shape[0], r.shape[1]
    x1 = np.einsum("ipq,biq->bip", r.astype(np.float64),
                   x.reshape(b, m1, m2).astype(np.float64))
    x2 = x1.transpose(0, 2, 1)                       # b, m2, m1
    x3 = np.einsum("jac,bjc->bja", l.astype(np.float64), x2)
    return x3.transpose(0, 2, 1).reshape(b, n)


def causal_conv(u, k, d):
    b, c, n = u.shape
    y = np.zeros((b, c, n))
    for bi in range(b):
        for ci in range(c):
            y[bi, ci] = np.convolve(u[bi, ci].astype(np.float64),
                                    k[ci].astype(np.float64))[:n]
    return y + d.astype(np.float64)[None, :, None] * u


def natten_1d(q, k, v, ks, dil):
    b, h, n, dd = q.shape
    scale = 1.0 / np.sqrt(dd)
    out = np.zeros(q.shape)
    for i in range(n):
        g, idx = i % dil, i // dil
        ng = len(range(g, n, dil))
        start = min(max(idx - ks // 2, 0), ng - ks)
        keys = [(start + j) * dil + g for j in range(ks)]
        s = np.einsum("bhd,bhkd->bhk", q[:, :, i].astype(np.float64),
                      k[:, :, keys].astype(np.float64)) * scale
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        out[:, :, i] = np.einsum("bhk,bhkd->bhd", p,
                                 v[:, :, keys].astype(np.float64))
    return out


# The other op families: default config and two threads.
OTHER_CASES = {
    "butterfly.mlir": dict(
        entry=None, inputs=[(5, 35), (7, 5, 5), (5, 7, 7)],
        ref=lambda x, r, l: [monarch(x, r, l)]),
    "fft_conv.mlir": dict(
        entry=None, inputs=[(2, 3, 100), (3, 37), (3,)],
        ref=lambda u, k, d: [causal_conv(u, k, d)]),
    "window_attention_1d.mlir": dict(
        entry=None, inputs=[(1, 2, 23, 8)] * 3,
        ref=lambda q, k, v: [natten_1d(q, k, v, 5, 2)]),
}


def npy_header(dict_text):
    """A version 1.0 .npy header around `dict_text`, padded as numpy pads."""
    d = dict_text.encode("latin1")
    d += b" " * ((64 - (10 + len(d) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d


class Runner:
    def __init__(self, kjit_run, inputs, workdir, seed):
        self.kjit_run = kjit_run
        self.inputs = inputs
        self.workdir = workdir
        self.rng = np.random.default_rng(seed)
        self.failures = []

    def fail(self, name, msg):
        self.failures.append(f"{name}: {msg}")
        print(f"FAIL {name}: {msg}")

    def ok(self, name):
        print(f"ok   {name}")

    def path(self, name):
        return os.path.join(self.workdir, name)

    def rand(self, shape):
        return self.rng.uniform(-1, 1, size=shape).astype(np.float32)

    def env(self, extra_env=None):
        env = dict(os.environ)
        env.pop("KJIT_TUNE", None)
        # Keep the user's kernel cache clean: a private cache per test run.
        env["KJIT_CACHE_DIR"] = self.path("cache")
        env.update(extra_env or {})
        return env

    def run(self, args, extra_env=None, preexec_fn=None):
        return subprocess.run([self.kjit_run] + args, capture_output=True,
                              text=True, timeout=240, env=self.env(extra_env),
                              preexec_fn=preexec_fn)

    def write_inputs(self, tag, shapes):
        arrays, args = [], []
        for i, shape in enumerate(shapes):
            a = self.rand(shape)
            p = self.path(f"{tag}_in{i}.npy")
            np.save(p, a)
            arrays.append(a)
            args.append(f"--input={p}")
        return arrays, args

    def check_outputs(self, name, outs, refs):
        good = True
        for i, (p, r) in enumerate(zip(outs, refs)):
            if not os.path.exists(p):
                self.fail(name, f"output {i} not written")
                return False
            y = np.load(p)
            if y.dtype != np.float32 or y.shape != r.shape:
                self.fail(name, f"output {i}: {y.dtype}{y.shape}, expected "
                          f"float32{r.shape}")
                good = False
                continue
            err = float(np.max(np.abs(y.astype(np.float64) - r))) \
                if r.size else 0.0
            tol = RTOL * (1 + float(np.max(np.abs(r))))
            if not np.all(np.isfinite(y)) or err > tol:
                self.fail(name, f"output {i}: max|out-ref|={err:.3g} > "
                          f"tol={tol:.3g}")
                good = False
        return good

    # ------------------------------------------------------------------ cases
    def numerics(self, extra_args=(), suffix="", cases=None):
        for fname, case in (cases or CASES).items():
            name = fname + suffix
            tag = os.path.splitext(fname)[0] + re.sub(r"[^A-Za-z0-9]", "_",
                                                       suffix)
            arrays, in_args = self.write_inputs(tag, case["inputs"])
            refs = case["ref"](*arrays)
            outs = [self.path(f"{tag}_out{i}.npy") for i in range(len(refs))]
            args = [os.path.join(self.inputs, fname)] + in_args + \
                [f"--output={o}" for o in outs] + list(extra_args)
            if case["entry"]:
                args.append(f"--entry={case['entry']}")
            r = self.run(args)
            if r.returncode != 0:
                self.fail(name, f"exit {r.returncode}: {short(r.stderr)}")
                continue
            if self.check_outputs(name, outs, refs):
                self.ok(name)

    def test_numerics(self):
        self.numerics()
        self.numerics(["--threads=2"], " --threads=2")
        self.numerics(cases=OTHER_CASES)
        self.numerics(["--threads=2"], " --threads=2", cases=OTHER_CASES)
        # A legal non-default config (merged into every op's default).
        self.numerics(["--config=#kjit.config<{vector_width = 8, ow_block = 4, "
                       "oh_block = 1, kw_unroll = 1, task_order = \"h_outer\"}>"],
                      " --config=vw8/ow4/oh1/h_outer")

    def test_isa(self):
        """--target=cpu:NAME: the other x86 ISA than the host's. On an
        AVX-512 host x86-64-v3 runs every case against the references; on
        an AVX2 host x86-64-v4 is refused with the reason. Unknown names."""
        with open("/proc/cpuinfo") as f:
            avx512 = " avx512f" in f.read()
        other = "x86-64-v3" if avx512 else "x86-64-v4"
        src = os.path.join(self.inputs, "dw_k7_nhwc_bias.mlir")
        if avx512:
            self.numerics([f"--target=cpu:{other}"], f" --target=cpu:{other}")
            self.numerics([f"--target=cpu:{other}", "--threads=2"],
                          f" --target=cpu:{other} --threads=2",
                          cases=OTHER_CASES)
            # Its configs are AVX2's: 8 lanes (the host's default is 16).
            ins = self.write_inputs("isa", CASES["dw_k7_nhwc_bias.mlir"]
                                    ["inputs"])[1]
            r = self.run([src] + ins + [f"--output={self.path('isa.npy')}",
                                        f"--target=cpu:{other}",
                                        "--print-configs"])
            name = f"--target=cpu:{other} --print-configs"
            if r.returncode != 0 or "vector_width = 8 " not in r.stdout:
                self.fail(name, f"exit {r.returncode}, expected an 8-lane "
                          f"default: {short(r.stdout + r.stderr)}")
            else:
                self.ok(name)
        else:
            self.expect_error(f"--target=cpu:{other} on an AVX2 host",
                              [src, f"--target=cpu:{other}"],
                              ["cannot run on this host", "avx512f"])
        self.expect_error("--target=cpu:pdp11", [src, "--target=cpu:pdp11"],
                          ["unknown CPU target 'pdp11'", "x86-64-v3",
                           "x86-64-v4"])
        self.expect_error("--target=pdp11", [src, "--target=pdp11"],
                          ["unknown target 'pdp11'", "cpu:NAME"])

    def test_repeat(self):
        # fft_conv: the calls after the first reuse the kernel spectra the
        # kernel cached, and the output written is the last call's.
        for fname, cases in (("dw_k7_nhwc_bias.mlir", CASES),
                             ("fft_conv.mlir", OTHER_CASES)):
            self.repeat_one(fname, cases[fname])
        self.test_online_tuning()

    def repeat_one(self, fname, case):
        stem = fname.split(".")[0]
        arrays, in_args = self.write_inputs("repeat_" + stem, case["inputs"])
        out = self.path(f"repeat_{stem}_out.npy")
        r = self.run([os.path.join(self.inputs, fname)] + in_args +
                     [f"--output={out}", "--repeat=5"])
        name = f"repeat {fname}"
        if r.returncode != 0:
            return self.fail(name, f"exit {r.returncode}: {short(r.stderr)}")
        m = re.search(r"^time_ms median=([0-9.eE+-]+) min=([0-9.eE+-]+) "
                      r"max=([0-9.eE+-]+) runs=(\d+)\s*$", r.stdout, re.M)
        if not m:
            return self.fail(name, f"no time_ms line in {r.stdout!r}")
        med, lo, hi, n = (float(m.group(1)), float(m.group(2)),
                          float(m.group(3)), int(m.group(4)))
        if n != 5 or not (0 < lo <= med <= hi):
            return self.fail(name, f"bad timing line {m.group(0)!r}")
        if self.check_outputs(name, [out], case["ref"](*arrays)):
            self.ok(name)

    def test_online_tuning(self):
        """KJIT_TUNE=budget:1: tuned on-line, right output, records in the
        tuning database; a malformed KJIT_TUNE is a warning, not a failure."""
        fname = "dw_k7_nhwc_bias.mlir"
        arrays, in_args = self.write_inputs("online", CASES[fname]["inputs"])
        refs = CASES[fname]["ref"](*arrays)
        out = self.path("online_out.npy")
        db = self.path("online.sqlite")
        args = [os.path.join(self.inputs, fname)] + in_args + \
            [f"--output={out}", "--repeat=3", "--print-configs",
             f"--tuning-db={db}"]
        name = "KJIT_TUNE=budget:1"
        r = self.run(args, {"KJIT_TUNE": "budget:1"})
        if r.returncode != 0:
            self.fail(name, f"exit {r.returncode}: {short(r.stderr)}")
        elif not re.search(r"^config 0: #kjit\.config<.*> \(online \(best "
                           r"of [1-9][0-9]*\)\)$", r.stdout, re.M):
            self.fail(name, f"no tuned config in {short(r.stdout)!r}")
        elif not os.path.exists(db):
            self.fail(name, "no tuning database written")
        elif self.check_outputs(name, [out], refs):
            self.ok(name)
        name = "KJIT_TUNE=budget:soon (malformed)"
        r = self.run(args[:-1] + ["--tuning-db=off"],
                     {"KJIT_TUNE": "budget:soon"})
        if r.returncode != 0:
            self.fail(name, f"exit {r.returncode}: {short(r.stderr)}")
        elif "KJIT_TUNE" not in r.stderr or "budget:<seconds>" not in r.stderr:
            self.fail(name, f"no warning naming KJIT_TUNE: {short(r.stderr)!r}")
        elif "(default)" not in r.stdout:
            self.fail(name, f"not the default config: {short(r.stdout)!r}")
        elif self.check_outputs(name, [out], refs):
            self.ok(name)
        # Candidates are measured in the kjit-tune worker: without one,
        # tuning does not run, and the output says why.
        name = "KJIT_TUNE=budget:1 without a measuring worker"
        missing = self.path("no-such-kjit-tune")
        r = self.run(args[:-1] + ["--tuning-db=off"],
                     {"KJIT_TUNE": "budget:1", "KJIT_MEASURE_WORKER": missing})
        if r.returncode != 0:
            self.fail(name, f"exit {r.returncode}: {short(r.stderr)}")
        elif "no on-line tuning: KJIT_MEASURE_WORKER names" not in r.stderr:
            self.fail(name, f"no warning naming the worker: {short(r.stderr)!r}")
        elif not re.search(r"^config 0: #kjit\.config<.*> \(default \(online "
                           r"tuning not run: KJIT_MEASURE_WORKER", r.stdout,
                           re.M):
            self.fail(name, f"no reason in the configs: {short(r.stdout)!r}")
        elif self.check_outputs(name, [out], refs):
            self.ok(name)

    def expect_error(self, name, args, mentions=(), preexec_fn=None):
        """A one-line error on stderr, exit code 1, no crash."""
        r = self.run(args, preexec_fn=preexec_fn)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        if r.returncode != 1:
            return self.fail(name, f"exit code {r.returncode}, expected 1; "
                             f"stderr: {short(r.stderr)!r}")
        if len(lines) != 1:
            return self.fail(name, f"expected a one-line error, got "
                             f"{len(lines)} lines: {short(r.stderr)!r}")
        low = lines[0].lower()
        for word in mentions:
            if word.lower() not in low:
                return self.fail(name, f"error does not mention {word!r}: "
                                 f"{lines[0]!r}")
        self.ok(f"{name}  [{lines[0]}]")

    def test_errors(self):
        src = os.path.join(self.inputs, "dw_k7_nhwc_bias.mlir")
        shapes = CASES["dw_k7_nhwc_bias.mlir"]["inputs"]
        good = []
        for i, s in enumerate(shapes):
            p = self.path(f"err_in{i}.npy")
            np.save(p, self.rand(s))
            good.append(p)
        out = f"--output={self.path('err_out.npy')}"
        ins = [f"--input={p}" for p in good]

        missing_mlir = self.path("no_such_file.mlir")
        self.expect_error("missing .mlir file", [missing_mlir] + ins + [out],
                          ["no_such_file.mlir"])
        missing_npy = self.path("no_such_input.npy")
        self.expect_error("missing input .npy",
                          [src, ins[0], f"--input={missing_npy}", ins[2], out],
                          ["no_such_input.npy"])
        f64 = self.path("f64.npy")
        np.save(f64, self.rand(shapes[0]).astype(np.float64))
        self.expect_error("wrong dtype (float64)",
                          [src, f"--input={f64}"] + ins[1:] + [out])
        i32 = self.path("i32.npy")
        np.save(i32, np.zeros(shapes[1], dtype=np.int32))
        self.expect_error("wrong dtype (int32 for f32)",
                          [src, ins[0], f"--input={i32}", ins[2], out])
        bad_shape = self.path("bad_shape.npy")
        np.save(bad_shape, self.rand((1, 17, 16, 37)))
        self.expect_error("wrong shape",
                          [src, f"--input={bad_shape}"] + ins[1:] + [out])
        self.expect_error("too few inputs", [src] + ins[:2] + [out])
        fortran = self.path("fortran.npy")
        np.save(fortran, np.asfortranarray(self.rand(shapes[1])))
        # Fortran order is either transposed correctly or refused with an
        # error; it must never be read as C order silently.
        r = self.run([src, ins[0], f"--input={fortran}", ins[2], out])
        if r.returncode == 0:
            x = np.load(good[0])
            w = np.load(fortran)
            b = np.load(good[2])
            if self.check_outputs("fortran-order input", [self.path(
                    "err_out.npy")], [dwconv(x, w, b, "nhwc",
                                             padding=(3, 3, 3, 3))]):
                self.ok("fortran-order input (read correctly)")
        elif r.returncode == 1:
            self.ok("fortran-order input (refused: "
                    f"{r.stderr.strip().splitlines()[-1] if r.stderr else ''})")
        else:
            self.fail("fortran-order input", f"exit {r.returncode}")
        garbage = self.path("garbage.npy")
        with open(garbage, "wb") as f:
            f.write(b"this is not an npy file")
        self.expect_error("corrupt .npy",
                          [src, f"--input={garbage}"] + ins[1:] + [out])
        self.expect_error("invalid op",
                          [os.path.join(self.inputs, "invalid_op.mlir"),
                           ins[0], ins[1], out])
        self.expect_error("unknown entry", [src] + ins + [out,
                                                          "--entry=nope"],
                          ["nope"])
        self.expect_error("illegal config",
                          [src] + ins + [out, "--config=#kjit.config<{"
                                         "no_such_knob = 1}>"])
        self.spmm_csr()
        self.spgemm_csr()
        self.hostile_inputs(src, ins, out)
        self.npy_header_spellings(src, ins, out)
        self.failed_writes(src, ins)
        self.crash_report_argv(src, ins, out)

    # ------------------------------------------------ hostile files (issue 12)
    def open_fifo_writer(self, fifo, proc=None, deadline_s=120):
        """Opens `fifo` for writing once kjit-run has opened it for reading
        (non-blocking opens fail with ENXIO until then); None if it never
        does (kjit-run exited, or the deadline passed)."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
                if proc is not None and proc.poll() is not None:
                    return None
                time.sleep(0.05)
                continue
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
            return fd
        return None

    def hostile_inputs(self, src, ins, out):
        """Inputs and outputs that must end in a clear error, not in an
        abort or a read until memory runs out."""
        # A static output larger than this machine's memory (the issue's
        # case: a 1x1 input with a huge padding): refused before anything
        # is allocated, the error names the output, its shape and size.
        phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        pad = int(phys ** 0.5) // 2 + 1
        side = 2 * pad + 1  # 4 * side**2 bytes > 4 x physical memory
        big = self.path("huge_output.mlir")
        t = f"tensor<1x{side}x{side}x1xf32>"
        with open(big, "w") as f:
            f.write(f"""func.func @main(%x: tensor<1x1x1x1xf32>,
                %w: tensor<1x1x1xf32>) -> {t} {{
  %y = "kjit.depthwise_conv2d"(%x, %w) {{layout = "nhwc",
        padding = array<i64: {pad}, {pad}, {pad}, {pad}>}}
      : (tensor<1x1x1x1xf32>, tensor<1x1x1xf32>) -> {t}
  return %y : {t}
}}
""")
        x, w = self.path("huge_x.npy"), self.path("huge_w.npy")
        np.save(x, self.rand((1, 1, 1, 1)))
        np.save(w, self.rand((1, 1, 1)))
        huge_out = self.path("huge_out.npy")
        self.expect_error("static output above physical memory",
                          [big, f"--input={x}", f"--input={w}",
                           f"--output={huge_out}", "--threads=2"],
                          ["output 0", "huge_out.npy",
                           f"1x{side}x{side}x1 f32", str(4 * side * side),
                           "physical memory"])
        if os.path.exists(huge_out):
            self.fail("static output above physical memory", "file written")

        self.expect_error("--input=/dev/zero",
                          [src, "--input=/dev/zero"] + ins[1:] + [out],
                          ["/dev/zero", "not a .npy file"])

        # A FIFO whose writer never stops: kjit-run reads the header, the
        # promised data and one byte more, then refuses. The writer gets in
        # at most that plus the pipe's buffer.
        fifo = self.path("endless.npy")
        os.mkfifo(fifo)
        x0 = self.rand(CASES["dw_k7_nhwc_bias.mlir"]["inputs"][0])
        header = npy_header("{'descr': '<f4', 'fortran_order': False, "
                            f"'shape': {x0.shape}, }}")
        written = [0]
        cap = 256 << 20

        def writer():
            fd = self.open_fifo_writer(fifo)
            if fd is None:
                return
            chunks = [header + x0.tobytes()]
            try:
                while written[0] < cap:
                    written[0] += os.write(fd, chunks[-1])
                    chunks.append(b"\x42" * (1 << 16))
            except OSError:  # EPIPE: kjit-run closed it
                pass
            finally:
                os.close(fd)
        thread = threading.Thread(target=writer)
        thread.start()
        self.expect_error("endless FIFO input",
                          [src, f"--input={fifo}"] + ins[1:] + [out],
                          ["endless.npy", "unexpected bytes after the data"])
        thread.join()
        if written[0] > (4 << 20):
            self.fail("endless FIFO input", f"kjit-run took {written[0]} "
                      "bytes from a stream that promised "
                      f"{len(header) + x0.nbytes}")

    def npy_header_spellings(self, src, ins, out):
        """Headers that numpy reads (tabs, newlines, other key orders) are
        read alike; a 'shape' inside a string is never taken for the key."""
        shapes = CASES["dw_k7_nhwc_bias.mlir"]["inputs"]
        x = self.rand(shapes[0])
        w, b = np.load(ins[1].split("=", 1)[1]), np.load(ins[2].split("=", 1)[1])
        ref = dwconv(x, w, b, "nhwc", padding=(3, 3, 3, 3))
        accepted = [
            "{'descr':\t'<f4',\t'fortran_order':\tFalse,\t'shape':\t"
            f"{x.shape},\t}}",
            f"\t{{'shape': {x.shape},\n 'fortran_order': False,\n"
            " \"descr\": \"<f4\"\n}",
        ]
        for i, dict_text in enumerate(accepted):
            name = f"numpy-readable header {dict_text!r}"
            p = self.path(f"spelling{i}.npy")
            with open(p, "wb") as f:
                f.write(npy_header(dict_text) + x.tobytes())
            try:
                same = np.array_equal(np.load(p), x)
            except ValueError as e:
                same = False
                print(f"  (numpy: {e})")
            if not same:
                self.fail(name, "numpy does not read this header; the test "
                          "must only use headers numpy accepts")
                continue
            r = self.run([src, f"--input={p}"] + ins[1:] + [out])
            if r.returncode != 0:
                self.fail(name, f"exit {r.returncode}: {short(r.stderr)}")
            elif self.check_outputs(name, [out[len("--output="):]], [ref]):
                self.ok(name)
        # numpy refuses a header with a fourth key (it wants exactly
        # three); kjit refuses it too, instead of reading the 'shape' in its
        # string value (which here matches the data).
        refused = [
            ("a fourth key whose string holds 'shape'",
             "{'descr': '<f4', 'x': \"'shape': " + str(x.shape) + "\", "
             "'fortran_order': False, 'shape': (1,)}", True,
             "unexpected key 'x'"),
            ("a duplicate key",  # numpy keeps the last; kjit refuses
             "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), "
             f"'shape': {x.shape}}}", False, "duplicate key 'shape'"),
        ]
        for what, dict_text, numpy_refuses, mention in refused:
            p = self.path("refused_header.npy")
            with open(p, "wb") as f:
                f.write(npy_header(dict_text) + x.tobytes())
            try:
                np.load(p)
                numpy_ok = True
            except ValueError:
                numpy_ok = False
            if numpy_ok == numpy_refuses:
                self.fail(what, f"numpy {'reads' if numpy_ok else 'refuses'}"
                          f" {dict_text!r}, unlike what the test assumes")
                continue
            self.expect_error(f"header with {what}",
                              [src, f"--input={p}"] + ins[1:] + [out],
                              ["refused_header.npy", mention])

    def failed_writes(self, src, ins):
        """A write that fails leaves no partial .npy and no temporary, and
        a file already at that path as it was; with two outputs, neither
        is replaced when one fails."""
        previous = b"the previous output"

        def prepare(path):
            with open(path, "wb") as f:
                f.write(previous)

        def untouched(name, paths):
            for p in paths:
                with open(p, "rb") as f:
                    if f.read() != previous:
                        return self.fail(name, f"{p} was changed")
            left = glob.glob(self.path(".*tmp*")) + \
                glob.glob(os.path.join(self.workdir, "*", ".*tmp*"))
            if left:
                self.fail(name, f"temporaries left behind: {left}")

        # RLIMIT_FSIZE: writes past 20000 bytes fail with EFBIG (the output
        # is 42 KB), as a disk that fills up half-way would.
        out = self.path("fsize_out.npy")
        prepare(out)

        def limit_file_size():
            resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        name = "write past RLIMIT_FSIZE"
        self.expect_error(name, [src] + ins + [f"--output={out}",
                                               "--tuning-db=off"],
                          ["fsize_out.npy", "File too large"],
                          preexec_fn=limit_file_size)
        untouched(name, [out])

        # Two outputs, the second into a directory that does not exist:
        # the first is not replaced either.
        chain = os.path.join(self.inputs, "chain_two_results.mlir")
        arrays, in_args = self.write_inputs(
            "chainw", CASES["chain_two_results.mlir"]["inputs"])
        first = self.path("chain_first.npy")
        prepare(first)
        missing = os.path.join(self.workdir, "no_such_dir", "second.npy")
        name = "second output into a missing directory"
        self.expect_error(name, [chain] + in_args +
                          [f"--output={first}", f"--output={missing}"],
                          ["no_such_dir/second.npy",
                           "No such file or directory"])
        untouched(name, [first])
        if os.path.exists(os.path.dirname(missing)):
            self.fail(name, "the missing directory was created")

        if os.geteuid() != 0:
            ro = self.path("read_only")
            os.mkdir(ro)
            os.chmod(ro, 0o555)
            name = "output into a read-only directory"
            self.expect_error(name, [src] + ins +
                              [f"--output={os.path.join(ro, 'y.npy')}"],
                              ["read_only/y.npy", "Permission denied"])
            if os.listdir(ro):
                self.fail(name, f"left {os.listdir(ro)}")
            os.chmod(ro, 0o755)
        else:
            print("skip output into a read-only directory (root ignores "
                  "permissions)")

        # A symbolic link to /dev/full: a device is written directly (there
        # is nothing to replace), the failure reported, the link kept.
        full = self.path("full.npy")
        os.symlink("/dev/full", full)
        self.expect_error("output to /dev/full", [src] + ins +
                          [f"--output={full}"],
                          ["full.npy", "No space left on device"])
        if not os.path.islink(full):
            self.fail("output to /dev/full", "the link was replaced")

    def crash_report_argv(self, src, ins, out):
        """kjit-run leaves argv as it was: LLVM's crash report (here for a
        SIGSEGV sent while kjit-run waits on a FIFO input) prints all the
        arguments, --threads=2 included, and the stack, then the process
        dies by that signal. The report used to dereference the NULL that
        kjit-run had written into argv, and stop after the arguments."""
        name = "crash report after --threads=2"
        if UNDER_ASAN:
            return self.ok(f"{name}: skipped under AddressSanitizer (its own "
                           "SIGSEGV handler reports and exits 1)")
        fifo = self.path("crash.npy")
        os.mkfifo(fifo)
        args = [self.kjit_run, src, f"--input={fifo}"] + ins[1:] + \
            [out, "--threads=2"]

        def no_core():
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        p = subprocess.Popen(args, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=self.env({"LLVM_DISABLE_SYMBOLIZATION": "1"}),
                             preexec_fn=no_core)
        fd = self.open_fifo_writer(fifo, p)
        if fd is None:
            _, err = p.communicate(timeout=60)
            return self.fail(name, f"kjit-run never opened the FIFO: "
                             f"{short(err)}")
        time.sleep(0.2)  # into its read of the (empty) FIFO
        p.send_signal(signal.SIGSEGV)
        try:
            _, err = p.communicate(timeout=120)
        finally:
            os.close(fd)
        line = next((l for l in err.splitlines()
                     if "Program arguments:" in l), "")
        if p.returncode != -signal.SIGSEGV:
            self.fail(name, f"exit {p.returncode}, expected death by "
                      f"SIGSEGV: {short(err)}")
        elif not line.rstrip().endswith(" ".join(args[1:])):
            self.fail(name, f"the arguments are not all printed: {line!r}")
        # A frame line, symbolized (" #1 0x...") or not ("1  libLLVM...").
        elif not re.search(r"^\s*#?1\s+\S", err, re.M):
            self.fail(name, f"no stack trace after the arguments: "
                      f"{short(err)}")
        else:
            self.ok(name)

    def random_csr(self, m, k, nnz, empty_row=None):
        """A CSR with `nnz` entries at random (possibly repeated, unsorted)
        columns; row `empty_row` stays empty."""
        rows = self.rng.choice([r for r in range(m) if r != empty_row],
                               size=nnz)
        counts = np.zeros(m, dtype=np.int64)
        np.add.at(counts, rows, 1)
        rp = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        ci = self.rng.integers(0, k, size=nnz).astype(np.int32)
        return rp, ci, self.rand((nnz,))

    def spgemm_csr(self):
        """kjit.spgemm: three .npy outputs (row_ptr, then col_idx and values
        sized at run time), checked against a set/dict reference; a malformed
        CSR is a one-line error and exit 1."""
        src = os.path.join(self.inputs, "spgemm.mlir")
        m, k, n = 13, 11, 17
        arp, aci, av = self.random_csr(m, k, 30, empty_row=4)
        brp, bci, bv = self.random_csr(k, n, 25)
        want_rp, want_ci, want_v = [0], [], []
        for i in range(m):
            row = {}
            for p in range(arp[i], arp[i + 1]):
                kk = aci[p]
                for q in range(brp[kk], brp[kk + 1]):
                    row[int(bci[q])] = row.get(int(bci[q]), 0.0) + \
                        float(av[p]) * float(bv[q])
            for j in sorted(row):
                want_ci.append(j)
                want_v.append(row[j])
            want_rp.append(len(want_ci))
        paths = {}
        for name, arr in (("arp", arp), ("aci", aci), ("av", av),
                          ("brp", brp), ("bci", bci), ("bv", bv)):
            paths[name] = self.path(f"spgemm_{name}.npy")
            np.save(paths[name], arr)
        outs = [self.path(f"spgemm_c{i}.npy") for i in range(3)]

        def args(**override):
            p = dict(paths, **override)
            return [src] + [f"--input={p[x]}" for x in
                            ("arp", "aci", "av", "brp", "bci", "bv")] + \
                [f"--output={o}" for o in outs]
        r = self.run(args())
        name = "spgemm valid CSR (three .npy outputs)"
        if r.returncode != 0:
            self.fail(name, f"exit {r.returncode}: {short(r.stderr)}")
        elif not all(os.path.exists(o) for o in outs):
            self.fail(name, "outputs not written")
        else:
            crp, cci, cv = (np.load(o) for o in outs)
            want_v = np.array(want_v)
            if crp.dtype != np.int32 or cci.dtype != np.int32 or \
                    cv.dtype != np.float32:
                self.fail(name, f"dtypes {crp.dtype} {cci.dtype} {cv.dtype}")
            elif list(crp) != want_rp or list(cci) != want_ci:
                self.fail(name, f"structure differs: row_ptr {list(crp)} vs "
                          f"{want_rp}")
            elif cv.shape != want_v.shape or (want_v.size and float(
                    np.max(np.abs(cv - want_v))) > RTOL * (
                    1 + float(np.max(np.abs(want_v))))):
                self.fail(name, "values differ")
            else:
                self.ok(f"{name}: nnz={len(want_ci)}")
        # --repeat times calls that allocate their outputs (Kernel::time);
        # the outputs written are still the product.
        r = self.run(args() + ["--repeat=3"])
        name = "spgemm --repeat=3"
        if r.returncode != 0:
            self.fail(name, f"exit {r.returncode}: {short(r.stderr)}")
        elif "runs=3" not in r.stdout or "time_ms median=" not in r.stdout:
            self.fail(name, f"no time line: {short(r.stdout)}")
        elif list(np.load(outs[1])) != want_ci:
            self.fail(name, "col_idx differs after timing")
        else:
            self.ok(name)
        bad = brp.copy()
        bad[-1] += 1
        p = self.path("spgemm_bad_brp.npy")
        np.save(p, bad)
        self.expect_error("spgemm malformed CSR b (row_ptr end)",
                          args(brp=p),
                          ["malformed CSR b", "is not nnz=25"])
        bad = aci.copy()
        bad[3] = -2
        p = self.path("spgemm_bad_aci.npy")
        np.save(p, bad)
        self.expect_error("spgemm malformed CSR a (negative column)",
                          args(aci=p),
                          ["malformed CSR a", "column index -2 at position 3"])
        self.spgemm_out_of_memory()

    def spgemm_out_of_memory(self):
        """An spgemm whose result (an outer product: 30011 x 30011 entries,
        7.2 GB of col_idx and values) cannot be allocated under a 3 GiB
        address-space limit is a one-line error, not a write through the
        null pointer malloc returned (SIGSEGV before the kernel checked)."""
        if UNDER_ASAN:
            return self.ok("spgemm result beyond memory: skipped under "
                           "AddressSanitizer (its shadow memory needs more "
                           "address space than any RLIMIT_AS test allows)")
        n = 30011
        src = self.path("spgemm_outer.mlir")
        t = (f"tensor<{n + 1}xi32>, tensor<{n}xi32>, tensor<{n}xf32>, "
             f"tensor<2xi32>, tensor<{n}xi32>, tensor<{n}xf32>")
        with open(src, "w") as f:
            f.write(f"""func.func @main(%arp: tensor<{n + 1}xi32>,
    %aci: tensor<{n}xi32>, %av: tensor<{n}xf32>, %brp: tensor<2xi32>,
    %bci: tensor<{n}xi32>, %bv: tensor<{n}xf32>)
    -> (tensor<{n + 1}xi32>, tensor<?xi32>, tensor<?xf32>) {{
  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv
      {{shape = array<i64: {n}, 1, {n}>}} : {t}
      -> tensor<{n + 1}xi32>, tensor<?xi32>, tensor<?xf32>
  return %c#0, %c#1, %c#2 : tensor<{n + 1}xi32>, tensor<?xi32>, tensor<?xf32>
}}
""")
        arrays = {"arp": np.arange(n + 1, dtype=np.int32),
                  "aci": np.zeros(n, dtype=np.int32),
                  "av": np.ones(n, dtype=np.float32),
                  "brp": np.array([0, n], dtype=np.int32),
                  "bci": np.arange(n, dtype=np.int32),
                  "bv": np.ones(n, dtype=np.float32)}
        args = [src, "--threads=1"]
        for name, arr in arrays.items():
            p = self.path(f"outer_{name}.npy")
            np.save(p, arr)
            args.append(f"--input={p}")
        args += [f"--output={self.path(f'outer_c{i}.npy')}" for i in range(3)]

        def limit_address_space():
            resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        self.expect_error("spgemm result beyond memory (RLIMIT_AS 3 GiB)",
                          args, ["out of memory", "900660121 entries"],
                          preexec_fn=limit_address_space)

    def spmm_csr(self):
        """kjit.spmm: a valid CSR runs (numerics, unsorted columns, an empty
        row); a malformed one is a one-line error and exit 1."""
        src = os.path.join(self.inputs, "spmm.mlir")
        m, k, n, nnz = 13, 11, 37, 40
        counts = np.zeros(m, dtype=np.int64)
        rows = self.rng.choice(np.arange(1, m), size=nnz)  # row 0 empty
        np.add.at(counts, rows, 1)
        rp = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        ci = self.rng.integers(0, k, size=nnz).astype(np.int32)
        v = self.rand((nnz,))
        b = self.rand((k, n))
        dense = np.zeros((m, k))
        for i in range(m):
            for p in range(rp[i], rp[i + 1]):
                dense[i, ci[p]] += v[p]
        ref = dense @ b.astype(np.float64)
        paths = {}
        for name, arr in (("rp", rp), ("ci", ci), ("v", v), ("b", b)):
            paths[name] = self.path(f"spmm_{name}.npy")
            np.save(paths[name], arr)
        out = self.path("spmm_out.npy")

        def args(rp_path, ci_path):
            return [src, f"--input={rp_path}", f"--input={ci_path}",
                    f"--input={paths['v']}", f"--input={paths['b']}",
                    f"--output={out}"]
        r = self.run(args(paths["rp"], paths["ci"]))
        if r.returncode != 0:
            self.fail("spmm valid CSR", f"exit {r.returncode}: "
                      f"{short(r.stderr)}")
        elif self.check_outputs("spmm valid CSR", [out], [ref]):
            self.ok("spmm valid CSR")
        bad_rp = rp.copy()
        bad_rp[5] = bad_rp[6] + 1
        p = self.path("spmm_bad_rp.npy")
        np.save(p, bad_rp)
        self.expect_error("spmm malformed CSR (row_ptr not monotone)",
                          args(p, paths["ci"]),
                          ["malformed CSR", "not monotone at row 5"])
        bad_ci = ci.copy()
        bad_ci[17] = k
        p = self.path("spmm_bad_ci.npy")
        np.save(p, bad_ci)
        self.expect_error("spmm malformed CSR (column out of range)",
                          args(paths["rp"], p),
                          ["malformed CSR", "column index 11 at position 17"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kjit-run", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", choices=["numerics", "errors", "repeat", "isa"])
    a = ap.parse_args()
    seed = int(os.environ.get("KJIT_TEST_SEED", "0"), 0) or \
        int.from_bytes(os.urandom(8), "little")
    print(f"seed={seed} (set KJIT_TEST_SEED to repeat)")
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    r = Runner(a.kjit_run, a.inputs, a.workdir, seed)
    for t in ("numerics", "repeat", "errors", "isa"):
        if a.only in (None, t):
            getattr(r, f"test_{t}")()
    if r.failures:
        print(f"\n{len(r.failures)} failure(s), seed={seed}:")
        for f in r.failures:
            print("  " + f)
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
