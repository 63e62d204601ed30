"""kjit.torch.inception_depthwise_conv2d against torch.split + three
F.conv2d(groups, padding="same") + torch.cat in float64."""
import pytest
import torch
import torch.nn.functional as F

import kjit.torch as kt
from conftest import assert_close

# (N, C, H, W, (g_sq, g_w, g_h), K, B): odd and prime sizes, branches of 0
# channels, no identity channels, kernels larger than the image.
CASES = [
    (1, 13, 11, 17, (3, 3, 3), 3, 11),
    (2, 31, 13, 7, (7, 5, 11), 5, 7),
    (1, 17, 9, 23, (0, 4, 4), 3, 11),
    (1, 11, 19, 5, (5, 0, 3), 5, 7),
    (1, 7, 8, 10, (2, 3, 0), 3, 7),
    (3, 5, 7, 7, (0, 0, 0), 3, 11),
    (1, 9, 5, 13, (3, 3, 3), 5, 11),
    (1, 23, 6, 6, (1, 2, 3), 7, 13),
]


def weights(g, k, b, torch_shapes=True, **kw):
    g_sq, g_w, g_h = g
    if torch_shapes:
        shapes = [(g_sq, 1, k, k), (g_w, 1, 1, b), (g_h, 1, b, 1)]
    else:
        shapes = [(g_sq, k, k), (g_w, 1, b), (g_h, b, 1)]
    return [torch.randn(*s, **kw) for s in shapes]


def reference(x, w_sq, w_bw, w_bh, g):
    """InceptionNeXt's forward, in float64 with PyTorch's conv2d."""
    x = x.double()
    c_id = x.shape[1] - sum(g)
    parts = list(torch.split(x, (c_id,) + tuple(g), dim=1))
    out = [parts[0]]
    for xs, w in zip(parts[1:], (w_sq, w_bw, w_bh)):
        if xs.shape[1] == 0:
            continue
        w4 = w.double().reshape(w.shape[0], 1, w.shape[-2], w.shape[-1])
        out.append(F.conv2d(xs, w4, padding="same", groups=xs.shape[1]))
    return torch.cat(out, dim=1)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_matches_split_conv2d_cat(case, channels_last):
    n, c, h, w, g, k, b = case
    x = torch.randn(n, c, h, w)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    ws = weights(g, k, b)
    y = kt.inception_depthwise_conv2d(x, *ws, g)
    assert_close(y, reference(x, *ws, g), what=str(case))
    if channels_last:
        assert y.is_contiguous(memory_format=torch.channels_last)
    else:
        assert y.is_contiguous()


def test_kjit_3d_filter_shapes():
    g = (4, 3, 5)
    x = torch.randn(2, 19, 11, 13)
    ws = weights(g, 5, 11, torch_shapes=False)
    y = kt.inception_depthwise_conv2d(x, *ws, list(g))
    assert_close(y, reference(x, *ws, g))


def test_non_contiguous_input():
    x = torch.randn(1, 29, 12, 34)[:, :, :, ::2]  # W stride 2
    g = (5, 7, 3)
    ws = weights(g, 3, 7)
    assert_close(kt.inception_depthwise_conv2d(x, *ws, g),
                 reference(x, *ws, g))
    xt = torch.randn(1, 9, 13, 11).transpose(2, 3)  # H and W swapped
    ws = weights((2, 2, 2), 3, 11)
    assert_close(kt.inception_depthwise_conv2d(xt, *ws, (2, 2, 2)),
                 reference(xt, *ws, (2, 2, 2)))


def test_second_call_reuses_the_kernel():
    g, ws = (3, 2, 2), weights((3, 2, 2), 3, 7)
    for _ in range(2):
        x = torch.randn(1, 11, 9, 9)
        assert_close(kt.inception_depthwise_conv2d(x, *ws, g),
                     reference(x, *ws, g))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("g, torch_shapes", [
    ((3, 2, 4), True), ((0, 3, 2), False), ((2, 0, 0), True)])
