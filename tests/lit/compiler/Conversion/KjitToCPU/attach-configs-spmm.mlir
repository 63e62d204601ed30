// RUN: kjit-opt %s -split-input-file -verify-diagnostics --kjit-attach-configs="cpu=haswell features=+avx,+avx2,+fma"

func.func @too_wide(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{vector_width 16 needs 512-bit vectors; the target has 256}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{vector_width = 16, n_block = 1, n_tile = 16}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @registers(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{n_block + 2 = 17 vector registers; the target has 16}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{vector_width = 4, n_block = 15, n_tile = 60}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @n_block(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{n_block must be in [1, 16], got 0}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{n_block = 0}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @n_tile(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{n_tile must be a positive multiple of vector_width x n_block = 16, got 24}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{vector_width = 8, n_block = 2, n_tile = 24}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @row_tile(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{row_tile must be >= 1, got 0}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{row_tile = 0}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @threads(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{threads must be in [1, 256], got 300}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{threads = 300}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @prefetch(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{prefetch_distance must be in [0, 64], got -1}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{prefetch_distance = -1}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @partition(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{partition must be "nnz", "rows" or "cols"}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{partition = "diagonal"}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @pack_b(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{pack_b must be 0 or 1, got 2}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{pack_b = 2}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @k_tile(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{k_tile must be >= 0 (0: no K blocks), got -3}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{k_tile = -3}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @pack_b_too_big(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<1000000x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{pack_b = 1 needs 4096000000 bytes of tile buffers (K x n_tile x threads x 4); at most 2 GiB: use a smaller n_tile or pack_b = 0}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{pack_b = 1, vector_width = 8, n_block = 1, n_tile = 1024, threads = 1}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<1000000x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

// Column tasks with packed tiles are legal.
func.func @cols_packed(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{partition = "cols", pack_b = 1, vector_width = 8, n_block = 1, n_tile = 8}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @unknown(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{unknown knob 'ow_block' for kjit.spmm}}
  %y = kjit.spmm %rp, %ci, %v, %b {kjit.config = #kjit.config<{ow_block = 4}>} : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

func.func @dynamic(%rp: tensor<6xi32>, %ci: tensor<?xi32>, %v: tensor<?xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  // expected-error @+1 {{kjit.spmm: code generation needs static shapes}}
  %y = kjit.spmm %rp, %ci, %v, %b : tensor<6xi32>, tensor<?xi32>, tensor<?xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}

// -----

// The default config is legal on this target (256-bit vectors).
func.func @default_ok(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x40xf32>) -> tensor<5x40xf32> {
  %y = kjit.spmm %rp, %ci, %v, %b : tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x40xf32> -> tensor<5x40xf32>
  return %y : tensor<5x40xf32>
}
