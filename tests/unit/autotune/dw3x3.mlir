// A tiny workload for the kjit-tune CLI test: 3x3 depthwise, 1x8x8x16.
func.func @main(%x: tensor<1x8x8x16xf32>, %w: tensor<16x3x3xf32>)
    -> tensor<1x8x8x16xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc",
        strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
        padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x16xf32>, tensor<16x3x3xf32>) -> tensor<1x8x8x16xf32>
  return %y : tensor<1x8x8x16xf32>
}
