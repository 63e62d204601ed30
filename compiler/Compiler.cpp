//===- Compiler.cpp - prepare, generate, compile -------------------------===//
#include "compiler/Compiler.h"
#include "compiler/CodegenVersion.h"
#include "compiler/InitAll.h"
#include "compiler/Passes.h"
#include "compiler/Pipelines/CPUPipeline.h"
#include "compiler/Pipelines/NVVMPipeline.h"
#include "compiler/SourceLimits.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include "llvm/Passes/PassBuilder.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <sys/stat.h>

using namespace mlir;
using ::kjit::compiler::ArgSpec;

namespace {

llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

std::string sha256Hex(llvm::StringRef data) {
  llvm::SHA256 h;
  h.update(data);
  auto digest = h.final();
  return llvm::toHex(digest, /*LowerCase=*/true);
}

/// Collects error diagnostics as one line ("file:line:col: message; ...")
/// for a user-facing error: notes (the IR dumps MLIR attaches) and the
/// generic "failed to infer returned types" that follows a precise verifier
/// message are left out.
class DiagCapture {
public:
  explicit DiagCapture(MLIRContext &ctx) : ctx(ctx) {
    id = ctx.getDiagEngine().registerHandler([this](Diagnostic &d) {
      if (d.getSeverity() != DiagnosticSeverity::Error)
        return success();
      std::string msg = d.str();
      if (!text.empty() &&
          llvm::StringRef(msg).contains("failed to infer returned types"))
        return success();
      if (!text.empty())
        text += "; ";
      if (auto fl = dyn_cast<FileLineColLoc>(d.getLocation()))
        text += (fl.getFilename().getValue() + ":" + Twine(fl.getLine()) +
                 ":" + Twine(fl.getColumn()) + ": ")
                    .str();
      for (char &c : msg)
        if (c == '\n')
          c = ' ';
      text += msg;
      return success();
    });
  }
  ~DiagCapture() { ctx.getDiagEngine().eraseHandler(id); }
  std::string text;

private:
  MLIRContext &ctx;
  DiagnosticEngine::HandlerID id;
};

/// KJIT_TIMING=1 prints the time of each compile phase to stderr.
class PhaseTimer {
public:
  explicit PhaseTimer(const char *what)
      : what(what), on(std::getenv("KJIT_TIMING") != nullptr),
        start(std::chrono::steady_clock::now()) {}
  void lap(const char *phase) {
    if (!on)
      return;
    auto now = std::chrono::steady_clock::now();
    llvm::errs() << "kjit: " << what << ": " << phase << " "
                 << llvm::format("%.2f", std::chrono::duration<double, std::milli>(
                                             now - start)
                                             .count())
                 << " ms\n";
    start = now;
  }

private:
  const char *what;
  bool on;
  std::chrono::steady_clock::time_point start;
};

void initLLVMTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

llvm::Expected<ArgSpec> argSpec(Type t, bool isOutput, const Twine &what) {
  auto rt = dyn_cast<RankedTensorType>(t);
  // A dynamic result (rank 1) is one the kernel allocates: the
  // dynamic-output protocol (ArgSpec::kDynamic).
  bool kernelAllocated = isOutput && rt && rt.getRank() == 1;
  if (!rt || (!rt.hasStaticShape() && !kernelAllocated))
    return makeError(what + " must be a tensor with a static shape, got " +
                     llvm::StringRef([&] {
                       std::string s;
                       llvm::raw_string_ostream os(s);
                       t.print(os);
                       return s;
                     }()));
  ArgSpec a;
  a.isOutput = isOutput;
  a.shape.assign(rt.getShape().begin(), rt.getShape().end());
  for (int64_t &d : a.shape)
    if (ShapedType::isDynamic(d))
      d = ArgSpec::kDynamic;
  if (rt.getElementType().isF32())
    a.elem = ArgSpec::Elem::f32;
  else if (rt.getElementType().isSignlessInteger(32))
    a.elem = ArgSpec::Elem::i32;
  else
    return makeError(what + " must hold f32 or i32 elements");
  return a;
}

} // namespace

