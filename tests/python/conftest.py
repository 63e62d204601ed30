"""Shared helpers of the kjit.torch tests: fresh random inputs each run
(the seed is printed on failure), float64 references, a stated tolerance."""
import os
import random

import pytest
import torch


@pytest.fixture(autouse=True)
def fresh_seed(request):
    seed = int(os.environ.get("KJIT_TEST_SEED", random.randrange(1 << 31)))
    torch.manual_seed(seed)
    request.node.user_properties.append(("seed", seed))
    yield seed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for k, v in item.user_properties:
            if k == "seed":
                rep.sections.append(("seed", "KJIT_TEST_SEED=%d reproduces it" % v))


def assert_close(got, ref, rtol=1e-4, what=""):
    """max |got - ref| <= rtol * (1 + max |ref|), ref in float64."""
    assert got.shape == ref.shape, (what, got.shape, ref.shape)
    got64, ref64 = got.double(), ref.double()
    assert torch.isfinite(got64).all(), what + ": non-finite output"
    err = (got64 - ref64).abs().max().item() if ref64.numel() else 0.0
    scale = ref64.abs().max().item() if ref64.numel() else 0.0
    assert err <= rtol * (1 + scale), "%s: max error %g > %g * (1 + %g)" % (
        what, err, rtol, scale)
