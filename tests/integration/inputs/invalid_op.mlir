// An invalid use: the filter has 5 channels, the input 4.
func.func @main(%x: tensor<1x8x8x4xf32>, %w: tensor<5x3x3xf32>)
    -> tensor<1x8x8x4xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nhwc",
        strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
        padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x4xf32>, tensor<5x3x3xf32>) -> tensor<1x8x8x4xf32>
  return %y : tensor<1x8x8x4xf32>
}
