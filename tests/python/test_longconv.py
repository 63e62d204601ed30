"""kjit.torch.fft_conv and butterfly_matmul against float64 references.

fft_conv: direct causal convolution (F.conv1d on the flipped filter with
left padding, groups=C) in float64. butterfly_matmul: torch.einsum of
ARCHITECTURE.md's steps in float64. Gradients: autograd of those references.

Tolerance: max |got - ref| <= 1e-4 (1 + max |ref|) (conftest.assert_close),
at every L. FFT rounding grows only like sqrt(log n): the worst error
measured over L = 16..16411, Lk = 1..L, was 3.5e-7 of (1 + max |ref|), so
1e-4 keeps a 300x margin, while a wrong tap, shift or wrap-around is O(1)."""
import pytest
import torch
import torch.nn.functional as F

import kjit.torch as kt
from conftest import assert_close


def causal_conv(u, k, d=None):
    """y[b,c,t] = sum_{s<=min(t,Lk-1)} k[c,s] u[b,c,t-s] + d[c] u[b,c,t]."""
    lk = k.shape[1]
    y = F.conv1d(F.pad(u.double(), (lk - 1, 0)), k.double().flip(-1)[:, None],
                 groups=u.shape[1])
    return y if d is None else y + d.double()[:, None] * u.double()


def monarch(x, r, l):
    """ARCHITECTURE.md's steps: X1[i] = r[i] X[i]; X2 = X1^T;
    X3[j] = l[j] X2[j]; y = X3^T, per row."""
    b = x.shape[0]
    m1, m2 = r.shape[0], r.shape[1]
    x1 = torch.einsum("ipq,biq->bip", r.double(), x.double().reshape(b, m1, m2))
    x3 = torch.einsum("jac,bjc->bja", l.double(), x1.transpose(1, 2))
    return x3.transpose(1, 2).reshape(b, m1 * m2)


def test_causal_conv_reference_is_the_definition():
    # The conv1d reference against the formula written as a loop.
    u, k, d = torch.randn(2, 3, 11), torch.randn(3, 4), torch.randn(3)
    y = torch.zeros(2, 3, 11, dtype=torch.float64)
    for t in range(11):
        for s in range(min(t, 3) + 1):
            y[:, :, t] += k[:, s].double() * u[:, :, t - s].double()
    y += d.double()[:, None] * u.double()
    assert_close(causal_conv(u, k, d), y, rtol=1e-12)


# --------------------------------------------------------------------------
# fft_conv
# --------------------------------------------------------------------------

