"""kjit.torch.optimize on small networks: which layers it replaces, that the
model computes the same (float64 reference of the original model), that
parameters, state_dict and training carry over, and the tuning path."""
import copy

import pytest
import torch
from torch import nn

import kjit.torch as kt
from kjit.torch.optimize import DepthwiseConv2d
from conftest import assert_close


class Net(nn.Module):
    """Depthwise convs of several kernels, strides and padding forms, beside
    convs optimize() must leave alone (grouped, dense, reflect-padded)."""

    def __init__(self, c=6):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1)                    # dense
        self.dw3 = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.dw5s2 = nn.Conv2d(c, c, 5, stride=2, padding=2, groups=c,
                               bias=False)
        self.grouped = nn.Conv2d(c, 2 * c, 3, padding=1, groups=c)   # not dw
        self.block = nn.Sequential(
            nn.Conv2d(2 * c, 2 * c, 7, padding="same", groups=2 * c),
            nn.GELU(),
            nn.Conv2d(2 * c, 2 * c, (1, 7), padding=(0, 3), groups=2 * c),
            nn.Conv2d(2 * c, 2 * c, 4, padding="same", dilation=2,
                      groups=2 * c),                                 # asymmetric
            nn.Conv2d(2 * c, 2 * c, 3, padding="valid", groups=2 * c),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c,
                      padding_mode="reflect"),                       # not zeros
        )
        self.head = nn.Conv2d(2 * c, 4, 1)                           # dense

    def forward(self, x):
        x = self.dw5s2(self.dw3(self.stem(x)))
        return self.head(self.block(self.grouped(x)))


REPLACED = ["dw3", "dw5s2", "block.0", "block.2", "block.3", "block.4"]


def reference(model, x):
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        return m(x.double())


@pytest.mark.parametrize("shape", [(1, 3, 23, 17), (2, 3, 13, 31),
                                   (1, 3, 29, 29)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_same_outputs_and_report(shape, channels_last):
    model = Net().eval()
    x = torch.randn(*shape)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    ref = reference(model, x)
    report = kt.optimize(model)
    assert [e.path for e in report] == REPLACED
    assert all(isinstance(model.get_submodule(p), DepthwiseConv2d)
               for p in REPLACED)
    for p in ["stem", "grouped", "block.5", "head"]:
        assert type(model.get_submodule(p)) is nn.Conv2d, p
    with torch.no_grad():
        y = model(x)
    assert_close(y, ref, what=str(shape))
    # The report fills in when the layers first run.
    for e in report:
        assert e.input_shape is not None and e.config_sources, e
    e = report[1]
    assert (e.channels, e.kernel, e.stride, e.padding, e.dilation) == (
        6, (5, 5), (2, 2), (2, 2), (1, 1))
    assert report[4].padding == "same" and report[4].dilation == (2, 2)
    assert report[1].input_shape == (shape[0], 6, shape[2], shape[3])
    text = str(report)
    assert all(p in text for p in REPLACED) and "kernel" in text


def test_parameters_state_dict_and_training():
    model = Net()
    before = {n: id(p) for n, p in model.named_parameters()}
    keys = list(model.state_dict().keys())
    kt.optimize(model)
    assert {n: id(p) for n, p in model.named_parameters()} == before
    assert list(model.state_dict().keys()) == keys
    # state_dict round-trips into an unoptimized model and back.
    plain = Net()
    plain.load_state_dict(model.state_dict())
    other = Net()
    kt.optimize(other)
    other.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 19, 11)
    with torch.no_grad():
        assert_close(other(x), reference(plain, x))

    # Backward matches the original model's gradients, and a step trains.
    original = copy.deepcopy(plain)
    kt.optimize(plain)
    x = torch.randn(2, 3, 17, 13)
    gy = torch.randn_like(original(x))
    plain(x).backward(gy)
    original(x).backward(gy)
    for (n, p), (_, q) in zip(plain.named_parameters(),
                              original.named_parameters()):
        assert_close(p.grad, q.grad, rtol=1e-3, what=n)
    opt = torch.optim.SGD(plain.parameters(), lr=0.1)
    w0 = plain.dw3.weight.detach().clone()
    opt.step()
    assert not torch.equal(plain.dw3.weight.detach(), w0)
    with torch.no_grad():
        assert_close(plain(x), reference(plain, x))


def test_shared_layer_replaced_everywhere():
    dw = nn.Conv2d(5, 5, 3, padding=1, groups=5)
    model = nn.Sequential(dw, nn.ReLU(), dw)
    x = torch.randn(1, 5, 11, 7)
    ref = reference(model, x)
    report = kt.optimize(model)
    assert [e.path for e in report] == ["0"]
    assert model[0] is model[2] and isinstance(model[0], DepthwiseConv2d)
    with torch.no_grad():
        assert_close(model(x), ref)


def test_example_inputs_fill_the_report():
    model = nn.Sequential(nn.BatchNorm2d(3), Net(), nn.Dropout())
    model[2].eval()            # mixed training flags survive the probe run
    stats = model[0].running_mean.clone()
    report = kt.optimize(model, example_inputs=torch.randn(1, 3, 15, 15))
    assert torch.equal(model[0].running_mean, stats)
    assert model.training and model[1].dw3.training and not model[2].training
    assert [e.input_shape for e in report] == [
        (1, 6, 15, 15), (1, 6, 15, 15), (1, 12, 8, 8), (1, 12, 8, 8),
        (1, 12, 8, 8), (1, 12, 8, 8)]
    assert all(len(e.configs) == 1 and e.configs[0].startswith("#kjit.config")
               for e in report)


def test_report_after_earlier_calls_of_the_same_shape():
    """A call remembered per tensor metadata before optimize() must not hide
    the layer's kernel from the report."""
    x, w = torch.randn(1, 6, 9, 9), torch.randn(6, 1, 3, 3)
    # The attributes as the replaced nn.Conv2d passes them.
    kt.depthwise_conv2d(x, w, None, (1, 1), (1, 1), (1, 1))
    model = nn.Sequential(nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False))
    report = kt.optimize(model, example_inputs=x)
    assert len(report[0].configs) == 1, str(report)
    assert report[0].configs[0].startswith("#kjit.config"), str(report)


