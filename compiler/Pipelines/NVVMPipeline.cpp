//===- NVVMPipeline.cpp - the NVVM (CUDA) pipeline -----------------------===//
//
// One function builds the pipeline for compileToPtx and for kjit-opt
// (`--kjit-nvvm-pipeline`), so a lit test can replay any GPU compile.
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipelines/NVVMPipeline.h"

#include "mlir/Dialect/GPU/Pipelines/Passes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace {
struct ChipInfo {
  const char *name;
  int cc;     ///< compute capability, e.g. 90
  int minPtx; ///< oldest PTX ISA (x10) with this target
  int pinPtx; ///< the PTX ISA kjit emits by default
};
// PTX ISA versions: sm_80 7.0, sm_86 7.1, sm_87 7.4, sm_89/sm_90 7.8,
// sm_90a 8.0, sm_100 8.6, sm_120 8.7. kjit pins PTX 8.0 where it suffices:
// every ptxas from CUDA 12.0 on (and 13.x) reads it.
constexpr ChipInfo kChips[] = {
    {"sm_80", 80, 70, 80},  {"sm_86", 86, 71, 80},  {"sm_87", 87, 74, 80},
    {"sm_89", 89, 78, 80},  {"sm_90", 90, 78, 80},  {"sm_90a", 90, 80, 80},
    {"sm_100", 100, 86, 86}, {"sm_120", 120, 87, 87},
};
/// Newest PTX ISA both LLVM 22's NVPTX backend and ptxas 13.0 read.
constexpr int kMaxPtx = 90;

const ChipInfo *findChip(llvm::StringRef chip) {
  for (const ChipInfo &c : kChips)
    if (chip == c.name)
      return &c;
  return nullptr;
}

std::string knownChips() {
  std::string s;
  for (const ChipInfo &c : kChips)
    s += (s.empty() ? "" : ", ") + std::string(c.name);
  return s;
}

/// A pass that only fails: how a pipeline registered for kjit-opt reports
/// bad options (the registration callback cannot fail).
struct FailPass : PassWrapper<FailPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FailPass)
  explicit FailPass(std::string msg) : msg(std::move(msg)) {}
  FailPass(const FailPass &o) : PassWrapper(o), msg(o.msg) {}
  llvm::StringRef getArgument() const override { return "kjit-nvvm-bad-options"; }
  void runOnOperation() override {
    getOperation().emitError() << "kjit-nvvm-pipeline: " << msg;
    signalPassFailure();
  }
  std::string msg;
};
} // namespace

