"""Checks of torch arguments and their zero-copy hand-over to kjit."""
import torch

_DTYPES = {torch.float32: "f32", torch.int32: "i32"}


def check_tensor(fn, name, t, rank=None, dtype=torch.float32, ranks=None):
    """Raises TypeError/ValueError naming `fn` and `name` unless t is a CPU
    tensor of `dtype` and the given rank (or one of `ranks`)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError("%s: %s must be a torch.Tensor, got %s"
                        % (fn, name, type(t).__name__))
    if t.layout != torch.strided:
        raise TypeError("%s: %s must be a dense (strided) tensor, got %s"
                        % (fn, name, t.layout))
    if t.device.type != "cpu":
        raise ValueError("%s: %s is on %s; kjit.torch runs on CPU tensors"
                         % (fn, name, t.device))
    if t.dtype != dtype:
        raise TypeError("%s: %s must be %s, got %s" % (fn, name, dtype, t.dtype))
    if rank is not None and t.dim() != rank:
        raise ValueError("%s: %s must have rank %d, got shape %s"
                         % (fn, name, rank, tuple(t.shape)))
    if ranks is not None and t.dim() not in ranks:
        raise ValueError("%s: %s must have rank %s, got shape %s"
                         % (fn, name, " or ".join(map(str, ranks)),
                            tuple(t.shape)))
    return t


def check_shape(fn, name, t, shape):
    """ValueError unless t.shape == shape (None entries match anything)."""
    if len(shape) != t.dim() or any(
            s is not None and s != d for s, d in zip(shape, t.shape)):
        want = "x".join("?" if s is None else str(s) for s in shape)
        raise ValueError("%s: %s must have shape %s, got %s"
                         % (fn, name, want, "x".join(map(str, t.shape))))


def view(t):
    """(data_ptr, dtype, shape, strides): kjit reads or writes t in place.
    Strided (non-contiguous) views are accepted; kjit copies those."""
    return (t.data_ptr(), _DTYPES[t.dtype], tuple(t.shape), tuple(t.stride()))


def view_permuted(t, dims):
    """view(t.permute(*dims)) without making the permuted tensor (a call
    costs ~2 us in torch; this is on every kernel call)."""
    shape, stride = t.shape, t.stride()
    return (t.data_ptr(), _DTYPES[t.dtype], tuple(shape[d] for d in dims),
            tuple(stride[d] for d in dims))


def view_dropped(t, dim):
    """view(t.squeeze(dim)) of a size-1 dimension, without the squeeze."""
    shape, stride = list(t.shape), list(t.stride())
    del shape[dim], stride[dim]
    return (t.data_ptr(), _DTYPES[t.dtype], tuple(shape), tuple(stride))


def threads():
    """The thread count kjit kernels use: torch's own setting."""
    return torch.get_num_threads()
