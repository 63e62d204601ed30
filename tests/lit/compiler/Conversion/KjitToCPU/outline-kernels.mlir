// RUN: kjit-opt %s -split-input-file -verify-diagnostics --kjit-outline-kernels | FileCheck %s

// CHECK-LABEL: func.func @main
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK: %[[X:.*]] = bufferization.to_buffer %arg0 read_only
// CHECK: %[[W:.*]] = bufferization.to_buffer %arg1 read_only
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x5x5x8xf32>
// CHECK: call @main_kjit_0(%[[X]], %[[W]], %[[OUT]])
// CHECK: %[[R:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: return %[[R]]
// CHECK: func.func private @main_kjit_0(memref<1x7x7x8xf32>, memref<8x3x3xf32>, memref<1x5x5x8xf32>)
// CHECK-SAME: kjit.kernel_config = #kjit.config<{ow_block = 5 : i64}>
// CHECK-SAME: kjit.kernel_num_inputs = 2
// CHECK-SAME: kjit.kernel_op = "kjit.depthwise_conv2d"
// CHECK-SAME: kjit.kernel_props = {dilations = array<i64: 1, 1>, layout = "nhwc", padding = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>}
func.func @main(%x: tensor<1x7x7x8xf32>, %w: tensor<8x3x3xf32>) -> tensor<1x5x5x8xf32> {
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{ow_block = 5}>} : tensor<1x7x7x8xf32>, tensor<8x3x3xf32> -> tensor<1x5x5x8xf32>
  return %y : tensor<1x5x5x8xf32>
}

// -----

// Two ops in one function get two kernels; the second reads the first's buffer.
// CHECK-LABEL: func.func @chain
// CHECK: call @chain_kjit_0
// CHECK: call @chain_kjit_1
// CHECK-DAG: func.func private @chain_kjit_0
// CHECK-DAG: func.func private @chain_kjit_1
func.func @chain(%x: tensor<1x7x7x8xf32>, %w: tensor<8x3x3xf32>) -> tensor<1x3x3x8xf32> {
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{}>} : tensor<1x7x7x8xf32>, tensor<8x3x3xf32> -> tensor<1x5x5x8xf32>
  %z = kjit.depthwise_conv2d %y, %w {kjit.config = #kjit.config<{}>} : tensor<1x5x5x8xf32>, tensor<8x3x3xf32> -> tensor<1x3x3x8xf32>
  return %z : tensor<1x3x3x8xf32>
}

// -----

func.func @no_config(%x: tensor<1x7x7x8xf32>, %w: tensor<8x3x3xf32>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{has no kjit.config; run kjit-attach-configs first}}
  %y = kjit.depthwise_conv2d %x, %w : tensor<1x7x7x8xf32>, tensor<8x3x3xf32> -> tensor<1x5x5x8xf32>
  return %y : tensor<1x5x5x8xf32>
}

// -----

func.func @dynamic(%x: tensor<?x7x7x8xf32>, %w: tensor<8x3x3xf32>) -> tensor<?x5x5x8xf32> {
  // expected-error @+1 {{code generation needs static tensor shapes, got 'tensor<?x7x7x8xf32>'}}
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{}>} : tensor<?x7x7x8xf32>, tensor<8x3x3xf32> -> tensor<?x5x5x8xf32>
  return %y : tensor<?x5x5x8xf32>
}
