"""kjit.torch.depthwise_conv2d against F.conv2d(groups=C) in float64."""
import pytest
import torch
import torch.nn.functional as F

import kjit.torch as kt
from conftest import assert_close

# (N, C, H, W, KH, KW, stride, padding, dilation): odd and prime sizes,
# band kernels, stride 2, dilation, asymmetric "same" for even kernels.
CASES = [
    (1, 7, 13, 11, 3, 3, 1, 1, 1),
    (2, 13, 17, 19, 5, 5, 2, 2, 1),
    (1, 5, 23, 9, 7, 7, 1, "same", 1),
    (3, 3, 11, 29, 1, 7, 1, (0, 3), 1),
    (1, 17, 19, 19, 3, 3, 2, 1, 2),
    (1, 11, 10, 12, 4, 2, 1, "same", 1),
    (2, 6, 31, 31, 13, 13, 1, 6, 1),
    (1, 19, 7, 7, 7, 7, 1, "valid", 1),
]


def reference(x, w, b, stride, padding, dilation):
    return F.conv2d(x.double(), w.double(), None if b is None else b.double(),
                    stride=stride, padding=padding, dilation=dilation,
                    groups=x.shape[1])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_matches_conv2d(case, channels_last, with_bias):
    n, c, h, w, kh, kw, s, p, d = case
    x = torch.randn(n, c, h, w)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    wt = torch.randn(c, 1, kh, kw)
    b = torch.randn(c) if with_bias else None
    y = kt.depthwise_conv2d(x, wt, b, stride=s, padding=p, dilation=d)
    assert_close(y, reference(x, wt, b, s, p, d), what=str(case))
    if channels_last:
        assert y.is_contiguous(memory_format=torch.channels_last)


def test_non_contiguous_input():
    x = torch.randn(2, 9, 15, 30)[:, :, :, ::2]  # W stride 2
    wt = torch.randn(9, 1, 3, 3)
    y = kt.depthwise_conv2d(x, wt, padding=1)
    assert_close(y, reference(x, wt, None, 1, 1, 1))


def test_second_call_reuses_the_kernel():
    x, wt = torch.randn(1, 5, 9, 9), torch.randn(5, 1, 3, 3)
    y1 = kt.depthwise_conv2d(x, wt, padding=1)
    x2 = torch.randn(1, 5, 9, 9)
    y2 = kt.depthwise_conv2d(x2, wt, padding=1)
    assert_close(y1, reference(x, wt, None, 1, 1, 1))
    assert_close(y2, reference(x2, wt, None, 1, 1, 1))


def test_gradients_match_pytorch():
    x = torch.randn(1, 3, 7, 6, dtype=torch.float32, requires_grad=True)
    wt = torch.randn(3, 1, 3, 2, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    # kjit computes in float32: its gradients against PyTorch's own
    # conv2d's on the same float32 inputs.
    y = kt.depthwise_conv2d(x, wt, b, stride=(2, 1), padding="valid")
    gy = torch.randn_like(y)
    gx, gw, gb = torch.autograd.grad(y, (x, wt, b), gy)
    r = F.conv2d(x, wt, b, stride=(2, 1), groups=3)
    rx, rw, rb = torch.autograd.grad(r, (x, wt, b), gy)
    assert_close(gx, rx)
    assert_close(gw, rw)
    assert_close(gb, rb)


@pytest.mark.filterwarnings("ignore:Input #")
def test_gradients_with_asymmetric_padding_and_gradcheck():
    x = torch.randn(1, 2, 6, 5, requires_grad=True)
    wt = torch.randn(2, 1, 4, 3, requires_grad=True)
    # "same" with an even kernel pads asymmetrically (kjit only).
    y = kt.depthwise_conv2d(x, wt, padding="same", dilation=(1, 2))
    assert y.shape == (1, 2, 6, 5)
    gy = torch.randn_like(y)
    gx, gw = torch.autograd.grad(y, (x, wt), gy)
    # Reference: explicit asymmetric pad then conv2d in float64.
    xd = x.detach().double().requires_grad_()
    wd = wt.detach().double().requires_grad_()
    r = F.conv2d(F.pad(xd, (2, 2, 1, 2)), wd, dilation=(1, 2), groups=2)
    rx, rw = torch.autograd.grad(r, (xd, wd), gy.double())
    assert_close(gx, rx)
    assert_close(gw, rw)
    # And torch.autograd.gradcheck on the backward formula (float64 input
    # goes through the float32 kernel, so use its float32 tolerances).
    assert torch.autograd.gradcheck(
        lambda a, b_: kt.depthwise_conv2d(a, b_, padding=1),
        (torch.randn(1, 2, 5, 4, requires_grad=True),
         torch.randn(2, 1, 3, 3, requires_grad=True)),
        eps=1e-2, atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("bad, exc, words", [
    (lambda: kt.depthwise_conv2d(torch.randn(1, 3, 5, 5).double(),
                                 torch.randn(3, 1, 3, 3)), TypeError, "float32"),
    (lambda: kt.depthwise_conv2d(torch.randn(3, 5, 5),
                                 torch.randn(3, 1, 3, 3)), ValueError, "rank 4"),
    (lambda: kt.depthwise_conv2d(torch.randn(1, 3, 5, 5),
                                 torch.randn(4, 1, 3, 3)), ValueError, "weight"),
    (lambda: kt.depthwise_conv2d(torch.randn(1, 3, 5, 5),
                                 torch.randn(3, 1, 7, 7)), ValueError, "larger"),
    (lambda: kt.depthwise_conv2d(torch.randn(1, 3, 5, 5), torch.randn(3, 1, 3, 3),
                                 stride=2, padding="same"), ValueError, "same"),
    (lambda: kt.depthwise_conv2d(torch.randn(1, 3, 5, 5), torch.randn(3, 1, 3, 3),
                                 bias=torch.randn(2)), ValueError, "bias"),
    (lambda: kt.depthwise_conv2d(torch.randn(1, 3, 5, 5), torch.randn(3, 1, 3, 3),
                                 stride=0), ValueError, "stride"),
    (lambda: kt.depthwise_conv2d([1.0], torch.randn(3, 1, 3, 3)), TypeError, "Tensor"),
])
def test_bad_input(bad, exc, words):
    with pytest.raises(exc, match=words):
        bad()
