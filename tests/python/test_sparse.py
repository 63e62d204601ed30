"""kjit.torch.spmm and spgemm against dense float64 products, on random CSR
matrices (odd and prime sizes, empty rows, nnz = 0, duplicates, unsorted
columns, several densities) and on real matrices from ../shared/data/mtx."""
import os

import numpy as np
import pytest
import torch

import kjit.torch as kt
from conftest import assert_close

MTX_DIR = os.environ.get("KJIT_MTX_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mtx"))

# Torch's CSR constructor refuses unsorted or duplicate columns (and any
# malformed CSR): this one does not check, as kjit's input may be anything.
csr_unchecked = torch._sparse_csr_tensor_unsafe


def random_csr(m, k, density, index_dtype=torch.int64, duplicates=False,
               unsorted=False):
    """(a, dense float64 reference) with ~density*m*k stored entries, rows
    1 and m-1 (when they exist) left empty."""
    nnz = int(round(density * m * k))
    rows = torch.randint(0, m, (nnz,))
    if m > 2:
        rows = rows[(rows != 1) & (rows != m - 1)]
    cols = torch.randint(0, k, (rows.numel(),))
    if not duplicates:  # one entry per (row, col)
        key = torch.unique(rows * k + cols)
        rows, cols = key // k, key % k
    order = torch.argsort(rows * k + cols)
    if unsorted:  # shuffle columns within each row (rows stay grouped)
        order = torch.argsort(rows * (k + 1)
                              + torch.randint(0, k + 1, rows.shape))
    rows, cols = rows[order], cols[order]
    vals = torch.randn(rows.numel())
    crow = torch.zeros(m + 1, dtype=torch.int64)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=m), 0)
    a = csr_unchecked(crow.to(index_dtype), cols.to(index_dtype), vals,
                      size=(m, k))
    ref = torch.zeros(m, k, dtype=torch.float64).index_put_(
        (rows, cols), vals.double(), accumulate=True)
    return a, ref


def read_mtx(name):
    """A real matrix as a CSR tensor (pattern matrices get random values)."""
    sio = pytest.importorskip("scipy.io")
    path = os.path.join(MTX_DIR, name)
    if not os.path.exists(path):
        pytest.skip("%s not found (set KJIT_MTX_DIR)" % path)
    s = sio.mmread(path).tocsr()
    s.sum_duplicates()
    data = torch.from_numpy(s.data.astype(np.float32))
    if "pattern" in open(path).readline():
        data = torch.randn(data.shape)
    a = torch.sparse_csr_tensor(torch.from_numpy(s.indptr.astype(np.int64)),
                                torch.from_numpy(s.indices.astype(np.int64)),
                                data, size=s.shape)
    return a, a.to_dense().double()


def assert_sorted_csr(c):
    """Column indices strictly increase within each row and stay in range."""
    rp, ci = c.crow_indices().long(), c.col_indices().long()
    assert rp[0] == 0 and rp[-1] == ci.numel()
    assert (rp[1:] >= rp[:-1]).all()
    if ci.numel():
        assert ci.min() >= 0 and ci.max() < c.shape[1]
    row_start = torch.zeros(ci.numel(), dtype=torch.bool)
    row_start[rp[:-1][rp[:-1] < ci.numel()]] = True
    steps = ci[1:] - ci[:-1]
    assert ((steps > 0) | row_start[1:]).all(), "columns not sorted in a row"


# (M, K, N, density)
SPMM_CASES = [
    (1, 1, 1, 1.0),
    (7, 13, 5, 0.3),
    (31, 17, 29, 0.05),
    (13, 11, 1, 0.5),
    (64, 37, 53, 0.1),
    (97, 101, 3, 0.02),
    (5, 3, 8, 0.0),
    (2, 131, 67, 1.0),
]


@pytest.mark.parametrize("case", SPMM_CASES)
@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
def test_spmm_matches_dense(case, index_dtype):
    m, k, n, density = case
    a, ad = random_csr(m, k, density, index_dtype)
    b = torch.randn(k, n)
    y = kt.spmm(a, b)
    assert y.dtype == torch.float32 and y.is_contiguous()
    assert_close(y, ad @ b.double(), what=str(case))


@pytest.mark.parametrize("duplicates, unsorted", [(True, False), (False, True),
                                                  (True, True)])