def test_tuning(tmp_path, monkeypatch):
    """tune_seconds > 0: each distinct workload is tuned on-line and the
    measurements land in the tuning database named by KJIT_TUNING_DB."""
    from kjit import _runtime
    db = tmp_path / "tuning.sqlite"
    monkeypatch.setenv("KJIT_TUNING_DB", str(db))
    monkeypatch.setattr(_runtime, "_jit", None)   # a Jit that reads it
    _runtime.kernel_cache_clear()
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4),
                          nn.Conv2d(4, 4, 3, padding=1, groups=4),  # same shape
                          nn.Conv2d(4, 4, 5, stride=2, groups=4))
    model0 = copy.deepcopy(model)
    x = torch.randn(1, 4, 13, 11)
    ref = reference(model, x)
    report = kt.optimize(model, tune_seconds=4, example_inputs=x)
    assert report.tuning_db == str(db)
    assert [e.input_shape for e in report] == [(1, 4, 13, 11)] * 2 + [
        (1, 4, 13, 11)]
    for e in report:
        assert len(e.config_sources) == 1
        src = e.config_sources[0]
        # On-line tuning ran ("online (best of N)"), or says why it did not.
        assert src.startswith("online (best of") or "online tuning" in src, src
    assert report[0].configs == report[1].configs
    with torch.no_grad():
        assert_close(model(x), ref)
    if any(e.config_sources[0].startswith("online (best") for e in report):
        # The records are in the database: a new Jit (a later process)
        # takes the tuned configs without tuning.
        assert db.exists() and db.stat().st_size > 0
        monkeypatch.setattr(_runtime, "_jit", None)
        _runtime.kernel_cache_clear()
        again = kt.optimize(copy.deepcopy(model0), example_inputs=x)
        # (Not necessarily the same config: on-line tuning re-measures its
        # two fastest and ranks them by that, while the database serves the
        # lowest median of all records; on near-ties they can differ.)
        assert [e.config_sources for e in again] == [["tuned"]] * 3, str(again)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: kt.optimize("model"), TypeError, "nn.Module"),
    (lambda: kt.optimize(Net(), tune_seconds=-1), ValueError, ">= 0"),
    (lambda: kt.optimize(Net(), tune_seconds="5"), TypeError, "number"),
    (lambda: kt.optimize(Net(), tune_seconds=1), ValueError, "example_inputs"),
    (lambda: kt.optimize(nn.Conv2d(3, 3, 3, groups=3)), ValueError, "wrap"),
])
def test_bad_arguments(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_other_dtypes_left_alone():
    model = nn.Sequential(nn.Conv2d(3, 3, 3, groups=3).double())
    assert len(kt.optimize(model)) == 0
    assert type(model[0]) is nn.Conv2d


def test_other_dtype_after_optimize_uses_pytorch():
    model = Net()
    kt.optimize(model)
    model.double()
    x = torch.randn(1, 3, 11, 13, dtype=torch.float64)
    with torch.no_grad():
        assert_close(model(x), reference(model, x), rtol=1e-12)
