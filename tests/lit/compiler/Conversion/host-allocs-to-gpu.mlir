// kjit-host-allocs-to-gpu: a buffer that host code allocates between two GPU
// kernels becomes device memory (gpu.alloc/gpu.dealloc async between
// gpu.waits); allocations inside kernels and host-side allocas are left alone.
// RUN: kjit-opt %s --kjit-host-allocs-to-gpu | FileCheck %s
// RUN: kjit-opt %s --kjit-host-allocs-to-gpu --gpu-to-llvm | FileCheck %s --check-prefix=LLVM

// CHECK-LABEL: func.func @chain
// CHECK-NOT: memref.alloc(
// CHECK: %[[T0:.*]] = gpu.wait async
// CHECK: %[[M:.*]], %[[T1:.*]] = gpu.alloc async [%[[T0]]] (%{{.*}}) : memref<?x16xf32>
// CHECK: gpu.wait [%[[T1]]]
// CHECK: gpu.launch
// CHECK: memref.store
// CHECK: gpu.launch
// CHECK: %[[T2:.*]] = gpu.wait async
// CHECK: %[[T3:.*]] = gpu.dealloc async [%[[T2]]] %[[M]] : memref<?x16xf32>
// CHECK: gpu.wait [%[[T3]]]
// CHECK-NOT: memref.dealloc
// CHECK: return

// LLVM: llvm.call @mgpuMemAlloc
// LLVM: llvm.call @mgpuMemFree
func.func @chain(%n: index, %out: memref<?x16xf32>) {
  %c1 = arith.constant 1 : index
  %tmp = memref.alloc(%n) : memref<?x16xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    %f = arith.constant 1.0 : f32
    memref.store %f, %tmp[%tx, %tx] : memref<?x16xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    %v = memref.load %tmp[%tx, %tx] : memref<?x16xf32>
    memref.store %v, %out[%tx, %tx] : memref<?x16xf32>
    gpu.terminator
  }
  memref.dealloc %tmp : memref<?x16xf32>
  return
}
