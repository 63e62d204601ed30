// 7x7 depthwise, "same" padding, NHWC, with bias; C = 37 is not a multiple of
// the vector width.
func.func @main(%x: tensor<1x17x17x37xf32>, %w: tensor<37x7x7xf32>,
                %b: tensor<37xf32>) -> tensor<1x17x17x37xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w, %b) {layout = "nhwc",
        strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
        padding = array<i64: 3, 3, 3, 3>}
      : (tensor<1x17x17x37xf32>, tensor<37x7x7xf32>, tensor<37xf32>)
      -> tensor<1x17x17x37xf32>
  return %y : tensor<1x17x17x37xf32>
}
