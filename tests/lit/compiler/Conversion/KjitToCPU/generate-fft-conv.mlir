// RUN: kjit-opt %s -split-input-file --kjit-generate-cpu-kernels | FileCheck %s

// fft_conv, B = 3, C = 5, L = 21, Lk = 7 with d: FFT size N = 32 (>= 27),
// vector_width 4, radix 4, 2 rows per task, one thread. The twiddle table of
// the top stage is built per call from a small float64 memref.global
// (W^(aS) x W^b in f64, truncated), the lower stages' tables are its
// decimations; then the 5 kernel spectra (k zero-padded, forward stages,
// the transposed 4x4 block pass storing spectrum / N), then the rows: u
// loaded with a masked tail (21 = 5 x 4 + 1) and zero-padded, a radix-4 pass
// (4 complex vectors, stages 16 and 8) and a radix-2 pass (stage 4), the
// block pass (transpose, last two forward stages, product with the
// spectrum, two inverse stages, transpose back), the inverse passes, and
// y = re + d u with a masked tail.
// CHECK: memref.global "private" constant @fft__fft_twiddles : memref<16xf64>
// CHECK-LABEL: func.func private @fft
// CHECK-NOT: omp.parallel
// CHECK: memref.get_global @fft__fft_twiddles
// CHECK: scf.for
// CHECK: arith.mulf %{{.*}} : f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<5x32xf32>
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<5x32xf32>
// Spectra, one channel per task.
// CHECK: scf.for
// CHECK: vector.maskedload %arg1
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<4x4xf32> to vector<4x4xf32>
// CHECK: vector.store %{{.*}} : memref<5x32xf32>, vector<4xf32>
// Rows: 8 tasks of 2 rows (15 rows, the last task clamped).
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK: arith.minsi %{{.*}}, %c15
// CHECK: arith.divui %{{.*}}, %c5
// CHECK: arith.remui %{{.*}}, %c5
// CHECK: vector.load %arg0
// CHECK: vector.constant_mask [1] : vector<4xi1>
// CHECK: vector.maskedload %arg0
// Radix-4 pass: four complex vectors in, twiddles from the table, out.
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c32
// CHECK-COUNT-8: vector.load %{{.*}} : memref<32xf32>, vector<4xf32>
// CHECK: vector.fma
// CHECK-COUNT-8: vector.store %{{.*}} : memref<32xf32>, vector<4xf32>
// Radix-2 pass (stage 4).
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c8
// Block pass.
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c16
// CHECK: vector.transpose
// CHECK: vector.transpose
// CHECK: vector.load %{{.*}} : memref<5x32xf32>, vector<4xf32>
// CHECK: vector.fma
// CHECK: vector.transpose
// CHECK: vector.transpose
// Inverse passes: radix 4 (stages 4, 8) then radix 2 (stage 16).
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c16
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c32
// Output: y = re + d[c] u.
// CHECK: memref.load %arg2
// CHECK: vector.broadcast %{{.*}} : f32 to vector<4xf32>
// CHECK: vector.load %arg0
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %arg3
// CHECK: vector.maskedload %arg0
// CHECK: vector.maskedstore %arg3
// CHECK: memref.dealloc
// CHECK: return
func.func private @fft(memref<3x5x21xf32>, memref<5x7xf32>, memref<5xf32>, memref<3x5x21xf32>) attributes {kjit.kernel_config = #kjit.config<{radix = 4 : i64, rows_per_task = 2 : i64, threads = 1 : i64, vector_width = 4 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.fft_conv", kjit.kernel_props = {}}

// -----

// No d, L = Lk = 64 (N = 128), vector_width 8 (8x8 blocks), radix 8 (the
// four big stages 64..8 in a radix-8 pass and a radix-2 pass), two
// threads: both the spectra and the rows run on an OpenMP team.
// CHECK-LABEL: func.func private @fft_threads
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: func.call @omp_get_thread_num()
// CHECK: omp.terminator
// CHECK: omp.parallel num_threads(%{{.*}} : i32)
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c128
// CHECK-COUNT-16: vector.load %{{.*}} : memref<128xf32>, vector<8xf32>
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<8x8xf32> to vector<8x8xf32>
// CHECK-NOT: memref.load %arg2
// CHECK: vector.store %{{.*}}, %arg2
// CHECK: omp.terminator
func.func private @fft_threads(memref<1x3x64xf32>, memref<3x64xf32>, memref<1x3x64xf32>) attributes {kjit.kernel_config = #kjit.config<{radix = 8 : i64, rows_per_task = 1 : i64, threads = 2 : i64, vector_width = 8 : i64}>, kjit.kernel_num_inputs = 2 : i64, kjit.kernel_op = "kjit.fft_conv", kjit.kernel_props = {}}
