// Monarch product, N = 7 * 5 (not square, not a power of two).
func.func @main(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  %y = kjit.butterfly_matmul %x, %r, %l : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}