/// LLVM -O2 (without the loop and SLP vectorizers) and machine code for
/// `target`: an ELF relocatable object.
static llvm::Expected<std::string>
hostObject(llvm::Module &llmod, const ::kjit::compiler::CpuTarget &target,
           PhaseTimer &timer) {

  llvm::Triple triple(target.triple);
  std::string err;
  const llvm::Target *t = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!t)
    return makeError("no LLVM target for " + target.triple + ": " + err);
  std::unique_ptr<llvm::TargetMachine> tm(t->createTargetMachine(
      triple, target.cpu, target.features, llvm::TargetOptions(),
      llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return makeError("cannot create a target machine for " + target.cpu);
  llmod.setDataLayout(tm->createDataLayout());
  llmod.setTargetTriple(triple);
  for (llvm::Function &f : llmod) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", target.cpu);
    f.addFnAttr("target-features", target.features);
  }
  {
    // -O2 without LLVM's loop and SLP vectorizers: the kernels arrive
    // vectorized and register-blocked, and those passes are a large part of
    // the optimizer's time (JIT latency) for no gain on this code.
    llvm::PipelineTuningOptions tuning;
    tuning.LoopVectorization = false;
    tuning.SLPVectorization = false;
    llvm::PassBuilder pb(tm.get(), tuning);
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm =
        pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
    mpm.run(llmod, mam);
  }
  timer.lap("LLVM -O2");

  llvm::SmallVector<char, 0> buffer;
  {
    llvm::raw_svector_ostream os(buffer);
    llvm::legacy::PassManager codegen;
    if (tm->addPassesToEmitFile(codegen, os, nullptr,
                                llvm::CodeGenFileType::ObjectFile))
      return makeError("the target cannot emit object files");
    codegen.run(llmod);
  }
  timer.lap("machine code");
  return std::string(buffer.begin(), buffer.end());
}

namespace kjit::compiler {

std::string packedSymbolName(const std::string &entry) {
  return "kjit_packed_" + entry;
}

bool gpuEmulationRequested() {
  const char *env = std::getenv("KJIT_GPU_EMULATE");
  return env && std::string(env) == "1";
}

std::string codegenVersion() { return KJIT_CODEGEN_VERSION; }

/// What decides the code a config produces: kjit's and LLVM's versions, the
/// code-generation sources (the codegen version) and the CPU pipeline.
static const std::string &epochBase() {
  // std::call_once, not a function-local static: see getRegistry().
  static std::once_flag once;
  static const std::string *base;
  std::call_once(once, [] {
    CpuPipelineOptions opts;
    base = new std::string(
        std::string("kjit-") + KJIT_VERSION + ";llvm-" + LLVM_VERSION_STRING +
        ";codegen=" + codegenVersion().substr(0, 16) + ";pipeline=" +
        sha256Hex(cpuPipelineText(opts)).substr(0, 16));
  });
  return *base;
}

/// Emulation objects and their timings never mix with real ones.
static std::string emulationSuffix() {
  return gpuEmulationRequested() ? ";gpu-emulate" : "";
}

std::string tuningEpoch() { return epochBase() + emulationSuffix(); }

std::string compilerKey() {
  // std::call_once, not a function-local static: see getRegistry().
  static std::once_flag once;
  static const std::string *key;
  std::call_once(once, [] {
    // The binary that holds this code: a rebuilt compiler never serves
    // objects cached by an older one, even without a version bump.
    std::string self = "unknown";
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&epochBase), &info) &&
        info.dli_fname) {
      struct stat st;
      if (stat(info.dli_fname, &st) == 0)
        self = std::to_string(st.st_size) + "@" +
               std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec);
    }
    key = new std::string(epochBase() + ";build=" +
                          sha256Hex(self).substr(0, 16));
  });
  return *key + emulationSuffix();
}

static const char *loadedOpenMP = KJIT_LIBOMP_PATH;

const char *openMPRuntimePath() { return loadedOpenMP; }

llvm::Error loadRuntimeLibraries() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    std::string err;
    if (!llvm::sys::DynamicLibrary::LoadLibraryPermanently(KJIT_LIBOMP_PATH,
                                                           &err))
      return;
    std::string err2;
    if (!llvm::sys::DynamicLibrary::LoadLibraryPermanently("libomp.so.5",
                                                           &err2)) {
      loadedOpenMP = "libomp.so.5";
      return;
    }
    error = "cannot load the OpenMP runtime (" KJIT_LIBOMP_PATH "): " + err +
            "; install libomp-22-dev (scripts/setup.sh)";
  });
  if (!error.empty())
    return makeError(error);
  return llvm::Error::success();
}

