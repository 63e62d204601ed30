// RUN: kjit-opt %s -split-input-file --kjit-generate-cpu-kernels | FileCheck %s

// One thread, "rows" partition, 2 vectors of 16 per register block, N = 37:
// the kernel validates row_ptr (start, monotone, end) and col_idx (an OR of
// "out of range" over all of it) before computing; a malformed CSR calls
// kjit_rt_report_error with the kind's code and returns. The product: one
// broadcast per nonzero, the two accumulators carried through the row's
// nonzeros, then a masked block for the 5-column tail.
// CHECK: func.func private @kjit_rt_report_error(i64, i64, i64)
// CHECK-LABEL: func.func private @k_one
// CHECK-NOT: omp.parallel
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (index)
// CHECK: arith.cmpi sgt
// CHECK: scf.if
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %false) -> (i1)
// CHECK: arith.cmpi uge
// CHECK: arith.ori
// CHECK: scf.if
// CHECK: arith.constant 104 : i64
// CHECK: func.call @kjit_rt_report_error
// CHECK: } else {
// CHECK: arith.constant 103 : i64
// CHECK: func.call @kjit_rt_report_error
// CHECK: arith.constant 102 : i64
// CHECK: func.call @kjit_rt_report_error
// CHECK: arith.constant 101 : i64
// CHECK: func.call @kjit_rt_report_error
// CHECK: scf.if
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %cst, %{{.*}} = %cst) -> (vector<16xf32>, vector<16xf32>)
// CHECK: vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: vector.load %arg3
// CHECK: vector.fma
// CHECK: vector.load %arg3
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %arg4
// CHECK: vector.store %{{.*}}, %arg4
// CHECK: vector.constant_mask [5] : vector<16xi1>
// CHECK: vector.maskedload %arg3
// CHECK: vector.maskedstore %arg4
// CHECK: return
func.func private @k_one(memref<6xi32>, memref<9xi32>, memref<9xf32>, memref<7x37xf32>, memref<5x37xf32>) attributes {kjit.kernel_config = #kjit.config<{n_block = 2 : i64, n_tile = 32 : i64, partition = "rows", prefetch_distance = 0 : i64, row_tile = 5 : i64, threads = 1 : i64, vector_width = 16 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.spmm", kjit.kernel_props = {}}

// -----

// Two threads, tasks balanced by nnz: each task finds its first and last row
// with a binary search (scf.while) over row_ptr[r] + r, inside an OpenMP
// team; b rows 4 nonzeros ahead are prefetched; N = 3 < one vector of 8, so
// the only block is one masked vector.
// CHECK-LABEL: func.func private @k_threads
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: func.call @omp_get_thread_num()
// CHECK: scf.while
// CHECK: scf.while
// CHECK: vector.constant_mask [3] : vector<8xi1>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (vector<8xf32>)
// CHECK: memref.prefetch %arg3
// CHECK: vector.maskedload %arg3
// CHECK: vector.fma
// CHECK: vector.maskedstore %arg4
// CHECK: omp.terminator
func.func private @k_threads(memref<12xi32>, memref<20xi32>, memref<20xf32>, memref<13x3xf32>, memref<11x3xf32>) attributes {kjit.kernel_config = #kjit.config<{n_block = 1 : i64, n_tile = 8 : i64, partition = "nnz", prefetch_distance = 4 : i64, row_tile = 3 : i64, threads = 2 : i64, vector_width = 8 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.spmm", kjit.kernel_props = {}}

// -----

// Column tasks on two threads with packed tiles: one 64-byte aligned buffer
// of 2 slots x K x n_tile before the team; each task (one column tile of 16,
// the last one 5 columns) copies its tile into the slot of its thread
// (task mod 2), the last vector masked with zeros past the columns, then
// runs all rows against the slot: unmasked loads from the slot, prefetches
// into it, and a masked store only for the 5-column tail.
// CHECK-LABEL: func.func private @k_cols_packed
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<2x13x16xf32>
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: arith.remui
// CHECK: scf.if
// CHECK: vector.constant_mask [5] : vector<8xi1>
// CHECK: vector.maskedload %arg3
// CHECK: vector.store %{{.*}}, %alloc
// CHECK: memref.prefetch %alloc
// CHECK: vector.load %alloc
// CHECK: vector.fma
// CHECK: vector.maskedstore %arg4
// CHECK: } else {
// CHECK: vector.load %arg3
// CHECK: vector.store %{{.*}}, %alloc
// CHECK: vector.load %alloc
// CHECK: vector.fma
// CHECK: omp.terminator
// CHECK: memref.dealloc %alloc
func.func private @k_cols_packed(memref<12xi32>, memref<40xi32>, memref<40xf32>, memref<13x37xf32>, memref<11x37xf32>) attributes {kjit.kernel_config = #kjit.config<{n_block = 1 : i64, n_tile = 16 : i64, pack_b = 1 : i64, partition = "cols", prefetch_distance = 2 : i64, row_tile = 3 : i64, threads = 2 : i64, vector_width = 8 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.spmm", kjit.kernel_props = {}}

// -----

// K blocks of 4 rows of b (K = 7: 2 blocks): after validation, a pass checks
// that every row is sorted by column (an OR of col[q] > col[q + 1]); sorted:
// a per-call M x (blocks + 1) segment table filled by one scan per row (an
// scf.while per block boundary), then blocks outer, rows inner, each block
// after the first starting from out (select of the loaded sums); unsorted:
// the unblocked code.
// CHECK-LABEL: func.func private @k_kblocks
// CHECK: arith.cmpi sgt, %{{.*}}, %{{.*}} : i32
// CHECK: arith.xori
// CHECK: scf.if
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<3x3xindex>
// CHECK: scf.while
// CHECK: memref.load %alloc
// CHECK: vector.load %arg4
// CHECK: arith.select %{{.*}}, %{{.*}}, %cst : vector<8xf32>
// CHECK: vector.fma
// CHECK: memref.dealloc %alloc
// CHECK: } else {
// CHECK-NOT: memref.load %alloc
// CHECK: vector.fma
func.func private @k_kblocks(memref<4xi32>, memref<5xi32>, memref<5xf32>, memref<7x8xf32>, memref<3x8xf32>) attributes {kjit.kernel_config = #kjit.config<{k_tile = 4 : i64, n_block = 1 : i64, n_tile = 8 : i64, pack_b = 0 : i64, partition = "rows", prefetch_distance = 0 : i64, row_tile = 3 : i64, threads = 1 : i64, vector_width = 8 : i64}>, kjit.kernel_num_inputs = 4 : i64, kjit.kernel_op = "kjit.spmm", kjit.kernel_props = {}}
