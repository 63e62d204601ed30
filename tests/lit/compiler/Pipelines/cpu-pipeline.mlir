// The pipeline the JIT runs (kjit-attach-configs happens in prepare()):
// RUN: kjit-opt %s --kjit-attach-configs="cpu=skylake-avx512 features=+avx,+avx2,+fma,+avx512f threads=2" --kjit-cpu-pipeline | FileCheck %s

// CHECK-NOT: builtin.unrealized_conversion_cast
// CHECK-NOT: kjit.
// CHECK-DAG: llvm.func @_mlir_ciface_main
// CHECK-DAG: llvm.func @kjit_packed_main(%{{.*}}: !llvm.ptr)
// CHECK-DAG: omp.parallel
// CHECK-DAG: llvm.intr.fmuladd
func.func @main(%x: tensor<1x17x17x37xf32>, %w: tensor<37x7x7xf32>, %b: tensor<37xf32>) -> tensor<1x17x17x37xf32> {
  %y = kjit.depthwise_conv2d %x, %w, %b {padding = array<i64: 3, 3, 3, 3>} : tensor<1x17x17x37xf32>, tensor<37x7x7xf32>, tensor<37xf32> -> tensor<1x17x17x37xf32>
  %z = kjit.depthwise_conv2d %y, %w {padding = array<i64: 3, 3, 3, 3>} : tensor<1x17x17x37xf32>, tensor<37x7x7xf32> -> tensor<1x17x17x37xf32>
  return %z : tensor<1x17x17x37xf32>
}
