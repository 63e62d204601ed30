//===- Workload.h - workload keys of kjit ops ------------------*- C++ -*-===//
//
// The workload of one kjit op (ARCHITECTURE.md, Keys): the op alone in a
// `func.func @main` taking its operands and returning its results, without
// its config, printed canonically and hashed. Part of KjitTuningDb, which the
// runtime links for run-time selection (it needs no other part of autotune).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_AUTOTUNE_WORKLOAD_H
#define KJIT_AUTOTUNE_WORKLOAD_H

#include "autotune/Autotune.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir {
class Operation;
} // namespace mlir

namespace kjit::autotune {

/// Every kjit op (TunableOpInterface) of a module as a standalone workload,
/// in program order. A config the op carries in the file is dropped (the
/// tuner chooses it). Errors: unparsable text, no kjit op. The text is parsed
/// with the func and kjit dialects only.
llvm::Expected<std::vector<Workload>>
extractWorkloads(const std::string &mlirText);

/// The workload of one tunable kjit op (in any context; the func dialect is
/// loaded into it when missing).
Workload workloadOf(mlir::Operation *op);

/// Lower-case hex SHA-256 of `data`.
std::string sha256Hex(const std::string &data);

} // namespace kjit::autotune

#endif
