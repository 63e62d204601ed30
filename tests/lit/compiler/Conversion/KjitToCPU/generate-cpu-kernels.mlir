// RUN: kjit-opt %s -split-input-file --kjit-generate-cpu-kernels | FileCheck %s

// One output row per pass, 4 columns in registers, one thread, NHWC with
// a whole vector of channels: the kernel packs the filter and runs vector
// FMAs on the input read in place (no packed tile), with the four
// accumulators carried through the filter loops.
// CHECK-LABEL: func.func private @k_nhwc
// CHECK-NOT: omp.parallel
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<1x3x3x16xf32>
// CHECK-NOT: memref.alloc
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.load %arg0
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %arg2
// CHECK: memref.dealloc
// CHECK: return
func.func private @k_nhwc(memref<1x7x7x16xf32>, memref<16x3x3xf32>, memref<1x5x5x16xf32>) attributes {kjit.kernel_config = #kjit.config<{kw_unroll = 1 : i64, oh_block = 1 : i64, oh_tile = 5 : i64, ow_block = 4 : i64, task_order = "c_outer", threads = 1 : i64, vector_width = 16 : i64}>, kjit.kernel_num_inputs = 2 : i64, kjit.kernel_op = "kjit.depthwise_conv2d", kjit.kernel_props = {dilations = array<i64: 1, 1>, layout = "nhwc", padding = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>}}

// -----

// Two threads: an OpenMP team deals the tasks round-robin. Channels (5) are
// not a multiple of the vector width, so loads and stores are masked.
// CHECK-LABEL: func.func private @k_threads
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: func.call @omp_get_thread_num()
// CHECK: vector.create_mask
// CHECK: vector.maskedload
// CHECK: vector.maskedstore
// CHECK: omp.terminator
func.func private @k_threads(memref<2x9x9x5xf32>, memref<5x3x3xf32>, memref<5xf32>, memref<2x9x9x5xf32>) attributes {kjit.kernel_config = #kjit.config<{kw_unroll = 2 : i64, oh_block = 2 : i64, oh_tile = 4 : i64, ow_block = 3 : i64, task_order = "h_outer", threads = 2 : i64, vector_width = 8 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.depthwise_conv2d", kjit.kernel_props = {dilations = array<i64: 1, 1>, layout = "nhwc", padding = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}}

// -----

// NCHW goes through 16x16 transposes in and out of the channel-blocked tile.
// CHECK-LABEL: func.func private @k_nchw
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<16x16xf32> to vector<16x16xf32>
func.func private @k_nchw(memref<1x16x20x20xf32>, memref<16x5x5xf32>, memref<1x16x16x16xf32>) attributes {kjit.kernel_config = #kjit.config<{kw_unroll = 1 : i64, oh_block = 1 : i64, oh_tile = 16 : i64, ow_block = 8 : i64, task_order = "c_outer", threads = 1 : i64, vector_width = 16 : i64}>, kjit.kernel_num_inputs = 2 : i64, kjit.kernel_op = "kjit.depthwise_conv2d", kjit.kernel_props = {dilations = array<i64: 1, 1>, layout = "nchw", padding = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>}}

// -----

// The Inception mixer: one task loop dispatching to the three branches and
// the identity copy.
// CHECK-LABEL: func.func private @k_inception
// CHECK: scf.if
// CHECK: vector.fma
// CHECK: return
func.func private @k_inception(memref<1x8x8x24xf32>, memref<4x3x3xf32>, memref<4x1x5xf32>, memref<4x5x1xf32>, memref<1x8x8x24xf32>) attributes {kjit.kernel_config = #kjit.config<{kw_unroll = 1 : i64, oh_block = 1 : i64, oh_tile = 8 : i64, ow_block = 8 : i64, task_order = "c_outer", threads = 1 : i64, vector_width = 8 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.inception_depthwise_conv2d", kjit.kernel_props = {branch_channels = array<i64: 4, 4, 4>, layout = "nhwc"}}
