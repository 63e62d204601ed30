// kjit.spgemm on CUDA (the dynamic-output protocol).
// RUN: kjit-opt %s --kjit-generate-gpu-kernels | FileCheck %s
// RUN: kjit-opt %s --kjit-generate-gpu-kernels --cse --kjit-host-allocs-to-gpu | FileCheck %s --check-prefix=DEVICE
// The whole NVVM pipeline and the packed entry from an op on tensors:
// RUN: kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90" --kjit-nvvm-pipeline="chip=sm_90" --kjit-emit-packed-entry | FileCheck %s --check-prefix=PACKED
// An illegal config is rejected by verifyConfig:
// RUN: not kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90 config=#kjit.config<{group=3}>" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not kjit-opt %s --kjit-attach-configs="gpu-chip=sm_90 config=#kjit.config<{sort_capacity=16384}>" 2>&1 | FileCheck %s --check-prefix=CAP

// Scratch: 13 blocks x 17 markers (i32) and accumulators (f32), flags.
// CHECK: memref.global @kjit_gpu_error : memref<4xi64> = dense<0> {alignment = 8 : i64}
// CHECK-LABEL: func.func private @spgemm
// CHECK-SAME: -> (memref<?xi32>, memref<?xf32>)
// CHECK: %[[MARK:.*]] = memref.alloc() : memref<221xi32>
// CHECK: %[[ACC:.*]] = memref.alloc() : memref<221xf32>
// CHECK: %[[FLAGS:.*]] = memref.alloc() : memref<2xi64>
// 1. init (2 blocks of 128 over 221 entries).
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c2, {{[^)]*}}) threads({{[^)]*}}) in ({{[^)]*}} = %c128,
// CHECK: memref.store %{{.*}}, %[[MARK]]
// CHECK: memref.store %{{.*}}, %[[ACC]]
// 2. validate a (codes 201..204), 3. validate b (301..304); a defect
// also sets flags[0].
// CHECK: gpu.launch
// CHECK: arith.constant 201 : i64
// CHECK: memref.atomic_rmw ori %{{.*}}, %[[FLAGS]]
// CHECK: arith.constant 203 : i64
// CHECK: arith.constant 202 : i64
// CHECK: arith.constant 204 : i64
// CHECK: gpu.launch
// CHECK: arith.constant 301 : i64
// CHECK: arith.constant 303 : i64
// CHECK: arith.constant 302 : i64
// CHECK: arith.constant 304 : i64
// 4. count: 13 blocks; the marker exchange, one atomic add per thread
// into row_ptr[i + 1], a barrier before the block's next row.
// CHECK: gpu.launch blocks({{[^)]*}}) in ({{[^)]*}} = %c13, {{[^)]*}}) threads({{[^)]*}}) in ({{[^)]*}} = %c128
// CHECK: memref.atomic_rmw assign %{{.*}}, %[[MARK]]
// CHECK: memref.atomic_rmw addi %{{.*}}, %arg6
// CHECK: gpu.barrier
// CHECK-NEXT: }
// 5. scan: one block, a workgroup buffer of 128 i64; too large an output
// is code 405.
// CHECK: gpu.launch {{.*}} workgroup(%{{.*}} : memref<128xi64, #gpu.address_space<workgroup>>)
// CHECK: gpu.barrier
// CHECK: arith.constant 405 : i64
// nnz back to the host, clamped to 13 x 17 = 221, the allocation of
// max(nnz, 1), viewed as nnz.
// CHECK: %[[HOST:.*]] = memref.alloca() : memref<2xi64>
// CHECK: %[[T0:.*]] = gpu.wait async
// CHECK: %[[T1:.*]] = gpu.memcpy async [%[[T0]]] %[[HOST]], %[[FLAGS]]
// CHECK: gpu.wait [%[[T1]]]
// CHECK: %[[RAW:.*]] = memref.load %[[HOST]]
// CHECK: arith.maxsi %[[RAW]]
// CHECK: arith.constant 221 : i64
// CHECK: %[[CI:.*]] = memref.alloc(%{{.*}}) : memref<?xi32>
// CHECK: %[[V:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: %[[CIV:.*]] = memref.reinterpret_cast %[[CI]]
// CHECK: %[[VV:.*]] = memref.reinterpret_cast %[[V]]
// 6. numeric: list (64), scan buffer (128), counters in shared memory.
// CHECK: gpu.launch {{.*}} workgroup(%{{.*}} : memref<64xi32, #gpu.address_space<workgroup>>, %{{.*}} : memref<128xi32, #gpu.address_space<workgroup>>, %{{.*}} : memref<4xi32, #gpu.address_space<workgroup>>)
// CHECK: memref.atomic_rmw addf %{{.*}}, %[[ACC]]
// CHECK: memref.atomic_rmw assign %{{.*}}, %[[MARK]]
// CHECK: memref.atomic_rmw addi
// CHECK: memref.atomic_rmw mins
// CHECK: memref.atomic_rmw maxs
// CHECK: memref.store %{{.*}}, %[[CIV]]
// CHECK: memref.store %{{.*}}, %[[VV]]
// CHECK: memref.dealloc %[[MARK]]
// CHECK: memref.dealloc %[[ACC]]
// CHECK: memref.dealloc %[[FLAGS]]
// CHECK: return %[[CIV]], %[[VV]] : memref<?xi32>, memref<?xf32>

