// RUN: kjit-opt %s -split-input-file --kjit-generate-gpu-kernels | FileCheck %s

// (vector_width = 1 unless stated: one kernel per launch, no alignment
// dispatch.)

// Fused: 4 rows per block, X and X1 (2 x 4 x 60 floats) in shared memory,
// two barriers, stage 2 stores y.
// CHECK-LABEL: func.func private @bf_fused
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c2, {{[^)]*}}) threads({{[^)]*}}) in ({{[^)]*}} = %c256,
// CHECK-SAME: workgroup(%[[S:.*]] : memref<480xf32, #gpu.address_space<workgroup>>)
// CHECK: memref.load %arg0
// CHECK: gpu.barrier
// CHECK: memref.load %arg1
// CHECK: gpu.barrier
// CHECK: memref.load %arg2
// CHECK: memref.store %{{.*}}, %arg3
// CHECK-NOT: gpu.launch
func.func private @bf_fused(memref<7x60xf32>, memref<5x12x12xf32>, memref<12x5x5xf32>, memref<7x60xf32>) attributes {kjit.kernel_config = #kjit.config<{chunk = 32 : i64, rows_per_block = 4 : i64, threads = 256 : i64, vector_width = 1 : i64, variant = "fused"}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.butterfly_matmul", kjit.kernel_props = {}}

// -----

// Split (N = 8192): two launches; the first writes X1 into y, the second
// reads X1's columns back from y and overwrites them.
// CHECK-LABEL: func.func private @bf_split
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c6,
// CHECK-SAME: workgroup(%{{.*}} : memref<4096xf32, #gpu.address_space<workgroup>>)
// CHECK: memref.load %arg0
// CHECK: memref.load %arg1
// CHECK: memref.store %{{.*}}, %arg3
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c12,
// CHECK-SAME: workgroup(%{{.*}} : memref<2048xf32, #gpu.address_space<workgroup>>)
// CHECK: memref.load %arg3
// CHECK: gpu.barrier
// CHECK: memref.load %arg2
// CHECK: memref.store %{{.*}}, %arg3
func.func private @bf_split(memref<3x8192xf32>, memref<64x128x128xf32>, memref<128x64x64xf32>, memref<3x8192xf32>) attributes {kjit.kernel_config = #kjit.config<{chunk = 32 : i64, rows_per_block = 1 : i64, threads = 256 : i64, vector_width = 1 : i64, variant = "split"}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.butterfly_matmul", kjit.kernel_props = {}}

// -----

// Fused with vector_width = 4 (m2 = 12): x and y are checked for 16-byte
// alignment on the host; the vector kernel reads x 4 floats per access and
// gives each stage-2 item 4 adjacent outputs (4 accumulators, one store);
// else the scalar kernel.
// CHECK-LABEL: func.func private @bf_fused_vec4
// CHECK: memref.extract_aligned_pointer_as_index %arg0
// CHECK: memref.extract_aligned_pointer_as_index %arg3
// CHECK: scf.if
// CHECK: gpu.launch
// CHECK: vector.load %arg0[{{.*}}] {alignment = 16 : i64} : memref<7x60xf32>, vector<4xf32>
// CHECK: gpu.barrier
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32)
// CHECK: vector.store %{{.*}}, %arg3[{{.*}}] {alignment = 16 : i64} : memref<7x60xf32>, vector<4xf32>
// CHECK: } else {
// CHECK: gpu.launch
// CHECK-NOT: vector.load
// CHECK: memref.store %{{.*}}, %arg3
func.func private @bf_fused_vec4(memref<7x60xf32>, memref<5x12x12xf32>, memref<12x5x5xf32>, memref<7x60xf32>) attributes {kjit.kernel_config = #kjit.config<{chunk = 32 : i64, rows_per_block = 4 : i64, threads = 256 : i64, variant = "fused", vector_width = 4 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.butterfly_matmul", kjit.kernel_props = {}}
