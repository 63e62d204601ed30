// RUN: kjit-opt %s -split-input-file -verify-diagnostics --kjit-attach-configs="cpu=haswell features=+avx,+avx2,+fma"

func.func @too_wide(%x: tensor<1x8x8x16xf32>, %w: tensor<16x3x3xf32>) -> tensor<1x6x6x16xf32> {
  // expected-error @+1 {{vector_width 16 needs 512-bit vectors; the target has 256}}
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{vector_width = 16}>} : tensor<1x8x8x16xf32>, tensor<16x3x3xf32> -> tensor<1x6x6x16xf32>
  return %y : tensor<1x6x6x16xf32>
}

// -----

func.func @registers(%x: tensor<1x8x8x16xf32>, %w: tensor<16x3x3xf32>) -> tensor<1x6x6x16xf32> {
  // expected-error @+1 {{oh_block x ow_block + oh_block + 1 = 31 vector registers; the target has 16}}
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{oh_block = 2, ow_block = 14, vector_width = 8}>} : tensor<1x8x8x16xf32>, tensor<16x3x3xf32> -> tensor<1x6x6x16xf32>
  return %y : tensor<1x6x6x16xf32>
}

// -----

func.func @stride(%x: tensor<1x9x9x8xf32>, %w: tensor<8x3x3xf32>) -> tensor<1x4x4x8xf32> {
  // expected-error @+1 {{oh_block > 1 needs stride_h = dilation_h = 1}}
  %y = kjit.depthwise_conv2d %x, %w {strides = array<i64: 2, 2>, kjit.config = #kjit.config<{oh_block = 2, ow_block = 4}>} : tensor<1x9x9x8xf32>, tensor<8x3x3xf32> -> tensor<1x4x4x8xf32>
  return %y : tensor<1x4x4x8xf32>
}

// -----

func.func @unknown(%x: tensor<1x8x8x16xf32>, %w: tensor<16x3x3xf32>) -> tensor<1x6x6x16xf32> {
  // expected-error @+1 {{unknown knob 'tile' for a depthwise convolution}}
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{tile = 4}>} : tensor<1x8x8x16xf32>, tensor<16x3x3xf32> -> tensor<1x6x6x16xf32>
  return %y : tensor<1x6x6x16xf32>
}

// -----

func.func @order(%x: tensor<1x8x8x16xf32>, %w: tensor<16x3x3xf32>) -> tensor<1x6x6x16xf32> {
  // expected-error @+1 {{task_order must be "c_outer" or "h_outer"}}
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{task_order = "w_outer"}>} : tensor<1x8x8x16xf32>, tensor<16x3x3xf32> -> tensor<1x6x6x16xf32>
  return %y : tensor<1x6x6x16xf32>
}

// -----

func.func @threads(%x: tensor<1x8x8x16xf32>, %w: tensor<16x3x3xf32>) -> tensor<1x6x6x16xf32> {
  // expected-error @+1 {{threads must be in [1, 256], got 0}}
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{threads = 0}>} : tensor<1x8x8x16xf32>, tensor<16x3x3xf32> -> tensor<1x6x6x16xf32>
  return %y : tensor<1x6x6x16xf32>
}

// -----

func.func @spgemm_hash_scale(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>) -> tensor<6xi32> {
  // expected-error @+1 {{hash_scale must be a power of two in [1, 16], got 3}}
  %r:3 = kjit.spgemm %rp, %ci, %v, %rp, %ci, %v {shape = array<i64: 5, 5, 5>, kjit.config = #kjit.config<{accumulator = "hash", hash_scale = 3}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<6xi32>, tensor<9xi32>, tensor<9xf32> -> tensor<6xi32>, tensor<?xi32>, tensor<?xf32>
  return %r#0 : tensor<6xi32>
}

// -----

func.func @spgemm_accumulator(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>) -> tensor<6xi32> {
  // expected-error @+1 {{accumulator}}
  %r:3 = kjit.spgemm %rp, %ci, %v, %rp, %ci, %v {shape = array<i64: 5, 5, 5>, kjit.config = #kjit.config<{accumulator = "heap"}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<6xi32>, tensor<9xi32>, tensor<9xf32> -> tensor<6xi32>, tensor<?xi32>, tensor<?xf32>
  return %r#0 : tensor<6xi32>
}
