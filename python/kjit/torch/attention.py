"""kjit.window_attention for torch: neighborhood attention (NATTEN's
semantics), with a PyTorch implementation for the backward."""
import functools
import math
import numbers

import torch

from .. import _mlir, _runtime
from ._tensors import check_shape, check_tensor, threads, view

_FN = "kjit.torch.neighborhood_attention"


def _per_dim(name, v, dims):
    """An int or a tuple of `dims` ints -> tuple of `dims` ints."""
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,) * dims
    if (isinstance(v, (tuple, list)) and len(v) == dims
            and all(isinstance(e, int) and not isinstance(e, bool) for e in v)):
        return tuple(int(e) for e in v)
    raise TypeError("%s: %s must be an int or a tuple of %d ints (one per "
                    "spatial dim), got %r" % (_FN, name, dims, v))


@functools.lru_cache(maxsize=64)
def _axis_keys(n, k, d, causal):
    """Keys of every query along one axis of extent n: (key position,
    rpb index, valid), each n x k. NATTEN: the query's dilation group
    g = i mod d, its window of k group members clamped inside the group;
    causal: the k group members ending at the query (fewer at the start,
    the missing ones invalid)."""
    i = torch.arange(n)
    g, idx = i % d, i // d
    t = torch.arange(k)
    if causal:
        pos = idx[:, None] - (k - 1) + t[None, :]
        valid = pos >= 0
        pos = pos.clamp(min=0)
    else:
        ng = (n - g + d - 1) // d
        start = torch.minimum((idx - k // 2).clamp(min=0), ng - k)
        pos = start[:, None] + t[None, :]
        valid = torch.ones(n, k, dtype=torch.bool)
    return pos * d + g[:, None], (k - 1) + pos - idx[:, None], valid


@functools.lru_cache(maxsize=64)
def _neighbors(sizes, kernel, dilation, causal):
    """Flattened neighbor indices of every query: (key index [P, K],
    rpb index [P, K] into the flattened (2k-1)^dims table, valid [P, K] or
    None), P = prod(sizes), K = prod(kernel)."""
    key, rel, valid = _axis_keys(sizes[-1], kernel[-1], dilation[-1], causal)
    if len(sizes) == 2:
        kh, rh, _ = _axis_keys(sizes[0], kernel[0], dilation[0], False)
        w, kw, span = sizes[1], kernel[1], 2 * kernel[1] - 1
        # [H, kh] x [W, kw] -> [H, W, kh, kw] -> [H*W, kh*kw]
        key = (kh[:, None, :, None] * w + key[None, :, None, :])
        rel = (rh[:, None, :, None] * span + rel[None, :, None, :])
        p, kk = sizes[0] * w, kernel[0] * kw
        return key.reshape(p, kk), rel.reshape(p, kk), None
    return key, rel, None if bool(valid.all()) else valid


def neighborhood_attention_torch(q, k, v, kernel_size, dilation=1,
                                 is_causal=False, rpb=None, scale=None):
    """The same attention written with PyTorch ops (gather + matmul +
    softmax), differentiable and in the inputs' dtype: the backward of
    neighborhood_attention, and a float64 reference. Arguments as there,
    unchecked (kernel_size and dilation may be ints)."""
    sizes = tuple(q.shape[2:-1])
    dims = len(sizes)
    kernel = _per_dim("kernel_size", kernel_size, dims)
    dil = _per_dim("dilation", dilation, dims)
    key, rel, valid = _neighbors(sizes, kernel, dil, bool(is_causal))
    b, h, dd = q.shape[0], q.shape[1], q.shape[-1]
    p, kk = key.shape
    qf = q.reshape(b, h, p, dd)
    kg = k.reshape(b, h, p, dd)[:, :, key]           # b, h, p, kk, dd
    vg = v.reshape(b, h, p, dd)[:, :, key]
    s = scale if scale is not None else 1.0 / math.sqrt(dd)
    attn = torch.einsum("bhpd,bhpkd->bhpk", qf, kg) * s
    if rpb is not None:
        attn = attn + rpb.reshape(h, -1)[:, rel].unsqueeze(0)
    if valid is not None:
        attn = attn.masked_fill(~valid, float("-inf"))
    attn = torch.softmax(attn, dim=-1)
    return torch.einsum("bhpk,bhpkd->bhpd", attn, vg).reshape(q.shape)


def _forward(q, k, v, rpb, kernel, dilation, is_causal, scale):
    """The kjit kernel's forward (no autograd); arguments already checked."""
    nt = threads()
    shape = tuple(q.shape)
    rpb_shape = None if rpb is None else tuple(rpb.shape)
    key = ("window_attention", shape, kernel, dilation, is_causal, scale,
           rpb_shape, nt)

    def build():
        types = [_mlir.tensor(shape)] * 3
        if rpb is not None:
            types.append(_mlir.tensor(rpb_shape))
        attrs = {"kernel_size": _mlir.i64_array(kernel),
                 "dilation": _mlir.i64_array(dilation)}
        if is_causal:
            attrs["is_causal"] = "true"
        if scale is not None:
            attrs["scale"] = _mlir.f32_attr(scale)
        return _mlir.module("kjit.window_attention", types,
                            [_mlir.tensor(shape)], attrs)

    kern = _runtime.cached_kernel(key, build, nt)
    y = torch.empty(shape)
    kern.run([view(t) for t in (q, k, v, rpb) if t is not None], [view(y)])
    return y


class _NeighborhoodAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, rpb, kernel, dilation, is_causal, scale):
        ctx.save_for_backward(q, k, v, rpb)
        ctx.conf = (kernel, dilation, is_causal, scale)
        with torch.no_grad():
            return _forward(q.detach(), k.detach(), v.detach(),
                            None if rpb is None else rpb.detach(),
                            kernel, dilation, is_causal, scale)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy):
        # Recompute the attention with PyTorch's ops and backpropagate
        # through it: kjit has no backward kernel.
        saved = ctx.saved_tensors
        want = ctx.needs_input_grad[:4]
        leaves = [None if t is None else t.detach().requires_grad_(w)
                  for t, w in zip(saved, want)]
        with torch.enable_grad():
            y = neighborhood_attention_torch(leaves[0], leaves[1], leaves[2],
                                             *ctx.conf[:3], rpb=leaves[3],
                                             scale=ctx.conf[3])
            wrt = [t for t, w in zip(leaves, want) if w]
            grads = iter(torch.autograd.grad(y, wrt, gy))
        return tuple(next(grads) if w else None for w in want) + (None,) * 4