def test_gradients_match_pytorch(g, torch_shapes, channels_last):
    # kjit computes in float32: its gradients (PyTorch's conv2d gradients
    # per branch) against autograd through the float64 reference.
    x = torch.randn(2, 13, 9, 7)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_()
    ws = weights(g, 3, 7, torch_shapes=torch_shapes, requires_grad=True)
    y = kt.inception_depthwise_conv2d(x, *ws, g)
    gy = torch.randn_like(y)
    got = torch.autograd.grad(y, [x] + ws, gy)
    leaves = [t.detach().double().requires_grad_() for t in [x] + ws]
    ref = torch.autograd.grad(reference(*leaves, g), leaves, gy.double(),
                              allow_unused=True)  # a 0-channel branch
    for name, a, r, t in zip(("x", "w_square", "w_band_w", "w_band_h"),
                             got, ref, leaves):
        r = torch.zeros_like(t) if r is None else r
        assert a.shape == r.shape, name
        assert_close(a, r, what=name)


def test_gradcheck():
    g = (2, 1, 2)
    ws = weights(g, 3, 5, requires_grad=True)
    x = torch.randn(1, 7, 5, 6, requires_grad=True)
    # float32 kernel: gradcheck at float32 tolerances.
    assert torch.autograd.gradcheck(
        lambda *a: kt.inception_depthwise_conv2d(*a, g), (x, *ws),
        eps=1e-2, atol=2e-2, rtol=2e-2)


def test_only_weights_require_grad():
    g = (2, 2, 2)
    ws = weights(g, 3, 7, requires_grad=True)
    x = torch.randn(1, 8, 6, 6)
    y = kt.inception_depthwise_conv2d(x, *ws, g)
    y.sum().backward()
    leaves = [w.detach().double().requires_grad_() for w in ws]
    reference(x, *leaves, g).sum().backward()
    for w, r in zip(ws, leaves):
        assert_close(w.grad, r.grad)


def _call(x=None, ws=None, g=(2, 2, 2)):
    x = torch.randn(1, 8, 7, 7) if x is None else x
    ws = weights((2, 2, 2), 3, 7) if ws is None else ws
    return lambda: kt.inception_depthwise_conv2d(x, *ws, g)


@pytest.mark.parametrize("bad, exc, words", [
    (_call(x=torch.randn(1, 8, 7, 7).double()), TypeError,
     "x must be torch.float32"),
    (_call(x=torch.randn(8, 7, 7)), ValueError, "x must have rank 4"),
    (_call(x=torch.randn(0, 8, 7, 7)), ValueError, "empty"),
    (_call(g=(2, 2)), TypeError, "branch_channels"),
    (_call(g=(2, 2.0, 2)), TypeError, "branch_channels"),
    (_call(g=(-1, 2, 2)), ValueError, ">= 0"),
    (_call(x=torch.randn(1, 5, 7, 7)), ValueError, "sum to 6"),
    (_call(g=(3, 2, 2)), ValueError, "w_square has 2 channels"),
    (_call(ws=[torch.randn(2, 1, 4, 4), torch.randn(2, 1, 1, 7),
               torch.randn(2, 1, 7, 1)]), ValueError, "w_square.*odd"),
    (_call(ws=[torch.randn(2, 1, 3, 5), torch.randn(2, 1, 1, 7),
               torch.randn(2, 1, 7, 1)]), ValueError, "w_square.*KxK"),
    (_call(ws=[torch.randn(2, 1, 3, 3), torch.randn(2, 1, 7, 1),
               torch.randn(2, 1, 7, 1)]), ValueError, "w_band_w.*1xB"),
    (_call(ws=[torch.randn(2, 1, 3, 3), torch.randn(2, 1, 1, 7),
               torch.randn(2, 1, 1, 7)]), ValueError, "w_band_h.*Bx1"),
    (_call(ws=[torch.randn(2, 2, 3, 3), torch.randn(2, 1, 1, 7),
               torch.randn(2, 1, 7, 1)]), ValueError, "depthwise"),
    (_call(ws=[torch.randn(2, 3), torch.randn(2, 1, 1, 7),
               torch.randn(2, 1, 7, 1)]), ValueError,
     "w_square must have rank 3 or 4"),
    (_call(ws=[torch.randn(2, 1, 3, 3).int(), torch.randn(2, 1, 1, 7),
               torch.randn(2, 1, 7, 1)]), TypeError,
     "w_square must be torch.float32"),
    (_call(ws=[torch.randn(2, 1, 3, 3), None, torch.randn(2, 1, 7, 1)]),
     TypeError, "w_band_w must be a torch.Tensor"),
])
def test_bad_input(bad, exc, words):
    with pytest.raises(exc, match="inception_depthwise_conv2d: .*" + words):
        bad()
