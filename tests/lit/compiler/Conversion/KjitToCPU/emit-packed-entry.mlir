// RUN: kjit-opt %s --kjit-emit-packed-entry="entry=main" | FileCheck %s

// CHECK-NOT: builtin.unrealized_conversion_cast
// CHECK-LABEL: llvm.func @kjit_packed_main
// CHECK-SAME: (%[[ARGS:.*]]: !llvm.ptr)
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[ARGS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[A0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P1:.*]] = llvm.getelementptr %[[ARGS]][1]
// CHECK: %[[A1:.*]] = llvm.load %[[P1]]
// CHECK: llvm.call @_mlir_ciface_main(%[[A0]], %[[A1]])
llvm.func @_mlir_ciface_main(%a: !llvm.ptr, %b: !llvm.ptr) {
  %0 = llvm.mlir.constant(0 : i64) : i64
  %1 = builtin.unrealized_conversion_cast %0 : i64 to index
  llvm.return
}