llvm::Expected<PreparedModule>
prepare(const CompileRequest &request) {
  PhaseTimer timer("prepare");
  registerAllPasses();
  MLIRContext ctx(getRegistry(), MLIRContext::Threading::DISABLED);
  DiagCapture diags(ctx);
  if (llvm::Error e = checkSourceNesting(request.mlirText))
    return makeError("invalid kjit module: " + llvm::toString(std::move(e)));
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(request.mlirText, &ctx, "input.mlir");
  timer.lap("parse");
  if (!module)
    return makeError("invalid kjit module: " + diags.text);

  auto entry = module->lookupSymbol<func::FuncOp>(request.entry);
  if (!entry || entry.isDeclaration())
    return makeError("the module has no function @" + request.entry +
                     " with a body");
  PreparedModule out;
  out.entry = request.entry;
  FunctionType ft = entry.getFunctionType();
  for (auto [i, t] : llvm::enumerate(ft.getInputs())) {
    auto a = argSpec(t, false, "argument #" + Twine(i) + " of @" +
                                   request.entry);
    if (!a)
      return a.takeError();
    out.args.push_back(*a);
  }
  for (auto [i, t] : llvm::enumerate(ft.getResults())) {
    auto a = argSpec(t, true, "result #" + Twine(i) + " of @" +
                                  request.entry);
    if (!a)
      return a.takeError();
    out.args.push_back(*a);
  }
  if (ft.getNumResults() == 0)
    return makeError("@" + request.entry + " returns nothing");

  // Suggested per-op configs (the tuning database): an op's own knobs when
  // verifyConfig accepts them over its default; else dropped with a note.
  std::vector<std::string> notes;
  if (!request.opConfigs.empty()) {
    auto info = request.target.info;
    if (!request.cudaChip.empty())
      if (auto ci = cudaTargetInfo(request.cudaChip))
        info = *ci;
    mlir::kjit::ConfigAttr threadsOverride;
    if (request.threads > 0)
      threadsOverride =
          mlir::kjit::ConfigAttr::get(&ctx, {{"threads", request.threads}});
    unsigned index = 0;
    module->walk([&](mlir::kjit::TunableOpInterface op) {
      unsigned i = index++;
      notes.emplace_back();
      auto it = request.opConfigs.find(i);
      if (it == request.opConfigs.end() || mlir::kjit::getConfig(op))
        return;
      DiagCapture quiet(ctx);
      if (llvm::Error e = checkSourceNesting(it->second, "config")) {
        notes.back() = llvm::toString(std::move(e));
        return;
      }
      auto hint = llvm::dyn_cast_or_null<mlir::kjit::ConfigAttr>(
          mlir::parseAttribute(it->second, &ctx));
      if (!hint) {
        notes.back() = "not a #kjit.config: '" + it->second + "'";
        return;
      }
      mlir::kjit::ConfigAttr c = op.getDefaultConfig(info)
                                     .merge(hint)
                                     .merge(threadsOverride);
      std::string why;
      if (failed(op.verifyConfig(c, info, why))) {
        notes.back() = "illegal here: " + why;
        return;
      }
      op->setAttr(mlir::kjit::kConfigAttrName, hint);
    });
  }

  PassManager pm(&ctx);
  KjitAttachConfigsOptions opts;
  opts.cpu = request.target.cpu;
  opts.features = request.target.features;
  opts.config = request.config;
  opts.threads = request.threads;
  opts.gpuChip = request.cudaChip;
  pm.addPass(createKjitAttachConfigs(opts));
  if (failed(pm.run(*module)))
    return makeError(diags.text.empty() ? "cannot resolve kjit configs"
                                        : diags.text);

  llvm::raw_string_ostream os(out.canonicalText);
  module->print(os);
  module->walk([&](mlir::kjit::TunableOpInterface op) {
    std::string s;
    llvm::raw_string_ostream cs(s);
    Attribute(mlir::kjit::getConfig(op)).print(cs);
    out.configs.push_back(s);
  });
  notes.resize(out.configs.size());
  out.configNotes = std::move(notes);
  out.workloadKey = sha256Hex(out.canonicalText + "\nentry=" + out.entry);
  out.gpuEmulate = request.gpuEmulate && !request.cudaChip.empty();
  out.cacheKey = sha256Hex(out.workloadKey + "\n" + request.target.key() +
                           "\n" + compilerKey() +
                           (request.cudaChip.empty()
                                ? std::string()
                                : "\ncuda=" + request.cudaChip) +
                           (out.gpuEmulate ? "\ngpu-emulate" : ""));
  timer.lap("configs and keys");
  return out;
}

