//===- OpText.h - op descriptors to MLIR text ------------------*- C++ -*-===//
//
// The host API describes ops with plain structs; the compiler takes MLIR.
// These functions validate a descriptor (so the user gets an error naming the
// field, not a verifier message about a tensor type) and print a module with
// one func.func holding that op in its generic form, which is the fixed
// interface of ARCHITECTURE.md (no dependence on the custom syntax).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_OPTEXT_H
#define KJIT_RUNTIME_OPTEXT_H

#include "kjit/kjit.h"

namespace kjit::runtime {

/// PyTorch conv2d output size; <= 0 when the kernel does not fit.
int64_t convOutputSize(int64_t in, int64_t padBefore, int64_t padAfter,
                       int64_t kernel, int64_t stride, int64_t dilation);

Result<std::string> toMlirText(const DepthwiseConv2d &op,
                               const std::string &entry = "main");
Result<std::string> toMlirText(const InceptionDepthwiseConv2d &op,
                               const std::string &entry = "main");

} // namespace kjit::runtime

#endif
