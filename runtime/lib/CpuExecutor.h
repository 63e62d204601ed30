//===- CpuExecutor.h - loads object code into the process ------*- C++ -*-===//
//
// One LLJIT per process, shared by every Jit: each loaded object gets its own
// JITDylib (so two kernels with the same entry symbol never clash) that
// resolves everything else from the process (libm, libomp loaded by
// compiler::loadRuntimeLibraries). Needs no MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_CPUEXECUTOR_H
#define KJIT_RUNTIME_CPUEXECUTOR_H

#include "kjit/kjit.h"

#include <string_view>
#include <utility>
#include <vector>

namespace kjit::runtime {

/// `void fn(void **args)`: args[i] points to arg i's memref descriptor.
using PackedFn = void (*)(void **);

class CpuExecutor {
public:
  /// The process-wide executor (created on first use; thread-safe).
  static Result<CpuExecutor *> get();

  /// Links an ELF relocatable object and returns the address of `symbol`.
  /// The code stays loaded for the life of the process (kernels are cached
  /// and handed out as shared handles, so unloading buys little).
  Result<PackedFn> load(std::string_view object, const std::string &symbol);
  /// The same for several symbols; `extraSymbols` (name, address) are bound
  /// as absolute symbols before the object is linked (e.g. the mgpu*
  /// functions of a CUDA kernel's host code).
  Result<std::vector<void *>>
  loadSymbols(std::string_view object, const std::vector<std::string> &symbols,
              const std::vector<std::pair<const char *, void *>>
                  &extraSymbols = {});

  struct Impl;

private:
  explicit CpuExecutor(Impl *impl) : impl_(impl) {}
  Impl *impl_;
};

} // namespace kjit::runtime

#endif
