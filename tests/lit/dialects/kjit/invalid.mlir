// RUN: kjit-opt %s -split-input-file -verify-diagnostics

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects layout "nhwc" or "nchw"}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {layout = "nwhc"} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects a rank-4 input}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {} : (tensor<8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x9xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects a rank-3 filter}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {} : (tensor<1x8x8x4xf32>, tensor<4x9xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects 'strides' to have 2 entries, got 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {strides = array<i64: 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects every entry of 'strides' to be >= 1, got 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {strides = array<i64: 0, 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects 'dilations' to have 2 entries}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {dilations = array<i64: 1, 1, 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects 'padding' to have 4 entries}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {padding = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects every entry of 'padding' to be >= 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {padding = array<i64: -1, 0, 0, 0>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<5x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects the filter's channels (5) to equal the input's channels (4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {} : (tensor<1x8x8x4xf32>, tensor<5x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x0x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects a non-empty filter}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {} : (tensor<1x8x8x4xf32>, tensor<4x0x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>, %b: tensor<5xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects the bias size (5) to equal the channels (4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w, %b) {} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>, tensor<5xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>, %b: tensor<4x1xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects a rank-1 bias}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w, %b) {} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>, tensor<4x1xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x9x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects the dilated kernel height (9) to fit the padded input height (8)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {} : (tensor<1x8x8x4xf32>, tensor<4x9x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{expects the dilated kernel width (11) to fit the padded input width (8)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {dilations = array<i64: 1, 5>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x7x7x4xf32> {
  // expected-error @+2 {{inferred type(s) 'tensor<1x6x6x4xf32>' are incompatible with return type(s) of operation 'tensor<1x7x7x4xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x7x7x4xf32>
  return %y : tensor<1x7x7x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf16>, %w: tensor<4x3x3xf16>) -> tensor<1x6x6x4xf16> {
  // expected-error @+1 {{must be ranked tensor of 32-bit float values}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {} : (tensor<1x8x8x4xf16>, tensor<4x3x3xf16>) -> tensor<1x6x6x4xf16>
  return %y : tensor<1x6x6x4xf16>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{expects 'branch_channels' to have 3 entries}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{expects branch_channels to sum to at most the input's channels (8), got 12}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 4, 4, 4>} : (tensor<1x8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{expects 'w_square' to have 3 channels (branch_channels), got 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 3, 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{expects layout "nhwc" or "nchw"}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {layout = "hwc", branch_channels = array<i64: 2, 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x5xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{expects a square 'w_square', got 3x5}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3x5xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x2x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{expects 'w_band_w' to be g_w x 1 x B}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x2x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x3xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{expects 'w_band_h' to be g_h x B x 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x3xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x4x4xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{expects odd kernel sizes}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x4x4xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects odd kernel sizes, got 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 4>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects 'kernel_size' to have 1 entries, got 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 3, 3>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects kernel_size x dilation (5x4) to fit the input's spatial size (16)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 5>, dilation = array<i64: 4>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects every entry of 'dilation' to be >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 3>, dilation = array<i64: 0>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x15x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects 'k' to have q's shape; dim 2 is 15 vs 16}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 3>} : (tensor<1x2x16x8xf32>, tensor<1x2x15x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects 'v' to have q's rank (4), got 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 3>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<2x16x8xf32>) -> tensor<2x16x8xf32> {
  // expected-error @+2 {{expects q to be B x heads x L x D (rank 4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %q, %q) {kernel_size = array<i64: 3>} : (tensor<2x16x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
  return %y : tensor<2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x8x8x4xf32>) -> tensor<1x2x8x8x4xf32> {
  // expected-error @+2 {{supports is_causal only for 1-D attention}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %q, %q) {kernel_size = array<i64: 3, 3>, is_causal = true} : (tensor<1x2x8x8x4xf32>, tensor<1x2x8x8x4xf32>, tensor<1x2x8x8x4xf32>) -> tensor<1x2x8x8x4xf32>
  return %y : tensor<1x2x8x8x4xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects a positive scale}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v) {kernel_size = array<i64: 3>, scale = -1.0 : f32} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %r: tensor<2x4xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects rpb dim 1 to be 2k-1 = 5, got 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v, %r) {kernel_size = array<i64: 3>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<2x4xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %r: tensor<3x5xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects rpb's first dim to be heads (2), got 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v, %r) {kernel_size = array<i64: 3>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<3x5xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %r: tensor<5xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{expects rpb of rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %k, %v, %r) {kernel_size = array<i64: 3>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<5xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%u: tensor<2x3x64xf32>, %k: tensor<3x65xf32>) -> tensor<2x3x64xf32> {
  // expected-error @+2 {{expects Lk (65) <= L (64)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.fft_conv"(%u, %k) {} : (tensor<2x3x64xf32>, tensor<3x65xf32>) -> tensor<2x3x64xf32>
  return %y : tensor<2x3x64xf32>
}

// -----

func.func @f(%u: tensor<2x3x64xf32>, %k: tensor<4x16xf32>) -> tensor<2x3x64xf32> {
  // expected-error @+2 {{expects k's channels (4) to equal u's (3)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.fft_conv"(%u, %k) {} : (tensor<2x3x64xf32>, tensor<4x16xf32>) -> tensor<2x3x64xf32>
  return %y : tensor<2x3x64xf32>
}

// -----

func.func @f(%u: tensor<3x64xf32>, %k: tensor<3x16xf32>) -> tensor<3x64xf32> {
  // expected-error @+2 {{expects u to be B x C x L}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.fft_conv"(%u, %k) {} : (tensor<3x64xf32>, tensor<3x16xf32>) -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}

// -----

func.func @f(%u: tensor<2x3x64xf32>, %k: tensor<48xf32>) -> tensor<2x3x64xf32> {
  // expected-error @+2 {{expects k to be C x Lk}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.fft_conv"(%u, %k) {} : (tensor<2x3x64xf32>, tensor<48xf32>) -> tensor<2x3x64xf32>
  return %y : tensor<2x3x64xf32>
}

// -----

func.func @f(%u: tensor<2x3x64xf32>, %k: tensor<3x16xf32>, %d: tensor<4xf32>) -> tensor<2x3x64xf32> {
  // expected-error @+2 {{expects d to be a vector of C = 3 entries}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.fft_conv"(%u, %k, %d) {} : (tensor<2x3x64xf32>, tensor<3x16xf32>, tensor<4xf32>) -> tensor<2x3x64xf32>
  return %y : tensor<2x3x64xf32>
}

// -----

func.func @f(%u: tensor<2x3x64xf32>, %k: tensor<3x0xf32>) -> tensor<2x3x64xf32> {
  // expected-error @+2 {{expects a non-empty kernel}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.fft_conv"(%u, %k) {} : (tensor<2x3x64xf32>, tensor<3x0xf32>) -> tensor<2x3x64xf32>
  return %y : tensor<2x3x64xf32>
}

// -----

func.func @f(%x: tensor<2x13xf32>, %r: tensor<3x4x4xf32>, %l: tensor<4x3x3xf32>) -> tensor<2x13xf32> {
  // expected-error @+2 {{expects N (13) = m1 * m2 (12)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.butterfly_matmul"(%x, %r, %l) {} : (tensor<2x13xf32>, tensor<3x4x4xf32>, tensor<4x3x3xf32>) -> tensor<2x13xf32>
  return %y : tensor<2x13xf32>
}

// -----

func.func @f(%x: tensor<2x12xf32>, %r: tensor<3x4x5xf32>, %l: tensor<4x3x3xf32>) -> tensor<2x12xf32> {
  // expected-error @+2 {{expects r to be m1 x m2 x m2}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.butterfly_matmul"(%x, %r, %l) {} : (tensor<2x12xf32>, tensor<3x4x5xf32>, tensor<4x3x3xf32>) -> tensor<2x12xf32>
  return %y : tensor<2x12xf32>
}

// -----

func.func @f(%x: tensor<2x12xf32>, %r: tensor<3x4x4xf32>, %l: tensor<3x4x4xf32>) -> tensor<2x12xf32> {
  // expected-error @+2 {{expects l to be m2 x m1 x m1}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.butterfly_matmul"(%x, %r, %l) {} : (tensor<2x12xf32>, tensor<3x4x4xf32>, tensor<3x4x4xf32>) -> tensor<2x12xf32>
  return %y : tensor<2x12xf32>
}

// -----

func.func @f(%x: tensor<24xf32>, %r: tensor<3x4x4xf32>, %l: tensor<4x3x3xf32>) -> tensor<24xf32> {
  // expected-error @+2 {{expects x to be B x N}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.butterfly_matmul"(%x, %r, %l) {} : (tensor<24xf32>, tensor<3x4x4xf32>, tensor<4x3x3xf32>) -> tensor<24xf32>
  return %y : tensor<24xf32>
}

// -----

func.func @f(%x: tensor<2x12xf32>, %r: tensor<12x4xf32>, %l: tensor<4x3x3xf32>) -> tensor<2x12xf32> {
  // expected-error @+2 {{expects r (m1 x m2 x m2) and l (m2 x m1 x m1) of rank 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.butterfly_matmul"(%x, %r, %l) {} : (tensor<2x12xf32>, tensor<12x4xf32>, tensor<4x3x3xf32>) -> tensor<2x12xf32>
  return %y : tensor<2x12xf32>
}

// -----

func.func @f(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<8xf32>, %b: tensor<7x3xf32>) -> tensor<5x3xf32> {
  // expected-error @+2 {{expects col_idx (9) and values (8) to have the same length}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.spmm"(%rp, %ci, %v, %b) {} : (tensor<6xi32>, tensor<9xi32>, tensor<8xf32>, tensor<7x3xf32>) -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

// -----

func.func @f(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<21xf32>) -> tensor<5x3xf32> {
  // expected-error @+2 {{expects b to be K x N}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.spmm"(%rp, %ci, %v, %b) {} : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<21xf32>) -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

// -----

func.func @f(%rp: tensor<6x1xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x3xf32>) -> tensor<5x3xf32> {
  // expected-error @+2 {{expects rank-1 row_ptr, col_idx and values}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.spmm"(%rp, %ci, %v, %b) {} : (tensor<6x1xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x3xf32>) -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

// -----

func.func @f(%rp: tensor<0xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x3xf32>) -> tensor<5x3xf32> {
  // expected-error @+2 {{expects row_ptr to have M + 1 >= 1 entries}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.spmm"(%rp, %ci, %v, %b) {} : (tensor<0xi32>, tensor<9xi32>, tensor<9xf32>, tensor<7x3xf32>) -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

// -----

func.func @f(%rp: tensor<6xf32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %b: tensor<7x3xf32>) -> tensor<5x3xf32> {
  // expected-error @+1 {{must be ranked tensor of 32-bit signless integer values}}
  %y = "kjit.spmm"(%rp, %ci, %v, %b) {} : (tensor<6xf32>, tensor<9xi32>, tensor<9xf32>, tensor<7x3xf32>) -> tensor<5x3xf32>
  return %y : tensor<5x3xf32>
}

// -----

func.func @f(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %brp: tensor<8xi32>) {
  // expected-error @+2 {{expects 'shape' to have 3 entries, got 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %v) {shape = array<i64: 5, 7>} : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<9xf32>) -> (tensor<6xi32>, tensor<?xi32>, tensor<?xf32>)
  return
}

// -----

func.func @f(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %brp: tensor<8xi32>) {
  // expected-error @+2 {{expects b_row_ptr to have 7 entries (shape), got 8}}
  // expected-error @+1 {{failed to infer returned types}}
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %v) {shape = array<i64: 5, 6, 4>} : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<9xf32>) -> (tensor<6xi32>, tensor<?xi32>, tensor<?xf32>)
  return
}

// -----

func.func @f(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %brp: tensor<8xi32>) {
  // expected-error @+2 {{expects a_row_ptr to have 5 entries (shape), got 6}}
  // expected-error @+1 {{failed to infer returned types}}
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %v) {shape = array<i64: 4, 7, 4>} : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<9xf32>) -> (tensor<6xi32>, tensor<?xi32>, tensor<?xf32>)
  return
}

// -----

func.func @f(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %brp: tensor<8xi32>, %v2: tensor<3xf32>) {
  // expected-error @+2 {{expects b_col_idx and b_values to have the same length}}
  // expected-error @+1 {{failed to infer returned types}}
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %v2) {shape = array<i64: 5, 7, 4>} : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<3xf32>) -> (tensor<6xi32>, tensor<?xi32>, tensor<?xf32>)
  return
}

// -----

func.func @f(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %brp: tensor<8xi32>) {
  // expected-error @+2 {{expects every entry of 'shape' to be >= 0, got -1}}
  // expected-error @+1 {{failed to infer returned types}}
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %v) {shape = array<i64: 5, 7, -1>} : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<9xf32>) -> (tensor<6xi32>, tensor<?xi32>, tensor<?xf32>)
  return
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+1 {{config knob 'a' must be an integer or a string}}
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = #kjit.config<{a = 1.5 : f32}>} : tensor<1x8x8x4xf32>, tensor<4x3x3xf32> -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+1 {{'kjit.config' must be a #kjit.config attribute}}
  %y = kjit.depthwise_conv2d %x, %w {kjit.config = 3} : tensor<1x8x8x4xf32>, tensor<4x3x3xf32> -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

func.func @f(%x: f32) -> f32 {
  // expected-error @+1 {{'kjit.config' is only allowed on tunable kjit ops}}
  %y = arith.addf %x, %x {kjit.config = #kjit.config<{a = 1}>} : f32
  return %y : f32
}

// -----

func.func @f(%x: f32) -> f32 {
  // expected-error @+1 {{unknown kjit attribute 'kjit.bogus'}}
  %y = arith.addf %x, %x {kjit.bogus = 1} : f32
  return %y : f32
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x?x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{'kjit.depthwise_conv2d' expects a static filter size}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) : (tensor<1x8x8x4xf32>, tensor<4x?x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

// Dynamic spatial sizes are allowed by the verifier (code generation needs
// static shapes and says so).
func.func @f(%x: tensor<1x?x?x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x?x?x4xf32> {
  %y = "kjit.depthwise_conv2d"(%x, %w) : (tensor<1x?x?x4xf32>, tensor<4x3x3xf32>) -> tensor<1x?x?x4xf32>
  return %y : tensor<1x?x?x4xf32>
}

// -----

func.func @f(%x: tensor<1x0x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x0x8x8xf32> {
  // expected-error @+2 {{'kjit.inception_depthwise_conv2d' expects a non-empty input}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2, 2>} : (tensor<1x0x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x0x8x8xf32>
  return %y : tensor<1x0x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x?x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{'kjit.inception_depthwise_conv2d' expects 'w_square' to have a static shape}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x?x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{'kjit.inception_depthwise_conv2d' expects 'w_square' to be rank 3, got rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%x: tensor<8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<8x8x8xf32> {
  // expected-error @+2 {{'kjit.inception_depthwise_conv2d' expects a rank-4 input, got rank 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, 2, 2>} : (tensor<8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<8x8x8xf32>
  return %y : tensor<8x8x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{'kjit.inception_depthwise_conv2d' expects every entry of 'branch_channels' to be >= 0, got -2}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 2, -2, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%q: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{'kjit.window_attention' expects every entry of 'kernel_size' to be >= 1, got 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %q, %q) {kernel_size = array<i64: 0>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%x: tensor<2x12xf32>, %r: tensor<3x?x4xf32>, %l: tensor<4x3x3xf32>) -> tensor<2x12xf32> {
  // expected-error @+2 {{'kjit.butterfly_matmul' expects static r and l}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.butterfly_matmul"(%x, %r, %l) : (tensor<2x12xf32>, tensor<3x?x4xf32>, tensor<4x3x3xf32>) -> tensor<2x12xf32>
  return %y : tensor<2x12xf32>
}

// -----

func.func @f(%rp: tensor<6xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %brp: tensor<8xi32>, %bv: tensor<9x1xf32>) {
  // expected-error @+2 {{'kjit.spgemm' expects rank-1 b_row_ptr, b_col_idx and b_values}}
  // expected-error @+1 {{failed to infer returned types}}
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %bv) {shape = array<i64: 5, 7, 4>} : (tensor<6xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<9x1xf32>) -> (tensor<6xi32>, tensor<?xi32>, tensor<?xf32>)
  return
}

// -----
// Sizes beyond kjit's limits (KjitLimits.h). Each of the first four was
// accepted before: the size arithmetic wrapped around int64.

// (2^62 + 1) x (5 - 1) wrapped to 4: computed as dilation 1.
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x5x5xf32>) -> tensor<1x4x4x4xf32> {
  // expected-error @+2 {{'kjit.depthwise_conv2d' expects every entry of 'dilations' to be at most 2^31-1 (kjit's limit), got 4611686018427387905}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {dilations = array<i64: 4611686018427387905, 1>} : (tensor<1x8x8x4xf32>, tensor<4x5x5xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}

// -----

// 3 x (2^62 + 1) wrapped negative: the kernel read out of bounds.
func.func @f(%q: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{'kjit.window_attention' expects every entry of 'dilation' to be at most 2^31-1 (kjit's limit), got 4611686018427387905}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %q, %q) {kernel_size = array<i64: 3>, dilation = array<i64: 4611686018427387905>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

// h + pad_top + pad_bottom wrapped to 6.
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x4x6x4xf32> {
  // expected-error @+2 {{'kjit.depthwise_conv2d' expects every entry of 'padding' to be at most 2^31-1 (kjit's limit), got 9223372036854775807}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {padding = array<i64: 9223372036854775807, 9223372036854775807, 0, 0>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x4x6x4xf32>
  return %y : tensor<1x4x6x4xf32>
}

// -----

// shape[0] + 1 wrapped to the dynamic size.
func.func @f(%rp: tensor<?xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %brp: tensor<8xi32>) {
  // expected-error @+2 {{'kjit.spgemm' expects every entry of 'shape' to be at most 2^31-1 (kjit's limit), got 9223372036854775807}}
  // expected-error @+1 {{failed to infer returned types}}
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %v) {shape = array<i64: 9223372036854775807, 7, 4>} : (tensor<?xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<9xf32>) -> (tensor<?xi32>, tensor<?xi32>, tensor<?xf32>)
  return
}

// -----

// m1 x m2 wrapped to 0.
func.func @f(%x: tensor<2x0xf32>, %r: tensor<4294967296x4294967296x4294967296xf32>) -> tensor<2x0xf32> {
  // expected-error @+2 {{'kjit.butterfly_matmul' expects every dimension of 'r' to be at most 2^31-1 (kjit's limit), got 4294967296 in dim 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.butterfly_matmul"(%x, %r, %r) : (tensor<2x0xf32>, tensor<4294967296x4294967296x4294967296xf32>, tensor<4294967296x4294967296x4294967296xf32>) -> tensor<2x0xf32>
  return %y : tensor<2x0xf32>
}

// -----

// Within the limits every entry, but (m1 m2)^3 > 2^80: r is too large.
func.func @f(%x: tensor<2x?xf32>, %r: tensor<65536x65536x65536xf32>, %l: tensor<65536x65536x65536xf32>) -> tensor<2x?xf32> {
  // expected-error @+2 {{'kjit.butterfly_matmul' expects 'r' to have at most 2^40 elements (kjit's limit), got 281474976710656}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.butterfly_matmul"(%x, %r, %l) : (tensor<2x?xf32>, tensor<65536x65536x65536xf32>, tensor<65536x65536x65536xf32>) -> tensor<2x?xf32>
  return %y : tensor<2x?xf32>
}

// -----

// The largest dilation: kernel_size x dilation (3 x (2^31 - 1)) is computed
// exactly and does not fit.
func.func @f(%q: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  // expected-error @+2 {{'kjit.window_attention' expects kernel_size x dilation (3x2147483647) to fit the input's spatial size (16) in dim 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %q, %q) {kernel_size = array<i64: 3>, dilation = array<i64: 2147483647>} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %y : tensor<1x2x16x8xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x2147483647x3xf32>) -> tensor<1x6x6x4xf32> {
  // expected-error @+2 {{'kjit.depthwise_conv2d' expects the dilated kernel height (4611686011984936963) to fit the padded input height (8)}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {dilations = array<i64: 2147483647, 1>} : (tensor<1x8x8x4xf32>, tensor<4x2147483647x3xf32>) -> tensor<1x6x6x4xf32>
  return %y : tensor<1x6x6x4xf32>
}

// -----

// Padding within the limit, an output height beyond it.
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x?x6x4xf32> {
  // expected-error @+2 {{'kjit.depthwise_conv2d' expects every dimension of 'output' to be at most 2^31-1 (kjit's limit), got 4294967300 in dim 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) {padding = array<i64: 2147483647, 2147483647, 0, 0>} : (tensor<1x8x8x4xf32>, tensor<4x3x3xf32>) -> tensor<1x?x6x4xf32>
  return %y : tensor<1x?x6x4xf32>
}

// -----

func.func @f(%x: tensor<1x4294967296x1x4xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x?x?x4xf32> {
  // expected-error @+2 {{'kjit.depthwise_conv2d' expects every dimension of 'input' to be at most 2^31-1 (kjit's limit), got 4294967296 in dim 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.depthwise_conv2d"(%x, %w) : (tensor<1x4294967296x1x4xf32>, tensor<4x3x3xf32>) -> tensor<1x?x?x4xf32>
  return %y : tensor<1x?x?x4xf32>
}

// -----

func.func @f(%x: tensor<1x8x8x8xf32>, %a: tensor<2x3x3xf32>, %b: tensor<2x1x5xf32>, %c: tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{'kjit.inception_depthwise_conv2d' expects every entry of 'branch_channels' to be at most 2^31-1 (kjit's limit), got 9223372036854775807}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.inception_depthwise_conv2d"(%x, %a, %b, %c) {branch_channels = array<i64: 9223372036854775807, 9223372036854775807, 2>} : (tensor<1x8x8x8xf32>, tensor<2x3x3xf32>, tensor<2x1x5xf32>, tensor<2x5x1xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

func.func @f(%q: tensor<2048x1024x1024x1024xf32>) -> tensor<2048x1024x1024x1024xf32> {
  // expected-error @+2 {{'kjit.window_attention' expects 'q' to have at most 2^40 elements (kjit's limit), got 2199023255552}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.window_attention"(%q, %q, %q) {kernel_size = array<i64: 3>} : (tensor<2048x1024x1024x1024xf32>, tensor<2048x1024x1024x1024xf32>, tensor<2048x1024x1024x1024xf32>) -> tensor<2048x1024x1024x1024xf32>
  return %y : tensor<2048x1024x1024x1024xf32>
}

// -----

func.func @f(%u: tensor<2147483647x2147483647x2147483647xf32>, %k: tensor<2147483647x16xf32>) -> tensor<2147483647x2147483647x2147483647xf32> {
  // expected-error @+2 {{'kjit.fft_conv' expects 'u' to have at most 2^40 elements (kjit's limit), got more than 2^63}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.fft_conv"(%u, %k) : (tensor<2147483647x2147483647x2147483647xf32>, tensor<2147483647x16xf32>) -> tensor<2147483647x2147483647x2147483647xf32>
  return %y : tensor<2147483647x2147483647x2147483647xf32>
}

// -----

// row_ptr and b are small, the dense M x N output is not.
func.func @f(%rp: tensor<2097153xi32>, %ci: tensor<?xi32>, %v: tensor<?xf32>, %b: tensor<?x1048576xf32>) -> tensor<2097152x1048576xf32> {
  // expected-error @+2 {{'kjit.spmm' expects 'output' to have at most 2^40 elements (kjit's limit), got 2199023255552}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "kjit.spmm"(%rp, %ci, %v, %b) : (tensor<2097153xi32>, tensor<?xi32>, tensor<?xf32>, tensor<?x1048576xf32>) -> tensor<2097152x1048576xf32>
  return %y : tensor<2097152x1048576xf32>
}

// -----

// shape[0] + 1 = 2^31 row_ptr entries: more than an i32 row_ptr indexes.
func.func @f(%rp: tensor<?xi32>, %ci: tensor<9xi32>, %v: tensor<9xf32>, %brp: tensor<8xi32>) {
  // expected-error @+2 {{'kjit.spgemm' expects every dimension of 'c_row_ptr' to be at most 2^31-1 (kjit's limit), got 2147483648 in dim 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %c:3 = "kjit.spgemm"(%rp, %ci, %v, %brp, %ci, %v) {shape = array<i64: 2147483647, 7, 4>} : (tensor<?xi32>, tensor<9xi32>, tensor<9xf32>, tensor<8xi32>, tensor<9xi32>, tensor<9xf32>) -> (tensor<?xi32>, tensor<?xi32>, tensor<?xf32>)
  return
}
