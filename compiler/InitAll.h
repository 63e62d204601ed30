//===- InitAll.h - register everything kjit uses, once ---------*- C++ -*-===//
#ifndef KJIT_COMPILER_INITALL_H
#define KJIT_COMPILER_INITALL_H

#include "mlir/IR/DialectRegistry.h"

namespace kjit::compiler {
/// Dialects, interfaces and translations the pipelines need.
void registerAllDialects(mlir::DialectRegistry &registry);
/// A registry built once (thread-safe).
const mlir::DialectRegistry &getRegistry();
/// kjit passes, the CPU pipeline and the upstream passes (for kjit-opt).
void registerAllPasses();
} // namespace kjit::compiler

#endif
