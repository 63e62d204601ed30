// RUN: kjit-opt %s -split-input-file --kjit-generate-gpu-kernels | FileCheck %s

// 1-D, k 7, dilation 2, rpb: one block per (batch, head, 37-query tile), 64
// threads; q, accumulators, m, l and one staged key row (K and V over the
// tile's reachable columns, D + 1 stride) in one workgroup buffer. The key
// loop runs the online softmax with the hardware ex2.
// CHECK-LABEL: func.func private @wa_1d
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c6, {{[^)]*}}) threads({{[^)]*}}) in ({{[^)]*}} = %c64,
// CHECK-SAME: workgroup(%[[S:.*]] : memref<3700xf32, #gpu.address_space<workgroup>>)
// CHECK: memref.load %arg0
// CHECK: gpu.barrier
// CHECK: memref.load %arg1
// CHECK: memref.load %arg2
// CHECK: gpu.barrier
// CHECK: memref.load %arg3
// CHECK: arith.maximumf
// CHECK: ex2.approx.ftz.f32
// CHECK: gpu.barrier
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %arg4
func.func private @wa_1d(memref<2x3x37x24xf32>, memref<2x3x37x24xf32>, memref<2x3x37x24xf32>, memref<3x13xf32>, memref<2x3x37x24xf32>) attributes {kjit.kernel_config = #kjit.config<{kv_stage = 1 : i64, query_tile = 37 : i64, query_tile_h = 1 : i64, threads = 64 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.window_attention", kjit.kernel_props = {dilation = array<i64: 2>, is_causal = false, kernel_size = array<i64: 7>}}

// -----

// 2-D 5x5 with rpb and K/V read from global memory (kv_stage = 0): no
// staging barrier inside the key-row loop, one before the output
// (vector_width = 1: one scalar kernel, no alignment dispatch).
// CHECK-LABEL: func.func private @wa_2d_global
// CHECK: gpu.launch
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK-NOT: gpu.barrier
// CHECK: memref.load %arg1[{{.*}}] : memref<1x2x13x11x32xf32>
// CHECK: memref.load %arg3[{{.*}}] : memref<2x9x9xf32>
// CHECK: memref.load %arg2[{{.*}}] : memref<1x2x13x11x32xf32>
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %arg4
func.func private @wa_2d_global(memref<1x2x13x11x32xf32>, memref<1x2x13x11x32xf32>, memref<1x2x13x11x32xf32>, memref<2x9x9xf32>, memref<1x2x13x11x32xf32>) attributes {kjit.kernel_config = #kjit.config<{kv_stage = 0 : i64, query_tile = 4 : i64, query_tile_h = 4 : i64, threads = 32 : i64, vector_width = 1 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.window_attention", kjit.kernel_props = {is_causal = false, kernel_size = array<i64: 5, 5>}}

// -----

// Causal 1-D: min(idx + 1, k) keys per query (a dynamic trip count).
// CHECK-LABEL: func.func private @wa_causal
// CHECK: gpu.launch
// CHECK: arith.minsi
// CHECK: scf.for {{.*}} iter_args
// CHECK: ex2.approx.ftz.f32
func.func private @wa_causal(memref<1x2x50x16xf32>, memref<1x2x50x16xf32>, memref<1x2x50x16xf32>, memref<1x2x50x16xf32>) attributes {kjit.kernel_config = #kjit.config<{kv_stage = 1 : i64, query_tile = 50 : i64, query_tile_h = 1 : i64, threads = 64 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.window_attention", kjit.kernel_props = {is_causal = true, kernel_size = array<i64: 9>, scale = 3.000000e-01 : f32}}

// -----

// vector_width = 4 (D = 32), K/V from global memory: the host checks that
// q, k, v and out are 16-byte aligned and launches the vector kernel, else
// the scalar one. The vector kernel reads q, K and V and writes out as
// vector<4xf32> with alignment 16 (ld/st.global.v4); shared memory per lane.
// CHECK-LABEL: func.func private @wa_vec4
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK: arith.remui %{{.*}}, %c16
// CHECK: memref.extract_aligned_pointer_as_index %arg1
// CHECK: memref.extract_aligned_pointer_as_index %arg2
// CHECK: memref.extract_aligned_pointer_as_index %arg3
// CHECK: scf.if
// CHECK: gpu.launch
// CHECK: vector.load %arg0[{{.*}}] {alignment = 16 : i64} : memref<1x2x13x11x32xf32>, vector<4xf32>
// CHECK: vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<1x2x13x11x32xf32>, vector<4xf32>
// CHECK: vector.load %arg2[{{.*}}] {alignment = 16 : i64} : memref<1x2x13x11x32xf32>, vector<4xf32>
// CHECK: vector.from_elements
// CHECK: vector.store %{{.*}}, %arg3[{{.*}}] {alignment = 16 : i64} : memref<1x2x13x11x32xf32>, vector<4xf32>
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: gpu.launch
// CHECK-NOT: vector.load
// CHECK: memref.store %{{.*}}, %arg3
// CHECK: gpu.terminator
func.func private @wa_vec4(memref<1x2x13x11x32xf32>, memref<1x2x13x11x32xf32>, memref<1x2x13x11x32xf32>, memref<1x2x13x11x32xf32>) attributes {kjit.kernel_config = #kjit.config<{kv_stage = 0 : i64, query_tile = 4 : i64, query_tile_h = 4 : i64, threads = 32 : i64, vector_width = 4 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.window_attention", kjit.kernel_props = {is_causal = false, kernel_size = array<i64: 5, 5>}}