@pytest.mark.parametrize("length", [16, 17, 100, 257, 1000])
def test_fft_conv_matches_direct_convolution(length):
    # Lk from 1 to L, with and without d, C prime. Each shape compiles a
    # kernel (about 0.5 s cold), so the sizes are spread, not crossed.
    for b, c, lk, with_d in ((1, 7, 1, True), (2, 3, 2, False),
                             (2, 5, length // 3 + 1, True),
                             (1, 3, length - 1, False), (3, 7, length, True)):
        u, k = torch.randn(b, c, length), torch.randn(c, lk)
        d = torch.randn(c) if with_d else None
        assert_close(kt.fft_conv(u, k, d), causal_conv(u, k, d),
                     what="B%d C%d L%d Lk%d d=%s" % (b, c, length, lk, with_d))


@pytest.mark.parametrize("length", [1, 2, 5, 13, 4099])
def test_fft_conv_short_and_long_rows(length):
    u, k, d = torch.randn(1, 5, length), torch.randn(5, length), torch.randn(5)
    assert_close(kt.fft_conv(u, k, d), causal_conv(u, k, d))


def test_fft_conv_new_filter_new_answer():
    # kjit caches each channel's filter spectrum across calls; a changed
    # filter of the same shape must not reuse it.
    u, k = torch.randn(2, 3, 100), torch.randn(3, 37)
    assert_close(kt.fft_conv(u, k), causal_conv(u, k))
    k[1, 5] += 1.0
    assert_close(kt.fft_conv(u, k), causal_conv(u, k))
    k2 = torch.randn(3, 37)
    assert_close(kt.fft_conv(u, k2), causal_conv(u, k2))


def test_fft_conv_non_contiguous():
    u = torch.randn(3, 2, 100).transpose(0, 1)        # B, C swapped
    k = torch.randn(40, 3).t()                         # C x Lk, transposed
    d = torch.randn(6)[::2]
    assert not (u.is_contiguous() or k.is_contiguous() or d.is_contiguous())
    assert_close(kt.fft_conv(u, k, d), causal_conv(u, k, d))
    ue = torch.randn(1, 3, 50).expand(4, 3, 50)       # stride 0 over B
    assert_close(kt.fft_conv(ue, k[:, :7]), causal_conv(ue, k[:, :7]))


@pytest.mark.parametrize("shape", [(2, 3, 17, 5), (1, 5, 100, 100),
                                   (3, 2, 257, 1), (1, 3, 1000, 333)])
@pytest.mark.parametrize("with_d", [False, True])
def test_fft_conv_gradients(shape, with_d):
    b, c, length, lk = shape
    u, k = torch.randn(b, c, length), torch.randn(c, lk)
    d = torch.randn(c) if with_d else None
    leaves = [t.requires_grad_() for t in (u, k, d) if t is not None]
    y = kt.fft_conv(u, k, d)
    gy = torch.randn_like(y)
    got = torch.autograd.grad(y, leaves, gy)
    ref = [t.detach().double().requires_grad_() for t in leaves]
    want = torch.autograd.grad(causal_conv(*ref), ref, gy.double())
    for name, g, w in zip(("u", "k", "d"), got, want):
        assert g.dtype == torch.float32
        assert_close(g, w, what="grad " + name)


def test_fft_conv_gradient_of_k_only():
    u, k = torch.randn(2, 3, 30), torch.randn(3, 9, requires_grad=True)
    (gk,) = torch.autograd.grad(kt.fft_conv(u, k).sum(), (k,))
    kd = k.detach().double().requires_grad_()
    (wk,) = torch.autograd.grad(causal_conv(u, kd).sum(), (kd,))
    assert_close(gk, wk)


@pytest.mark.filterwarnings("ignore:Input #")
def test_fft_conv_gradcheck():
    # float32 forward: gradcheck with float32 tolerances; the exact
    # comparison is test_fft_conv_gradients.
    args = (torch.randn(1, 2, 16, requires_grad=True),
            torch.randn(2, 5, requires_grad=True),
            torch.randn(2, requires_grad=True))
    assert torch.autograd.gradcheck(kt.fft_conv, args, eps=1e-2, atol=2e-2,
                                    rtol=2e-2)


FC = kt.fft_conv


@pytest.mark.parametrize("bad, exc, words", [
    (lambda: FC(torch.randn(1, 3, 16).double(), torch.randn(3, 4)), TypeError,
     "u must be torch.float32"),
    (lambda: FC(torch.randn(1, 3, 16), torch.randn(3, 4).half()), TypeError,
     "k must be torch.float32"),
    (lambda: FC(torch.randn(3, 16), torch.randn(3, 4)), ValueError, "rank 3"),
    (lambda: FC(torch.randn(1, 3, 16), torch.randn(12)), ValueError, "rank 2"),
    (lambda: FC(torch.randn(1, 3, 16), torch.randn(4, 4)), ValueError,
     "k must have shape 3x?"),
    (lambda: FC(torch.randn(1, 3, 16), torch.randn(3, 17)), ValueError, "Lk"),
    (lambda: FC(torch.randn(1, 3, 16), torch.randn(3, 0)), ValueError, "Lk"),
    (lambda: FC(torch.randn(1, 3, 16), torch.randn(3, 4), torch.randn(2)),
     ValueError, "d must have shape 3"),
    (lambda: FC(torch.randn(1, 3, 16), torch.randn(3, 4), torch.randn(3, 1)),
     ValueError, "rank 1"),
    (lambda: FC(torch.randn(0, 3, 16), torch.randn(3, 4)), ValueError, "empty"),
    (lambda: FC(torch.randn(1, 3, 16), [0.5] * 3), TypeError, "Tensor"),
    (lambda: FC(torch.randn(1, 3, 16).to_sparse(), torch.randn(3, 4)),
     TypeError, "dense"),
])
def test_fft_conv_bad_input(bad, exc, words):
    with pytest.raises(exc, match=words.replace("?", r"\?")) as info:
        bad()
    assert "kjit.torch.fft_conv" in str(info.value)


# --------------------------------------------------------------------------
# butterfly_matmul
# --------------------------------------------------------------------------

SIZES = [(3, 5), (7, 4), (16, 16), (1, 7), (6, 1), (13, 11), (8, 32)]


@pytest.mark.parametrize("m1, m2", SIZES)
@pytest.mark.parametrize("b", [1, 3, 7])
def test_butterfly_matches_einsum(m1, m2, b):
    x, r, l = torch.randn(b, m1 * m2), torch.randn(m1, m2, m2), torch.randn(
        m2, m1, m1)
    assert_close(kt.butterfly_matmul(x, r, l), monarch(x, r, l),
                 what="B%d m1=%d m2=%d" % (b, m1, m2))


def test_butterfly_is_a_matrix_product():
    # The Monarch matrix built column by column from the einsum reference
    # equals kjit applied to the identity: checks the reference's steps too.
    m1, m2 = 3, 5
    r, l = torch.randn(m1, m2, m2), torch.randn(m2, m1, m1)
    eye = torch.eye(m1 * m2)
    m = torch.zeros(m1 * m2, m1 * m2, dtype=torch.float64)
    for col in range(m1 * m2):  # per ARCHITECTURE.md, with plain loops
        xm = eye[col].double().reshape(m1, m2)
        x1 = torch.stack([r[i].double() @ xm[i] for i in range(m1)])
        x2 = x1.t()
        x3 = torch.stack([l[j].double() @ x2[j] for j in range(m2)])
        m[:, col] = x3.t().reshape(-1)
    assert_close(monarch(eye, r, l), m.t(), rtol=1e-12)
    assert_close(kt.butterfly_matmul(eye, r, l), m.t())


def test_butterfly_non_contiguous():
    x = torch.randn(35, 5).t()
    r = torch.randn(7, 5, 5).transpose(1, 2)
    l = torch.randn(5, 7, 14)[:, :, ::2]
    assert_close(kt.butterfly_matmul(x, r, l), monarch(x, r, l))


@pytest.mark.parametrize("m1, m2, b", [(3, 5, 3), (7, 4, 1), (16, 16, 5),
                                       (1, 7, 2)])
def test_butterfly_gradients(m1, m2, b):
    x, r, l = (torch.randn(b, m1 * m2, requires_grad=True),
               torch.randn(m1, m2, m2, requires_grad=True),
               torch.randn(m2, m1, m1, requires_grad=True))
    y = kt.butterfly_matmul(x, r, l)
    gy = torch.randn_like(y)
    got = torch.autograd.grad(y, (x, r, l), gy)
    ref = [t.detach().double().requires_grad_() for t in (x, r, l)]
    want = torch.autograd.grad(monarch(*ref), ref, gy.double())
    for name, g, w in zip("xrl", got, want):
        assert g.dtype == torch.float32
        assert_close(g, w, what="grad " + name)


def test_butterfly_gradient_of_l_only():
    x, r = torch.randn(3, 12), torch.randn(4, 3, 3)
    l = torch.randn(3, 4, 4, requires_grad=True)
    (gl,) = torch.autograd.grad(kt.butterfly_matmul(x, r, l).sum(), (l,))
    ld = l.detach().double().requires_grad_()
    (wl,) = torch.autograd.grad(monarch(x, r, ld).sum(), (ld,))
    assert_close(gl, wl)


@pytest.mark.filterwarnings("ignore:Input #")
def test_butterfly_gradcheck():
    args = (torch.randn(2, 6, requires_grad=True),
            torch.randn(2, 3, 3, requires_grad=True),
            torch.randn(3, 2, 2, requires_grad=True))
    assert torch.autograd.gradcheck(kt.butterfly_matmul, args, eps=1e-2,
                                    atol=2e-2, rtol=2e-2)


BM = kt.butterfly_matmul


@pytest.mark.parametrize("bad, exc, words", [
    (lambda: BM(torch.randn(2, 15).double(), torch.randn(3, 5, 5),
                torch.randn(5, 3, 3)), TypeError, "x must be torch.float32"),
    (lambda: BM(torch.randn(15), torch.randn(3, 5, 5), torch.randn(5, 3, 3)),
     ValueError, "x must have rank 2"),
    (lambda: BM(torch.randn(2, 15), torch.randn(3, 5), torch.randn(5, 3, 3)),
     ValueError, "r must have rank 3"),
    (lambda: BM(torch.randn(2, 15), torch.randn(3, 5, 4), torch.randn(5, 3, 3)),
     ValueError, "r must have shape 3x5x5"),
    (lambda: BM(torch.randn(2, 15), torch.randn(3, 5, 5), torch.randn(3, 5, 5)),
     ValueError, "l must have shape 5x3x3"),
    (lambda: BM(torch.randn(2, 16), torch.randn(3, 5, 5), torch.randn(5, 3, 3)),
     ValueError, "m1 \\* m2"),
    (lambda: BM(torch.randn(0, 15), torch.randn(3, 5, 5), torch.randn(5, 3, 3)),
     ValueError, "empty"),
    (lambda: BM(torch.randn(2, 15), torch.randn(3, 5, 5),
                torch.randn(5, 3, 3, dtype=torch.float64)), TypeError, "l must"),
    (lambda: BM(torch.randn(2, 15), "r", torch.randn(5, 3, 3)), TypeError,
     "Tensor"),
])
def test_butterfly_bad_input(bad, exc, words):
    with pytest.raises(exc, match=words) as info:
        bad()
    assert "kjit.torch.butterfly_matmul" in str(info.value)


def test_two_threads():
    # Kernels are compiled per torch.get_num_threads(); two threads split
    # rows and channels differently and must give the same answers.
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        u, k, d = torch.randn(3, 5, 257), torch.randn(5, 100), torch.randn(5)
        assert_close(kt.fft_conv(u, k, d), causal_conv(u, k, d))
        x, r, l = torch.randn(7, 35), torch.randn(7, 5, 5), torch.randn(5, 7, 7)
        assert_close(kt.butterfly_matmul(x, r, l), monarch(x, r, l))
    finally:
        torch.set_num_threads(before)
