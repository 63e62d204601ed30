// RUN: kjit-opt %s -split-input-file --kjit-generate-gpu-kernels | FileCheck %s

// NCHW, 5x5, bias: one launch; the halo tile (12 x 12 x 32 floats) staged in
// a workgroup buffer with the image column fastest, one barrier, then the
// taps read shared memory; outputs are stored at (n, c, h, w).
// CHECK-LABEL: func.func private @dw_nchw
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c9, {{[^)]*}}) threads({{[^)]*}}) in ({{[^)]*}} = %c256
// CHECK-SAME: workgroup(%[[S:.*]] : memref<4608xf32, #gpu.address_space<workgroup>>)
// CHECK: scf.for
// CHECK: memref.load %arg0[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<1x20x17x19xf32>
// CHECK: memref.store %{{.*}}, %[[S]]
// CHECK: gpu.barrier
// CHECK: memref.load %arg2
// CHECK: memref.load %[[S]]
// CHECK: memref.load %arg1
// CHECK: memref.store %{{.*}}, %arg3
// CHECK: gpu.terminator
func.func private @dw_nchw(memref<1x20x17x19xf32>, memref<20x5x5xf32>, memref<20xf32>, memref<1x20x17x19xf32>) attributes {kjit.kernel_config = #kjit.config<{block_h = 8 : i64, block_w = 8 : i64, channels_per_block = 32 : i64, smem_stage = 1 : i64, threads = 256 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.depthwise_conv2d", kjit.kernel_props = {dilations = array<i64: 1, 1>, layout = "nchw", padding = array<i64: 2, 2, 2, 2>, strides = array<i64: 1, 1>}}

// -----

// The Inception mixer: one launch whose blocks are split by range between
// the three branches (each with its own filter) and the identity copy.
// CHECK-LABEL: func.func private @inception
// CHECK: gpu.launch
// CHECK-SAME: workgroup(%[[S:.*]] : memref<
// CHECK: scf.if
// CHECK: gpu.barrier
// CHECK: memref.load %arg1
// CHECK: scf.if
// CHECK: gpu.barrier
// CHECK: memref.load %arg2
// CHECK: scf.if
// CHECK: gpu.barrier
// CHECK: memref.load %arg3
// CHECK: scf.if
// CHECK: memref.load %arg0
// CHECK: memref.store %{{.*}}, %arg4
// CHECK: gpu.terminator
func.func private @inception(memref<2x13x15x40xf32>, memref<8x3x3xf32>, memref<8x1x11xf32>, memref<8x11x1xf32>, memref<2x13x15x40xf32>) attributes {kjit.kernel_config = #kjit.config<{block_h = 8 : i64, block_w = 8 : i64, channels_per_block = 8 : i64, smem_stage = 1 : i64, threads = 256 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.inception_depthwise_conv2d", kjit.kernel_props = {branch_channels = array<i64: 8, 8, 8>, layout = "nhwc"}}

// -----

// A 51x51 kernel: a 2x2 output tile x 4 channels stages a 52x52x4 halo
// (43264 bytes, under 48 KiB); a 4x4 tile would not fit (see
// attach-configs-gpu.mlir).
// CHECK-LABEL: func.func private @dw_k51
// CHECK: workgroup(%{{.*}} : memref<10816xf32, #gpu.address_space<workgroup>>)
// CHECK: gpu.barrier
func.func private @dw_k51(memref<1x64x64x16xf32>, memref<16x51x51xf32>, memref<1x64x64x16xf32>) attributes {kjit.kernel_config = #kjit.config<{block_h = 2 : i64, block_w = 2 : i64, channels_per_block = 4 : i64, smem_stage = 1 : i64, threads = 32 : i64}>, kjit.kernel_num_inputs = 2 : i64, kjit.kernel_op = "kjit.depthwise_conv2d", kjit.kernel_props = {dilations = array<i64: 1, 1>, layout = "nhwc", padding = array<i64: 25, 25, 25, 25>, strides = array<i64: 1, 1>}}

// -----

// NHWC with vector_width = 4 (24 channels, 8 per block): the host launches
// the vector kernel when input, output and bias are 16-byte aligned, else
// the scalar one. The halo copy reads 4 channels with one aligned
// vector.load and stores them to shared memory per lane; each thread keeps
// 4 accumulators (bias as a vector), reads 4 filter taps, and stores its 4
// outputs with one vector.store.
// CHECK-LABEL: func.func private @dw_vec4
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK: memref.extract_aligned_pointer_as_index %arg3
// CHECK: memref.extract_aligned_pointer_as_index %arg2
// CHECK: scf.if
// CHECK: gpu.launch
// CHECK: vector.load %arg0[{{.*}}] {alignment = 16 : i64} : memref<1x9x11x24xf32>, vector<4xf32>
// CHECK-COUNT-4: memref.store %{{.*}}, %{{.*}} : memref<288xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: vector.load %arg2[{{.*}}] {alignment = 16 : i64} : memref<24xf32>, vector<4xf32>
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32)
// CHECK-COUNT-4: memref.load %arg1
// CHECK: vector.store %{{.*}}, %arg3[{{.*}}] {alignment = 16 : i64} : memref<1x9x11x24xf32>, vector<4xf32>
// CHECK: } else {
// CHECK: gpu.launch
// CHECK-NOT: vector.load
// CHECK: memref.store %{{.*}}, %arg3
func.func private @dw_vec4(memref<1x9x11x24xf32>, memref<24x3x3xf32>, memref<24xf32>, memref<1x9x11x24xf32>) attributes {kjit.kernel_config = #kjit.config<{block_h = 4 : i64, block_w = 4 : i64, channels_per_block = 8 : i64, smem_stage = 1 : i64, threads = 64 : i64, vector_width = 4 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.depthwise_conv2d", kjit.kernel_props = {dilations = array<i64: 1, 1>, layout = "nhwc", padding = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}}

// -----

// vector_width = 2 without staging: each tap reads 2 channels of the input
// (guarded: zeros outside the image) with one vector<2xf32> load.
// CHECK-LABEL: func.func private @dw_vec2_global
// CHECK: scf.if
// CHECK: gpu.launch
// CHECK: scf.if %{{.*}} -> (f32, f32)
// CHECK: vector.load %arg0[{{.*}}] {alignment = 8 : i64} : memref<1x7x7x6xf32>, vector<2xf32>
// CHECK: vector.store %{{.*}}, %arg2[{{.*}}] {alignment = 8 : i64} : memref<1x7x7x6xf32>, vector<2xf32>
func.func private @dw_vec2_global(memref<1x7x7x6xf32>, memref<6x3x3xf32>, memref<1x7x7x6xf32>) attributes {kjit.kernel_config = #kjit.config<{block_h = 2 : i64, block_w = 4 : i64, channels_per_block = 2 : i64, smem_stage = 0 : i64, threads = 32 : i64, vector_width = 2 : i64}>, kjit.kernel_num_inputs = 2 : i64, kjit.kernel_op = "kjit.depthwise_conv2d", kjit.kernel_props = {dilations = array<i64: 1, 1>, layout = "nhwc", padding = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}}