// On the device: scratch and results are gpu.allocs (the results' size
// only known at run time).
// DEVICE-LABEL: func.func private @spgemm
// DEVICE: gpu.alloc async [%{{.*}}] () : memref<221xi32>
// DEVICE: gpu.alloc async [%{{.*}}] (%{{.*}}) : memref<?xi32>
// DEVICE: gpu.alloc async [%{{.*}}] (%{{.*}}) : memref<?xf32>
// DEVICE-NOT: memref.alloc(
// DEVICE: gpu.dealloc async

// The entry returns the device buffers: the packed entry copies both
// descriptors into args[7] and args[8].
// PACKED-LABEL: llvm.func @kjit_packed_main
// PACKED: %[[BUF:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>)>
// PACKED: llvm.call @_mlir_ciface_main(%[[BUF]],
// PACKED: %[[ALL:.*]] = llvm.load %[[BUF]]
// PACKED: %[[D0:.*]] = llvm.extractvalue %[[ALL]][0]
// PACKED: %[[S7:.*]] = llvm.getelementptr %arg0[7]
// PACKED: %[[P7:.*]] = llvm.load %[[S7]]
// PACKED: llvm.store %[[D0]], %[[P7]]
// PACKED: %[[D1:.*]] = llvm.extractvalue %[[ALL]][1]
// PACKED: %[[S8:.*]] = llvm.getelementptr %arg0[8]

// GROUP: group must be a power of two dividing threads = 256, got 3
// CAP: sort_capacity must be a multiple of 32 in [32, 8192], got 16384

func.func private @spgemm(memref<14xi32>, memref<30xi32>, memref<30xf32>, memref<12xi32>, memref<25xi32>, memref<25xf32>, memref<14xi32>) -> (memref<?xi32>, memref<?xf32>) attributes {kjit.dynamic_results = array<i1: false, true, true>, kjit.kernel_config = #kjit.config<{blocks = 13 : i64, group = 4 : i64, sort_capacity = 64 : i64, threads = 128 : i64}>, kjit.kernel_num_inputs = 6 : i64, kjit.kernel_op = "kjit.spgemm", kjit.kernel_props = {shape = array<i64: 13, 11, 17>}}

func.func @main(%arp: tensor<14xi32>, %aci: tensor<30xi32>, %av: tensor<30xf32>, %brp: tensor<12xi32>, %bci: tensor<25xi32>, %bv: tensor<25xf32>) -> (tensor<14xi32>, tensor<?xi32>, tensor<?xf32>) {
  %c:3 = kjit.spgemm %arp, %aci, %av, %brp, %bci, %bv {shape = array<i64: 13, 11, 17>} : tensor<14xi32>, tensor<30xi32>, tensor<30xf32>, tensor<12xi32>, tensor<25xi32>, tensor<25xf32> -> tensor<14xi32>, tensor<?xi32>, tensor<?xf32>
  return %c#0, %c#1, %c#2 : tensor<14xi32>, tensor<?xi32>, tensor<?xf32>
}
