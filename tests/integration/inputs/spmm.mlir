// kjit.spmm: CSR 13 x 11 (nnz = 40) times a dense 11 x 37; N = 37 is not a
// multiple of the vector width. kjit_run_test.py writes the CSR .npy files.
func.func @main(%rp: tensor<14xi32>, %ci: tensor<40xi32>, %v: tensor<40xf32>,
                %b: tensor<11x37xf32>) -> tensor<13x37xf32> {
  %y = kjit.spmm %rp, %ci, %v, %b
      : tensor<14xi32>, tensor<40xi32>, tensor<40xf32>, tensor<11x37xf32>
      -> tensor<13x37xf32>
  return %y : tensor<13x37xf32>
}
