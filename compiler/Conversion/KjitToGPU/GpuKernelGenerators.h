//===- GpuKernelGenerators.h - GPU bodies of outlined kernels --*- C++ -*-===//
#ifndef KJIT_COMPILER_GPUKERNELGENERATORS_H
#define KJIT_COMPILER_GPUKERNELGENERATORS_H

#include "compiler/Conversion/KernelBodies.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace kjit::compiler {

/// Each emits, at `b`'s insertion point (the body of an outlined kernel on
/// memrefs), the `gpu.launch`(es) computing `op` from `inputs` into
/// `outputs`. They fail with `reason` for an illegal config or an
/// unsupported case, never by a crash.

/// kjit.depthwise_conv2d (NHWC, NCHW) and kjit.inception_depthwise_conv2d.
KernelGenerator generateDepthwiseGpu;
/// kjit.window_attention (1-D / 2-D, dilation, causal, rpb).
KernelGenerator generateWindowAttentionGpu;
/// kjit.butterfly_matmul (Monarch).
KernelGenerator generateButterflyGpu;
/// kjit.spmm (CSR x dense); malformed CSR is reported through the device
/// error record (GpuErrorRecord below).
KernelGenerator generateSpmmGpu;
/// kjit.fft_conv.
KernelGenerator generateFftConvGpu;
/// kjit.spgemm (CSR x CSR -> CSR, the dynamic-output protocol): device
/// launches, the output's nnz read back to the host, col_idx and values
/// allocated (device memory after kjit-host-allocs-to-gpu); malformed CSR
/// is reported through the device error record.
DynamicKernelGenerator generateSpgemmGpu;

/// The device error record of kernels that validate their inputs (spmm): a
/// public `memref.global @kjit_gpu_error : memref<4xi64>` (zero-initialized;
/// the PTX global `kjit_gpu_error`, found with cuModuleGetGlobal) holding
/// [claims, code, a, b]. A kernel that finds a defect atomically adds 1 to
/// `claims`; the thread that saw 0 writes code, a and b with the meanings
/// of KernelErrorCodes.h (the same as the CPU's kjit_rt_report_error). A
/// host reads it after the launch (claims != 0: error) and zeroes it
/// before the next one.
inline constexpr const char *kGpuErrorRecord = "kjit_gpu_error";
/// The module's error record (created on first use).
mlir::FailureOr<mlir::memref::GlobalOp>
getGpuErrorRecord(mlir::OpBuilder &b, mlir::Location loc, std::string &reason);
/// Emits one report (device code).
void emitGpuErrorReport(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::memref::GlobalOp record, int64_t code,
                        mlir::Value a, mlir::Value bb);

} // namespace kjit::compiler

#endif
