// RUN: kjit-opt %s -split-input-file --kjit-attach-configs="cpu=skylake-avx512 features=+avx,+avx2,+fma,+avx512f" | FileCheck %s --check-prefix=AVX512
// RUN: kjit-opt %s -split-input-file --kjit-attach-configs="cpu=haswell features=+avx,+avx2,+fma" | FileCheck %s --check-prefix=AVX2
// RUN: kjit-opt %s -split-input-file --kjit-attach-configs="cpu=haswell features=+avx,+avx2,+fma threads=1 config=#kjit.config<{ow_block=4}>" | FileCheck %s --check-prefix=OVERRIDE

// AVX512-LABEL: func.func @default
// AVX512: kjit.config = #kjit.config<{{.*}}kw_unroll = 7{{.*}}oh_block = 1{{.*}}ow_block = 14{{.*}}vector_width = 16
// AVX2-LABEL: func.func @default
// AVX2: kjit.config = #kjit.config<{{.*}}vector_width = 8
// OVERRIDE-LABEL: func.func @default
// OVERRIDE: kjit.config = #kjit.config<{{.*}}ow_block = 4{{.*}}threads = 1
func.func @default(%x: tensor<1x56x56x64xf32>, %w: tensor<64x7x7xf32>) -> tensor<1x56x56x64xf32> {
  %y = kjit.depthwise_conv2d %x, %w {padding = array<i64: 3, 3, 3, 3>} : tensor<1x56x56x64xf32>, tensor<64x7x7xf32> -> tensor<1x56x56x64xf32>
  return %y : tensor<1x56x56x64xf32>
}

// -----

// An op's own knobs win over the option; stride 2 keeps oh_block at 1.
// AVX512-LABEL: func.func @own
// AVX512: kjit.config = #kjit.config<{{.*}}oh_block = 1{{.*}}ow_block = 3
// OVERRIDE-LABEL: func.func @own
// OVERRIDE: ow_block = 3
func.func @own(%x: tensor<1x17x17x3xf32>, %w: tensor<3x3x3xf32>) -> tensor<1x8x8x3xf32> {
  %y = kjit.depthwise_conv2d %x, %w {strides = array<i64: 2, 2>, kjit.config = #kjit.config<{ow_block = 3}>} : tensor<1x17x17x3xf32>, tensor<3x3x3xf32> -> tensor<1x8x8x3xf32>
  return %y : tensor<1x8x8x3xf32>
}
