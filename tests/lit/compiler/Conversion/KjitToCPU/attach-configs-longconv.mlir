// RUN: kjit-opt %s -split-input-file -verify-diagnostics --kjit-attach-configs="cpu=haswell features=+avx,+avx2,+fma"

func.func @too_wide(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  // expected-error @+1 {{vector_width 16 needs 512-bit vectors; the target has 256}}
  %y = kjit.butterfly_matmul %x, %r, %l {kjit.config = #kjit.config<{vector_width = 16, row_tile = 16}>} : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}

// -----

func.func @row_tile(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  // expected-error @+1 {{row_tile must be a positive multiple of vector_width x row_block = 16, got 24}}
  %y = kjit.butterfly_matmul %x, %r, %l {kjit.config = #kjit.config<{vector_width = 8, row_block = 2, row_tile = 24}>} : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}

// -----

func.func @registers(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  // expected-error @+1 {{row_block x block_tile + row_block + 1 = 27 vector registers; the target has 16}}
  %y = kjit.butterfly_matmul %x, %r, %l {kjit.config = #kjit.config<{vector_width = 8, row_block = 2, row_tile = 16, block_tile = 12}>} : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}

// -----

func.func @block_tile(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  // expected-error @+1 {{block_tile must be in [1, 16], got 0}}
  %y = kjit.butterfly_matmul %x, %r, %l {kjit.config = #kjit.config<{block_tile = 0}>} : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}

// -----

func.func @transpose(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  // expected-error @+1 {{transpose must be "fused" or "separate"}}
  %y = kjit.butterfly_matmul %x, %r, %l {kjit.config = #kjit.config<{transpose = "maybe"}>} : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}

// -----

func.func @unknown(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  // expected-error @+1 {{unknown knob 'oh_tile' for kjit.butterfly_matmul}}
  %y = kjit.butterfly_matmul %x, %r, %l {kjit.config = #kjit.config<{oh_tile = 4}>} : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}

// -----

func.func @threads(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  // expected-error @+1 {{threads must be in [1, 256], got 0}}
  %y = kjit.butterfly_matmul %x, %r, %l {kjit.config = #kjit.config<{threads = 0}>} : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}

// -----

func.func @not_integer(%x: tensor<5x35xf32>, %r: tensor<7x5x5xf32>, %l: tensor<5x7x7xf32>) -> tensor<5x35xf32> {
  // expected-error @+1 {{knob 'row_tile' must be an integer}}
  %y = kjit.butterfly_matmul %x, %r, %l {kjit.config = #kjit.config<{row_tile = "big"}>} : tensor<5x35xf32>, tensor<7x5x5xf32>, tensor<5x7x7xf32> -> tensor<5x35xf32>
  return %y : tensor<5x35xf32>
}

// -----

func.func @fft_too_wide(%u: tensor<2x3x300xf32>, %k: tensor<3x5xf32>) -> tensor<2x3x300xf32> {
  // expected-error @+1 {{vector_width 16 needs 512-bit vectors; the target has 256}}
  %y = kjit.fft_conv %u, %k {kjit.config = #kjit.config<{vector_width = 16}>} : tensor<2x3x300xf32>, tensor<3x5xf32> -> tensor<2x3x300xf32>
  return %y : tensor<2x3x300xf32>
}

// -----

func.func @fft_block(%u: tensor<2x3x20xf32>, %k: tensor<3x5xf32>) -> tensor<2x3x20xf32> {
  // expected-error @+1 {{vector_width 8 needs a half-size complex FFT of at least vector_width^2 = 64 points (the last stages run on transposed vector_width x vector_width blocks); this op's real FFT has 32 points, its complex FFT 16}}
  %y = kjit.fft_conv %u, %k {kjit.config = #kjit.config<{vector_width = 8}>} : tensor<2x3x20xf32>, tensor<3x5xf32> -> tensor<2x3x20xf32>
  return %y : tensor<2x3x20xf32>
}

// -----

func.func @fft_radix(%u: tensor<2x3x100xf32>, %k: tensor<3x5xf32>) -> tensor<2x3x100xf32> {
  // expected-error @+1 {{radix must be 2, 4 or 8, got 16}}
  %y = kjit.fft_conv %u, %k {kjit.config = #kjit.config<{radix = 16}>} : tensor<2x3x100xf32>, tensor<3x5xf32> -> tensor<2x3x100xf32>
  return %y : tensor<2x3x100xf32>
}

// -----

func.func @fft_monarch(%u: tensor<2x3x100xf32>, %k: tensor<3x5xf32>) -> tensor<2x3x100xf32> {
  // expected-error @+1 {{monarch_n2 must be a power of two >= vector_width^2 = 16 (the inner transforms hold whole 4x4 blocks), got 24}}
  %y = kjit.fft_conv %u, %k {kjit.config = #kjit.config<{vector_width = 4, monarch_n2 = 24}>} : tensor<2x3x100xf32>, tensor<3x5xf32> -> tensor<2x3x100xf32>
  return %y : tensor<2x3x100xf32>
}

// -----

func.func @fft_rows(%u: tensor<2x3x100xf32>, %k: tensor<3x5xf32>) -> tensor<2x3x100xf32> {
  // expected-error @+1 {{rows_per_task must be in [1, 1024], got 0}}
  %y = kjit.fft_conv %u, %k {kjit.config = #kjit.config<{rows_per_task = 0}>} : tensor<2x3x100xf32>, tensor<3x5xf32> -> tensor<2x3x100xf32>
  return %y : tensor<2x3x100xf32>
}

// -----

func.func @fft_threads(%u: tensor<2x3x100xf32>, %k: tensor<3x5xf32>, %d: tensor<3xf32>) -> tensor<2x3x100xf32> {
  // expected-error @+1 {{threads must be in [1, 256], got 300}}
  %y = kjit.fft_conv %u, %k, %d {kjit.config = #kjit.config<{threads = 300}>} : tensor<2x3x100xf32>, tensor<3x5xf32>, tensor<3xf32> -> tensor<2x3x100xf32>
  return %y : tensor<2x3x100xf32>
}

// -----

func.func @fft_unknown(%u: tensor<2x3x100xf32>, %k: tensor<3x5xf32>) -> tensor<2x3x100xf32> {
  // expected-error @+1 {{unknown knob 'row_tile' for kjit.fft_conv (knobs: vector_width, radix, monarch_n2, rows_per_task, threads)}}
  %y = kjit.fft_conv %u, %k {kjit.config = #kjit.config<{row_tile = 4}>} : tensor<2x3x100xf32>, tensor<3x5xf32> -> tensor<2x3x100xf32>
  return %y : tensor<2x3x100xf32>
}

// -----

func.func @fft_not_integer(%u: tensor<2x3x100xf32>, %k: tensor<3x5xf32>) -> tensor<2x3x100xf32> {
  // expected-error @+1 {{knob 'radix' must be an integer}}
  %y = kjit.fft_conv %u, %k {kjit.config = #kjit.config<{radix = "four"}>} : tensor<2x3x100xf32>, tensor<3x5xf32> -> tensor<2x3x100xf32>
  return %y : tensor<2x3x100xf32>
}

// -----

func.func @fft_dynamic(%u: tensor<2x3x?xf32>, %k: tensor<3x5xf32>) -> tensor<2x3x?xf32> {
  // expected-error @+1 {{kjit.fft_conv: code generation needs static shapes}}
  %y = kjit.fft_conv %u, %k : tensor<2x3x?xf32>, tensor<3x5xf32> -> tensor<2x3x?xf32>
  return %y : tensor<2x3x?xf32>
}
