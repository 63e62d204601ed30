//===- KjitLimits.h - the sizes kjit's kernels can index --------*- C++ -*-===//
//
// The verifiers (KjitOps.cpp) refuse any op beyond these limits, so that no
// size arithmetic after them (result types, tuning geometry and cost
// features, the CPU and GPU generators) can overflow int64 or the narrower
// index types the kernels use. The README's "what kjit refuses" lists them.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_DIALECT_KJITLIMITS_H
#define KJIT_DIALECT_KJITLIMITS_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace mlir::kjit {

/// Largest tensor dimension and largest size attribute (strides, dilations,
/// padding, kernel_size, branch_channels, spgemm's shape, N = m1 m2 of
/// butterfly_matmul): 2^31 - 1. CSR row pointers and column indices are
/// i32 (a row pointer holds M + 1 entries, a column index addresses K or N
/// columns), the generators narrow positions to i32 (window attention's
/// lane masks, spgemm's row tags -(row + 2)), and a CUDA grid has at most
/// 2^31 - 1 blocks in x.
inline constexpr int64_t kMaxDimSize = (int64_t(1) << 31) - 1;
inline constexpr llvm::StringLiteral kMaxDimSizeText = "2^31-1";

/// Largest element count of a tensor: 2^40 (4 TiB of f32). The kernels
/// compute flat offsets and byte sizes in i64 (index); with every element
/// count below 2^40 and every dimension below 2^31, the products the
/// tuning code and the generators form (an element count times a tile, a
/// window or 4 bytes; two dimensions) stay inside int64.
inline constexpr int64_t kMaxElements = int64_t(1) << 40;
inline constexpr llvm::StringLiteral kMaxElementsText = "2^40";

} // namespace mlir::kjit

#endif
