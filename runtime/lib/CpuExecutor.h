//===- CpuExecutor.h - loads object code into the process ------*- C++ -*-===//
//
// One LLJIT per process, shared by every Jit: each loaded object gets its own
// JITDylib (so two kernels with the same entry symbol never clash) that
// resolves everything else from the process (libm, libomp loaded by
// compiler::loadRuntimeLibraries). A LoadedObject owns its JITDylib: when
// it dies the JITDylib is removed from the session and its code and data
// memory released, so that swapping kernels (on-line tuning) does not grow
// the process. Needs no MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_CPUEXECUTOR_H
#define KJIT_RUNTIME_CPUEXECUTOR_H

#include "kjit/kjit.h"

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace llvm::orc {
class JITDylib;
} // namespace llvm::orc

namespace kjit::runtime {

/// `void fn(void **args)`: args[i] points to arg i's memref descriptor.
using PackedFn = void (*)(void **);

/// One linked object and the addresses of the symbols asked for. Its
/// destructor unloads the code: destroy it only when nothing can call into
/// it any more (the runtime ties it to a LoadedKernel, which every run of
/// the kernel holds).
class LoadedObject {
public:
  ~LoadedObject();
  LoadedObject(const LoadedObject &) = delete;
  LoadedObject &operator=(const LoadedObject &) = delete;
  /// In the order the symbols were given to CpuExecutor::loadObject.
  const std::vector<void *> &addresses() const { return addresses_; }

private:
  friend class CpuExecutor;
  LoadedObject(llvm::orc::JITDylib *dylib, std::vector<void *> addresses)
      : dylib_(dylib), addresses_(std::move(addresses)) {}
  llvm::orc::JITDylib *dylib_;
  std::vector<void *> addresses_;
};

class CpuExecutor {
public:
  /// The process-wide executor (created on first use; thread-safe).
  static Result<CpuExecutor *> get();

  /// Links an ELF relocatable object and looks up `symbols`;
  /// `extraSymbols` (name, address) are bound as absolute symbols before the
  /// object is linked (e.g. the mgpu* functions of a CUDA kernel's host
  /// code). The code stays loaded while the LoadedObject lives.
  Result<std::unique_ptr<LoadedObject>> loadObject(
      std::string_view object, const std::vector<std::string> &symbols,
      const std::vector<std::pair<const char *, void *>> &extraSymbols = {});

  /// Objects loaded now (JITDylibs in the session): what tests check to see
  /// that replaced kernels are unloaded.
  static size_t liveObjects();

  struct Impl;

private:
  friend class LoadedObject;
  explicit CpuExecutor(Impl *impl) : impl_(impl) {}
  Impl *impl_;
};

} // namespace kjit::runtime

#endif
