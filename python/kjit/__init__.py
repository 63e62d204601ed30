"""kjit: JIT-compiled, autotuned kernels for large-kernel convolutions,
neighborhood attention, long convolutions and sparse products.

`kjit.torch` holds the PyTorch front end (one function per op, and
`kjit.torch.optimize(model)`). This module holds the runtime they share:

    kjit.version(), kjit.tuning_epoch()
    kjit.jit()            the process-wide compiler (kjit._kjit.Jit)
    kjit.compile_module(mlir_text, config="", threads=0) -> kjit._kjit.Kernel

Environment: KJIT_CACHE_DIR (kernel cache), KJIT_TUNING_DB (tuning
database), KJIT_TUNE (on-line tuning budget, e.g. "budget:10"), as for the
C++ API (docs/python.md).
"""
from ._kjit import Jit, Kernel, version, tuning_epoch  # noqa: F401
from ._runtime import jit, compile_module, kernel_cache_clear  # noqa: F401

__all__ = ["Jit", "Kernel", "version", "tuning_epoch", "jit",
           "compile_module", "kernel_cache_clear"]
