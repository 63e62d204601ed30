// RUN: kjit-opt %s -split-input-file --kjit-generate-gpu-kernels | FileCheck %s

// N = 256 <= smem_fft: one block per row, the complex row in shared memory
// (512 floats), radix 4: 4 forward passes, the product, 4 inverse passes,
// a barrier after each; twiddles from a constant two-level table.
// CHECK: memref.global "private" constant @kjit_fft_twiddles_256 : memref<48xf32>
// CHECK-LABEL: func.func private @fft_shared
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c6,
// CHECK-SAME: workgroup(%{{.*}} : memref<512xf32, #gpu.address_space<workgroup>>)
// CHECK: memref.get_global @kjit_fft_twiddles_256
// CHECK-COUNT-10: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: memref.load %arg2
// CHECK: memref.store %{{.*}}, %arg3
func.func private @fft_shared(memref<2x3x100xf32>, memref<3x37xf32>, memref<3xf32>, memref<2x3x100xf32>) attributes {kjit.kernel_config = #kjit.config<{radix = 4 : i64, smem_fft = 4096 : i64, threads = 64 : i64}>, kjit.kernel_num_inputs = 3 : i64, kjit.kernel_op = "kjit.fft_conv", kjit.kernel_props = {}}

// -----

// N = 16384 > smem_fft: a device scratch buffer (async alloc, waited for)
// and one launch per pass: load, 7 radix-4 forward passes, the product, 7
// inverse passes, the store.
// CHECK-LABEL: func.func private @fft_global
// CHECK: gpu.wait async
// CHECK: gpu.alloc async
// CHECK: gpu.wait [
// CHECK-COUNT-17: gpu.launch blocks
// CHECK: gpu.dealloc async
// CHECK: gpu.wait [
func.func private @fft_global(memref<2x3x5000xf32>, memref<3x5000xf32>, memref<2x3x5000xf32>) attributes {kjit.kernel_config = #kjit.config<{radix = 4 : i64, smem_fft = 4096 : i64, threads = 256 : i64}>, kjit.kernel_num_inputs = 2 : i64, kjit.kernel_op = "kjit.fft_conv", kjit.kernel_props = {}}