def test_spmm_duplicate_and_unsorted_columns_are_summed(duplicates, unsorted):
    a, ad = random_csr(23, 19, 0.4, duplicates=duplicates, unsorted=unsorted)
    b = torch.randn(19, 11)
    assert_close(kt.spmm(a, b), ad @ b.double())


def test_spmm_nnz_zero_and_empty_rows():
    a, ad = random_csr(17, 7, 0.0)
    assert a.values().numel() == 0
    y = kt.spmm(a, torch.randn(7, 9))
    assert_close(y, torch.zeros(17, 9, dtype=torch.float64))
    a = torch.sparse_csr_tensor(torch.tensor([0, 0, 2, 2, 3]),
                                torch.tensor([1, 4, 0]), torch.randn(3),
                                size=(4, 5))  # rows 0 and 2 empty
    b = torch.randn(5, 6)
    assert_close(kt.spmm(a, b), a.to_dense().double() @ b.double())


def test_spmm_non_contiguous_b():
    a, ad = random_csr(19, 23, 0.2)
    b = torch.randn(29, 23).t()  # 23 x 29, column-major
    assert_close(kt.spmm(a, b), ad @ b.double())
    b = torch.randn(23, 62)[:, ::2]
    assert_close(kt.spmm(a, b), ad @ b.double())


def test_spmm_second_call_reuses_the_kernel():
    a, ad = random_csr(11, 13, 0.3)
    for _ in range(2):
        b = torch.randn(13, 7)
        assert_close(kt.spmm(a, b), ad @ b.double())


@pytest.mark.parametrize("name", ["west0067.mtx", "lp_afiro.mtx"])
def test_spmm_real_matrices(name):
    a, ad = read_mtx(name)
    b = torch.randn(a.shape[1], 37)
    assert_close(kt.spmm(a, b), ad @ b.double(), what=name)


@pytest.mark.parametrize("duplicates", [False, True])
def test_spmm_gradients(duplicates):
    m, k, n = 13, 17, 7
    a0, _ = random_csr(m, k, 0.3, duplicates=duplicates)
    crow, col = a0.crow_indices(), a0.col_indices()
    a = csr_unchecked(crow, col, a0.values().clone(), size=(m, k))
    a.requires_grad_()
    b = torch.randn(k, n, requires_grad=True)
    y = kt.spmm(a, b)
    gy = torch.randn(m, n)
    y.backward(gy)
    # Reference: the same stored entries scattered (summed) into a dense
    # float64 matrix, differentiated by autograd.
    rows = torch.repeat_interleave(torch.arange(m), crow.diff())
    v64 = a0.values().double().requires_grad_()
    b64 = b.detach().double().requires_grad_()
    ad = torch.zeros(m, k, dtype=torch.float64).index_put(
        (rows, col), v64, accumulate=True)
    (ad @ b64).backward(gy.double())
    assert a.grad.layout == torch.sparse_csr
    assert torch.equal(a.grad.crow_indices(), crow)
    assert torch.equal(a.grad.col_indices(), col)
    assert_close(a.grad.values(), v64.grad, what="grad a")
    assert_close(b.grad, b64.grad, what="grad b")


def test_spmm_gradcheck_b():
    a, _ = random_csr(5, 6, 0.4)
    b = torch.randn(6, 4, requires_grad=True)
    # float32 kernel, linear in b: gradcheck at float32 tolerances.
    assert torch.autograd.gradcheck(lambda t: kt.spmm(a, t), (b,),
                                    eps=1e-2, atol=2e-2, rtol=2e-2)


def test_spmm_no_grad_for_a_that_does_not_require_it():
    a, ad = random_csr(9, 8, 0.5)
    b = torch.randn(8, 3, requires_grad=True)
    kt.spmm(a, b).sum().backward()
    assert_close(b.grad, ad.t() @ torch.ones(9, 3, dtype=torch.float64))


def spgemm_reference(ad, bd):
    """The dense product, and the symbolic pattern (every (i, j) reached
    through some stored a[i, k] and b[k, j]) that kjit keeps, zeros too."""
    return ad @ bd, ((ad != 0).double() @ (bd != 0).double()) > 0


# (M, K, N, density of a, density of b)
SPGEMM_CASES = [
    (1, 1, 1, 1.0, 1.0),
    (7, 13, 5, 0.3, 0.4),
    (31, 17, 29, 0.1, 0.1),
    (23, 41, 3, 0.05, 0.5),
    (61, 59, 67, 0.03, 0.05),
    (5, 3, 8, 0.0, 0.5),
    (11, 7, 13, 1.0, 1.0),
]


