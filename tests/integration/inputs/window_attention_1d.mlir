// 1-D neighborhood attention, L = 23 (prime), kernel 5, dilation 2.
func.func @main(%q: tensor<1x2x23x8xf32>, %k: tensor<1x2x23x8xf32>, %v: tensor<1x2x23x8xf32>) -> tensor<1x2x23x8xf32> {
  %y = kjit.window_attention %q, %k, %v {kernel_size = array<i64: 5>, dilation = array<i64: 2>} : tensor<1x2x23x8xf32>, tensor<1x2x23x8xf32>, tensor<1x2x23x8xf32> -> tensor<1x2x23x8xf32>
  return %y : tensor<1x2x23x8xf32>
}
