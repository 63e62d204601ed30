//===- EmitHelpers.h - small builders shared by the CPU generators -*- C++ -*-===//
//
// The helpers every CPU kernel generator uses: index constants hoisted to
// the kernel's entry block, scf.for with iter_args built after the loop
// exists, scf.if, vector loads/stores (masked or not) of one f32 vector
// type, 64-byte aligned allocations, and the task loop (an OpenMP team when
// threads > 1).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_COMPILER_EMITHELPERS_H
#define KJIT_COMPILER_EMITHELPERS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace kjit::compiler {

/// Builders for one kernel body; `vw` is the f32 lanes of vecT. Built at
/// the top of the kernel function's entry block.
class KernelEmitter {
public:
  KernelEmitter(mlir::OpBuilder &b, mlir::Location loc, int64_t vw);

  mlir::OpBuilder &b;
  mlir::Location loc;
  int64_t vw;
  mlir::Type f32;
  mlir::VectorType vecT, maskT;

  /// Index constants, created once at the top of the kernel (they dominate
  /// every use; fewer ops make the rest of the pipeline faster).
  mlir::Block *entry = nullptr;
  llvm::DenseMap<int64_t, mlir::Value> constants;
  mlir::Value zeroVector;
  mlir::Value c(int64_t v);
  mlir::Value add(mlir::Value a, mlir::Value d);
  mlir::Value add(mlir::Value a, int64_t d);
  mlir::Value mul(mlir::Value a, int64_t d);
  mlir::Value sub(mlir::Value a, mlir::Value d);
  mlir::Value minI(mlir::Value a, mlir::Value d);
  mlir::Value divI(mlir::Value a, int64_t d);
  mlir::Value remI(mlir::Value a, int64_t d);
  mlir::Value zeroVec();
  mlir::Value constMask(int64_t n);

  /// scf.for with iter_args; `body` returns the values to yield.
  llvm::SmallVector<mlir::Value>
  loop(mlir::Value lb, mlir::Value ub, mlir::Value step, mlir::ValueRange init,
       llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value,
                                                         mlir::ValueRange)>
           body);
  void loop(mlir::Value lb, mlir::Value ub, mlir::Value step,
            llvm::function_ref<void(mlir::Value)> body);
  void loop(int64_t lb, int64_t ub, llvm::function_ref<void(mlir::Value)> body);
  void ifThen(mlir::Value cond, llvm::function_ref<void()> thenFn,
              llvm::function_ref<void()> elseFn = nullptr);
  mlir::Value ifValue(mlir::Value cond, llvm::function_ref<mlir::Value()> thenFn,
                      llvm::function_ref<mlir::Value()> elseFn);
  mlir::Value load(mlir::Value mem, mlir::ValueRange idx);
  void store(mlir::Value v, mlir::Value mem, mlir::ValueRange idx);
  mlir::Value maskedLoad(mlir::Value mem, mlir::ValueRange idx,
                         mlir::Value mask);
  void maskedStore(mlir::Value v, mlir::Value mem, mlir::ValueRange idx,
                   mlir::Value mask);
  mlir::Value alloc(llvm::ArrayRef<int64_t> shape);
  void dealloc(mlir::Value m);
};

/// Calls `body(t)` for every task in [0, total), on an OpenMP team of
/// `threads` when threads > 1 (tasks dealt round-robin to the team).
void emitTaskLoop(mlir::OpBuilder &b, mlir::Location loc, int64_t total,
                  int64_t threads,
                  llvm::function_ref<void(mlir::Value)> body);

} // namespace kjit::compiler

#endif
