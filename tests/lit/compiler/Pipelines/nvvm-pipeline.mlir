// The GPU pipeline kjit::emitCudaCode runs (kjit-attach-configs with a CUDA
// chip happens in prepare()): a depthwise conv becomes one gpu.binary whose
// PTX has the kernel entry, the shared-memory halo tile and one barrier.
// RUN: kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90" --kjit-nvvm-pipeline="chip=sm_90" | FileCheck %s
// RUN: kjit-opt %s --kjit-attach-configs="gpu-chip=sm_80" --kjit-nvvm-pipeline="chip=sm_80" | FileCheck %s --check-prefix=SM80
// Test only (the CPU emulator, tests/gpu/EmuCudaDriver.cpp): LLVM bitcode
// instead of PTX.
// RUN: kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90" --kjit-nvvm-pipeline="chip=sm_90 emulate=1" | FileCheck %s --check-prefix=EMU
// A PTX version too old for the chip is an error, not an LLVM abort:
// RUN: not kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90" --kjit-nvvm-pipeline="chip=sm_90 features=+ptx70" 2>&1 | FileCheck %s --check-prefix=OLDPTX
// RUN: not kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90" --kjit-nvvm-pipeline="chip=sm_37" 2>&1 | FileCheck %s --check-prefix=BADCHIP
// An illegal GPU config (halo tile over 48 KiB) is rejected by verifyConfig:
// RUN: not kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90 config=#kjit.config<{block_w=16,block_h=16,channels_per_block=32}>" 2>&1 | FileCheck %s --check-prefix=SMEM
// RUN: not kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90 config=#kjit.config<{threads=2048}>" 2>&1 | FileCheck %s --check-prefix=THREADS
// Only the GPU generator's op set is accepted; CPU configs are rejected:
// RUN: not kjit-opt %s --kjit-attach-configs --kjit-nvvm-pipeline 2>&1 | FileCheck %s --check-prefix=CPUCFG

// CHECK-NOT: kjit.depthwise_conv2d
// CHECK: gpu.launch_func @main_kjit_0_kernel::@main_kjit_0_kernel blocks in
// CHECK: gpu.binary @main_kjit_0_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// CHECK-SAME: .version 8.0
// CHECK-SAME: .target sm_90
// CHECK-SAME: .visible .entry main_kjit_0_kernel(
// CHECK-SAME: .shared .align 4 .b8 __wg_main_kjit_0_kernel_0[46208]
// CHECK-SAME: bar.sync

// SM80: .target sm_80

// EMU: gpu.binary @main_kjit_0_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, offload = "BC\C0\DE

// SMEM: illegal config {{.*}}: the shared-memory halo tile needs 270848 bytes per block (46 x 46 x 32 floats); at most 49152
// THREADS: threads (per block) must be a multiple of 32 in [32, 1024], got 2048
// OLDPTX: PTX ISA 7.0 does not support sm_90 (needs +ptx78 or newer)
// BADCHIP: unknown CUDA chip 'sm_37'
// CPUCFG: cannot generate GPU code for "kjit.depthwise_conv2d"
// CPUCFG-SAME: unknown knob 'kw_unroll' for a depthwise convolution on CUDA

// A 31x31 kernel: an 8x8 output tile x 8 channels stages a 38x38x8 halo
// (46208 bytes, under the 48 KiB limit).
func.func @main(%x: tensor<1x64x64x32xf32>, %w: tensor<32x31x31xf32>, %b: tensor<32xf32>) -> tensor<1x64x64x32xf32> {
  %y = kjit.depthwise_conv2d %x, %w, %b {padding = array<i64: 15, 15, 15, 15>} : tensor<1x64x64x32xf32>, tensor<32x31x31xf32>, tensor<32xf32> -> tensor<1x64x64x32xf32>
  return %y : tensor<1x64x64x32xf32>
}
