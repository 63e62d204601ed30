func.func @main(%a0: tensor<8xi32>, %a1: tensor<6xi32>, %a2: tensor<6xf32>, %b0: tensor<6xi32>, %b1: tensor<9xi32>, %b2: tensor<9xf32>) -> (tensor<8xi32>, tensor<?xi32>, tensor<?xf32>) {
  %c:3 = kjit.spgemm %a0, %a1, %a2, %b0, %b1, %b2 {shape = array<i64: 7, 5, 11>} : tensor<8xi32>, tensor<6xi32>, tensor<6xf32>, tensor<6xi32>, tensor<9xi32>, tensor<9xf32> -> tensor<8xi32>, tensor<?xi32>, tensor<?xf32>
  return %c#0, %c#1, %c#2 : tensor<8xi32>, tensor<?xi32>, tensor<?xf32>
}
