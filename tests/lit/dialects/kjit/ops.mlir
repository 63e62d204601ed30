// RUN: kjit-opt %s | FileCheck %s
// RUN: kjit-opt %s | kjit-opt | FileCheck %s
// RUN: kjit-opt %s --mlir-print-op-generic | kjit-opt | FileCheck %s

// CHECK-LABEL: func.func @dw
// CHECK: kjit.depthwise_conv2d %{{.*}}, %{{.*}}, %{{.*}} {padding = array<i64: 3, 3, 3, 3>} : tensor<1x56x56x256xf32>, tensor<256x7x7xf32>, tensor<256xf32> -> tensor<1x56x56x256xf32>
func.func @dw(%x: tensor<1x56x56x256xf32>, %w: tensor<256x7x7xf32>, %b: tensor<256xf32>) -> tensor<1x56x56x256xf32> {
  %y = kjit.depthwise_conv2d %x, %w, %b {padding = array<i64: 3, 3, 3, 3>} : tensor<1x56x56x256xf32>, tensor<256x7x7xf32>, tensor<256xf32> -> tensor<1x56x56x256xf32>
  return %y : tensor<1x56x56x256xf32>
}

// The generic form of the op interface (the contract) parses.
// CHECK-LABEL: func.func @dw_generic
// CHECK: kjit.depthwise_conv2d %{{.*}}, %{{.*}} {dilations = array<i64: 2, 2>, layout = "nchw", padding = array<i64: 0, 1, 2, 3>, strides = array<i64: 2, 1>} : tensor<2x5x17x19xf32>, tensor<5x3x3xf32> -> tensor<2x5x7x20xf32>
func.func @dw_generic(%x: tensor<2x5x17x19xf32>, %w: tensor<5x3x3xf32>) -> tensor<2x5x7x20xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nchw", strides = array<i64: 2, 1>, dilations = array<i64: 2, 2>, padding = array<i64: 0, 1, 2, 3>} : (tensor<2x5x17x19xf32>, tensor<5x3x3xf32>) -> tensor<2x5x7x20xf32>
  return %y : tensor<2x5x7x20xf32>
}

// CHECK-LABEL: func.func @dw_config
// CHECK: kjit.config = #kjit.config<{ow_block = 7 : i64, task_order = "h_outer"}>
func.func @dw_config(%x: tensor<1x9x9x16xf32>, %w: tensor<16x3x3xf32>) -> tensor<1x7x7x16xf32> {
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{ow_block = 7, task_order = "h_outer"}>} : tensor<1x9x9x16xf32>, tensor<16x3x3xf32> -> tensor<1x7x7x16xf32>
  return %y : tensor<1x7x7x16xf32>
}

// CHECK-LABEL: func.func @inception
// CHECK: kjit.inception_depthwise_conv2d
func.func @inception(%x: tensor<1x56x56x96xf32>, %sq: tensor<12x3x3xf32>, %bw: tensor<12x1x11xf32>, %bh: tensor<12x11x1xf32>) -> tensor<1x56x56x96xf32> {
  %y = "kjit.inception_depthwise_conv2d"(%x, %sq, %bw, %bh) {branch_channels = array<i64: 12, 12, 12>} : (tensor<1x56x56x96xf32>, tensor<12x3x3xf32>, tensor<12x1x11xf32>, tensor<12x11x1xf32>) -> tensor<1x56x56x96xf32>
  return %y : tensor<1x56x56x96xf32>
}

// CHECK-LABEL: func.func @attention
// CHECK: kjit.window_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {dilation = array<i64: 2, 1>, kernel_size = array<i64: 7, 7>, scale = 2.500000e-01 : f32}
// CHECK: kjit.window_attention %{{.*}}, %{{.*}}, %{{.*}} {is_causal = true, kernel_size = array<i64: 5>}
func.func @attention(%q: tensor<1x4x56x56x32xf32>, %rpb: tensor<4x13x13xf32>, %q1: tensor<2x3x100x16xf32>) -> (tensor<1x4x56x56x32xf32>, tensor<2x3x100x16xf32>) {
  %y = "kjit.window_attention"(%q, %q, %q, %rpb) {kernel_size = array<i64: 7, 7>, dilation = array<i64: 2, 1>, scale = 0.25 : f32} : (tensor<1x4x56x56x32xf32>, tensor<1x4x56x56x32xf32>, tensor<1x4x56x56x32xf32>, tensor<4x13x13xf32>) -> tensor<1x4x56x56x32xf32>
  %z = "kjit.window_attention"(%q1, %q1, %q1) {kernel_size = array<i64: 5>, is_causal = true} : (tensor<2x3x100x16xf32>, tensor<2x3x100x16xf32>, tensor<2x3x100x16xf32>) -> tensor<2x3x100x16xf32>
  return %y, %z : tensor<1x4x56x56x32xf32>, tensor<2x3x100x16xf32>
}

// CHECK-LABEL: func.func @long_conv
// CHECK: kjit.fft_conv
// CHECK: kjit.butterfly_matmul
func.func @long_conv(%u: tensor<2x8x4096xf32>, %k: tensor<8x4096xf32>, %d: tensor<8xf32>, %x: tensor<3x4096xf32>, %r: tensor<64x64x64xf32>, %l: tensor<64x64x64xf32>) -> (tensor<2x8x4096xf32>, tensor<3x4096xf32>) {
  %y = "kjit.fft_conv"(%u, %k, %d) : (tensor<2x8x4096xf32>, tensor<8x4096xf32>, tensor<8xf32>) -> tensor<2x8x4096xf32>
  %z = "kjit.butterfly_matmul"(%x, %r, %l) : (tensor<3x4096xf32>, tensor<64x64x64xf32>, tensor<64x64x64xf32>) -> tensor<3x4096xf32>
  return %y, %z : tensor<2x8x4096xf32>, tensor<3x4096xf32>
}

// CHECK-LABEL: func.func @sparse
// CHECK: kjit.spmm
// CHECK: kjit.spgemm {{.*}} -> tensor<6xi32>, tensor<?xi32>, tensor<?xf32>
func.func @sparse(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x3xf32>, %brp: tensor<8xi32>) -> (tensor<5x3xf32>, tensor<6xi32>, tensor<?xi32>, tensor<?xf32>) {
  %y = "kjit.spmm"(%rp, %ci, %v, %b) : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x3xf32>) -> tensor<5x3xf32>
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %v) {shape = array<i64: 5, 7, 4>} : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<9xf32>) -> (tensor<6xi32>, tensor<?xi32>, tensor<?xf32>)
  return %y, %c#0, %c#1, %c#2 : tensor<5x3xf32>, tensor<6xi32>, tensor<?xi32>, tensor<?xf32>
}
