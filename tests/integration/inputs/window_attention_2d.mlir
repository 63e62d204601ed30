// 2-D neighborhood attention, 11x13 (primes), kernel 5x3, dilation 2x1,
// D = 7 (odd).
func.func @main(%q: tensor<1x2x11x13x7xf32>, %k: tensor<1x2x11x13x7xf32>, %v: tensor<1x2x11x13x7xf32>) -> tensor<1x2x11x13x7xf32> {
  %y = kjit.window_attention %q, %k, %v {kernel_size = array<i64: 5, 3>, dilation = array<i64: 2, 1>} : tensor<1x2x11x13x7xf32>, tensor<1x2x11x13x7xf32>, tensor<1x2x11x13x7xf32> -> tensor<1x2x11x13x7xf32>
  return %y : tensor<1x2x11x13x7xf32>
}
