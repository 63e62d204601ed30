//===- KernelErrorCodes.h - run-time errors of generated kernels -*- C++ -*-===//
//
// A generated kernel that finds its inputs invalid (malformed CSR) calls
//     void kjit_rt_report_error(int64_t code, int64_t a, int64_t b)
// (runtime/lib/KernelErrors.cpp) and returns without computing; Kernel::run
// turns the first report into a Status. code = source * 100 + kind; the
// meaning of a and b per kind (hi/lo: the high and low 32 bits of a word, low
// half signed) is the one table below, shared by generator and runtime.
//
// Header-only, no dependencies: included by the compiler and libkjit.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_COMPILER_KERNELERRORCODES_H
#define KJIT_COMPILER_KERNELERRORCODES_H

#include <cstdint>

namespace kjit::kernel_errors {

/// The extern "C" function generated kernels call.
inline constexpr const char *kReportFn = "kjit_rt_report_error";

/// Which operands the error is about (the message's prefix).
enum Source : int64_t {
  kSpmm = 1,     ///< "kjit.spmm: malformed CSR"
  kSpgemmA = 2,  ///< "kjit.spgemm: malformed CSR a"
  kSpgemmB = 3,  ///< "kjit.spgemm: malformed CSR b"
  kSpgemm = 4,   ///< "kjit.spgemm: " (the product, not an operand)
};

/// What is wrong.
enum Kind : int64_t {
  /// row_ptr[0] != 0.                          a = row_ptr[0], b = 0
  kRowPtrStart = 1,
  /// row_ptr[r] > row_ptr[r + 1].              a = r, b = (row_ptr[r] : hi,
  ///                                            row_ptr[r + 1] : lo)
  kRowPtrNotMonotone = 2,
  /// row_ptr[M] != nnz.                        a = (M : hi, row_ptr[M] : lo),
  ///                                           b = nnz
  kRowPtrEnd = 3,
  /// col_idx[p] < 0 or >= K, in row r.         a = (r : hi, col_idx[p] : lo),
  ///                                           b = (p : hi, K : lo)
  kColumnOutOfRange = 4,
  /// The product has more than INT32_MAX entries.  a = its nnz, b = 0
  kOutputTooLarge = 5,
  /// The product's col_idx / values could not be allocated (malloc
  /// failed).                                 a = entries asked for, b = 0
  kOutputAllocFailed = 6,
};

inline constexpr int64_t code(Source s, Kind k) { return s * 100 + k; }
inline constexpr int64_t pack(int64_t hi, int64_t lo) {
  return (int64_t)(((uint64_t)hi << 32) | (uint64_t)(uint32_t)lo);
}
inline constexpr int64_t hi(int64_t w) { return (int64_t)((uint64_t)w >> 32); }
inline constexpr int64_t lo(int64_t w) { return (int64_t)(int32_t)(uint32_t)w; }

} // namespace kjit::kernel_errors

#endif
