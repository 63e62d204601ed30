// InceptionNeXt token mixer: 64 channels = 40 identity + 8 square (3x3)
// + 8 band 1x11 + 8 band 11x1.
func.func @entry(%x: tensor<1x19x17x64xf32>, %sq: tensor<8x3x3xf32>,
                 %bw: tensor<8x1x11xf32>, %bh: tensor<8x11x1xf32>)
    -> tensor<1x19x17x64xf32> {
  %y = "kjit.inception_depthwise_conv2d"(%x, %sq, %bw, %bh) {layout = "nhwc",
        branch_channels = array<i64: 8, 8, 8>}
      : (tensor<1x19x17x64xf32>, tensor<8x3x3xf32>, tensor<8x1x11xf32>,
         tensor<8x11x1xf32>) -> tensor<1x19x17x64xf32>
  return %y : tensor<1x19x17x64xf32>
}
