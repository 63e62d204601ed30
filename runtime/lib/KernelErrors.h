//===- KernelErrors.h - errors reported by generated kernels ---*- C++ -*-===//
//
// Generated kernels call kjit_rt_report_error (exported by libkjit.so, found
// by the JIT's process-symbol generator); the first report of a call is kept
// in a thread_local slot, which Kernel::run clears before the call and turns
// into a Status after it. Codes: compiler/Conversion/KjitToCPU/
// KernelErrorCodes.h.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_RUNTIME_KERNELERRORS_H
#define KJIT_RUNTIME_KERNELERRORS_H

#include <cstdint>
#include <string>

extern "C" __attribute__((visibility("default"))) void
kjit_rt_report_error(int64_t code, int64_t a, int64_t b);

namespace kjit::runtime {

/// Forgets any report of this thread.
void clearKernelError();
/// The message of this thread's first report since the last clear, or "".
std::string takeKernelError();
/// The message for one (code, a, b) report.
std::string kernelErrorMessage(int64_t code, int64_t a, int64_t b);

} // namespace kjit::runtime

#endif
