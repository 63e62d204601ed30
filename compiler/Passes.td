//===- Passes.td - kjit compiler passes --------------------*- tablegen -*-===//
#ifndef KJIT_COMPILER_PASSES_TD
#define KJIT_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

def KjitAttachConfigs : Pass<"kjit-attach-configs", "ModuleOp"> {
  let summary = "Resolve the #kjit.config of every kjit op for a target";
  let description = [{
    Gives every tunable op a complete `kjit.config`: its own knobs, else the
    `config` option, over the op's default for the target; `threads` > 0
    overrides the threads knob. Every resulting config is checked with
    `TunableOpInterface::verifyConfig`: an illegal one is an error, never a
    crash later in the pipeline. After this pass the module is the complete
    description of the code to generate (the kernel cache hashes it).
  }];
  let options = [
    Option<"cpu", "cpu", "std::string", "\"\"",
           "LLVM CPU name; empty: the host">,
    Option<"features", "features", "std::string", "\"\"",
           "LLVM feature string; empty: the host's">,
    Option<"config", "config", "std::string", "\"\"",
           "#kjit.config<{...}> for ops without one">,
    Option<"threads", "threads", "int", "0",
           "override of the threads knob when > 0">,
    Option<"gpuChip", "gpu-chip", "std::string", "\"\"",
           "CUDA chip (sm_80, sm_90, ...): resolve GPU configs for it; "
           "empty: the CPU target">,
  ];
  let dependentDialects = ["mlir::kjit::KjitDialect"];
}

def KjitOutlineKernels : Pass<"kjit-outline-kernels", "ModuleOp"> {
  let summary = "Replace each kjit op by a call to a kernel on memrefs";
  let description = [{
    Each tunable kjit op on tensors becomes `bufferization.to_buffer` of its
    operands, a `memref.alloc` per result, and a call to a private kernel
    declaration taking (inputs..., outputs...) as memrefs. The declaration
    keeps the op's name, properties and config (`kjit.kernel_op`,
    `kjit.kernel_props`, `kjit.kernel_config`); `kjit-generate-cpu-kernels`
    gives it a body after bufferization and deallocation have run, so those
    passes only see the calls. A result with a dynamic shape (kjit.spgemm's
    col_idx and values) is instead a result of the declaration: the kernel
    allocates it (`kjit.dynamic_results` lists such results on the
    declaration and on each public function that returns one).
  }];
  let dependentDialects = ["mlir::bufferization::BufferizationDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::func::FuncDialect"];
}

def KjitReturnDynamicResults : Pass<"kjit-return-dynamic-results", "ModuleOp"> {
  let summary = "Keep kernel-allocated results as results of public functions";
  let description = [{
    Runs right after `buffer-results-to-out-params`, which turns every memref
    result into a caller-provided out-param, also one whose size only the
    kernel knows. For each public function with `kjit.dynamic_results`, each
    flagged result's out-param (whose only use is the `memref.copy` that
    pass added) is removed again and the copied buffer is returned instead:
    the dynamic-output protocol (the caller receives, and frees, the buffer
    the kernel allocated). Static results stay out-params.
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect",
                           "mlir::func::FuncDialect"];
}

def KjitGenerateCpuKernels : Pass<"kjit-generate-cpu-kernels", "ModuleOp"> {
  let summary = "Give each outlined kernel a tiled, vectorized CPU body";
  let description = [{
    Register-blocked micro-kernels in the vector dialect (accumulators as
    scf.for iter_args), channel-blocked packing, and an OpenMP parallel
    region over tasks when the config asks for more than one thread.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::kjit::KjitDialect",
                           "mlir::ub::UBDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::omp::OpenMPDialect",
                           "mlir::LLVM::LLVMDialect",
                           "mlir::func::FuncDialect"];
}

def KjitGenerateGpuKernels : Pass<"kjit-generate-gpu-kernels", "ModuleOp"> {
  let summary = "Give each outlined kernel a body that launches tiled GPU kernels";
  let description = [{
    The GPU counterpart of `kjit-generate-cpu-kernels`: each outlined kernel
    declaration (after bufferization) gets a body holding its `gpu.launch`es
    (KjitToGPU/*GPU.cpp, one generator per op family): depthwise and
    Inception convs (tiles of block_h x block_w x channels_per_block with
    the input halo staged in shared memory when `smem_stage` = 1), window
    attention (a query tile per block, K/V rows staged, fused online
    softmax), butterfly_matmul (fused in shared memory, or two launches),
    spmm (rows x column tiles; malformed CSR goes to the device error
    record `kjit_gpu_error`), fft_conv (a row per block in shared memory,
    or one launch per pass over a device scratch buffer), spgemm (the
    dynamic-output protocol: validation, symbolic count with per-block
    dense markers, a scan, the nnz read back to the host with gpu.memcpy +
    gpu.wait, col_idx / values allocated with memref.alloc of that size,
    the numeric pass writing sorted rows). The configs must be CUDA configs
    (`kjit-attach-configs{gpu-chip=...}`). An op without a GPU generator
    would be an error naming the op.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::gpu::GPUDialect",
                           "mlir::kjit::KjitDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::func::FuncDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::LLVM::LLVMDialect",
                           "mlir::vector::VectorDialect"];
}

def KjitMergeGpuModules : Pass<"kjit-merge-gpu-modules", "ModuleOp"> {
  let summary = "Merge every outlined gpu.module into one";
  let description = [{
    After `gpu-kernel-outlining` each `gpu.launch` has its own gpu.module.
    This pass moves every kernel (and the globals the kernels use, once) into
    the first gpu.module and points every `gpu.launch_func` at it, so that a
    compile yields one gpu.binary (one PTX module, loaded once) holding all
    the kernels of all the ops, whatever the number of launches.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def KjitHostAllocsToGpu : Pass<"kjit-host-allocs-to-gpu", "ModuleOp"> {
  let summary = "Buffers between GPU kernels in device memory";
  let description = [{
    For CUDA targets, after the kernels became `gpu.launch`es: every
    `memref.alloc` / `memref.dealloc` of host code (outside `gpu.launch` and
    `gpu.module`), i.e. a buffer that only kernels touch (an intermediate
    between two kjit ops), becomes a device allocation: `gpu.alloc async` /
    `gpu.dealloc async` between `gpu.wait`s, which gpu-to-llvm lowers to
    mgpuMemAlloc / mgpuMemFree. Without it such buffers were host `malloc`
    memory that the kernels cannot address.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def KjitEmitPackedEntry : Pass<"kjit-emit-packed-entry", "ModuleOp"> {
  let summary = "Add `void kjit_packed_<entry>(void **args)` for the runtime";
  let description = [{
    Runs on the LLVM dialect after the entry got its C interface
    (`_mlir_ciface_<entry>`): one uniform entry point whose args[i] points to
    the memref descriptor of argument i. For a result listed in the entry's
    `kjit.dynamic_results` (kernel-allocated), args[i] points to an
    uninitialized descriptor that the entry fills in: the caller owns its
    allocated pointer (malloc'ed on the CPU: release it with free; on CUDA
    targets a device pointer from mgpuMemAlloc: release it with
    mgpuMemFree / cuMemFree). Also drops the dead
    `unrealized_conversion_cast`s that the conversions leave in OpenMP
    regions (they have no LLVM IR translation).
  }];
  let options = [
    Option<"entry", "entry", "std::string", "\"main\"", "entry function">,
  ];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

#endif
