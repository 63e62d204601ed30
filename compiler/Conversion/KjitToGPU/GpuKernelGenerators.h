//===- GpuKernelGenerators.h - GPU bodies of outlined kernels --*- C++ -*-===//
#ifndef KJIT_COMPILER_GPUKERNELGENERATORS_H
#define KJIT_COMPILER_GPUKERNELGENERATORS_H

#include "compiler/Conversion/KernelBodies.h"

namespace kjit::compiler {

/// Emits, at `b`'s insertion point (the body of an outlined kernel on
/// memrefs), a `gpu.launch` computing the depthwise conv `op` (NHWC) from
/// `inputs` (input, filter[, bias]) into `outputs`. Fails with `reason` for
/// an illegal config or an unsupported case, never by a crash.
KernelGenerator generateDepthwiseGpu;

} // namespace kjit::compiler

#endif
