// RUN: kjit-opt %s -split-input-file --kjit-generate-cpu-kernels | FileCheck %s

// 2-D, D = 7 with 8 lanes: the head dim is one masked vector. One thread:
// no OpenMP team. The key rows are a loop carrying the running max, the
// running sum and the accumulator; a key row of 3 keys is one chunk: three
// dot products (FMA + horizontal add), the rpb added, one vector exp
// (polynomial, no libm), one rescale, three p * V FMAs. No buffer is
// allocated: the attention matrix is never materialized.
// CHECK-LABEL: func.func private @wa_2d
// CHECK-NOT: omp.parallel
// CHECK-NOT: memref.alloc
// CHECK: vector.constant_mask [7] : vector<8xi1>
// CHECK: scf.for
// CHECK: vector.maskedload %arg0
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, vector<8xf32>)
// CHECK: vector.maskedload %arg1
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<8xf32> into f32
// CHECK: memref.load %arg3
// CHECK: vector.from_elements %{{.*}}, %{{.*}}, %{{.*}} : vector<3xf32>
// CHECK: vector.reduction <maxnumf>
// CHECK: arith.bitcast %{{.*}} : vector<3xi32> to vector<3xf32>
// CHECK: vector.maskedload %arg2
// CHECK: vector.fma
// CHECK: scf.yield
// CHECK: arith.divf
// CHECK: vector.maskedstore %arg4
// CHECK-NOT: memref.alloc
// CHECK: return
func.func private @wa_2d(memref<1x2x9x11x7xf32>, memref<1x2x9x11x7xf32>, memref<1x2x9x11x7xf32>, memref<2x5x5xf32>, memref<1x2x9x11x7xf32>) attributes {kjit.kernel_config = #kjit.config<{heads_per_task = 1 : i64, key_chunk = 3 : i64, query_tile = 11 : i64, query_tile_h = 1 : i64, threads = 1 : i64, vector_width = 8 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.window_attention", kjit.kernel_props = {dilation = array<i64: 2, 1>, is_causal = false, kernel_size = array<i64: 3, 3>}}

// -----

// 1-D causal, D = 32 in two full 16-lane vectors (no masks), two threads:
// an OpenMP team deals the tasks. The 13 keys are two chunks of 5 in a loop
// (iter_args: max, sum, two accumulators) and a static tail of 3; keys
// before the start of the group are masked with a select.
// CHECK-LABEL: func.func private @wa_causal
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: func.call @omp_get_thread_num()
// CHECK-NOT: vector.maskedload
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, vector<16xf32>, vector<16xf32>)
// CHECK: arith.cmpi sge
// CHECK: arith.select
// CHECK: vector.from_elements {{.*}} : vector<5xf32>
// CHECK: scf.yield
// CHECK: vector.from_elements {{.*}} : vector<3xf32>
// CHECK: vector.store %{{.*}}, %arg3
// CHECK: omp.terminator
func.func private @wa_causal(memref<2x3x40x32xf32>, memref<2x3x40x32xf32>, memref<2x3x40x32xf32>, memref<2x3x40x32xf32>) attributes {kjit.kernel_config = #kjit.config<{heads_per_task = 3 : i64, key_chunk = 5 : i64, query_tile = 8 : i64, query_tile_h = 1 : i64, threads = 2 : i64, vector_width = 16 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.window_attention", kjit.kernel_props = {dilation = array<i64: 2>, is_causal = true, kernel_size = array<i64: 13>}}
