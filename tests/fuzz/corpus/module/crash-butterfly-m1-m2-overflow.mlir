func.func @main(%x: tensor<3x4096xf32>, %r: tensor<4294967296x4294967296x4294967296xf32>, %l: tensor<4294967296x4294967296x4294967296xf32>) -> tensor<3x4096xf32> {
  %z = "kjit.butterfly_matmul"(%x, %r, %l) : (tensor<3x4096xf32>, tensor<4294967296x4294967296x4294967296xf32>, tensor<4294967296x4294967296x4294967296xf32>) -> tensor<3x4096xf32>
  return %z : tensor<3x4096xf32>
}
