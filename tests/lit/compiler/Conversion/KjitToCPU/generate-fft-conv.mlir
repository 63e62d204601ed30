// RUN: kjit-opt %s -split-input-file --kjit-generate-cpu-kernels | FileCheck %s

// fft_conv, B = 3, C = 5, L = 21, Lk = 7 with d: real FFT size n = 32
// (>= 27), as a half-size complex FFT of m = 16 points; vector_width 4,
// radix 4, 2 rows per task, one thread. Compile-time tables (stage
// twiddles, the pair pass's twiddles and the first block's partners) are
// constant globals; the kernel spectra, a copy of k and one state word per
// channel are zero-initialized mutable globals. Per row: a read on the
// channel's state (atomic add), a bitwise compare of k with the copy (xor /
// or, reduction), on a miss the spectrum into the task's scratch and a
// publish attempt (add -2^40, copy, add back), the spectrum picked by
// scf.if (subview of the cache or the scratch), u loaded as even/odd
// lanes, forward stages, transposed block, pair pass (mirrored vectors,
// then the first block point by point), inverse, and y interleaved back
// with d u and a masked tail.
// CHECK-DAG: memref.global "private" @fft__fft_spec_re : memref<5x16xf32> = dense<0.000000e+00>
// CHECK-DAG: memref.global "private" @fft__fft_spec_im : memref<5x16xf32> = dense<0.000000e+00>
// CHECK-DAG: memref.global "private" @fft__fft_kcopy : memref<5x7xf32> = dense<0.000000e+00>
// CHECK-DAG: memref.global "private" @fft__fft_state : memref<5xi64> = dense<0>
// CHECK-DAG: memref.global "private" constant @fft__fft_tw_re : memref<16xf32>
// CHECK-DAG: memref.global "private" constant @fft__fft_pw_re : memref<8xf32>
// The point-by-point positions [0, 2 vw): each octave mirrored onto itself.
// CHECK-DAG: memref.global "private" constant @fft__fft_fb_partner : memref<8xf32> = dense<[0.000000e+00, 1.000000e+00, 3.000000e+00, 2.000000e+00, 7.000000e+00, 6.000000e+00, 5.000000e+00, 4.000000e+00]>
// CHECK-LABEL: func.func private @fft(
// CHECK-NOT: omp.parallel
// CHECK-NOT: math.sin
// Rows: 8 tasks of 2 rows (15 rows, the last task clamped).
// CHECK: arith.minsi %{{.*}}, %c15
// CHECK: arith.divui %{{.*}}, %c5
// CHECK: arith.remui %{{.*}}, %c5
// CHECK: memref.atomic_rmw addi %c1_i64
// CHECK: scf.if %{{.*}} -> (i1)
// CHECK: arith.xori %{{.*}} : vector<4xi32>
// CHECK: arith.ori %{{.*}} : vector<4xi32>
// CHECK: vector.maskedload %arg1
// CHECK: vector.reduction <or>
// CHECK: memref.atomic_rmw addi %c-1_i64
// The spectrum: a hit reads row c of the cache; a miss computes it (k
// zero-padded) into fresh scratch and tries to publish it.
// CHECK: memref.subview %{{.*}}[%{{.*}}, 0] [1, 16] [1, 1] : memref<5x16xf32> to memref<1x16xf32, strided<[16, 1], offset: ?>>
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<1x16xf32>
// CHECK: vector.maskedload %arg1
// CHECK: memref.atomic_rmw addi %c-1099511627776_i64
// CHECK: vector.maskedstore %{{.*}} : memref<5x7xf32>
// CHECK: memref.atomic_rmw addi %c1099511627776_i64
// CHECK: memref.cast %{{.*}} : memref<1x16xf32> to memref<1x16xf32, strided<[16, 1], offset: ?>>
// u: 21 = 2 x 8 + 5: two full loads split into even / odd lanes, then a
// masked tail of 4 + 1.
// CHECK: vector.load %arg0
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 2, 4, 6]
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [1, 3, 5, 7]
// CHECK: vector.constant_mask [4] : vector<4xi1>
// CHECK: vector.constant_mask [1] : vector<4xi1>
// Forward: radix-4 pass (stages 8, 4), then the 4x4 block.
// CHECK: scf.for
// CHECK-COUNT-8: vector.load %{{.*}} : memref<16xf32>, vector<4xf32>
// CHECK: vector.fma
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<4x4xf32> to vector<4x4xf32>
// Pair pass: block 0 back in natural order, octave [8, 16) as a vector
// and a lane-reversed vector, positions [1, 8) with partners from the table.
// CHECK: vector.transpose
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [3, 2, 1, 0]
// CHECK: memref.load %{{.*}} : memref<8xf32>
// CHECK: arith.fptosi
// CHECK: memref.load %{{.*}} : memref<1x16xf32, strided<[16, 1], offset: ?>>
// Inverse block (transposed back) and the inverse stages.
// CHECK: vector.transpose
// Release the read (or free the miss's scratch); y = interleave(re, im) +
// d u, masked tail.
// CHECK: memref.atomic_rmw addi %c-1_i64
// CHECK: memref.dealloc %{{.*}} : memref<1x16xf32, strided<[16, 1], offset: ?>>
// CHECK: memref.load %arg2
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 4, 1, 5]
// CHECK: vector.fma
// CHECK: vector.maskedstore %arg3
// CHECK: memref.dealloc
// CHECK: return
func.func private @fft(memref<3x5x21xf32>, memref<5x7xf32>, memref<5xf32>, memref<3x5x21xf32>) attributes {kjit.kernel_config = #kjit.config<{monarch_n2 = 16 : i64, radix = 4 : i64, rows_per_task = 2 : i64, threads = 1 : i64, vector_width = 4 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.fft_conv", kjit.kernel_props = {}}

// -----

// No d, L = Lk = 64: n = 128, m = 64, vector_width 4, monarch_n2 = 16
// (m = 4 x 16), radix 8, two threads. The spectrum on a miss and the row
// are split alike: the top stages (halves 32, 16) over the
// whole row, chunks 0 and 1 (a loop of 2) with the octaves below 32, then
// the octave loop (oct = 32 << e) over chunk pairs (a loop of 2 sides for
// the forward chunk transforms, the pair pass on the octave, a loop of 2
// for the inverse), and the top inverse stages.
// CHECK-LABEL: func.func private @fft_split
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: func.call @omp_get_thread_num()
// CHECK: memref.atomic_rmw addi %c1_i64
// CHECK: memref.subview
// Split row (the miss's spectrum, then the row): top stages, chunks 0, 1.
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c64 {
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK: vector.transpose
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [3, 2, 1, 0]
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK: vector.transpose
// Octaves of chunk pairs.
// CHECK: arith.shli %c32, %{{.*}} : index
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c16 {
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK: arith.select
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [3, 2, 1, 0]
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// Top inverse stages, then y (no d).
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c64 {
// CHECK-NOT: memref.load %arg2
// CHECK: vector.store %{{.*}}, %arg2
// CHECK: omp.terminator
func.func private @fft_split(memref<1x3x64xf32>, memref<3x64xf32>, memref<1x3x64xf32>) attributes {kjit.kernel_config = #kjit.config<{monarch_n2 = 16 : i64, radix = 8 : i64, rows_per_task = 1 : i64, threads = 2 : i64, vector_width = 4 : i64}>, kjit.kernel_num_inputs = 2 : i64, kjit.kernel_op = "kjit.fft_conv", kjit.kernel_props = {}}
