"""kjit.fft_conv and kjit.butterfly_matmul for torch: the long-convolution
family (Hyena's causal long convolution and the Monarch product its FFTs are
built from), with backwards written in PyTorch's ops."""
import torch

from .. import _mlir, _runtime
from ._tensors import check_shape, check_tensor, threads, view


def _run(key, op, inputs, out_shape):
    """Runs the one-op module `op` on `inputs` (checked float32 tensors)
    into a new tensor of out_shape; the kernel is cached under `key`."""
    nt = threads()
    shapes = [tuple(t.shape) for t in inputs]

    def build():
        return _mlir.module(op, [_mlir.tensor(s) for s in shapes],
                            [_mlir.tensor(out_shape)], {})

    kern = _runtime.cached_kernel(key + (tuple(shapes), nt), build, nt)
    y = torch.empty(out_shape)
    kern.run([view(t) for t in inputs], [view(y)])
    return y


def _differentiable(forward, backward):
    """A torch.autograd.Function over tensors (some None): forward runs the
    kjit kernel on detached inputs, backward(gy, *inputs, needs_input_grad)
    is written in PyTorch's ops."""
    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            ctx.save_for_backward(*inputs)
            with torch.no_grad():
                return forward(*(None if t is None else t.detach()
                                 for t in inputs))

        @staticmethod
        def backward(ctx, gy):
            return backward(gy, *ctx.saved_tensors, ctx.needs_input_grad)
    return Op


# --------------------------------------------------------------------------
# fft_conv
# --------------------------------------------------------------------------

def _fft_size(n):
    """A power of two >= n: PyTorch's FFTs are fastest there."""
    return 1 << max(0, (n - 1).bit_length())


def fft_conv_backward(gy, u, k, d, need):
    """(grad u, grad k, grad d) of y = causal_conv(u, k) + d u, through
    PyTorch's FFTs (linear, not circular: size >= L + Lk - 1).
    grad u: gy correlated with k, plus d gy; grad k[c, s]: sum over b, t of
    gy[b, c, t] u[b, c, t - s]; grad d: sum of gy u."""
    length, lk = u.shape[-1], k.shape[-1]
    n = _fft_size(length + lk - 1)
    gyf = torch.fft.rfft(gy, n=n)
    gu = gk = gd = None
    if need[0]:
        kf = torch.fft.rfft(k, n=n)
        gu = torch.fft.irfft(gyf * kf.conj(), n=n)[..., :length]
        if d is not None:
            gu = gu + d[:, None] * gy
    if need[1]:
        uf = torch.fft.rfft(u, n=n)
        gk = torch.fft.irfft((gyf * uf.conj()).sum(0), n=n)[..., :lk]
    if d is not None and need[2]:
        gd = (gy * u).sum(dim=(0, 2))
    return gu, gk, gd


def _fft_conv(u, k, d):
    ins = [u, k] if d is None else [u, k, d]
    return _run(("fft_conv",), "kjit.fft_conv", ins, tuple(u.shape))


_FftConv = _differentiable(_fft_conv, fft_conv_backward)


def fft_conv(u, k, d=None):
    """Causal long convolution (Hyena's) through a kjit FFT kernel:
    y[b, c, t] = sum_{s <= min(t, Lk-1)} k[c, s] u[b, c, t-s] + d[c] u[b, c, t].

    u: B x C x L, k: C x Lk (1 <= Lk <= L), d: C or None; float32.
    Differentiable (the backward uses PyTorch's FFTs)."""
    fn = "kjit.torch.fft_conv"
    check_tensor(fn, "u", u, rank=3)
    check_tensor(fn, "k", k, rank=2)
    b, c, length = u.shape
    if min(b, c, length) < 1:
        raise ValueError("%s: empty u (shape %s)" % (fn, tuple(u.shape)))
    check_shape(fn, "k", k, (c, None))
    if not 1 <= k.shape[1] <= length:
        raise ValueError("%s: k's length Lk must be in [1, L = %d], got %d"
                         % (fn, length, k.shape[1]))
    if d is not None:
        check_tensor(fn, "d", d, rank=1)
        check_shape(fn, "d", d, (c,))
    tensors = (u, k) if d is None else (u, k, d)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return _FftConv.apply(u, k, d)
    return _fft_conv(u, k, d)


# --------------------------------------------------------------------------
# butterfly_matmul (Monarch)
# --------------------------------------------------------------------------

def butterfly_backward(gy, x, r, l, need):
    """(grad x, grad r, grad l) of the Monarch product (ARCHITECTURE.md's
    steps X1[i] = r[i] X[i], X2 = X1^T, X3[j] = l[j] X2[j], y = X3^T),
    each step's transpose in PyTorch's einsum."""
    b = x.shape[0]
    m1, m2 = r.shape[0], r.shape[1]
    xr = x.reshape(b, m1, m2)
    g3 = gy.reshape(b, m1, m2).transpose(1, 2)             # b, m2, m1
    g1 = torch.einsum("jac,bja->bcj", l, g3)               # b, m1, m2
    gx = gr = gl = None
    if need[0]:
        gx = torch.einsum("ipq,bip->biq", r, g1).reshape(b, m1 * m2)
    if need[1]:
        gr = torch.einsum("bip,biq->ipq", g1, xr)
    if need[2]:
        x2 = torch.einsum("ipq,biq->bpi", r, xr)           # X1^T: b, m2, m1
        gl = torch.einsum("bja,bjc->jac", g3, x2)
    return gx, gr, gl


def _butterfly(x, r, l):
    return _run(("butterfly_matmul",), "kjit.butterfly_matmul", [x, r, l],
                tuple(x.shape))


_ButterflyMatmul = _differentiable(_butterfly, butterfly_backward)


def butterfly_matmul(x, r, l):
    """Monarch product of the rows of x through a kjit kernel.

    x: B x N, r: m1 x m2 x m2, l: m2 x m1 x m1, N = m1 m2; float32. Per row:
    X = x.reshape(m1, m2); X1[i] = r[i] X[i]; X3[j] = l[j] X1^T[j];
    y = X3^T.reshape(N). Differentiable (the backward is PyTorch's einsum)."""
    fn = "kjit.torch.butterfly_matmul"
    check_tensor(fn, "x", x, rank=2)
    check_tensor(fn, "r", r, rank=3)
    check_tensor(fn, "l", l, rank=3)
    m1, m2 = r.shape[0], r.shape[1]
    if min(x.shape[0], m1, m2) < 1:
        raise ValueError("%s: empty x or r (x %s, r %s)"
                         % (fn, tuple(x.shape), tuple(r.shape)))
    check_shape(fn, "r", r, (m1, m2, m2))
    check_shape(fn, "l", l, (m2, m1, m1))
    if x.shape[1] != m1 * m2:
        raise ValueError("%s: x's row length N must be m1 * m2 = %d * %d = %d "
                         "(from r), got %d" % (fn, m1, m2, m1 * m2, x.shape[1]))
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, r, l)):
        return _ButterflyMatmul.apply(x, r, l)
    return _butterfly(x, r, l)
