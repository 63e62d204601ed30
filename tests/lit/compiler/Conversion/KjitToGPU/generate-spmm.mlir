// RUN: kjit-opt %s -split-input-file --kjit-generate-gpu-kernels | FileCheck %s

// 8 rows per block (256 threads / 32 per row) x 64-column tiles; a row's
// row_ptr pair is checked (codes 101, 102, 103) and each column (104);
// a defect claims the device error record with an atomic add and the
// first claimant writes code, a, b. Two accumulators per thread.
// CHECK: memref.global @kjit_gpu_error : memref<4xi64> = dense<0> {alignment = 8 : i64}
// CHECK-LABEL: func.func private @spmm
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c2, {{[^)]*}}) threads({{[^)]*}}) in ({{[^)]*}} = %c256,
// CHECK: memref.load %arg0
// CHECK: memref.get_global @kjit_gpu_error
// CHECK: memref.atomic_rmw addi
// CHECK: arith.constant 101 : i64
// CHECK: arith.constant 102 : i64
// CHECK: arith.constant 103 : i64
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32)
// CHECK: memref.load %arg1
// CHECK: arith.constant 104 : i64
// CHECK: memref.load %arg2
// CHECK: memref.load %arg3
// CHECK: memref.store %{{.*}}, %arg4
func.func private @spmm(memref<14xi32>, memref<40xi32>, memref<40xf32>, memref<17x37xf32>, memref<13x37xf32>) attributes {kjit.kernel_config = #kjit.config<{col_threads = 32 : i64, cols_per_thread = 2 : i64, threads = 256 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.spmm", kjit.kernel_props = {}}

// -----

// vector_width = 4 (N = 40): each of a thread's 2 column slots is 4 adjacent
// columns: one aligned vector<4xf32> load of b per nonzero and slot, 8
// accumulators, one vector store per slot; b and out are checked for
// 16-byte alignment on the host (else the scalar kernel).
// CHECK-LABEL: func.func private @spmm_vec4
// CHECK: memref.extract_aligned_pointer_as_index %arg3
// CHECK: memref.extract_aligned_pointer_as_index %arg4
// CHECK: scf.if
// CHECK: gpu.launch
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: vector.load %arg3[{{.*}}] {alignment = 16 : i64} : memref<17x40xf32>, vector<4xf32>
// CHECK: vector.load %arg3[{{.*}}] {alignment = 16 : i64} : memref<17x40xf32>, vector<4xf32>
// CHECK: vector.store %{{.*}}, %arg4[{{.*}}] {alignment = 16 : i64} : memref<13x40xf32>, vector<4xf32>
// CHECK: } else {
// CHECK: gpu.launch
// CHECK-NOT: vector.load
// CHECK: memref.store %{{.*}}, %arg4
func.func private @spmm_vec4(memref<14xi32>, memref<40xi32>, memref<40xf32>, memref<17x40xf32>, memref<13x40xf32>) attributes {kjit.kernel_config = #kjit.config<{col_threads = 8 : i64, cols_per_thread = 2 : i64, threads = 64 : i64, vector_width = 4 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.spmm", kjit.kernel_props = {}}
