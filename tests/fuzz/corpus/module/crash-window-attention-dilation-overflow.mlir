func.func @main(%q: tensor<1x2x23x8xf32>, %k: tensor<1x2x23x8xf32>, %v: tensor<1x2x23x8xf32>) -> tensor<1x2x23x8xf32> {
  %y = kjit.window_attention %q, %k, %v {kernel_size = array<i64: 5>, dilation = array<i64: 4611686018427387905>} : tensor<1x2x23x8xf32>, tensor<1x2x23x8xf32>, tensor<1x2x23x8xf32> -> tensor<1x2x23x8xf32>
  return %y : tensor<1x2x23x8xf32>
}
