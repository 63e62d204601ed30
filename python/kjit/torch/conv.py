"""kjit.depthwise_conv2d and kjit.inception_depthwise_conv2d for torch."""
import torch

from .. import _mlir, _runtime
from ._tensors import (check_shape, check_tensor, memo_checks, threads, view,
                       view_dropped, view_permuted)


def _pair(fn, name, v):
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if (isinstance(v, (tuple, list)) and len(v) == 2
            and all(isinstance(e, int) and not isinstance(e, bool) for e in v)):
        return (int(v[0]), int(v[1]))
    raise TypeError("%s: %s must be an int or a pair of ints, got %r"
                    % (fn, name, v))


def _padding(fn, padding, kernel, stride, dilation):
    """(top, bottom, left, right) for an int, a pair or "same" (PyTorch's
    rule: total d*(k-1), the smaller half first)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError("%s: padding must be an int, a pair, 'same' or "
                             "'valid', got %r" % (fn, padding))
        if stride != (1, 1):
            raise ValueError("%s: padding='same' needs stride 1 (as in "
                             "PyTorch), got stride %s" % (fn, stride))
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]
        return tuple(out)
    ph, pw = _pair(fn, "padding", padding)
    if ph < 0 or pw < 0:
        raise ValueError("%s: padding must be >= 0, got %r" % (fn, padding))
    return (ph, ph, pw, pw)


def _out_size(size, before, after, k, s, d):
    return (size + before + after - d * (k - 1) - 1) // s + 1


_NHWC = (0, 2, 3, 1)


def _nhwc_view(x):
    """True when x (N,C,H,W) is laid out channels_last: kjit reads it as
    NHWC in place."""
    return (x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
            and not x.is_contiguous())


class _Plan:
    """A call's kernel and the static parts of its arguments, for one set of
    tensor metadata and attributes (memo_checks keeps it): a repeated call
    allocates the output, reads three data pointers and runs."""
    __slots__ = ("kernel", "out_shape", "fmt", "copy_x", "x_spec", "w_spec",
                 "b_spec", "y_spec")

    def run(self, x, weight, bias):
        if self.copy_x:
            x = x.contiguous()
        y = torch.empty(self.out_shape, memory_format=self.fmt)
        ins = [(x.data_ptr(),) + self.x_spec,
               (weight.data_ptr(),) + self.w_spec]
        if bias is not None:
            ins.append((bias.data_ptr(),) + self.b_spec)
        self.kernel.run(ins, [(y.data_ptr(),) + self.y_spec])
        return y


def _plan(x, weight, bias, stride, padding, dilation, nt):
    """The _Plan of checked arguments: compiles (or finds) the kernel."""
    n, c, h, w = x.shape
    kh, kw = weight.shape[2], weight.shape[3]
    oh = _out_size(h, padding[0], padding[1], kh, stride[0], dilation[0])
    ow = _out_size(w, padding[2], padding[3], kw, stride[1], dilation[1])
    layout = "nhwc" if _nhwc_view(x) else "nchw"
    p = _Plan()
    p.copy_x = layout == "nchw" and not x.is_contiguous()
    if p.copy_x:
        x = x.contiguous()
    p.out_shape = (n, c, oh, ow)
    p.fmt = torch.channels_last if layout == "nhwc" else torch.contiguous_format
    probe = torch.empty(p.out_shape, memory_format=p.fmt)
    order = _NHWC if layout == "nhwc" else (0, 1, 2, 3)
    p.x_spec = view_permuted(x, order)[1:]
    p.y_spec = view_permuted(probe, order)[1:]
    p.w_spec = view_dropped(weight, 1)[1:]
    p.b_spec = None if bias is None else view(bias)[1:]

    def build():
        xs, ys = p.x_spec[1], p.y_spec[1]
        types = [_mlir.tensor(xs), _mlir.tensor((c, kh, kw))]
        if bias is not None:
            types.append(_mlir.tensor((c,)))
        return _mlir.module("kjit.depthwise_conv2d", types, [_mlir.tensor(ys)], {
            "layout": '"%s"' % layout,
            "strides": _mlir.i64_array(stride),
            "dilations": _mlir.i64_array(dilation),
            "padding": _mlir.i64_array(padding)})

    key = ("depthwise_conv2d", layout, n, c, h, w, kh, kw, stride, dilation,
           padding, bias is not None, nt)
    p.kernel = _runtime.cached_kernel(key, build, nt)
    return p


class _DepthwiseConv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, plan):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, bias is not None)
        with torch.no_grad():
            return plan.run(x.detach(), weight.detach(),
                            None if bias is None else bias.detach())

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, has_bias = ctx.conf
        c = x.shape[1]
        # PyTorch's own gradients of conv2d(groups=C), on the padded input
        # (kjit's padding may be asymmetric, conv2d's is not).
        t, b, l, r = padding
        xp = torch.nn.functional.pad(x, (l, r, t, b))
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gxp = torch.nn.grad.conv2d_input(xp.shape, weight, gy, stride=stride,
                                             dilation=dilation, groups=c)
            gx = gxp[:, :, t:t + x.shape[2], l:l + x.shape[3]]
        if ctx.needs_input_grad[1]:
            gw = torch.nn.grad.conv2d_weight(xp, weight.shape, gy, stride=stride,
                                             dilation=dilation, groups=c)
        if has_bias and ctx.needs_input_grad[2]:
            gb = gy.sum(dim=(0, 2, 3))
        return gx, gw, gb, None, None, None, None


_checked = _runtime.register_memo({})


def _check(x, weight, bias, stride, padding, dilation):
    """Checked (stride, padding as (top, bottom, left, right), dilation),
    or TypeError/ValueError naming the problem."""
    fn = "kjit.torch.depthwise_conv2d"
    check_tensor(fn, "x", x, rank=4)
    check_tensor(fn, "weight", weight, rank=4)
    n, c, h, w = x.shape
    check_shape(fn, "weight", weight, (c, 1, None, None))
    if bias is not None:
        check_tensor(fn, "bias", bias, rank=1)
        check_shape(fn, "bias", bias, (c,))
    stride = _pair(fn, "stride", stride)
    dilation = _pair(fn, "dilation", dilation)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError("%s: stride and dilation must be >= 1, got %s and %s"
                         % (fn, stride, dilation))
    kernel = (weight.shape[2], weight.shape[3])
    if min(n, c, h, w) < 1 or min(kernel) < 1:
        raise ValueError("%s: empty input or weight (x %s, weight %s)"
                         % (fn, tuple(x.shape), tuple(weight.shape)))
    pad = _padding(fn, padding, kernel, stride, dilation)
    oh = _out_size(h, pad[0], pad[1], kernel[0], stride[0], dilation[0])
    ow = _out_size(w, pad[2], pad[3], kernel[1], stride[1], dilation[1])
    if oh < 1 or ow < 1:
        raise ValueError(
            "%s: the dilated kernel %dx%d is larger than the padded input "
            "%dx%d" % (fn, dilation[0] * (kernel[0] - 1) + 1,
                       dilation[1] * (kernel[1] - 1) + 1,
                       h + pad[0] + pad[1], w + pad[2] + pad[3]))
    return stride, pad, dilation


def _check_and_plan(x, weight, bias, stride, padding, dilation, nt):
    stride, pad, dilation = _check(x, weight, bias, stride, padding, dilation)
    return stride, pad, dilation, _plan(x, weight, bias, stride, pad,
                                        dilation, nt)


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """F.conv2d(x, weight, bias, stride, padding, dilation, groups=C) through
    a kjit kernel.

    x: N,C,H,W float32 (contiguous, or channels_last: read in place as NHWC,
    and the output is channels_last too); weight: C,1,KH,KW; bias: C or
    None. stride, dilation: int or pair; padding: int, pair, "same" or
    "valid". Differentiable (the backward is PyTorch's)."""
    nt = threads()
    stride, pad, dilation, plan = memo_checks(
        _checked, (x, weight, bias), (stride, padding, dilation, nt),
        lambda: _check_and_plan(x, weight, bias, stride, padding, dilation, nt))
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or (
            bias is not None and bias.requires_grad)):
        return _DepthwiseConv2d.apply(x, weight, bias, stride, pad, dilation,
                                      plan)
    return plan.run(x, weight, bias)