llvm::Expected<Artifact> generate(const PreparedModule &prep,
                                                  const CpuTarget &target) {
  PhaseTimer timer("generate");
  registerAllPasses();
  initLLVMTargets();
  MLIRContext ctx(getRegistry(), MLIRContext::Threading::DISABLED);
  DiagCapture diags(ctx);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(prep.canonicalText, &ctx, "prepared.mlir");
  if (!module)
    return makeError("internal error: the prepared module does not parse: " +
                     diags.text);
  PassManager pm(&ctx);
  CpuPipelineOptions opts;
  opts.entry = prep.entry;
  if (failed(buildCpuPipeline(pm, opts)))
    return makeError("internal error: cannot build the CPU pipeline");
  if (failed(pm.run(*module)))
    return makeError("code generation failed: " + diags.text);
  timer.lap("MLIR pipeline");

  llvm::LLVMContext llctx;
  std::unique_ptr<llvm::Module> llmod =
      translateModuleToLLVMIR(*module, llctx, "kjit");
  if (!llmod)
    return makeError("internal error: translation to LLVM IR failed: " +
                     diags.text);
  timer.lap("translation to LLVM IR");
  auto object = hostObject(*llmod, target, timer);
  if (!object)
    return object.takeError();
  Artifact art;
  art.prepared = prep;
  art.symbol = packedSymbolName(prep.entry);
  art.object = std::move(*object);
  return art;
}

/// The prepared module through kjit-nvvm-pipeline: host code in the LLVM
/// dialect (gpu.launch_func left for the translation) and one gpu.binary of
/// PTX per kernel.
static llvm::Expected<OwningOpRef<ModuleOp>>
runNvvmPipeline(MLIRContext &ctx, DiagCapture &diags,
                const PreparedModule &prep, const std::string &chip,
                const std::string &features, bool emulate = false) {
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(prep.canonicalText, &ctx, "prepared.mlir");
  if (!module)
    return makeError("internal error: the prepared module does not parse: " +
                     diags.text);
  // The configs must have been resolved for a CUDA chip: an op with a CPU
  // config has no GPU configuration (no GPU generator for it yet), or the
  // whole module was prepared for the CPU. CPU configs all have
  // vector_width; GPU ones may too (ld.global.v4), so such a config is a CPU
  // one when the op's CUDA verifyConfig rejects it (an unknown chip is
  // reported by the pipeline below).
  std::string cpuOp;
  std::optional<TargetInfo> cudaTarget = cudaTargetInfo(chip);
  module->walk([&](mlir::kjit::TunableOpInterface op) {
    if (auto c = mlir::kjit::getConfig(op)) {
      std::string why;
      if (c.has("vector_width") && cpuOp.empty() &&
          cudaTarget && failed(op.verifyConfig(c, *cudaTarget, why)))
        cpuOp = op->getName().getStringRef().str();
    }
  });
  if (!cpuOp.empty())
    return makeError(cpuOp + " has a CPU config, not a CUDA one: it has no "
                     "GPU code generator yet, or the module was prepared for "
                     "the CPU (prepare it with CompileRequest::cudaChip = \"" +
                     chip + "\")");
  PassManager pm(&ctx);
  NvvmPipelineOptions opts;
  opts.chip = chip;
  opts.features = features;
  opts.emulate = emulate;
  std::string reason;
  if (failed(buildNvvmPipeline(pm, opts, reason)))
    return makeError(reason);
  if (failed(pm.run(*module)))
    return makeError("GPU code generation failed: " + diags.text);
  return std::move(module);
}

llvm::Expected<std::string> compileToPtx(const PreparedModule &prep,
                                         const std::string &chip,
                                         const std::string &features) {
  PhaseTimer timer("compileToPtx");
  registerAllPasses();
  MLIRContext ctx(getRegistry(), MLIRContext::Threading::DISABLED);
  DiagCapture diags(ctx);
  auto module = runNvvmPipeline(ctx, diags, prep, chip, features);
  if (!module)
    return module.takeError();
  timer.lap("NVVM pipeline");
  std::vector<std::string> ptx;
  (*module)->walk([&](gpu::BinaryOp bin) {
    for (Attribute a : bin.getObjects())
      if (auto obj = dyn_cast<gpu::ObjectAttr>(a))
        ptx.push_back(obj.getObject().getValue().str());
  });
  if (ptx.empty())
    return makeError("the module has no kjit op to run on the GPU");
  // kjit-merge-gpu-modules gives all kernels (every launch of every op) one
  // gpu.module, so there is one PTX module with one entry per launch.
  if (ptx.size() > 1)
    return makeError("internal error: " + Twine(ptx.size()) +
                     " GPU binaries after kjit-merge-gpu-modules");
  return ptx.front();
}

