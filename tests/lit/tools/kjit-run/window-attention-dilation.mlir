// A window_attention whose kernel_size x dilation wrapped around int64 was
// accepted and its kernel read out of bounds; kjit-run now refuses it
// before compiling (it used to fail only later, on the missing inputs).
// RUN: not env KJIT_CACHE_DIR=%t.cache kjit-run %s --tuning-db=off 2>&1 | FileCheck %s
// CHECK: kjit-run: error: {{.*}}window-attention-dilation.mlir: invalid kjit module: input.mlir:9:8: 'kjit.window_attention' expects every entry of 'dilation' to be at most 2^31-1 (kjit's limit), got 4611686018427387905
// CHECK-NOT: inputs

func.func @main(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 3>, dilation = array<i64: 4611686018427387905>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}
