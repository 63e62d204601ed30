"""kjit.spmm and kjit.spgemm for torch sparse CSR tensors."""
import torch

from .. import _mlir, _runtime
from ._tensors import check_tensor, threads, view

_I32_MAX = 2 ** 31 - 1
_csr_unchecked = getattr(torch, "_sparse_csr_tensor_unsafe",
                         torch.sparse_csr_tensor)


def _check_csr(fn, name, a):
    """a as (row_ptr, col_idx, values): int32 and float32 tensors that kjit
    reads in place (int64 indices are narrowed to int32, an index beyond
    int32 is a ValueError rather than a silent wrap). The CSR structure
    itself (monotone row_ptr ending at nnz, columns in range) is checked
    by kjit's kernel, whose error surfaces as a ValueError."""
    if not isinstance(a, torch.Tensor):
        raise TypeError("%s: %s must be a torch sparse CSR tensor, got %s"
                        % (fn, name, type(a).__name__))
    if a.layout != torch.sparse_csr:
        raise TypeError("%s: %s must be a sparse CSR tensor "
                        "(torch.sparse_csr_tensor or .to_sparse_csr()), got "
                        "layout %s" % (fn, name, a.layout))
    if a.device.type != "cpu":
        raise ValueError("%s: %s is on %s; kjit.torch runs on CPU tensors"
                         % (fn, name, a.device))
    if a.dtype != torch.float32:
        raise TypeError("%s: %s must have float32 values, got %s"
                        % (fn, name, a.dtype))
    if a.dim() != 2:
        raise ValueError("%s: %s must be a 2-D (unbatched) CSR matrix, got "
                         "shape %s" % (fn, name, tuple(a.shape)))
    # Indices of a CSR that requires grad trip autograd asserts in torch
    # 1.13 (aminmax on them): read them from a detached alias.
    ad = a.detach() if a.requires_grad else a
    rp, ci, vals = ad.crow_indices(), ad.col_indices(), ad.values()
    if max(a.shape) > _I32_MAX or ci.numel() > _I32_MAX:
        raise ValueError("%s: %s is %dx%d with %d stored entries; kjit's CSR "
                         "indices are int32 (at most %d)"
                         % (fn, name, a.shape[0], a.shape[1], ci.numel(),
                            _I32_MAX))
    if rp.numel() != a.shape[0] + 1 or vals.numel() != ci.numel():
        raise ValueError("%s: %s is a malformed CSR: %d crow_indices for %d "
                         "rows (expected rows + 1), %d col_indices and %d "
                         "values" % (fn, name, rp.numel(), a.shape[0],
                                     ci.numel(), vals.numel()))
    if rp.dtype not in (torch.int32, torch.int64):
        raise TypeError("%s: %s has %s indices; expected int32 or int64"
                        % (fn, name, rp.dtype))
    if rp.dtype == torch.int64:
        for what, t in (("crow_indices", rp), ("col_indices", ci)):
            lo, hi = torch.aminmax(t) if t.numel() else (0, 0)
            if lo < -_I32_MAX - 1 or hi > _I32_MAX:
                raise ValueError("%s: %s.%s holds values beyond int32 "
                                 "(kjit's CSR indices are int32)"
                                 % (fn, name, what))
        rp, ci = rp.to(torch.int32), ci.to(torch.int32)
    return rp.contiguous(), ci.contiguous(), vals.contiguous()


def _run(fn, kernel, ins, outs=None):
    """Runs kernel on the views of `ins` (kept alive by the caller); kjit's
    run errors (a malformed CSR) are re-raised naming `fn`."""
    try:
        if outs is None:
            return kernel.run_allocating([view(t) for t in ins])
        kernel.run([view(t) for t in ins], [view(t) for t in outs])
    except ValueError as e:
        raise ValueError("%s: %s" % (fn, e)) from None


def spmm_forward(fn, csr, m, b):
    """A @ b by kjit.spmm for checked, int32 (row_ptr, col_idx, values)."""
    rp, ci, vals = csr
    k, n = b.shape
    nnz = ci.numel()
    nt = threads()

    def build():
        return _mlir.module(
            "kjit.spmm",
            [_mlir.tensor((m + 1,), "i32"), _mlir.tensor((nnz,), "i32"),
             _mlir.tensor((nnz,)), _mlir.tensor((k, n))],
            [_mlir.tensor((m, n))], {})

    kernel = _runtime.cached_kernel(("spmm", m, k, n, nnz, nt), build, nt)
    y = torch.empty((m, n))
    _run(fn, kernel, [rp, ci, vals, b], [y])
    return y