/// Moves the functions of `@llvm.global_ctors` (or `_dtors`) into one
/// external `void name(void)` that calls them in priority order, and drops
/// the array: ORC does not run an object's static constructors, and the
/// runtime wants to run (and check) the module load itself.
static void hoistGlobalStructors(llvm::Module &m, llvm::StringRef array,
                                 llvm::StringRef name) {
  llvm::LLVMContext &c = m.getContext();
  auto *fnTy = llvm::FunctionType::get(llvm::Type::getVoidTy(c), false);
  auto *fn = llvm::Function::Create(fnTy, llvm::GlobalValue::ExternalLinkage,
                                    name, m);
  auto *bb = llvm::BasicBlock::Create(c, "entry", fn);
  llvm::IRBuilder<> b(bb);
  if (llvm::GlobalVariable *gv = m.getNamedGlobal(array)) {
    std::vector<std::pair<uint64_t, llvm::Function *>> fns;
    if (auto *init = dyn_cast_or_null<llvm::ConstantArray>(
            gv->hasInitializer() ? gv->getInitializer() : nullptr))
      for (llvm::Value *op : init->operands())
        if (auto *cs = dyn_cast<llvm::ConstantStruct>(op))
          if (auto *f = dyn_cast<llvm::Function>(
                  cs->getOperand(1)->stripPointerCasts()))
            fns.push_back(
                {cast<llvm::ConstantInt>(cs->getOperand(0))->getZExtValue(),
                 f});
    std::stable_sort(fns.begin(), fns.end(), [](auto &x, auto &y) {
      return x.first < y.first;
    });
    // Destructors run in the reverse order of constructors.
    if (array == "llvm.global_dtors")
      std::reverse(fns.begin(), fns.end());
    for (auto &[prio, f] : fns)
      b.CreateCall(f);
    gv->eraseFromParent();
  }
  b.CreateRetVoid();
}

std::string initSymbolName(const std::string &entry) {
  return "kjit_init_" + entry;
}
std::string finiSymbolName(const std::string &entry) {
  return "kjit_fini_" + entry;
}

