//===- KernelErrors.cpp - errors reported by generated kernels -----------===//
#include "KernelErrors.h"

#include "compiler/Conversion/KjitToCPU/KernelErrorCodes.h"

namespace ke = kjit::kernel_errors;

namespace {
struct Slot {
  bool set = false;
  int64_t code = 0, a = 0, b = 0;
};
thread_local Slot slot;

std::string s(int64_t v) { return std::to_string(v); }
} // namespace

extern "C" __attribute__((visibility("default"))) void
kjit_rt_report_error(int64_t code, int64_t a, int64_t b) {
  if (slot.set)
    return; // keep the first
  slot = Slot{true, code, a, b};
}

namespace kjit::runtime {

void clearKernelError() { slot = Slot(); }

std::string takeKernelError() {
  if (!slot.set)
    return "";
  Slot r = slot;
  slot = Slot();
  return kernelErrorMessage(r.code, r.a, r.b);
}

// The one table of messages (codes: KernelErrorCodes.h).
std::string kernelErrorMessage(int64_t code, int64_t a, int64_t b) {
  std::string prefix;
  switch (code / 100) {
  case ke::kSpmm:
    prefix = "kjit.spmm: malformed CSR: ";
    break;
  case ke::kSpgemmA:
    prefix = "kjit.spgemm: malformed CSR a: ";
    break;
  case ke::kSpgemmB:
    prefix = "kjit.spgemm: malformed CSR b: ";
    break;
  case ke::kSpgemm:
    prefix = "kjit.spgemm: ";
    break;
  default:
    return "kernel reported an unknown error (code " + s(code) + ", " + s(a) +
           ", " + s(b) + ")";
  }
  switch (code % 100) {
  case ke::kRowPtrStart:
    return prefix + "row_ptr[0]=" + s(a) + ", expected 0";
  case ke::kRowPtrNotMonotone:
    return prefix + "row_ptr is not monotone at row " + s(a) + " (row_ptr[" +
           s(a) + "]=" + s(ke::lo(ke::hi(b))) + " > row_ptr[" + s(a + 1) +
           "]=" + s(ke::lo(b)) + ")";
  case ke::kRowPtrEnd:
    return prefix + "row_ptr[" + s(ke::hi(a)) + "]=" + s(ke::lo(a)) +
           " (the last entry) is not nnz=" + s(b) +
           " (the length of col_idx and values)";
  case ke::kColumnOutOfRange:
    return prefix + "column index " + s(ke::lo(a)) + " at position " +
           s(ke::hi(b)) + " (row " + s(ke::hi(a)) + ") is out of range [0, " +
           s(ke::lo(b)) + ")";
  case ke::kOutputTooLarge:
    return prefix + "the product has " + s(a) +
           " entries, more than the int32 row_ptr can index (2147483647)";
  case ke::kOutputAllocFailed:
    return prefix + "out of memory: col_idx and values of " + s(a) +
           " entries (" + s(a * 8) + " bytes) could not be allocated";
  default:
    return prefix + "unknown error kind (code " + s(code) + ", " + s(a) +
           ", " + s(b) + ")";
  }
}

} // namespace kjit::runtime
