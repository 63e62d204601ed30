"""kjit.torch takes the tuning database's config (as written by kjit-tune)
and honours KJIT_TUNE: checked in a child Python, since the process-wide
Jit reads KJIT_TUNING_DB and KJIT_TUNE once."""
import os
import subprocess
import sys

import pytest

import kjit._mlir as mlir

KJIT_TUNE = os.environ.get("KJIT_TUNE_EXE", "")

CHILD = r"""
import sys, torch, kjit._runtime as rt, kjit.torch as kt
import torch.nn.functional as F
torch.set_num_threads(1)
x, w = torch.randn(1, 24, 13, 11), torch.randn(24, 1, 5, 5)
y = kt.depthwise_conv2d(x, w, padding=2)
r = F.conv2d(x.double(), w.double(), padding=2, groups=24)
err = (y.double() - r).abs().max().item()
assert err <= 1e-4 * (1 + r.abs().max().item()), err
(key, k), = rt.cached_kernels()
if sys.argv[1] == "wait":
    k.wait_for_tuning(60)
print("SOURCE", k.config_sources[0])
print("CONFIG", k.configs[0])
"""


def module_text():
    """The workload kjit.torch compiles for the child's call (NCHW input)."""
    return mlir.module("kjit.depthwise_conv2d",
                       [mlir.tensor((1, 24, 13, 11)), mlir.tensor((24, 5, 5))],
                       [mlir.tensor((1, 24, 13, 11))],
                       {"layout": '"nchw"', "strides": mlir.i64_array((1, 1)),
                        "dilations": mlir.i64_array((1, 1)),
                        "padding": mlir.i64_array((2, 2, 2, 2))})


def run_child(tmp_path, extra_env, mode="nowait"):
    env = dict(os.environ, KJIT_CACHE_DIR=str(tmp_path / "cache"), **extra_env)
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = dict(l.split(" ", 1) for l in out.stdout.splitlines()
                 if l.startswith(("SOURCE", "CONFIG")))
    return lines["SOURCE"], lines["CONFIG"]


@pytest.mark.skipif(not KJIT_TUNE, reason="KJIT_TUNE_EXE (kjit-tune) not set")
def test_config_comes_from_the_tuning_database(tmp_path):
    src = tmp_path / "dw.mlir"
    src.write_text(module_text())
    db = tmp_path / "tuning.sqlite"
    tune = subprocess.run([KJIT_TUNE, str(src), "--db=%s" % db, "--threads=1",
                           "--top-k=3", "--budget=20"],
                          env=dict(os.environ, KJIT_CACHE_DIR=str(tmp_path / "c")),
                          capture_output=True, text=True, timeout=300)
    assert tune.returncode == 0, tune.stdout + tune.stderr
    source, config = run_child(tmp_path, {"KJIT_TUNING_DB": str(db)})
    assert source == "tuned", (source, tune.stdout)
    # Without the database the same call takes the default.
    source, _ = run_child(tmp_path, {"KJIT_TUNING_DB": "off"})
    assert source == "default", source


def test_kjit_tune_budget_tunes_online(tmp_path):
    db = tmp_path / "online.sqlite"
    source, _ = run_child(tmp_path, {"KJIT_TUNING_DB": str(db),
                                     "KJIT_TUNE": "budget:3"}, mode="wait")
    assert source.startswith("online"), source
    assert db.exists()
