// RUN: kjit-opt %s -split-input-file --kjit-generate-cpu-kernels | FileCheck %s

// Monarch product, 5 rows of N = 7 x 5, one thread, 8 rows per vector, one
// task of 8 rows: the task packs the rows transposed (8x8 transposes, N = 35
// is not a multiple of 8, so the last chunk is a masked load), runs the two
// block-matmul stages with 3 x 2 accumulators carried through the reduction
// loop (vector.fma with a broadcast weight), and transposes back into y; rows
// 5..7 of the tile are never stored.
// CHECK-LABEL: func.func private @bfly
// CHECK-NOT: omp.parallel
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<35x16xf32>
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<35x16xf32>
// CHECK: vector.maskedload %arg0
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<8x8xf32> to vector<8x8xf32>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: memref.load %arg1
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: memref.load %arg2
// CHECK: vector.fma
// CHECK: scf.if
// CHECK: vector.maskedstore %arg3
// CHECK: memref.dealloc
// CHECK: return
func.func private @bfly(memref<5x35xf32>, memref<7x5x5xf32>, memref<5x7x7xf32>, memref<5x35xf32>) attributes {kjit.kernel_config = #kjit.config<{block_tile = 3 : i64, row_block = 2 : i64, row_tile = 16 : i64, threads = 1 : i64, transpose = "fused", vector_width = 8 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.butterfly_matmul", kjit.kernel_props = {}}

// -----

// Two threads on 40 rows (3 tasks of 16): an OpenMP team deals the tasks;
// transpose = "separate" copies X1 into X2 = X1^T before stage 2.
// CHECK-LABEL: func.func private @bfly_threads
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: func.call @omp_get_thread_num()
// CHECK: vector.fma
// CHECK: vector.load %{{.*}} : memref<64x16xf32>, vector<16xf32>
// CHECK: vector.store %{{.*}} : memref<64x16xf32>, vector<16xf32>
// CHECK: vector.fma
// CHECK: omp.terminator
func.func private @bfly_threads(memref<40x64xf32>, memref<8x8x8xf32>, memref<8x8x8xf32>, memref<40x64xf32>) attributes {kjit.kernel_config = #kjit.config<{block_tile = 8 : i64, row_block = 1 : i64, row_tile = 16 : i64, threads = 2 : i64, transpose = "separate", vector_width = 16 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.butterfly_matmul", kjit.kernel_props = {}}

// -----

// weights = "packed": before the tasks, r and l (8 blocks of 8 x 8 each) are
// copied into 1-D buffers, per tile of block_tile = 3 outputs k-major: 3
// tiles x 3 slots x 8 = 72 floats a block, 576 in all; the micro-tile's
// broadcasts read the packed copies; both are freed after the tasks.
// CHECK-LABEL: func.func private @bfly_packed
// CHECK: %[[RP:.*]] = memref.alloc() {alignment = 64 : i64} : memref<576xf32>
// CHECK: memref.load %arg1
// CHECK: memref.store %{{.*}}, %[[RP]]
// CHECK: %[[LP:.*]] = memref.alloc() {alignment = 64 : i64} : memref<576xf32>
// CHECK: memref.load %arg2
// CHECK: memref.store %{{.*}}, %[[LP]]
// CHECK: memref.load %[[RP]]
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: memref.load %[[LP]]
// CHECK: vector.fma
// CHECK: memref.dealloc %[[RP]]
// CHECK: memref.dealloc %[[LP]]
// CHECK: return
func.func private @bfly_packed(memref<40x64xf32>, memref<8x8x8xf32>, memref<8x8x8xf32>, memref<40x64xf32>) attributes {kjit.kernel_config = #kjit.config<{block_tile = 3 : i64, row_block = 2 : i64, row_tile = 16 : i64, threads = 1 : i64, transpose = "fused", vector_width = 8 : i64, weights = "packed"}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.butterfly_matmul", kjit.kernel_props = {}}
