// kjit.spgemm: A (CSR 13 x 11, nnz 30) times B (CSR 11 x 17, nnz 25); the
// result's col_idx and values have a length only the kernel knows
// (Kernel::runAllocating). kjit_run_test.py writes the CSR .npy files.
func.func @main(%arp: tensor<14xi32>, %aci: tensor<30xi32>, %av: tensor<30xf32>,
                %brp: tensor<12xi32>, %bci: tensor<25xi32>, %bv: tensor<25xf32>)
    -> (tensor<14xi32>, tensor<?xi32>, tensor<?xf32>) {
  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv {shape = array<i64: 13, 11, 17>}
      : tensor<14xi32>, tensor<30xi32>, tensor<30xf32>, tensor<12xi32>, tensor<25xi32>, tensor<25xf32>
      -> tensor<14xi32>, tensor<?xi32>, tensor<?xf32>
  return %c#0, %c#1, %c#2 : tensor<14xi32>, tensor<?xi32>, tensor<?xf32>
}