def _check(q, k, v, kernel_size, dilation, is_causal, rpb, scale):
    """Checked (kernel, dilation, is_causal, scale) or TypeError/ValueError."""
    check_tensor(_FN, "q", q, ranks=(4, 5))
    shape = tuple(q.shape)
    for name, t in (("k", k), ("v", v)):
        check_tensor(_FN, name, t, ranks=(4, 5))
        if tuple(t.shape) != shape:
            raise ValueError("%s: %s must have q's shape %s, got %s"
                             % (_FN, name, shape, tuple(t.shape)))
    if min(shape) < 1:
        raise ValueError("%s: empty q, k, v (shape %s)" % (_FN, shape))
    dims = q.dim() - 3
    kernel = _per_dim("kernel_size", kernel_size, dims)
    dil = _per_dim("dilation", dilation, dims)
    for i in range(dims):
        if kernel[i] < 1 or kernel[i] % 2 == 0:
            raise ValueError("%s: kernel_size must be odd and >= 1, got %s"
                             % (_FN, kernel_size))
        if dil[i] < 1:
            raise ValueError("%s: dilation must be >= 1, got %s"
                             % (_FN, dilation))
        if kernel[i] * dil[i] > shape[2 + i]:
            raise ValueError(
                "%s: kernel_size x dilation (%d x %d) is larger than the "
                "spatial size %d in dim %d" % (_FN, kernel[i], dil[i],
                                                shape[2 + i], i))
    if not isinstance(is_causal, bool):
        raise TypeError("%s: is_causal must be a bool, got %r"
                        % (_FN, is_causal))
    if is_causal and dims != 1:
        raise ValueError("%s: is_causal is supported only for 1-D attention "
                         "(q of rank 4), got rank %d" % (_FN, q.dim()))
    if rpb is not None:
        check_tensor(_FN, "rpb", rpb, rank=dims + 1)
        check_shape(_FN, "rpb", rpb,
                    (shape[1],) + tuple(2 * kk - 1 for kk in kernel))
    if scale is not None:
        if not isinstance(scale, numbers.Real) or isinstance(scale, bool):
            raise TypeError("%s: scale must be a float or None, got %r"
                            % (_FN, scale))
        scale = float(scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError("%s: scale must be positive and finite, got %r"
                             % (_FN, scale))
    return kernel, dil, is_causal, scale


def neighborhood_attention(q, k, v, kernel_size, dilation=1, is_causal=False,
                           rpb=None, scale=None):
    """Neighborhood attention (NATTEN's semantics) through a kjit kernel.

    q, k, v: [B, heads, H, W, D] (2-D) or [B, heads, L, D] (1-D), float32.
    Each query attends exactly kernel_size keys per dim on its dilation
    group, the window shifted inward at the borders; is_causal (1-D only)
    attends the kernel_size keys ending at the query. kernel_size (odd) and
    dilation: int or one per spatial dim. rpb: heads x (2k-1) or
    heads x (2k-1) x (2k-1), added to the scaled scores. scale: default
    1/sqrt(D). Differentiable in q, k, v and rpb (the backward recomputes
    the attention with PyTorch's ops)."""
    kernel, dil, is_causal, scale = _check(q, k, v, kernel_size, dilation,
                                           is_causal, rpb, scale)
    tensors = (q, k, v) if rpb is None else (q, k, v, rpb)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return _NeighborhoodAttention.apply(q, k, v, rpb, kernel, dil,
                                            is_causal, scale)
    return _forward(q, k, v, rpb, kernel, dil, is_causal, scale)