@pytest.mark.parametrize("case", SPGEMM_CASES)
@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
def test_spgemm_matches_dense(case, index_dtype):
    m, k, n, da, db = case
    a, ad = random_csr(m, k, da, index_dtype)
    b, bd = random_csr(k, n, db, index_dtype)
    c = kt.spgemm(a, b)
    assert c.layout == torch.sparse_csr and c.shape == (m, n)
    assert c.dtype == torch.float32
    assert_sorted_csr(c)
    ref, pattern = spgemm_reference(ad, bd)
    assert_close(c.to_dense(), ref, what=str(case))
    stored = torch.zeros(m, n, dtype=torch.bool)
    rows = torch.repeat_interleave(torch.arange(m),
                                   c.crow_indices().long().diff())
    stored[rows, c.col_indices().long()] = True
    assert torch.equal(stored, pattern)


def test_spgemm_duplicates_and_unsorted_inputs():
    a, ad = random_csr(19, 23, 0.3, duplicates=True, unsorted=True)
    b, bd = random_csr(23, 17, 0.3, duplicates=True, unsorted=True)
    c = kt.spgemm(a, b)
    assert_sorted_csr(c)
    assert_close(c.to_dense(), ad @ bd)


def test_spgemm_keeps_explicit_zeros_from_cancellation():
    x = float(torch.randn(()))
    a = torch.sparse_csr_tensor(torch.tensor([0, 2]), torch.tensor([0, 1]),
                                torch.tensor([x, x]), size=(1, 2))
    b = torch.sparse_csr_tensor(torch.tensor([0, 1, 2]), torch.tensor([0, 0]),
                                torch.tensor([1.0, -1.0]), size=(2, 1))
    c = kt.spgemm(a, b)
    assert c.col_indices().tolist() == [0]
    assert c.values().tolist() == [0.0]


def empty_csr(m, k):
    return csr_unchecked(torch.zeros(m + 1, dtype=torch.int64),
                         torch.zeros(0, dtype=torch.int64), torch.zeros(0),
                         size=(m, k))


@pytest.mark.parametrize("m, k, n", [(0, 3, 5), (4, 0, 5), (4, 3, 0)])
def test_zero_sized(m, k, n):
    a, ad = random_csr(m, k, 0.5) if m and k else (empty_csr(m, k),
                                                   torch.zeros(m, k).double())
    b = torch.randn(k, n)
    assert_close(kt.spmm(a, b), ad @ b.double())
    bs = b.to_sparse_csr() if k and n else empty_csr(k, n)
    c = kt.spgemm(a, bs)
    assert c.shape == (m, n) and c.values().numel() == 0
    assert c.crow_indices().tolist() == [0] * (m + 1)


@pytest.mark.parametrize("name", ["west0067.mtx", "dwt_992.mtx"])
def test_spgemm_real_matrices_squared(name):
    a, ad = read_mtx(name)
    c = kt.spgemm(a, a)
    assert_sorted_csr(c)
    ref, pattern = spgemm_reference(ad, ad)
    assert_close(c.to_dense(), ref, what=name)
    assert c.values().numel() == int(pattern.sum())


def test_spgemm_is_not_differentiable():
    a, _ = random_csr(5, 4, 0.5)
    b, _ = random_csr(4, 3, 0.5)
    b.requires_grad_()
    with pytest.raises(ValueError, match="spgemm: .*not differentiable.*b"):
        kt.spgemm(a, b)
    with torch.no_grad():
        kt.spgemm(a, b)


def _csr(rp, ci, vals=None, size=(3, 4), dtype=torch.int64):
    vals = torch.randn(len(ci)) if vals is None else vals
    return csr_unchecked(torch.tensor(rp, dtype=dtype),
                         torch.tensor(ci, dtype=dtype), vals, size=size)


GOOD = ([0, 1, 1, 3], [2, 0, 3])  # 3 x 4
GOOD_4X4 = ([0, 1, 1, 3, 3], [2, 0, 3])
GOOD_2X3 = ([0, 1, 2], [2, 0])
MALFORMED = [
    (([0, 2, 1, 3], [2, 0, 3]), "not monotone"),
    (([0, 1, 1, 2], [2, 0, 3]), "last entry"),
    (([0, 1, 1, 4], [2, 0, 3]), "last entry"),
    (([1, 1, 1, 3], [2, 0, 3]), "row_ptr\\[0\\]"),
    (([0, 1, 1, 3], [2, 4, 3]), "column index 4 .* out of range"),
    (([0, 1, 1, 3], [2, -1, 3]), "column index -1 .* out of range"),
]