def _rows(rp):
    """The row of each stored entry of a CSR with row_ptr rp."""
    counts = (rp[1:] - rp[:-1]).long()
    return torch.repeat_interleave(torch.arange(counts.numel()), counts)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, csr):
        ctx.save_for_backward(b)
        ctx.a, ctx.csr = a, csr
        with torch.no_grad():
            return spmm_forward("kjit.torch.spmm", csr, a.shape[0], b.detach())

    @staticmethod
    def backward(ctx, gy):
        (b,) = ctx.saved_tensors
        a, (rp, ci, vals) = ctx.a, ctx.csr
        rows, cols = _rows(rp), ci.long()
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # dL/dvalues[p] = gy[row p] . b[col p]: gy b^T at the stored
            # entries, in a's own pattern (duplicates each get theirs).
            gv = (gy[rows] * b[cols]).sum(dim=1)
            ad = a.detach()
            ga = _csr_unchecked(ad.crow_indices(), ad.col_indices(), gv,
                                size=a.shape)
        if ctx.needs_input_grad[1]:
            # A^T gy through PyTorch's COO matmul (duplicates summed).
            at = torch.sparse_coo_tensor(torch.stack([cols, rows]), vals,
                                         (a.shape[1], a.shape[0]))
            gb = torch.sparse.mm(at, gy)
        return ga, gb, None


def spmm(a, b):
    """a @ b for a sparse CSR a (M x K, float32 values, int32 or int64
    indices) and a dense b (K x N, float32; any strides) through kjit.spmm;
    returns a new dense M x N tensor. Unsorted or duplicate column indices
    within a row are accepted (duplicates are summed); a malformed CSR
    (row_ptr not monotone or not ending at nnz, a column out of range) is a
    ValueError. One kernel per (M, K, N, nnz).

    Differentiable in b, and in a when a is a leaf CSR tensor that requires
    grad (torch.sparse_csr_tensor(..., requires_grad=True)): a.grad is then a
    CSR tensor with a's pattern holding gy b^T at a's stored entries.
    PyTorch 1.13 without MKL cannot add two CSR gradients, so clear a.grad
    between backward passes."""
    fn = "kjit.torch.spmm"
    csr = _check_csr(fn, "a", a)
    check_tensor(fn, "b", b, rank=2)
    m, k = a.shape
    if b.shape[0] != k:
        raise ValueError("%s: b must have %d rows (a is %dx%d), got shape %s"
                         % (fn, k, m, k, "x".join(map(str, b.shape))))
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return _SpMM.apply(a, b, csr)
    return spmm_forward(fn, csr, m, b)


def spgemm(a, b):
    """a @ b for sparse CSR a (M x K) and b (K x N), float32 values, int32 or
    int64 indices, through kjit.spgemm; returns a new sparse CSR M x N tensor
    (int32 indices, arrays kjit allocated, not copied) whose column indices
    are sorted within each row; explicit zeros from cancellation are kept.
    A malformed CSR input is a ValueError. One kernel per (M, K, N,
    nnz(a), nnz(b)).

    Not differentiable: an input that requires grad is a ValueError (call it
    under torch.no_grad() or pass detached tensors)."""
    fn = "kjit.torch.spgemm"
    csr_a = _check_csr(fn, "a", a)
    csr_b = _check_csr(fn, "b", b)
    (m, k), (kb, n) = a.shape, b.shape
    if kb != k:
        raise ValueError("%s: b must have %d rows (a is %dx%d), got %dx%d"
                         % (fn, k, m, k, kb, n))
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        raise ValueError("%s: spgemm is not differentiable, but %s requires "
                         "grad; call it under torch.no_grad() or detach the "
                         "inputs" % (fn, "a" if a.requires_grad else "b"))
    if n == 0:
        # The product has no entries. kjit.spgemm with N = 0 corrupts the
        # heap (a kjit kernel bug, reported with kjit-run's reproducer), so
        # it is not called for this case.
        return _csr_unchecked(torch.zeros(m + 1, dtype=torch.int32),
                              torch.zeros(0, dtype=torch.int32),
                              torch.zeros(0), size=(m, n))
    nnz_a, nnz_b = csr_a[1].numel(), csr_b[1].numel()
    nt = threads()

    def build():
        types = []
        for rows, nnz in ((m, nnz_a), (k, nnz_b)):
            types += [_mlir.tensor((rows + 1,), "i32"),
                      _mlir.tensor((nnz,), "i32"), _mlir.tensor((nnz,))]
        return _mlir.module(
            "kjit.spgemm", types,
            [_mlir.tensor((m + 1,), "i32"), _mlir.tensor((None,), "i32"),
             _mlir.tensor((None,))],
            {"shape": _mlir.i64_array((m, k, n))})

    kernel = _runtime.cached_kernel(("spgemm", m, k, n, nnz_a, nnz_b, nt),
                                    build, nt)
    rp, ci, vals = _run(fn, kernel, list(csr_a) + list(csr_b))
    # kjit's result is a valid CSR: skip torch's O(nnz) invariant check
    # (which also refuses any CSR with 0 columns in torch 1.13).
    return _csr_unchecked(torch.from_numpy(rp), torch.from_numpy(ci),
                          torch.from_numpy(vals), size=(m, n))