namespace kjit::compiler {

std::optional<TargetInfo> cudaTargetInfo(llvm::StringRef chip) {
  const ChipInfo *c = findChip(chip);
  if (!c)
    return std::nullopt;
  TargetInfo t;
  t.kind = TargetInfo::Kind::CUDA;
  t.computeCapability = c->cc;
  t.maxThreadsPerBlock = 1024;
  t.sharedMemPerBlock = 48 * 1024; // static shared memory without opt-in
  t.smCount = c->cc == 90 ? 132 : (c->cc == 80 ? 108 : 0);
  // Per-SM limits (CUDA C Programming Guide, compute capabilities table):
  // usable shared memory, resident threads and blocks, registers.
  t.warpSize = 32;
  t.registersPerSM = 65536;
  switch (c->cc) {
  case 80:
  case 87:
    t.sharedMemPerSM = 164 * 1024;
    t.maxThreadsPerSM = 2048;
    t.maxBlocksPerSM = 32;
    break;
  case 86:
  case 89:
    t.sharedMemPerSM = 100 * 1024;
    t.maxThreadsPerSM = 1536;
    t.maxBlocksPerSM = c->cc == 86 ? 16 : 24;
    break;
  case 90:
  case 100:
    t.sharedMemPerSM = 228 * 1024;
    t.maxThreadsPerSM = 2048;
    t.maxBlocksPerSM = 32;
    break;
  default: // sm_120
    t.sharedMemPerSM = 100 * 1024;
    t.maxThreadsPerSM = 1536;
    t.maxBlocksPerSM = 24;
    break;
  }
  // Throughput facts for the cost model: NVIDIA's published figures (data
  // sheets / architecture whitepapers) of one reference part per chip,
  // peaks, not measurements. FP32 peak = SMs x FP32 lanes x 2 x boost clock.
  // smCount stays as above (0 where the part varies); the runtime puts the
  // device's own count there and the peak scales with it.
  constexpr uint64_t MiB = 1024 * 1024;
  switch (c->cc) {
  case 80: // A100 SXM4 40GB: 108 SMs x 64 lanes, 1.41 GHz -> 19.5 TFLOP/s;
           // HBM2 1555 GB/s; L2 40 MB (A100 whitepaper / data sheet).
    t.fp32LanesPerSM = 64;
    t.gpuBoostGHz = 1.41;
    t.gpuModelSmCount = 108;
    t.gpuDramGBs = 1555;
    t.gpuL2Bytes = 40 * MiB;
    break;
  case 86: // GeForce RTX 3090: 82 SMs x 128 lanes, 1.695 GHz -> 35.6
           // TFLOP/s; GDDR6X 936 GB/s; L2 6 MB (GA102 whitepaper).
    t.fp32LanesPerSM = 128;
    t.gpuBoostGHz = 1.695;
    t.gpuModelSmCount = 82;
    t.gpuDramGBs = 936;
    t.gpuL2Bytes = 6 * MiB;
    break;
  case 87: // Jetson AGX Orin 64GB: 16 SMs x 128 lanes, 1.3 GHz -> 5.3
           // TFLOP/s; LPDDR5 204.8 GB/s; L2 4 MB (Jetson Orin data sheet).
    t.fp32LanesPerSM = 128;
    t.gpuBoostGHz = 1.3;
    t.gpuModelSmCount = 16;
    t.gpuDramGBs = 204.8;
    t.gpuL2Bytes = 4 * MiB;
    break;
  case 89: // L40S: 142 SMs x 128 lanes, 2.52 GHz -> 91.6 TFLOP/s; GDDR6
           // 864 GB/s; L2 96 MB (L40S data sheet, Ada whitepaper).
    t.fp32LanesPerSM = 128;
    t.gpuBoostGHz = 2.52;
    t.gpuModelSmCount = 142;
    t.gpuDramGBs = 864;
    t.gpuL2Bytes = 96 * MiB;
    break;
  case 90: // H100 SXM5: 132 SMs x 128 lanes, 1.98 GHz -> 66.9 TFLOP/s;
           // HBM3 3350 GB/s; L2 50 MB (H100 data sheet / Hopper whitepaper).
    t.fp32LanesPerSM = 128;
    t.gpuBoostGHz = 1.98;
    t.gpuModelSmCount = 132;
    t.gpuDramGBs = 3350;
    t.gpuL2Bytes = 50 * MiB;
    break;
  case 100: // B200 (HGX): 148 SMs x 128 lanes; NVIDIA states 75 TFLOP/s
            // FP32 -> ~1.98 GHz; HBM3e 8000 GB/s; L2 126 MB (not in the
            // data sheet: third-party figure, the least sure of these).
    t.fp32LanesPerSM = 128;
    t.gpuBoostGHz = 1.98;
    t.gpuModelSmCount = 148;
    t.gpuDramGBs = 8000;
    t.gpuL2Bytes = 126 * MiB;
    break;
  default: // sm_120, GeForce RTX 5090: 170 SMs x 128 lanes, 2.407 GHz ->
           // 104.8 TFLOP/s; GDDR7 1792 GB/s; L2 96 MB (Blackwell whitepaper).
    t.fp32LanesPerSM = 128;
    t.gpuBoostGHz = 2.407;
    t.gpuModelSmCount = 170;
    t.gpuDramGBs = 1792;
    t.gpuL2Bytes = 96 * MiB;
    break;
  }
  return t;
}

std::optional<std::string> nvptxFeatures(llvm::StringRef chip,
                                         llvm::StringRef features,
                                         std::string &reason) {
  const ChipInfo *c = findChip(chip);
  if (!c) {
    reason = "unknown CUDA chip '" + chip.str() + "' (known: " + knownChips() +
             ")";
    return std::nullopt;
  }
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::SplitString(features, parts, ",");
  bool hasPtx = false;
  for (llvm::StringRef f : parts) {
    llvm::StringRef v = f.trim();
    if (!v.consume_front("+ptx"))
      continue;
    int ver = 0;
    if (v.getAsInteger(10, ver)) {
      reason = "malformed PTX feature '" + f.str() + "' (expected +ptxNN)";
      return std::nullopt;
    }
    if (ver < c->minPtx) {
      reason = "PTX ISA " + std::to_string(ver / 10) + "." +
               std::to_string(ver % 10) + " does not support " + chip.str() +
               " (needs +ptx" + std::to_string(c->minPtx) + " or newer)";
      return std::nullopt;
    }
    if (ver > kMaxPtx) {
      reason = "PTX ISA +ptx" + std::to_string(ver) +
               " is newer than LLVM 22 and ptxas 13 read (at most +ptx" +
               std::to_string(kMaxPtx) + ")";
      return std::nullopt;
    }
    hasPtx = true;
  }
  std::string out = features.str();
  if (!hasPtx)
    out = "+ptx" + std::to_string(c->pinPtx) + (out.empty() ? "" : ",") + out;
  return out;
}

LogicalResult buildNvvmPipeline(OpPassManager &pm,
                                const NvvmPipelineOptions &options,
                                std::string &reason) {
  auto features = nvptxFeatures(options.chip, options.features, reason);
  if (!features)
    return failure();
  std::string err;
  llvm::raw_string_ostream os(err);
  // The same front half as the CPU pipeline: kernels as calls, tensors ->
  // memrefs with caller-provided results, deallocation.
  if (failed(parsePassPipeline(
          "kjit-outline-kernels,canonicalize,"
          "one-shot-bufferize{bufferize-function-boundaries=1 "
          "function-boundary-type-conversion=identity-layout-map},"
          "buffer-results-to-out-params{hoist-static-allocs=1 "
          "modify-public-functions=1},"
          // ... except the results a kernel allocates (the dynamic-output
          // protocol: the caller receives and frees the device buffers).
          "kjit-return-dynamic-results,"
          "buffer-deallocation-pipeline,"
          "kjit-generate-gpu-kernels,cse,kjit-host-allocs-to-gpu,"
          // Outline here (upstream's outlining below finds nothing left)
          // so that all kernels share one gpu.module: one PTX module.
          "gpu-kernel-outlining,kjit-merge-gpu-modules",
          pm, os))) {
    reason = "internal error: bad NVVM pipeline: " + err;
    return failure();
  }
  // Upstream: gpu-kernel-outlining, nvvm-attach-target, GPU-to-NVVM in the
  // gpu.module, host to LLVM, gpu-module-to-binary (format isa = PTX text).
  gpu::GPUToNVVMPipelineOptions up;
  up.cubinChip = options.chip.getValue();
  up.cubinFeatures = *features;
  // Emulation (test only): the gpu.module's LLVM IR as bitcode, which
  // SelectObjectAttr loads with mgpuModuleLoad(data, size).
  up.cubinFormat = options.emulate ? "llvm" : "isa";
  up.optLevel = options.optLevel.getValue();
  gpu::buildLowerToNVVMPassPipeline(pm, up);
  return success();
}

void registerNvvmPipeline() {
  PassPipelineRegistration<NvvmPipelineOptions>(
      "kjit-nvvm-pipeline",
      "Lower kjit ops (with CUDA configs attached) to a gpu.binary of PTX",
      [](OpPassManager &pm, const NvvmPipelineOptions &options) {
        std::string reason;
        if (failed(buildNvvmPipeline(pm, options, reason))) {
          pm.clear();
          pm.addPass(std::make_unique<FailPass>(reason));
        }
      });
}

} // namespace kjit::compiler
