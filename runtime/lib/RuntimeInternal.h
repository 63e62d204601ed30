//===- RuntimeInternal.h - shared helpers of the runtime -------*- C++ -*-===//
//
// Internal to libkjit. Errors follow Halide's split: a user error says what
// the caller got wrong and how to fix it; an internal error is a kjit bug and
// says so, so that nobody wastes time re-checking their own inputs.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_RUNTIMEINTERNAL_H
#define KJIT_RUNTIME_RUNTIMEINTERNAL_H

#include "kjit/kjit.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>

namespace kjit::runtime {

inline Status userError(std::string message) {
  return Status::error(std::move(message));
}
inline Status internalError(const std::string &message) {
  return Status::error("internal error (please report): " + message);
}
/// Consumes an llvm::Error into a Status (user error: the compiler reports
/// invalid ops and attributes through it).
inline Status toStatus(llvm::Error err, const std::string &context = "") {
  std::string msg = llvm::toString(std::move(err));
  return Status::error(context.empty() ? msg : context + ": " + msg);
}

/// "2x3x4" (or "scalar" for rank 0), for error messages.
std::string shapeString(const std::vector<int64_t> &shape);

/// Tests only: a kernel for CUDA device `ordinal` whose packed entry is
/// `fn` (the ABI of kjit_packed_<entry>: memref descriptors of the inputs,
/// then the outputs; a dynamic output's descriptor is filled by `fn`),
/// without generated code: for exercising Kernel's CUDA run protocol
/// (staging, kernel-allocated outputs) on chosen host-side behaviour.
Kernel cudaKernelForTesting(void (*fn)(void **), std::vector<ArgInfo> inputs,
                            std::vector<ArgInfo> outputs, int ordinal = 0);

/// Tests only: the kernel of `mlirText` compiled for the host CPU (default
/// configs, no cache) and `reload`, which loads the same object code again
/// as a new version of that kernel and swaps it in (on-line tuning's swap
/// without its compile): for checking that replaced code is unloaded.
struct ReloadableKernel {
  Kernel kernel;
  std::function<Status()> reload;
};
Result<ReloadableKernel>
reloadableKernelForTesting(const std::string &mlirText);

} // namespace kjit::runtime

#endif
