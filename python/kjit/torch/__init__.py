"""kjit for PyTorch: one function per kjit op, with PyTorch's conventions,
and `optimize(model)`, which moves a model's depthwise convolutions to kjit.

Each function compiles its kernel on the first call per shape (kjit's kernel
caches), takes the tuned config from the tuning database, and honours
KJIT_TUNE. Inputs are CPU float32 tensors (CSR indices int32 or int64);
outputs are new torch tensors that kjit writes. Kernels use
torch.get_num_threads() threads. See docs/python.md."""
from .conv import depthwise_conv2d  # noqa: F401
from .inception import inception_depthwise_conv2d  # noqa: F401
from .attention import neighborhood_attention  # noqa: F401
from .longconv import fft_conv, butterfly_matmul  # noqa: F401
from .sparse import spgemm, spmm  # noqa: F401
from .optimize import optimize  # noqa: F401

__all__ = ["depthwise_conv2d", "inception_depthwise_conv2d",
           "neighborhood_attention", "fft_conv", "butterfly_matmul", "spmm",
           "spgemm", "optimize"]
