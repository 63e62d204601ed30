// Two chained depthwise convs (31x31 then 1x11 band), both results returned.
func.func @main(%x: tensor<1x21x21x16xf32>, %w1: tensor<16x31x31xf32>,
                %w2: tensor<16x1x11xf32>, %b2: tensor<16xf32>)
    -> (tensor<1x21x21x16xf32>, tensor<1x21x21x16xf32>) {
  %y = "kjit.depthwise_conv2d"(%x, %w1) {layout = "nhwc",
        strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
        padding = array<i64: 15, 15, 15, 15>}
      : (tensor<1x21x21x16xf32>, tensor<16x31x31xf32>) -> tensor<1x21x21x16xf32>
  %z = "kjit.depthwise_conv2d"(%y, %w2, %b2) {layout = "nhwc",
        strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
        padding = array<i64: 0, 0, 5, 5>}
      : (tensor<1x21x21x16xf32>, tensor<16x1x11xf32>, tensor<16xf32>)
      -> tensor<1x21x21x16xf32>
  return %y, %z : tensor<1x21x21x16xf32>, tensor<1x21x21x16xf32>
}
