// RUN: kjit-opt %s -split-input-file -verify-diagnostics --kjit-attach-configs="cpu=haswell features=+avx,+avx2,+fma"

func.func @too_wide(%q: tensor<1x2x9x11x8xf32>) -> tensor<1x2x9x11x8xf32> {
  // expected-error @+1 {{vector_width 16 needs 512-bit vectors; the target has 256}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 3, 3>, kjit.config = #kjit.config<{vector_width = 16}>} : tensor<1x2x9x11x8xf32>, tensor<1x2x9x11x8xf32>, tensor<1x2x9x11x8xf32> -> tensor<1x2x9x11x8xf32>
  return %y : tensor<1x2x9x11x8xf32>
}

// -----

func.func @unknown(%q: tensor<1x2x9x11x8xf32>) -> tensor<1x2x9x11x8xf32> {
  // expected-error @+1 {{unknown knob 'ow_block' for window attention}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 3, 3>, kjit.config = #kjit.config<{ow_block = 4}>} : tensor<1x2x9x11x8xf32>, tensor<1x2x9x11x8xf32>, tensor<1x2x9x11x8xf32> -> tensor<1x2x9x11x8xf32>
  return %y : tensor<1x2x9x11x8xf32>
}

// -----

func.func @chunk(%q: tensor<1x2x9x11x8xf32>) -> tensor<1x2x9x11x8xf32> {
  // expected-error @+1 {{key_chunk must be in [1, 16], got 17}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 3, 3>, kjit.config = #kjit.config<{key_chunk = 17}>} : tensor<1x2x9x11x8xf32>, tensor<1x2x9x11x8xf32>, tensor<1x2x9x11x8xf32> -> tensor<1x2x9x11x8xf32>
  return %y : tensor<1x2x9x11x8xf32>
}

// -----

func.func @heads(%q: tensor<1x4x9x11x8xf32>) -> tensor<1x4x9x11x8xf32> {
  // expected-error @+1 {{heads_per_task 3 must divide heads (4)}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 3, 3>, kjit.config = #kjit.config<{heads_per_task = 3}>} : tensor<1x4x9x11x8xf32>, tensor<1x4x9x11x8xf32>, tensor<1x4x9x11x8xf32> -> tensor<1x4x9x11x8xf32>
  return %y : tensor<1x4x9x11x8xf32>
}

// -----

func.func @rows_1d(%q: tensor<1x2x20x8xf32>) -> tensor<1x2x20x8xf32> {
  // expected-error @+1 {{query_tile_h applies to 2-D attention only; it must be 1 for 1-D, got 4}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 5>, is_causal = true, kjit.config = #kjit.config<{query_tile_h = 4}>} : tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32> -> tensor<1x2x20x8xf32>
  return %y : tensor<1x2x20x8xf32>
}

// -----

func.func @tile(%q: tensor<1x2x20x8xf32>) -> tensor<1x2x20x8xf32> {
  // expected-error @+1 {{query_tile must be >= 1, got 0}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 5>, kjit.config = #kjit.config<{query_tile = 0}>} : tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32> -> tensor<1x2x20x8xf32>
  return %y : tensor<1x2x20x8xf32>
}

// -----

func.func @string(%q: tensor<1x2x20x8xf32>) -> tensor<1x2x20x8xf32> {
  // expected-error @+1 {{knob 'threads' must be an integer}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 5>, kjit.config = #kjit.config<{threads = "two"}>} : tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32> -> tensor<1x2x20x8xf32>
  return %y : tensor<1x2x20x8xf32>
}

// -----

// The default config is legal on a 256-bit target and complete.
func.func @default(%q: tensor<1x2x20x7xf32>) -> tensor<1x2x20x7xf32> {
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 5>} : tensor<1x2x20x7xf32>, tensor<1x2x20x7xf32>, tensor<1x2x20x7xf32> -> tensor<1x2x20x7xf32>
  return %y : tensor<1x2x20x7xf32>
}

// -----

func.func @block(%q: tensor<1x2x9x11x8xf32>) -> tensor<1x2x9x11x8xf32> {
  // expected-error @+1 {{query_block must be in [1, 8], got 9}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 3, 3>, kjit.config = #kjit.config<{query_block = 9}>} : tensor<1x2x9x11x8xf32>, tensor<1x2x9x11x8xf32>, tensor<1x2x9x11x8xf32> -> tensor<1x2x9x11x8xf32>
  return %y : tensor<1x2x9x11x8xf32>
}

// -----

// The transposed-K scratch of a task (query_tile_h + 2 (kh-1) dh rows, at
// most h, x D x columns) is bounded.
func.func @scratch(%q: tensor<1x1x600x600x64xf32>) -> tensor<1x1x600x600x64xf32> {
  // expected-error @+1 {{query_tile_h 600 needs a 95846400-byte K scratch per task (600 rows x D 64 x 624 columns); the limit is 67108864}}
  %y = kjit.window_attention %q, %q, %q {kernel_size = array<i64: 3, 31>, dilation = array<i64: 1, 2>, kjit.config = #kjit.config<{query_tile_h = 600, vector_width = 8}>} : tensor<1x1x600x600x64xf32>, tensor<1x1x600x600x64xf32>, tensor<1x1x600x600x64xf32> -> tensor<1x1x600x600x64xf32>
  return %y : tensor<1x1x600x600x64xf32>
}
