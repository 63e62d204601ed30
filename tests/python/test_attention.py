"""kjit.torch.neighborhood_attention against float64 references.

Two references check each other: a brute-force loop written here from
NATTEN's rule (ARCHITECTURE.md), and the module's PyTorch implementation
(gather + matmul + softmax, also the backward) run in float64.
Tolerance: max |got - ref| <= 1e-4 (1 + max |ref|) (conftest.assert_close):
outputs are convex combinations of v (fp32 error ~1e-6), while a wrong
window, bias index or softmax is off by O(0.01..1)."""
import math

import pytest
import torch

import kjit.torch as kt
from conftest import assert_close
from kjit.torch.attention import neighborhood_attention_torch


def window(i, n, k, d, causal):
    """(key position, rpb index) of query i along one dim, written out
    as NATTEN defines it: g = i mod d, idx = i div d, n_g group members,
    start = clamp(idx - k/2, 0, n_g - k); causal: the group's keys
    max(0, idx-k+1) .. idx."""
    g, idx = i % d, i // d
    ng = len(range(g, n, d))
    if causal:
        return [(p * d + g, (k - 1) + p - idx)
                for p in range(max(0, idx - k + 1), idx + 1)]
    start = min(max(idx - k // 2, 0), ng - k)
    return [((start + t) * d + g, (k - 1) + start + t - idx) for t in range(k)]


def brute_force(q, k, v, kernel, dil, causal=False, rpb=None, scale=None):
    """A loop over queries in float64; kernel and dil are per-dim tuples."""
    q, k, v = q.double(), k.double(), v.double()
    two_d = q.dim() == 5
    if not two_d:  # 1-D as 2-D with one row
        q, k, v = q.unsqueeze(2), k.unsqueeze(2), v.unsqueeze(2)
        kernel, dil = (1,) + tuple(kernel), (1,) + tuple(dil)
        if rpb is not None:
            rpb = rpb.unsqueeze(1)
    h, w, dd = q.shape[2], q.shape[3], q.shape[4]
    s = 1.0 / math.sqrt(dd) if scale is None else scale
    out = torch.zeros(q.shape, dtype=torch.float64)
    for i in range(h):
        for j in range(w):
            keys = [(ki, kj, ri, rj)
                    for ki, ri in window(i, h, kernel[0], dil[0], False)
                    for kj, rj in window(j, w, kernel[1], dil[1], causal)]
            kk = torch.stack([k[:, :, a, b] for a, b, _, _ in keys], 2)
            vv = torch.stack([v[:, :, a, b] for a, b, _, _ in keys], 2)
            logits = torch.einsum("bhd,bhkd->bhk", q[:, :, i, j], kk) * s
            if rpb is not None:
                logits = logits + torch.stack(
                    [rpb.double()[:, ri, rj] for _, _, ri, rj in keys], 1)
            p = torch.softmax(logits, dim=-1)
            out[:, :, i, j] = torch.einsum("bhk,bhkd->bhd", p, vv)
    return out if two_d else out.squeeze(2)


def per_dim(v, dims):
    return (v,) * dims if isinstance(v, int) else tuple(v)


def inputs(shape, kernel, with_rpb):
    q, k, v = (torch.randn(shape) for _ in range(3))
    rpb = None
    if with_rpb:
        ks = per_dim(kernel, len(shape) - 3)
        rpb = torch.randn((shape[1],) + tuple(2 * e - 1 for e in ks))
    return q, k, v, rpb


def torch_reference(q, k, v, kernel, dil, causal=False, rpb=None, scale=None):
    return neighborhood_attention_torch(
        q.double(), k.double(), v.double(), kernel, dil, causal,
        None if rpb is None else rpb.double(), scale)


# (shape, kernel_size, dilation, is_causal, rpb, scale): odd and prime
# extents, kernels 3/5/7 (and per-dim), dilation 1/2/3, causal, rpb, scale.
CASES = [
    ((1, 2, 13, 8), 3, 1, False, False, None),
    ((2, 3, 17, 5), 5, 2, False, True, None),
    ((1, 1, 23, 7), 7, 3, False, False, 0.3),
    ((2, 2, 13, 4), 5, 1, True, False, None),
    ((1, 3, 17, 9), 7, 2, True, True, None),
    ((1, 2, 31, 16), 7, 1, False, True, 1e-5),
    ((1, 2, 7, 11, 6), 3, 1, False, False, None),
    ((2, 1, 13, 5, 3), (5, 3), (2, 1), False, True, None),
    ((1, 2, 11, 13, 7), (3, 5), (3, 2), False, True, 0.7),
    ((1, 3, 9, 14, 8), 7, 1, False, True, None),
    ((1, 1, 15, 15, 32), (7, 5), (2, 3), False, False, None),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_torch_reference_matches_brute_force(case):
    shape, ks, dil, causal, with_rpb, scale = case
    q, k, v, rpb = inputs(shape, ks, with_rpb)
    dims = len(shape) - 3
    ref = brute_force(q, k, v, per_dim(ks, dims), per_dim(dil, dims), causal,
                      rpb, scale)
    got = torch_reference(q, k, v, ks, dil, causal, rpb, scale)
    assert_close(got, ref, rtol=1e-10, what=str(case))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_reference(case):
    shape, ks, dil, causal, with_rpb, scale = case
    q, k, v, rpb = inputs(shape, ks, with_rpb)
    y = kt.neighborhood_attention(q, k, v, ks, dilation=dil, is_causal=causal,
                                  rpb=rpb, scale=scale)
    assert y.dtype == torch.float32 and y.shape == q.shape
    assert_close(y, torch_reference(q, k, v, ks, dil, causal, rpb, scale),
                 what=str(case))


def test_tiny_against_brute_force_directly():
    q, k, v, rpb = inputs((1, 2, 5, 7, 3), (3, 5), True)
    y = kt.neighborhood_attention(q, k, v, (3, 5), rpb=rpb)
    assert_close(y, brute_force(q, k, v, (3, 5), (1, 1), rpb=rpb))


def test_full_window_is_full_attention():
    # kernel = extent: every query sees every key, i.e. plain softmax attention.
    q, k, v, _ = inputs((2, 2, 9, 6), 9, False)
    y = kt.neighborhood_attention(q, k, v, 9)
    a = torch.softmax(q.double() @ k.double().transpose(-1, -2) / math.sqrt(6),
                      dim=-1)
    assert_close(y, a @ v.double())


def test_causal_full_window_is_masked_attention():
    q, k, v, _ = inputs((1, 2, 11, 4), 11, False)
    y = kt.neighborhood_attention(q, k, v, 11, is_causal=True)
    s = q.double() @ k.double().transpose(-1, -2) / 2.0
    s = s.masked_fill(torch.ones(11, 11).triu(1).bool(), float("-inf"))
    assert_close(y, torch.softmax(s, dim=-1) @ v.double())


def test_non_contiguous_inputs():
    # q transposed in H/W, k a slice with a stride, v expanded over heads.
    q = torch.randn(1, 2, 11, 7, 5).transpose(2, 3)
    k = torch.randn(1, 2, 7, 22, 5)[:, :, :, ::2]
    v = torch.randn(1, 1, 7, 11, 5).expand(1, 2, 7, 11, 5)   # stride 0
    rpb = torch.randn(2, 9, 5).transpose(1, 2)
    assert not (q.is_contiguous() or k.is_contiguous() or rpb.is_contiguous())
    y = kt.neighborhood_attention(q, k, v, (3, 5), rpb=rpb)
    assert_close(y, torch_reference(q, k, v, (3, 5), 1, rpb=rpb))
    q1 = torch.randn(2, 17, 3, 8).permute(0, 2, 1, 3)  # B, heads, L, D view
    y1 = kt.neighborhood_attention(q1, q1, q1, 5, dilation=2, is_causal=True)
    assert_close(y1, torch_reference(q1, q1, q1, 5, 2, True))


def test_second_call_reuses_the_kernel():
    q, k, v, rpb = inputs((1, 2, 13, 4), 5, True)
    kt.neighborhood_attention(q, k, v, 5, rpb=rpb)
    q2, k2, v2, rpb2 = inputs((1, 2, 13, 4), 5, True)
    y2 = kt.neighborhood_attention(q2, k2, v2, 5, rpb=rpb2)
    assert_close(y2, torch_reference(q2, k2, v2, 5, 1, rpb=rpb2))


GRAD_CASES = [
    ((2, 2, 13, 6), 5, 2, False, True),
    ((1, 3, 17, 4), 3, 1, True, True),
    ((1, 2, 7, 11, 5), (3, 5), (2, 1), False, True),
    ((2, 1, 13, 5, 3), 3, 1, False, False),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
def test_gradients_match_pytorch_autograd(case):
    shape, ks, dil, causal, with_rpb = case
    q, k, v, rpb = inputs(shape, ks, with_rpb)
    leaves = [t.requires_grad_() for t in (q, k, v, rpb) if t is not None]
    y = kt.neighborhood_attention(q, k, v, ks, dilation=dil, is_causal=causal,
                                  rpb=rpb, scale=0.4)
    gy = torch.randn_like(y)
    got = torch.autograd.grad(y, leaves, gy)
    ref_leaves = [t.detach().double().requires_grad_() for t in leaves]
    r = neighborhood_attention_torch(*ref_leaves[:3], ks, dil, causal,
                                     rpb=ref_leaves[3] if with_rpb else None,
                                     scale=0.4)
    want = torch.autograd.grad(r, ref_leaves, gy.double())
    for name, g, w in zip("qkvr", got, want):
        assert g.dtype == torch.float32
        assert_close(g, w, what="grad " + name)


def test_gradient_of_some_inputs_only():
    q, k, v, rpb = inputs((1, 2, 9, 4), 3, True)
    k.requires_grad_()
    rpb.requires_grad_()
    y = kt.neighborhood_attention(q, k, v, 3, rpb=rpb)
    gk, gr = torch.autograd.grad(y.sum(), (k, rpb))
    kd, rd = k.detach().double().requires_grad_(), rpb.detach().double().requires_grad_()
    r = neighborhood_attention_torch(q.double(), kd, v.double(), 3, rpb=rd)
    wk, wr = torch.autograd.grad(r.sum(), (kd, rd))
    assert_close(gk, wk)
    assert_close(gr, wr)


@pytest.mark.filterwarnings("ignore:Input #")
def test_gradcheck():
    # The forward is float32 (kjit), so gradcheck's finite differences use
    # float32 tolerances; the exact comparison is the test above.
    q, k, v = (torch.randn(1, 1, 7, 3, requires_grad=True) for _ in range(3))
    rpb = torch.randn(1, 5, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b, c, r: kt.neighborhood_attention(a, b, c, 3, 2, rpb=r),
        (q, k, v, rpb), eps=1e-2, atol=2e-2, rtol=2e-2)


def _qkv(*shape):
    return [torch.randn(shape) for _ in range(3)]


NA = kt.neighborhood_attention


@pytest.mark.parametrize("bad, exc, words", [
    (lambda: NA(*[t.double() for t in _qkv(1, 2, 9, 4)], 3), TypeError,
     "float32"),
    (lambda: NA([1.0], *_qkv(1, 2, 9, 4)[:2], 3), TypeError, "Tensor"),
    (lambda: NA(*_qkv(2, 9, 4), 3), ValueError, "rank 4 or 5"),
    (lambda: NA(*_qkv(1, 2, 9, 4)[:2], torch.randn(1, 2, 9, 5), 3), ValueError,
     "v must have q's shape"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 4), ValueError, "odd"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 0), ValueError, "odd"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 3, dilation=0), ValueError, "dilation"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 5, dilation=2), ValueError, "larger"),
    (lambda: NA(*_qkv(1, 2, 7, 9, 4), (3, 5, 7)), TypeError, "kernel_size"),
    (lambda: NA(*_qkv(1, 2, 7, 9, 4), 3.0), TypeError, "kernel_size"),
    (lambda: NA(*_qkv(1, 2, 7, 9, 4), 3, is_causal=True), ValueError,
     "1-D"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 3, is_causal=1), TypeError, "bool"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 3, rpb=torch.randn(2, 3)), ValueError,
     "rpb must have shape 2x5"),
    (lambda: NA(*_qkv(1, 2, 7, 9, 4), 3, rpb=torch.randn(2, 5)), ValueError,
     "rpb must have rank 3"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 3, rpb=torch.randn(2, 5).double()),
     TypeError, "rpb"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 3, scale=-1.0), ValueError, "scale"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 3, scale=float("nan")), ValueError,
     "scale"),
    (lambda: NA(*_qkv(1, 2, 9, 4), 3, scale="1"), TypeError, "scale"),
    (lambda: NA(*_qkv(1, 0, 9, 4), 3), ValueError, "empty"),
])
def test_bad_input(bad, exc, words):
    with pytest.raises(exc, match=words) as info:
        bad()
    assert "kjit.torch.neighborhood_attention" in str(info.value)


def test_two_threads():
    # Kernels are compiled per torch.get_num_threads().
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        q, k, v, rpb = inputs((2, 3, 11, 13, 8), (5, 3), True)
        y = kt.neighborhood_attention(q, k, v, (5, 3), (2, 1), rpb=rpb)
        assert_close(y, torch_reference(q, k, v, (5, 3), (2, 1), rpb=rpb))
    finally:
        torch.set_num_threads(before)
