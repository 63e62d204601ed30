// fuzz-chip: sm_90
// fuzz-op-config: 0 #kjit.config<{threads = 1}>
func.func @main(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x8x8x4xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) {padding = array<i64: 1, 1, 1, 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x8x8x4xf32>
  return %y : tensor<1x8x8x4xf32>
}
