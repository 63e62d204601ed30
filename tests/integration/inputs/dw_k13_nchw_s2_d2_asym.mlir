// 13x13 NCHW, stride 2 along H, dilation 2 along W, asymmetric padding.
// OH = (23 + 5 + 7 - 12 - 1) / 2 + 1 = 12, OW = (29 + 0 + 24 - 24 - 1) + 1 = 29
func.func @main(%x: tensor<2x3x23x29xf32>, %w: tensor<3x13x13xf32>)
    -> tensor<2x3x12x29xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nchw",
        strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>,
        padding = array<i64: 5, 7, 0, 24>}
      : (tensor<2x3x23x29xf32>, tensor<3x13x13xf32>) -> tensor<2x3x12x29xf32>
  return %y : tensor<2x3x12x29xf32>
}
