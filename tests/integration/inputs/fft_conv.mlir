// Causal long convolution, L = 100 (not a power of two), Lk = 37, skip d.
func.func @main(%u: tensor<2x3x100xf32>, %k: tensor<3x37xf32>, %d: tensor<3xf32>) -> tensor<2x3x100xf32> {
  %y = kjit.fft_conv %u, %k, %d : tensor<2x3x100xf32>, tensor<3x37xf32>, tensor<3xf32> -> tensor<2x3x100xf32>
  return %y : tensor<2x3x100xf32>
}
