//===- KernelBodies.h - bodies for outlined kernel declarations -*- C++ -*-===//
//
// kjit-outline-kernels leaves each kjit op as a private declaration on
// memrefs (op name, properties and config as attributes). The CPU and GPU
// generate passes share everything but the generator they call.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_COMPILER_KERNELBODIES_H
#define KJIT_COMPILER_KERNELBODIES_H

#include "dialects/kjit/IR/KjitDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace kjit::compiler {

/// The signature of every kernel generator: emit, at `b`'s insertion point,
/// the code of `op` reading `inputs` and writing `outputs` (memrefs); fail
/// with `reason` (an illegal config, an unsupported case), never by a crash.
using KernelGenerator = mlir::LogicalResult(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Operation *op,
    mlir::ValueRange inputs, mlir::ValueRange outputs,
    mlir::kjit::ConfigAttr config, const TargetInfo &target,
    std::string &reason);

/// Picks the generator for an op; null when the target has none for it.
using GeneratorLookup = llvm::function_ref<KernelGenerator *(mlir::Operation *)>;

/// A generator for an op with kernel-allocated (dynamically sized) results
/// (the dynamic-output protocol, kDynamicResultsAttr): `outputs` are the
/// static results' memrefs; it appends to `allocated` one memref per dynamic
/// result, in result order, allocated with memref.alloc (freed by the
/// caller), on every path, also when the kernel reports an error.
using DynamicKernelGenerator = mlir::LogicalResult(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Operation *op,
    mlir::ValueRange inputs, mlir::ValueRange outputs,
    llvm::SmallVectorImpl<mlir::Value> &allocated,
    mlir::kjit::ConfigAttr config, const TargetInfo &target,
    std::string &reason);
using DynamicGeneratorLookup =
    llvm::function_ref<DynamicKernelGenerator *(mlir::Operation *)>;

/// Gives every outlined kernel declaration of `module` a body. The op is
/// rebuilt on tensor views of the arguments so that generators read its
/// geometry through the verifier's accessors, and erased afterwards. On
/// failure the declaration is left as it was and an error names the op and
/// `targetName`.
mlir::LogicalResult generateKernelBodies(mlir::ModuleOp module,
                                         llvm::StringRef targetName,
                                         const TargetInfo &target,
                                         GeneratorLookup lookup,
                                         DynamicGeneratorLookup dynamicLookup =
                                             nullptr);

} // namespace kjit::compiler

#endif