llvm::Expected<Artifact> generateCuda(const PreparedModule &prep,
                                      const std::string &chip,
                                      const CpuTarget &host,
                                      CudaBinaryFormat format) {
  PhaseTimer timer("generateCuda");
  registerAllPasses();
  initLLVMTargets();
  MLIRContext ctx(getRegistry(), MLIRContext::Threading::DISABLED);
  DiagCapture diags(ctx);
  auto module = runNvvmPipeline(ctx, diags, prep, chip, "", prep.gpuEmulate);
  if (!module)
    return module.takeError();
  timer.lap("NVVM pipeline");

  bool cubin = !prep.gpuEmulate &&
               (format == CudaBinaryFormat::Cubin ||
                (format == CudaBinaryFormat::Auto && !ptxasPath().empty() &&
                 llvm::sys::fs::can_execute(ptxasPath())));
  std::string embedded = prep.gpuEmulate ? "llvm" : cubin ? "cubin" : "ptx";
  if (cubin) {
    // ptxas ahead of time: the driver loads a cubin without its JIT.
    llvm::Error failure = llvm::Error::success();
    (*module)->walk([&](gpu::BinaryOp bin) {
      SmallVector<Attribute> objects;
      for (Attribute a : bin.getObjects()) {
        auto obj = dyn_cast<gpu::ObjectAttr>(a);
        if (!obj || obj.getFormat() != gpu::CompilationTarget::Assembly) {
          objects.push_back(a);
          continue;
        }
        auto code = assemblePtx(obj.getObject().getValue().str(), chip);
        if (!code) {
          failure = llvm::joinErrors(std::move(failure), code.takeError());
          objects.push_back(a);
          continue;
        }
        objects.push_back(gpu::ObjectAttr::get(
            &ctx, obj.getTarget(), gpu::CompilationTarget::Binary,
            StringAttr::get(&ctx, *code), obj.getProperties(),
            obj.getKernels()));
      }
      bin.setObjectsAttr(ArrayAttr::get(&ctx, objects));
    });
    if (failure)
      return std::move(failure);
    timer.lap("ptxas");
  }

  PassManager pm(&ctx);
  KjitEmitPackedEntryOptions packed;
  packed.entry = prep.entry;
  pm.addPass(createKjitEmitPackedEntry(packed));
  if (failed(pm.run(**module)))
    return makeError("code generation failed: " + diags.text);

  llvm::LLVMContext llctx;
  std::unique_ptr<llvm::Module> llmod =
      translateModuleToLLVMIR(**module, llctx, "kjit");
  if (!llmod)
    return makeError("internal error: translation to LLVM IR failed: " +
                     diags.text);
  hoistGlobalStructors(*llmod, "llvm.global_ctors", initSymbolName(prep.entry));
  hoistGlobalStructors(*llmod, "llvm.global_dtors", finiSymbolName(prep.entry));
  timer.lap("translation to LLVM IR");
  // The host side only marshals arguments and calls the driver: built for
  // the architecture's baseline CPU, so that an object made on one machine
  // (bench/gpu's bundle) runs on the GPU machine's CPU whatever its ISA
  // extensions.
  CpuTarget baseline = host;
  baseline.cpu = llvm::Triple(host.triple).isX86() ? "x86-64" : "generic";
  baseline.features = "";
  auto object = hostObject(*llmod, baseline, timer);
  if (!object)
    return object.takeError();
  Artifact art;
  art.prepared = prep;
  art.symbol = packedSymbolName(prep.entry);
  art.initSymbol = initSymbolName(prep.entry);
  art.finiSymbol = finiSymbolName(prep.entry);
  art.deviceCode = embedded;
  art.object = std::move(*object);
  return art;
}

std::string ptxasPath() {
  if (const char *env = std::getenv("KJIT_PTXAS"))
    return env;
  return KJIT_PTXAS_PATH;
}

/// Runs `ptxas -arch=chip [extra...] in.ptx -o out.cubin`; returns the
/// cubin, and ptxas's stdout + stderr in `log`.
static llvm::Expected<std::string>
runPtxas(const std::string &ptx, const std::string &chip,
         llvm::ArrayRef<llvm::StringRef> extra, std::string &log) {
  std::string ptxas = ptxasPath();
  if (ptxas.empty())
    return makeError("no ptxas: install the CUDA toolkit or set KJIT_PTXAS");
  if (!llvm::sys::fs::can_execute(ptxas))
    return makeError("ptxas '" + ptxas +
                     "' is not an executable (set KJIT_PTXAS to one)");
  if (!cudaTargetInfo(chip))
    return makeError("unknown CUDA chip '" + chip + "'");
  llvm::SmallString<128> in, out, err;
  if (auto ec = llvm::sys::fs::createTemporaryFile("kjit", "ptx", in))
    return makeError("cannot create a temporary file: " + ec.message());
  if (auto ec = llvm::sys::fs::createTemporaryFile("kjit", "cubin", out))
    return makeError("cannot create a temporary file: " + ec.message());
  if (auto ec = llvm::sys::fs::createTemporaryFile("kjit", "log", err))
    return makeError("cannot create a temporary file: " + ec.message());
  llvm::scope_exit cleanup([&] {
    llvm::sys::fs::remove(in);
    llvm::sys::fs::remove(out);
    llvm::sys::fs::remove(err);
  });
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    if (ec)
      return makeError("cannot write " + in + ": " + ec.message());
    os << ptx;
  }
  std::string arch = "-arch=" + chip;
  llvm::SmallVector<llvm::StringRef> args = {ptxas, arch};
  args.append(extra.begin(), extra.end());
  args.append({in, "-o", out});
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, err.str(),
                                                err.str()};
  std::string execErr;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/120, 0, &execErr);
  log.clear();
  if (auto buf = llvm::MemoryBuffer::getFile(err))
    log = (*buf)->getBuffer().str();
  if (rc != 0)
    return makeError("ptxas -arch=" + chip + " failed (exit " +
                     Twine(rc) + "): " + (log.empty() ? execErr : log));
  auto buf = llvm::MemoryBuffer::getFile(out, /*IsText=*/false);
  if (!buf)
    return makeError("cannot read the cubin: " + buf.getError().message());
  return (*buf)->getBuffer().str();
}

