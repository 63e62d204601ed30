"""kjit.inception_depthwise_conv2d for torch: InceptionNeXt's token mixer."""
import operator

import torch

from .. import _mlir, _runtime
from ._tensors import check_tensor, threads, view
from .conv import _nhwc_view

_NAMES = ("w_square", "w_band_w", "w_band_h")


def _branches(fn, branch_channels, c):
    """(g_sq, g_w, g_h): three ints >= 0 that leave >= 0 identity channels."""
    try:
        if len(branch_channels) != 3 or any(
                isinstance(v, bool) for v in branch_channels):
            raise TypeError
        g = tuple(operator.index(v) for v in branch_channels)
    except TypeError:
        raise TypeError("%s: branch_channels must be three ints (g_sq, g_w, "
                        "g_h), got %r" % (fn, branch_channels)) from None
    if min(g) < 0:
        raise ValueError("%s: branch_channels must be >= 0, got %s" % (fn, g))
    if sum(g) > c:
        raise ValueError("%s: branch_channels %s sum to %d, more than x's %d "
                         "channels" % (fn, g, sum(g), c))
    return g


def _filter(fn, name, w, g):
    """Checks w (PyTorch's g x 1 x KH x KW or kjit's g x KH x KW) against
    its branch: g channels, square, 1 x B or B x 1, odd sizes."""
    check_tensor(fn, name, w, ranks=(3, 4))
    if w.dim() == 4:
        if w.shape[1] != 1:
            raise ValueError("%s: %s must be %dx1xKHxKW (depthwise), got %s"
                             % (fn, name, g, "x".join(map(str, w.shape))))
    gc, kh, kw = w.shape[0], w.shape[-2], w.shape[-1]
    if gc != g:
        raise ValueError("%s: %s has %d channels, but branch_channels gives "
                         "it %d" % (fn, name, gc, g))
    want = {"w_square": kh == kw, "w_band_w": kh == 1,
            "w_band_h": kw == 1}[name]
    form = {"w_square": "KxK", "w_band_w": "1xB", "w_band_h": "Bx1"}[name]
    if not want or kh < 1 or kw < 1 or kh % 2 == 0 or kw % 2 == 0:
        raise ValueError("%s: %s's kernel must be %s with odd sizes (\"same\" "
                         "padding), got %dx%d" % (fn, name, form, kh, kw))


def _filter_view(w):
    """kjit's g x KH x KW view of a 3-D or 4-D (g x 1 x KH x KW) filter,
    built from w's strides (cheaper than a torch reshape per call)."""
    return (w.data_ptr(), "f32", (w.shape[0], w.shape[-2], w.shape[-1]),
            (w.stride(0), w.stride(-2), w.stride(-1)))


def inception_forward(x, weights, g):
    """The kjit kernel's forward (no autograd); arguments already checked."""
    n, c, h, w = x.shape
    layout = "nhwc" if _nhwc_view(x) else "nchw"
    if layout == "nchw" and not x.is_contiguous():
        x = x.contiguous()
    filters = [_filter_view(wt) for wt in weights]
    kernels = tuple(f[2][1:] for f in filters)
    nt = threads()
    key = ("inception_depthwise_conv2d", layout, n, c, h, w, g, kernels, nt)

    def build():
        xs = (n, h, w, c) if layout == "nhwc" else (n, c, h, w)
        types = [_mlir.tensor(xs)] + [_mlir.tensor(f[2]) for f in filters]
        return _mlir.module("kjit.inception_depthwise_conv2d", types,
                            [_mlir.tensor(xs)],
                            {"layout": '"%s"' % layout,
                             "branch_channels": _mlir.i64_array(g)})

    k = _runtime.cached_kernel(key, build, nt)
    y = torch.empty_like(x)  # x's strides: contiguous or channels_last
    xv, yv = (x, y) if layout == "nchw" else (x.permute(0, 2, 3, 1),
                                              y.permute(0, 2, 3, 1))
    k.run([view(xv)] + filters, [view(yv)])
    return y


class _InceptionDepthwiseConv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_sq, w_bw, w_bh, g):
        ctx.save_for_backward(x, w_sq, w_bw, w_bh)
        ctx.g = g
        with torch.no_grad():
            return inception_forward(
                x.detach(), (w_sq.detach(), w_bw.detach(), w_bh.detach()), g)

    @staticmethod
    def backward(ctx, gy):
        x, *weights = ctx.saved_tensors
        c0 = x.shape[1] - sum(ctx.g)
        gx_parts = [gy[:, :c0]]  # the identity branch
        gws = []
        for w, gc in zip(weights, ctx.g):
            xs, gys = x[:, c0:c0 + gc], gy[:, c0:c0 + gc]
            c0 += gc
            if gc == 0:
                gx_parts.append(xs.new_zeros(xs.shape))
                gws.append(torch.zeros_like(w))
                continue
            kh, kw = w.shape[-2], w.shape[-1]
            w4, pad = w.reshape(gc, 1, kh, kw), (kh // 2, kw // 2)
            # PyTorch's own gradients of the branch's conv2d(groups=g).
            gx_parts.append(torch.nn.grad.conv2d_input(
                xs.shape, w4, gys, padding=pad, groups=gc))
            gws.append(torch.nn.grad.conv2d_weight(
                xs, w4.shape, gys, padding=pad, groups=gc).reshape(w.shape))
        gx = torch.cat(gx_parts, dim=1) if ctx.needs_input_grad[0] else None
        gw = [gw if ctx.needs_input_grad[1 + i] else None
              for i, gw in enumerate(gws)]
        return (gx, *gw, None)


def inception_depthwise_conv2d(x, w_square, w_band_w, w_band_h,
                               branch_channels):
    """InceptionNeXt's token mixer through one fused kjit kernel.

    x: N,C,H,W float32 (contiguous, or channels_last: read in place as NHWC,
    and the output is channels_last too), split along C in the order
    [identity, square, band_w, band_h] with branch_channels = (g_sq, g_w,
    g_h) (the first C - g_sq - g_w - g_h channels pass through). Filters in
    PyTorch's depthwise shapes g_sq x 1 x K x K, g_w x 1 x 1 x B,
    g_h x 1 x B x 1 (or kjit's g x K x K, g x 1 x B, g x B x 1), odd sizes,
    stride 1, "same" padding; no bias. Equals torch.split + three
    F.conv2d(groups=g, padding="same") + torch.cat. Differentiable (the
    backward is PyTorch's conv2d gradients per branch)."""
    fn = "kjit.torch.inception_depthwise_conv2d"
    check_tensor(fn, "x", x, rank=4)
    n, c, h, w = x.shape
    if min(n, c, h, w) < 1:
        raise ValueError("%s: empty input x %s" % (fn, tuple(x.shape)))
    g = _branches(fn, branch_channels, c)
    weights = (w_square, w_band_w, w_band_h)
    for name, wt, gc in zip(_NAMES, weights, g):
        _filter(fn, name, wt, gc)
    if torch.is_grad_enabled() and (
            x.requires_grad or any(wt.requires_grad for wt in weights)):
        return _InceptionDepthwiseConv2d.apply(x, *weights, g)
    return inception_forward(x, weights, g)
