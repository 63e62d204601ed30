// RUN: kjit-opt %s -split-input-file --kjit-generate-cpu-kernels | FileCheck %s

// 2-D, D = 7 with 8 lanes: the head dim is one masked vector. One thread:
// no OpenMP team. Per task, K of the task's key rows is transposed into a
// scratch [rows = min(9, 1 + 2*2*2)][D = 7][16 columns] (zeroed first) so
// that the keys of a window row are contiguous; a 4 x 16 buffer holds the
// probabilities. Queries run in blocks of 4 (the default query_block for
// one head-dim vector). A row of 3 keys is one chunk of 4 score lanes, so
// two key rows share one update (loop step 2, 8 lanes): scores are FMAs
// of a broadcast q element with a scratch vector (keys in lanes, no
// horizontal add), the rpb added per row, the rows packed by a shuffle,
// one max (tree), one vector exp (polynomial, no libm) that also gives the
// rescale factor in a spare lane, one sum, p * V FMAs. Freed at task end.
// CHECK-LABEL: func.func private @wa_2d
// CHECK-NOT: omp.parallel
// CHECK: vector.constant_mask [7] : vector<8xi1>
// CHECK: scf.for
// CHECK: memref.alloc() {{.*}} : memref<9x7x16xf32>
// CHECK: memref.alloc() {{.*}} : memref<4x16xf32>
// CHECK: vector.store {{.*}} : memref<9x7x16xf32>, vector<16xf32>
// CHECK: memref.load %arg1
// CHECK: memref.store {{.*}} : memref<9x7x16xf32>
// CHECK: scf.for {{.*}} step %c4
// CHECK: scf.for {{.*}} step %c2 iter_args({{.*}}) -> (f32, f32, vector<8xf32>, f32, f32, vector<8xf32>, f32, f32, vector<8xf32>, f32, f32, vector<8xf32>)
// CHECK: memref.load %arg0
// CHECK: vector.load %alloc[{{.*}}] : memref<9x7x16xf32>, vector<4xf32>
// CHECK: vector.fma {{.*}} : vector<4xf32>
// CHECK-NOT: vector.reduction <add>{{.*}}vector<8xf32>
// CHECK: vector.maskedload %arg3
// CHECK: vector.shuffle {{.*}} : vector<4xf32>, vector<4xf32>
// CHECK: vector.reduction <maxnumf>, %{{.*}} fastmath<nnan> : vector<8xf32> into f32
// CHECK: arith.bitcast %{{.*}} : vector<8xi32> to vector<8xf32>
// CHECK: vector.extract %{{.*}}[3] : f32 from vector<8xf32>
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<8xf32> into f32
// CHECK: vector.maskedload %arg2
// CHECK: vector.fma
// CHECK: scf.yield
// CHECK: arith.divf
// CHECK: vector.maskedstore %arg4
// CHECK: memref.dealloc
// CHECK: return
func.func private @wa_2d(memref<1x2x9x11x7xf32>, memref<1x2x9x11x7xf32>, memref<1x2x9x11x7xf32>, memref<2x5x5xf32>, memref<1x2x9x11x7xf32>) attributes {kjit.kernel_config = #kjit.config<{heads_per_task = 1 : i64, key_chunk = 3 : i64, query_tile = 11 : i64, query_tile_h = 1 : i64, threads = 1 : i64, vector_width = 8 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.window_attention", kjit.kernel_props = {dilation = array<i64: 2, 1>, is_causal = false, kernel_size = array<i64: 3, 3>}}

// -----

// 1-D causal, D = 32 in two full 16-lane vectors (no masks), two threads:
// an OpenMP team deals the tasks. The scratch row has k-1 = 12 leading
// pad columns per dilation group (keys before the group's start read
// zeros and are masked). Queries in blocks of 4. The 13 keys are two
// chunks of 5 (8 score lanes) in a loop (iter_args per query: max, sum,
// two accumulators) and a static tail of 3 (same 8 lanes); keys before the
// start of the group are masked with a lane compare and a select.
// CHECK-LABEL: func.func private @wa_causal
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: func.call @omp_get_thread_num()
// CHECK: memref.alloc() {{.*}} : memref<1x32x80xf32>
// CHECK-NOT: vector.maskedload
// CHECK: scf.for {{.*}} step %c4 {
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, vector<16xf32>, vector<16xf32>, f32, f32, vector<16xf32>, vector<16xf32>, f32, f32
// CHECK: vector.load %alloc[{{.*}}] : memref<1x32x80xf32>, vector<8xf32>
// CHECK: vector.fma {{.*}} : vector<8xf32>
// CHECK: arith.cmpi sge, {{.*}} : vector<8xi32>
// CHECK: arith.select
// CHECK: scf.yield
// CHECK: vector.load %alloc[{{.*}}] : memref<1x32x80xf32>, vector<8xf32>
// CHECK: vector.store %{{.*}}, %arg3
// CHECK: memref.dealloc
// CHECK: omp.terminator
func.func private @wa_causal(memref<2x3x40x32xf32>, memref<2x3x40x32xf32>, memref<2x3x40x32xf32>, memref<2x3x40x32xf32>) attributes {kjit.kernel_config = #kjit.config<{heads_per_task = 3 : i64, key_chunk = 5 : i64, query_tile = 8 : i64, query_tile_h = 1 : i64, threads = 2 : i64, vector_width = 16 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.window_attention", kjit.kernel_props = {dilation = array<i64: 2>, is_causal = true, kernel_size = array<i64: 13>}}