llvm::Expected<std::string> assemblePtx(const std::string &ptx,
                                        const std::string &chip) {
  std::string log;
  return runPtxas(ptx, chip, {}, log);
}

/// The number before `suffix` in `piece` ("26 registers" -> 26); -1 if
/// `piece` is not "<integer><suffix>".
static int64_t numberBefore(llvm::StringRef piece, llvm::StringRef suffix) {
  piece = piece.trim();
  if (!piece.consume_back(suffix))
    return -1;
  int64_t v = 0;
  if (piece.trim().getAsInteger(10, v))
    return -1;
  return v;
}

std::vector<KernelResources> parsePtxasInfo(llvm::StringRef log) {
  std::vector<KernelResources> kernels;
  std::string propsOf; // the function of the last "Function properties"
  llvm::SmallVector<llvm::StringRef> lines;
  log.split(lines, '\n');
  auto quoted = [](llvm::StringRef s) {
    size_t a = s.find('\'');
    if (a == llvm::StringRef::npos)
      return llvm::StringRef();
    size_t b = s.find('\'', a + 1);
    return b == llvm::StringRef::npos ? llvm::StringRef()
                                      : s.slice(a + 1, b);
  };
  auto find = [&](llvm::StringRef name) -> KernelResources * {
    for (KernelResources &k : kernels)
      if (k.name == name)
        return &k;
    return nullptr;
  };
  for (llvm::StringRef line : lines) {
    line = line.trim();
    llvm::StringRef body = line;
    if (body.consume_front("ptxas info")) {
      body = body.ltrim();
      body.consume_front(":");
      body = body.trim();
    }
    if (body.starts_with("Compiling entry function")) {
      KernelResources k;
      k.name = quoted(body).str();
      kernels.push_back(k);
      continue;
    }
    if (body.starts_with("Function properties for")) {
      propsOf = body.drop_front(strlen("Function properties for")).trim().str();
      continue;
    }
    llvm::SmallVector<llvm::StringRef> pieces;
    body.split(pieces, ',');
    if (body.contains("spill stores")) {
      // "0 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads"
      KernelResources *k = find(propsOf);
      if (!k)
        continue; // a device function's properties
      for (llvm::StringRef p : pieces) {
        if (int64_t v = numberBefore(p, "bytes stack frame"); v >= 0)
          k->stackFrameBytes = v;
        else if (int64_t v = numberBefore(p, "bytes spill stores"); v >= 0)
          k->spillStoreBytes = v;
        else if (int64_t v = numberBefore(p, "bytes spill loads"); v >= 0)
          k->spillLoadBytes = v;
      }
      continue;
    }
    if (body.starts_with("Used ") && !kernels.empty()) {
      // "Used 26 registers, used 1 barriers, 25088 bytes smem, 400 bytes
      // cmem[0]" for the entry being compiled.
      KernelResources &k = kernels.back();
      for (llvm::StringRef p : pieces) {
        p = p.trim();
        p.consume_front("Used ");
        p.consume_front("used ");
        if (int64_t v = numberBefore(p, "registers"); v >= 0)
          k.registers = (int)v;
        else if (int64_t v = numberBefore(p, "barriers"); v >= 0)
          k.barriers = (int)v;
        else if (int64_t v = numberBefore(p, "bytes smem"); v >= 0)
          k.staticSharedBytes = v;
      }
      k.parsed = true;
    }
  }
  return kernels;
}

llvm::Expected<std::vector<KernelResources>>
ptxResourceUsage(const std::string &ptx, const std::string &chip) {
  std::string log;
  auto cubin = runPtxas(ptx, chip, {"-v"}, log);
  if (!cubin)
    return cubin.takeError();
  std::vector<KernelResources> ks = parsePtxasInfo(log);
  if (ks.empty())
    return makeError("ptxas -v -arch=" + chip +
                     " reported no entry function: " + log);
  for (const KernelResources &k : ks)
    if (!k.parsed)
      return makeError("ptxas -v -arch=" + chip +
                       " gave no register count for '" + k.name + "': " +
                       log);
  return ks;
}

llvm::Expected<Artifact> compile(const CompileRequest &req) {
  auto prep = prepare(req);
  if (!prep)
    return prep.takeError();
  return generate(*prep, req.target);
}

} // namespace kjit::compiler
