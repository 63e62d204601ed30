// A kjit.spgemm workload (kjit-tune handles it whether or not it has a space).
func.func @main(%arp: tensor<4xi32>, %aci: tensor<6xi32>, %av: tensor<6xf32>,
                %brp: tensor<5xi32>, %bci: tensor<7xi32>, %bv: tensor<7xf32>)
    -> (tensor<4xi32>, tensor<?xi32>, tensor<?xf32>) {
  %r, %c, %v = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv {shape = array<i64: 3, 4, 5>}
      : tensor<4xi32>, tensor<6xi32>, tensor<6xf32>, tensor<5xi32>, tensor<7xi32>, tensor<7xf32>
      -> tensor<4xi32>, tensor<?xi32>, tensor<?xf32>
  return %r, %c, %v : tensor<4xi32>, tensor<?xi32>, tensor<?xf32>
}
