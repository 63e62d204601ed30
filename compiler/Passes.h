//===- Passes.h - kjit compiler passes -------------------------*- C++ -*-===//
#ifndef KJIT_COMPILER_PASSES_H
#define KJIT_COMPILER_PASSES_H

#include "dialects/kjit/IR/KjitDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace kjit::compiler {
using ::mlir::ModuleOp;
#define GEN_PASS_DECL
#include "compiler/Passes.h.inc"
#define GEN_PASS_REGISTRATION
#include "compiler/Passes.h.inc"

/// The dynamic-output protocol (kernel-allocated results, e.g. the col_idx
/// and values of kjit.spgemm): `array<i1: ...>`, one flag per result, true
/// for a result with a dynamic shape, on a public entry function (set by
/// kjit-outline-kernels, read and dropped by kjit-emit-packed-entry) and on
/// an outlined kernel declaration (those results are the declaration's
/// function results, allocated by the kernel, in order; static results stay
/// out-params).
inline constexpr const char *kDynamicResultsAttr = "kjit.dynamic_results";
} // namespace kjit::compiler

#endif
