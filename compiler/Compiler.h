//===- Compiler.h - kjit's compile driver ----------------------*- C++ -*-===//
//
// compile(module text, target, config) -> object code + calling signature.
// Everything the runtime and the tuner need from the compiler; no pass
// internals leak through here.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_COMPILER_COMPILER_H
#define KJIT_COMPILER_COMPILER_H

#include "dialects/kjit/IR/TargetInfo.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kjit::compiler {

/// A CPU target as LLVM names it plus the facts the tuner needs.
struct CpuTarget {
  std::string triple;
  std::string cpu;      ///< e.g. "sapphirerapids"
  std::string features; ///< LLVM feature string, e.g. "+avx2,+avx512f,..."
  TargetInfo info;      ///< derived facts (vector width, registers, caches)
  /// The machine this process runs on.
  static CpuTarget host();
  /// A CPU target from an LLVM cpu name and feature string. The host's
  /// names give host(); a CPU with exactly LLVM's features for it gives
  /// named(cpu); anything else nominal caches (48 KiB L1d, 2 MiB L2).
  static CpuTarget fromNames(const std::string &cpu,
                             const std::string &features);
  /// A named CPU target: "host" (or "") is host(); "x86-64-v3",
  /// "x86-64-v4" or any LLVM x86-64 CPU name ("znver3", "sapphirerapids")
  /// takes LLVM's feature set for that name, from which the ISA facts
  /// (vector width, vector registers) follow, while caches and cores stay
  /// the host's. The code may not run here: see missingOnHost(). An unknown
  /// name is an error listing acceptedNames().
  static llvm::Expected<CpuTarget> named(const std::string &name);
  /// The names named() accepts, for messages.
  static std::string acceptedNames();
  /// The ISA features of this target the host CPU lacks (e.g. "avx512f"
  /// for x86-64-v4 on an AVX2-only machine): empty when code for it runs
  /// here.
  std::vector<std::string> missingOnHost() const;
  /// Stable text key: cpu, features, caches, cores.
  std::string key() const;
};

/// One argument of the compiled entry function.
struct ArgSpec {
  enum class Elem { f32, i32 } elem = Elem::f32;
  /// Static shape; an output may instead be kernel-allocated (the
  /// dynamic-output protocol): rank 1 with shape {kDynamic}.
  std::vector<int64_t> shape;
  bool isOutput = false;
  static constexpr int64_t kDynamic = -1;
  bool isDynamic() const {
    for (int64_t d : shape)
      if (d == kDynamic)
        return true;
    return false;
  }
};

struct CompileRequest {
  std::string mlirText;       ///< a module with func.func @entry on tensors
  std::string entry = "main"; ///< function to compile
  /// `#kjit.config<{...}>` for every kjit op without one ("" = default).
  std::string config;
  /// Overrides the `threads` knob of every op when > 0.
  int threads = 0;
  /// Suggested configs by kjit op index (program order, as in
  /// PreparedModule::configs), e.g. from the tuning database: applied as the
  /// op's own knobs when the op has none, after verifyConfig accepts them
  /// over the op's default; an illegal one is dropped (the op gets
  /// `config`/its default) and said in PreparedModule::configNotes.
  std::map<unsigned, std::string> opConfigs;
  CpuTarget target;
  /// CUDA chip ("sm_90") to resolve GPU configs for (then feed the prepared
  /// module to compileToPtx); empty: CPU configs for `target`.
  std::string cudaChip;
  /// TEST ONLY, with cudaChip: generateCuda embeds the device code as LLVM
  /// bitcode for kjit's CPU emulator (tests/gpu/EmuCudaDriver.cpp) instead
  /// of PTX/cubin. Part of the cache key, so such an object is never served
  /// to a real GPU. The runtime sets it from $KJIT_GPU_EMULATE=1.
  bool gpuEmulate = false;
};

/// What `prepare` returns: cheap to get (parse + verify + config
/// resolution), enough to look the object up in a cache.
struct PreparedModule {
  std::string canonicalText; ///< the module with every config resolved
  std::string entry;
  std::vector<ArgSpec> args;        ///< inputs, then outputs
  std::vector<std::string> configs; ///< resolved config of each kjit op
  /// Per kjit op: "" or why its CompileRequest::opConfigs entry was dropped.
  std::vector<std::string> configNotes;
  std::string workloadKey;          ///< hash of canonicalText + entry
  std::string cacheKey; ///< workload + target + compiler version (hex)
  bool gpuEmulate = false; ///< CompileRequest::gpuEmulate (test only)
};

struct Artifact {
  PreparedModule prepared;
  std::string object; ///< ELF relocatable object for the target
  /// Symbol of `void symbol(void **args)`: args[i] points to the memref
  /// descriptor {T *alloc, T *aligned, int64 offset, int64 sizes[R],
  /// int64 strides[R]} of argument i (inputs, then outputs). For a dynamic
  /// output (ArgSpec::isDynamic) the kernel writes the descriptor of a
  /// buffer it allocated with malloc: the caller owns `alloc` and frees it
  /// (also when the kernel reported an error, when it is empty).
  std::string symbol;
  /// CUDA only (generateCuda): `void init(void)` loads the embedded device
  /// code into the current CUDA context (through the mgpu* runtime
  /// functions), `void fini(void)` unloads it; deviceCode is "ptx" or
  /// "cubin" ("llvm": bitcode for the CPU emulator, tests only). Empty for
  /// CPU objects.
  std::string initSymbol, finiSymbol, deviceCode;
};