@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("bad, words", MALFORMED)
def test_malformed_csr_is_a_value_error(bad, words, index_dtype):
    a = _csr(*bad, dtype=index_dtype)
    with pytest.raises(ValueError, match="kjit.torch.spmm: .*malformed CSR.*"
                       + words):
        kt.spmm(a, torch.randn(4, 5))
    with pytest.raises(ValueError, match="kjit.torch.spgemm: .*malformed "
                       "CSR a.*" + words):
        kt.spgemm(a, _csr(*GOOD_4X4, size=(4, 4)))
    b = _csr(*bad, dtype=index_dtype)  # as the right operand, 3 x 4
    with pytest.raises(ValueError, match="kjit.torch.spgemm: .*malformed "
                       "CSR b.*" + words):
        kt.spgemm(_csr(*GOOD_2X3, size=(2, 3)), b)


@pytest.mark.parametrize("rp, ci, nvals", [
    ([0, 1, 3], [0, 1, 2], 3),        # 3 crow_indices for 3 rows
    ([0, 1, 1, 3], [0, 1, 2], 2),     # 3 col_indices, 2 values
])
def test_csr_arrays_of_the_wrong_length_are_refused(rp, ci, nvals):
    a = _csr(rp, ci, torch.randn(nvals))
    with pytest.raises(ValueError, match="spmm: a is a malformed CSR"):
        kt.spmm(a, torch.randn(4, 2))
    with pytest.raises(ValueError, match="spgemm: b is a malformed CSR"):
        kt.spgemm(_csr(*GOOD_2X3, size=(2, 3)), a)


def test_int64_indices_beyond_int32_are_refused():
    a = _csr([0, 1, 1, 3], [2, 2 ** 32 + 1, 3])  # would wrap to column 1
    with pytest.raises(ValueError, match="spmm: a.col_indices .*beyond int32"):
        kt.spmm(a, torch.randn(4, 2))
    a = _csr([0, 1, 1, 2 ** 32 + 3], [2, 0, 3])
    with pytest.raises(ValueError, match="spgemm: a.crow_indices .*int32"):
        kt.spgemm(a, _csr(*GOOD_4X4, size=(4, 4)))


def _ok():
    return _csr(*GOOD)


@pytest.mark.parametrize("bad, exc, words", [
    (lambda: kt.spmm(torch.randn(3, 4), torch.randn(4, 2)), TypeError,
     "spmm: a must be a sparse CSR tensor"),
    (lambda: kt.spmm(torch.randn(3, 4).to_sparse(), torch.randn(4, 2)),
     TypeError, "spmm: a must be a sparse CSR"),
    (lambda: kt.spmm([[1.0]], torch.randn(1, 2)), TypeError,
     "spmm: a must be a torch sparse CSR tensor"),
    (lambda: kt.spmm(_ok().to(torch.float64), torch.randn(4, 2)), TypeError,
     "spmm: a must have float32 values"),
    (lambda: kt.spmm(_ok(), torch.randn(4, 2).double()), TypeError,
     "spmm: b must be torch.float32"),
    (lambda: kt.spmm(_ok(), torch.randn(4)), ValueError,
     "spmm: b must have rank 2"),
    (lambda: kt.spmm(_ok(), torch.randn(5, 2)), ValueError,
     "spmm: b must have 4 rows"),
    (lambda: kt.spmm(_ok(), torch.randn(4, 2).to_sparse_csr()), TypeError,
     "spmm: b must be a dense"),
    (lambda: kt.spgemm(_ok(), torch.randn(4, 2)), TypeError,
     "spgemm: b must be a sparse CSR"),
    (lambda: kt.spgemm(_ok(), _ok()), ValueError,
     "spgemm: b must have 4 rows"),
    (lambda: kt.spgemm(_ok(), torch.randn(4, 2).double().to_sparse_csr()),
     TypeError, "spgemm: b must have float32 values"),
])
def test_bad_input(bad, exc, words):
    with pytest.raises(exc, match=words):
        bad()
