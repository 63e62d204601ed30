// The dynamic-output protocol for kjit.spgemm, pass by pass.
// RUN: kjit-opt %s --kjit-attach-configs="cpu=haswell features=+avx,+avx2,+fma" | FileCheck %s --check-prefix=CONFIG
// RUN: kjit-opt %s --kjit-attach-configs --kjit-outline-kernels | FileCheck %s --check-prefix=OUTLINE
// RUN: kjit-opt %s --kjit-attach-configs --kjit-outline-kernels --one-shot-bufferize="bufferize-function-boundaries=1 function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs=1 modify-public-functions=1" --kjit-return-dynamic-results --buffer-deallocation-pipeline | FileCheck %s --check-prefix=RETURN
// RUN: kjit-opt %s --kjit-attach-configs --kjit-outline-kernels --one-shot-bufferize="bufferize-function-boundaries=1 function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs=1 modify-public-functions=1" --kjit-return-dynamic-results --buffer-deallocation-pipeline --kjit-generate-cpu-kernels | FileCheck %s --check-prefix=KERNEL
// RUN: kjit-opt %s --kjit-attach-configs --kjit-cpu-pipeline | FileCheck %s --check-prefix=PACKED

// The op's knobs over the default (dense accumulator, flops partition).
// CONFIG: kjit.config = #kjit.config<{accumulator = "dense", hash_scale = 2 : i64, partition = "flops", prefetch_distance = 8 : i64, short_row = 0 : i64, symbolic = "exact", tasks_per_thread = {{[0-9]+}} : i64, threads = 2 : i64}>

// The kernel declaration takes the inputs and the static row_ptr and
// returns the two buffers it allocates; one flag per result says which.
// OUTLINE-LABEL: func.func @main
// OUTLINE-SAME: kjit.dynamic_results = array<i1: false, true, true>
// OUTLINE: %[[RP:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xi32>
// OUTLINE: %[[R:.*]]:2 = call @main_kjit_0({{.*}}, %[[RP]]) : ({{.*}}, memref<4xi32>) -> (memref<?xi32>, memref<?xf32>)
// OUTLINE: func.func private @main_kjit_0(memref<4xi32>, memref<5xi32>, memref<5xf32>, memref<6xi32>, memref<7xi32>, memref<7xf32>, memref<4xi32>) -> (memref<?xi32>, memref<?xf32>)
// OUTLINE-SAME: kjit.dynamic_results = array<i1: false, true, true>
// OUTLINE-SAME: kjit.kernel_op = "kjit.spgemm"

// Static results are out-params, the kernel's buffers are returned as they
// are: no copy, no clone, no dealloc of them.
// RETURN-LABEL: func.func @main
// RETURN-SAME: %{{.*}}: memref<4xi32>) -> (memref<?xi32>, memref<?xf32>)
// RETURN-NEXT: %[[R:.*]]:2 = call @main_kjit_0
// RETURN-NEXT: return %[[R]]#0, %[[R]]#1 : memref<?xi32>, memref<?xf32>

// The kernel (symbolic = "exact"): both CSRs validated (codes 2xx for a,
// 3xx for b), the symbolic pass on an OpenMP team (a bitmap with a spare
// word + popcount), the prefix sum, the allocation of the total, the
// numeric pass (the row of B a later nonzero of A selects prefetched;
// bitmap scan with cttz), buffers returned.
// KERNEL-LABEL: func.func private @main_kjit_0
// KERNEL: arith.constant 204 : i64
// KERNEL: arith.constant 304 : i64
// KERNEL: scf.if %{{.*}} -> (memref<?xi32>, memref<?xf32>)
// KERNEL: omp.parallel
// KERNEL: memref.alloc() {alignment = 64 : i64} : memref<2xi64>
// KERNEL: llvm.intr.ctpop
// KERNEL: arith.cmpi sgt, %{{.*}}, %{{.*}} : i64
// KERNEL: memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xi32>
// KERNEL: memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xf32>
// KERNEL: omp.parallel
// KERNEL: memref.prefetch
// KERNEL: llvm.intr.cttz
// KERNEL: } else {
// KERNEL: memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xi32>
// KERNEL: return %{{.*}}#0, %{{.*}}#1 : memref<?xi32>, memref<?xf32>
// KERNEL-NOT: kjit.dynamic_results

// The packed entry: the C interface returns both descriptors through its
// first argument; they are copied into args[7] and args[8].
// PACKED-NOT: kjit.dynamic_results
// PACKED-LABEL: llvm.func @kjit_packed_main
// PACKED: %[[BUF:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>)>
// PACKED: llvm.getelementptr %arg0[6]
// PACKED: llvm.call @_mlir_ciface_main(%[[BUF]],
// PACKED: %[[ALL:.*]] = llvm.load %[[BUF]]
// PACKED: %[[D0:.*]] = llvm.extractvalue %[[ALL]][0]
// PACKED: %[[S7:.*]] = llvm.getelementptr %arg0[7]
// PACKED: %[[P7:.*]] = llvm.load %[[S7]]
// PACKED: llvm.store %[[D0]], %[[P7]]
// PACKED: %[[D1:.*]] = llvm.extractvalue %[[ALL]][1]
// PACKED: %[[S8:.*]] = llvm.getelementptr %arg0[8]
// PACKED: %[[P8:.*]] = llvm.load %[[S8]]
// PACKED: llvm.store %[[D1]], %[[P8]]
func.func @main(%rp: tensor<4xi32>, %ci: tensor<5xi32>, %v: tensor<5xf32>, %brp: tensor<6xi32>, %bci: tensor<7xi32>, %bv: tensor<7xf32>) -> (tensor<4xi32>, tensor<?xi32>, tensor<?xf32>) {
  %r:3 = kjit.spgemm %rp, %ci, %v, %brp, %bci, %bv {shape = array<i64: 3, 5, 7>, kjit.config = #kjit.config<{threads = 2, symbolic = "exact", prefetch_distance = 8, short_row = 0}>} : tensor<4xi32>, tensor<5xi32>, tensor<5xf32>, tensor<6xi32>, tensor<7xi32>, tensor<7xf32> -> tensor<4xi32>, tensor<?xi32>, tensor<?xf32>
  return %r#0, %r#1, %r#2 : tensor<4xi32>, tensor<?xi32>, tensor<?xf32>
}