/// Parses, verifies and resolves configs; no code generation.
llvm::Expected<PreparedModule> prepare(const CompileRequest &request);
/// Runs the CPU pipeline and LLVM codegen on a prepared module.
llvm::Expected<Artifact> generate(const PreparedModule &prepared,
                                  const CpuTarget &target);
/// prepare + generate.
llvm::Expected<Artifact> compile(const CompileRequest &request);

/// Runs the NVVM pipeline (kjit-nvvm-pipeline) on a module prepared with
/// `CompileRequest::cudaChip` = `chip` and returns the PTX text of its one
/// GPU kernel. `features` empty: kjit pins a PTX version ptxas 13 reads.
/// Needs no GPU and no CUDA driver. An unknown chip or too old a PTX
/// version is an error, never an LLVM abort.
llvm::Expected<std::string> compileToPtx(const PreparedModule &prepared,
                                         const std::string &chip,
                                         const std::string &features = "");
/// What generateCuda embeds in the host object: PTX (the driver JIT-compiles
/// it when the module is loaded) or a cubin from ptxas; Auto: a cubin when
/// ptxas is there, else PTX.
enum class CudaBinaryFormat { Auto, PTX, Cubin };

/// The host object for a CUDA target: the NVVM pipeline on a module
/// prepared for `chip`, the device code (PTX, or a cubin from ptxas)
/// embedded as a constant, the host code (argument marshalling and launches
/// through the mgpu* functions MLIR's gpu-to-llvm calls: mgpuModuleLoad /
/// mgpuModuleLoadJIT, mgpuModuleGetFunction, mgpuLaunchKernel,
/// mgpuStream*) compiled for `host` with kjit_packed_<entry>,
/// kjit_init_<entry> and kjit_fini_<entry>. Needs no GPU and no driver:
/// only loading and running it do.
llvm::Expected<Artifact> generateCuda(const PreparedModule &prepared,
                                      const std::string &chip,
                                      const CpuTarget &host,
                                      CudaBinaryFormat format =
                                          CudaBinaryFormat::Auto);
std::string initSymbolName(const std::string &entry);
std::string finiSymbolName(const std::string &entry);

/// The ptxas kjit was configured with ("" when none was found); the
/// environment variable KJIT_PTXAS overrides it.
std::string ptxasPath();
/// Assembles PTX into a cubin for `chip` with ptxas (a child process).
llvm::Expected<std::string> assemblePtx(const std::string &ptx,
                                        const std::string &chip);

/// What ptxas allocated for one kernel (`ptxas -v`).
struct KernelResources {
  std::string name;
  int registers = 0;            ///< 32-bit registers per thread
  int barriers = 0;
  int64_t spillStoreBytes = 0;  ///< per thread
  int64_t spillLoadBytes = 0;   ///< per thread
  int64_t stackFrameBytes = 0;  ///< per thread
  int64_t staticSharedBytes = 0; ///< per block
  bool parsed = false; ///< a "Used N registers" line was read
  int64_t spillBytes() const { return spillStoreBytes + spillLoadBytes; }
};
/// Each entry function's resources, from `ptxas -arch=chip -v` on `ptx`
/// (a child process; ptxas as ptxasPath()). No ptxas: an error saying so.
llvm::Expected<std::vector<KernelResources>>
ptxResourceUsage(const std::string &ptx, const std::string &chip);
/// Parses ptxas's -v report (its "Compiling entry function", "Function
/// properties for", "N bytes spill stores" and "Used N registers, ... bytes
/// smem" lines); kernels in the order ptxas compiled them.
std::vector<KernelResources> parsePtxasInfo(llvm::StringRef log);

/// The name of the packed entry symbol for an entry function.
std::string packedSymbolName(const std::string &entry);

/// The tuning epoch, the key of tuning records (ARCHITECTURE.md "Keys"):
/// "kjit-<version>;llvm-<version>;codegen=<codegenVersion() prefix>;
/// pipeline=<hash of the CPU pipeline>", ending in ";gpu-emulate" while
/// gpuEmulationRequested(). Not the build: a rebuild of the same sources
/// keeps every tuning record current; a change to a generator makes them
/// an older epoch's, which seed a search but are never served.
std::string tuningEpoch();
/// The compiler key, part of every object-cache key: the tuning epoch (its
/// ";gpu-emulate" included) plus ";build=<hash of the size and mtime of the
/// binary holding the compiler>", so that cached object code always comes
/// from this exact compiler.
std::string compilerKey();
/// SHA-256 (hex) over the code-generation sources, computed at build time
/// (compiler/CodegenVersion.cmake; the files are listed in the build's
/// compiler/codegen-sources.txt).
std::string codegenVersion();

/// TEST ONLY: true when $KJIT_GPU_EMULATE is "1": CUDA compiles embed LLVM
/// bitcode for kjit's CPU emulating libcuda (tests/gpu/EmuCudaDriver.cpp,
/// loaded with KJIT_CUDA_DRIVER) instead of PTX. Never set it with a real
/// GPU driver: that driver rejects the module at load time.
bool gpuEmulationRequested();

/// Libraries the generated code calls into (libomp); loaded once.
llvm::Error loadRuntimeLibraries();
/// The OpenMP runtime the generated code must bind to (LLVM's libomp).
/// Generated code must resolve omp_* symbols in this library first: another
/// runtime already in the process (GNU libgomp, loaded by oneDNN, PyTorch or
/// OpenBLAS) exports the same names with other semantics.
const char *openMPRuntimePath();

} // namespace kjit::compiler

#endif
