// RUN: kjit-opt %s -verify-diagnostics --kjit-attach-configs="gpu-chip=sm_90 config=#kjit.config<{block_h=64,block_w=64,channels_per_block=1,threads=64,smem_stage=1,vector_width=1}>"
//
// With strides of 2^31 - 1 a 64 x 64 tile's input halo has 63 (2^31 - 1) + 3
// rows and columns: its shared memory (4 rows cols bytes) is past int64.
// The product wrapped and the config was accepted; it saturates now.

func.func @f(%x: tensor<1x8x8x1xf32>, %w: tensor<1x3x3xf32>) -> tensor<1x1x1x1xf32> {
  // expected-error @+1 {{the shared-memory halo tile needs 9223372036854775807 bytes per block (135291469764 x 135291469764 x 1 floats); at most 49152}}
  %y = kjit.depthwise_conv2d %x, %w {strides = array<i64: 2147483647, 2147483647>} : tensor<1x8x8x1xf32>, tensor<1x3x3xf32> -> tensor<1x1x1x1xf32>
  return %y : tensor<1x1x1x1xf32>
}
