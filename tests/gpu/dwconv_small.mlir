// A small NHWC depthwise conv for the kjit-run --target=cuda tests.
func.func @main(%x: tensor<1x13x17x40xf32>, %w: tensor<40x7x7xf32>) -> tensor<1x13x17x40xf32> {
  %y = kjit.depthwise_conv2d %x, %w {padding = array<i64: 3, 3, 3, 3>} : tensor<1x13x17x40xf32>, tensor<40x7x7xf32> -> tensor<1x13x17x40xf32>
  return %y : tensor<1x13x17x40xf32>
}
