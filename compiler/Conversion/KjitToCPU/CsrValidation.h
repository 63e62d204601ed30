//===- CsrValidation.h - run-time checks of a CSR operand ------*- C++ -*-===//
//
// The sparse kernels (kjit.spmm, kjit.spgemm) check each CSR operand before
// they read through it: row_ptr[0] = 0, row_ptr monotone, row_ptr[M] = nnz,
// every column index in [0, cols). The first defect is reported through
// kjit_rt_report_error (KernelErrorCodes.h) and the kernel skips its work,
// so no out-of-bounds read ever happens.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_COMPILER_CSRVALIDATION_H
#define KJIT_COMPILER_CSRVALIDATION_H

#include "compiler/Conversion/KjitToCPU/EmitHelpers.h"
#include "compiler/Conversion/KjitToCPU/KernelErrorCodes.h"

namespace kjit::compiler {

/// Declares `void kjit_rt_report_error(i64, i64, i64)` in the module.
void declareReportFn(mlir::OpBuilder &b, mlir::Location loc);

/// Emits a call of kjit_rt_report_error(code(source, kind), a, b).
void emitReport(KernelEmitter &e, kernel_errors::Source source,
                kernel_errors::Kind kind, mlir::Value a, mlir::Value b);

/// Emits the checks of the CSR (rowPtr: rows + 1 x i32, colIdx: nnz x i32,
/// columns in [0, cols)); returns an i1 that is true when it is sound.
/// When it is not, the first defect has been reported for `source`.
mlir::Value emitCsrCheck(KernelEmitter &e, kernel_errors::Source source,
                         mlir::Value rowPtr, mlir::Value colIdx, int64_t rows,
                         int64_t cols, int64_t nnz);

/// scf.if with results of `types`; each branch returns its values.
llvm::SmallVector<mlir::Value>
emitIfValues(mlir::OpBuilder &b, mlir::Location loc, mlir::Value cond,
             mlir::TypeRange types,
             llvm::function_ref<llvm::SmallVector<mlir::Value>()> thenFn,
             llvm::function_ref<llvm::SmallVector<mlir::Value>()> elseFn);

/// (hi << 32) | (lo & 0xffffffff) as i64 (kernel_errors::pack).
mlir::Value emitPack(KernelEmitter &e, mlir::Value hi, mlir::Value lo);
/// A signless integer or index value as i64 (sign-extended).
mlir::Value emitToI64(KernelEmitter &e, mlir::Value v);

} // namespace kjit::compiler

#endif
