//===- EmuCudaDriver.cpp - a libcuda.so.1 that runs kernels on the CPU ----===//
//
// TEST ONLY. The driver API entry points kjit's CUDA executor calls, with
// kernels that really run: the device code must be LLVM bitcode (compile
// with KJIT_GPU_EMULATE=1: the NVVM pipeline's gpu-module-to-binary format
// "llvm", handed over by kjit_mgpuModuleLoad in LLVM's bitcode wrapper so
// that its length is known). cuModuleLoadData rewrites the NVPTX module for
// the host and JITs it with ORC:
//   - host triple and data layout; PTX calling conventions -> C; NVPTX
//     function attributes dropped (address spaces stay: on x86 casts
//     between address spaces below 256 are no-ops);
//   - llvm.nvvm.read.ptx.sreg.{tid,ntid,ctaid,nctaid}.{x,y,z} and the
//     barriers -> emulator functions; libdevice calls (__nv_expf, ...) ->
//     the host's libm; any other NVVM intrinsic or libdevice function is a
//     load error naming it;
//   - shared memory (addrspace(3) globals) -> plain globals: blocks run one
//     after another, and each block's shared memory starts filled with 0xFF
//     bytes (NaN as f32) so that a read before a write shows;
//   - per kernel a wrapper `void w(void **kernelParams)` loading each
//     parameter by its type.
// cuLaunchKernel runs the grid block by block; a kernel that calls a
// barrier runs its block's threads as fibers (ucontext) scheduled round
// robin, a barrier switching back to the scheduler until every live thread
// reached it; a kernel without one runs its threads one after another.
// Memory: malloc'ed "device" allocations (filled with 0xAB), synchronous
// copies; events read the host clock. What the emulator cannot do is an
// error (cuGetErrorString says what), not a crash; an out-of-bounds access
// of a kernel is still one (as it may be on a GPU).
// What it does not model: warps (no shuffles or votes; none is emitted),
// blocks running at the same time (races between blocks go unseen), real
// timing. Within a block, threads run one at a time from barrier to barrier,
// so a missing barrier usually shows as a wrong result.
// Loaded by the runtime through KJIT_CUDA_DRIVER (the tests' EmuDriverEnv.h
// sets it under KJIT_GPU_EMULATE=1: the emu.* ctest entries). Device: "kjit
// CPU emulator", compute capability 9.0. KJIT_EMU_VERBOSE=1 prints every
// error it reports on stderr.
//
//===----------------------------------------------------------------------===//
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/ExecutionEngine/Orc/AbsoluteSymbols.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/AttributeMask.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <sys/mman.h>
#include <ucontext.h>
#include <vector>

#include "StandInMemory.h"

namespace {
using CUresult = int;
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2,
                   kNoDevice = 100, kInvalidDevice = 101,
                   kInvalidImage = 200, kInvalidHandle = 400,
                   kNotFound = 500, kLaunchFailed = 719, kUnknown = 999;

using kjit_standin::mu; // memory maps and modules
std::mutex launchMu;  // one launch at a time
bool initialized = false;
std::string lastDetail; // cuGetErrorString(kUnknown)

CUresult fail(const std::string &why, CUresult code = kUnknown) {
  std::lock_guard<std::mutex> lock(mu);
  lastDetail = "kjit GPU emulator: " + why;
  if (std::getenv("KJIT_EMU_VERBOSE"))
    fprintf(stderr, "%s\n", lastDetail.c_str());
  return code;
}

//===----------------------------------------------------------------------===//
// Memory: StandInMemory.h
//===----------------------------------------------------------------------===//
using kjit_standin::allocations;
using kjit_standin::globals;
using kjit_standin::inDevice;

//===----------------------------------------------------------------------===//
// Execution state and the functions kernels call
//===----------------------------------------------------------------------===//
struct Fiber {
  ucontext_t ctx;
  enum State { Ready, AtBarrier, Done } state = Ready;
};
struct LaunchState {
  unsigned tid[3] = {0, 0, 0}, ntid[3] = {1, 1, 1}, ctaid[3] = {0, 0, 0},
           nctaid[3] = {1, 1, 1};
  bool fibers = false;
  ucontext_t scheduler;
  std::vector<Fiber> threads;
  size_t current = 0;
  void (*wrapper)(void **) = nullptr;
  void **params = nullptr;
  std::string error; ///< a trap or a barrier outside fiber mode
};
thread_local LaunchState *launch = nullptr;

extern "C" {
static int emuTidX() { return int(launch->tid[0]); }
static int emuTidY() { return int(launch->tid[1]); }
static int emuTidZ() { return int(launch->tid[2]); }
static int emuNtidX() { return int(launch->ntid[0]); }
static int emuNtidY() { return int(launch->ntid[1]); }
static int emuNtidZ() { return int(launch->ntid[2]); }
static int emuCtaidX() { return int(launch->ctaid[0]); }
static int emuCtaidY() { return int(launch->ctaid[1]); }
static int emuCtaidZ() { return int(launch->ctaid[2]); }
static int emuNctaidX() { return int(launch->nctaid[0]); }
static int emuNctaidY() { return int(launch->nctaid[1]); }
static int emuNctaidZ() { return int(launch->nctaid[2]); }
static int emuWarpSize() { return 32; }
static int emuLaneId() {
  return int((launch->tid[0] +
              launch->ntid[0] * (launch->tid[1] +
                                 launch->ntid[1] * launch->tid[2])) %
             32);
}

static void emuBarrier() {
  LaunchState *s = launch;
  if (!s->fibers) {
    // Cannot happen: kernels that reach a barrier run as fibers.
    if (s->error.empty())
      s->error = "internal error: a barrier outside fiber mode";
    return;
  }
  Fiber &f = s->threads[s->current];
  f.state = Fiber::AtBarrier;
  swapcontext(&f.ctx, &s->scheduler);
}
static void emuBarrierI32(int) { emuBarrier(); }
static void emuBarrierI32I32(int, int) { emuBarrier(); }

static void emuTrap() {
  LaunchState *s = launch;
  if (s->error.empty())
    s->error = "the kernel trapped (llvm.trap) in block (" +
               std::to_string(s->ctaid[0]) + "," +
               std::to_string(s->ctaid[1]) + "," +
               std::to_string(s->ctaid[2]) + ") thread (" +
               std::to_string(s->tid[0]) + "," + std::to_string(s->tid[1]) +
               "," + std::to_string(s->tid[2]) + ")";
  // Only fiber mode reaches here (a kernel with a trap runs as fibers):
  // the thread ends here, its stack abandoned.
  Fiber &f = s->threads[s->current];
  f.state = Fiber::Done;
  setcontext(&s->scheduler);
}
static int emuReflect(const char *) { return 0; }

static float emuRsqrtf(float x) { return 1.0f / std::sqrt(x); }
static double emuRsqrt(double x) { return 1.0 / std::sqrt(x); }
static float emuFdividef(float a, float b) { return a / b; }
static float emuSaturatef(float x) {
  return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}
static float emuFastExpf(float x) { return std::exp(x); }
/// PTX ex2.approx.ftz.f32: 2^x, subnormal results flushed to zero.
static float emuEx2ApproxFtz(float x) {
  float r = std::exp2(x);
  return std::fpclassify(r) == FP_SUBNORMAL ? 0.0f : r;
}
} // extern "C"

/// An emulator function and the LLVM signature it implements ("f(f)":
/// float(float); i int32, d double, v void, p pointer).
struct Impl {
  void *fn;
  const char *sig;
};

/// NVVM intrinsics by name.
const std::map<std::string, Impl> &nvvmIntrinsics() {
  static const std::map<std::string, Impl> m = {
      {"llvm.nvvm.read.ptx.sreg.tid.x", {(void *)&emuTidX, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.tid.y", {(void *)&emuTidY, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.tid.z", {(void *)&emuTidZ, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.ntid.x", {(void *)&emuNtidX, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.ntid.y", {(void *)&emuNtidY, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.ntid.z", {(void *)&emuNtidZ, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.ctaid.x", {(void *)&emuCtaidX, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.ctaid.y", {(void *)&emuCtaidY, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.ctaid.z", {(void *)&emuCtaidZ, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.nctaid.x", {(void *)&emuNctaidX, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.nctaid.y", {(void *)&emuNctaidY, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.nctaid.z", {(void *)&emuNctaidZ, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.warpsize", {(void *)&emuWarpSize, "i()"}},
      {"llvm.nvvm.read.ptx.sreg.laneid", {(void *)&emuLaneId, "i()"}},
      {"llvm.nvvm.barrier0", {(void *)&emuBarrier, "v()"}},
      {"llvm.nvvm.barrier.cta.sync.aligned.all",
       {(void *)&emuBarrierI32, "v(i)"}},
      {"llvm.nvvm.barrier.cta.sync.all", {(void *)&emuBarrierI32, "v(i)"}},
      {"llvm.nvvm.barrier.sync", {(void *)&emuBarrierI32, "v(i)"}},
      {"llvm.nvvm.barrier.cta.sync.aligned.count",
       {(void *)&emuBarrierI32I32, "v(ii)"}},
      {"llvm.trap", {(void *)&emuTrap, "v()"}},
  };
  return m;
}

using F1 = float (*)(float);
using F2 = float (*)(float, float);
using D1 = double (*)(double);
using D2 = double (*)(double, double);
/// libdevice functions by name (the host's libm where it has them).
const std::map<std::string, Impl> &libdevice() {
  static const std::map<std::string, Impl> m = {
#define KJIT_F1(n) {"__nv_" #n "f", {(void *)(F1)&::n##f, "f(f)"}},          \
                   {"__nv_" #n, {(void *)(D1)&::n, "d(d)"}}
#define KJIT_F2(n) {"__nv_" #n "f", {(void *)(F2)&::n##f, "f(ff)"}},         \
                   {"__nv_" #n, {(void *)(D2)&::n, "d(dd)"}}
      KJIT_F1(exp),   KJIT_F1(exp2),  KJIT_F1(expm1), KJIT_F1(log),
      KJIT_F1(log2),  KJIT_F1(log10), KJIT_F1(log1p), KJIT_F1(sqrt),
      KJIT_F1(cbrt),  KJIT_F1(sin),   KJIT_F1(cos),   KJIT_F1(tan),
      KJIT_F1(asin),  KJIT_F1(acos),  KJIT_F1(atan),  KJIT_F1(sinh),
      KJIT_F1(cosh),  KJIT_F1(tanh),  KJIT_F1(erf),   KJIT_F1(erfc),
      KJIT_F1(fabs),  KJIT_F1(floor), KJIT_F1(ceil),  KJIT_F1(round),
      KJIT_F1(trunc), KJIT_F1(rint),  KJIT_F2(pow),   KJIT_F2(atan2),
      KJIT_F2(fmax),  KJIT_F2(fmin),  KJIT_F2(fmod),  KJIT_F2(copysign),
#undef KJIT_F1
#undef KJIT_F2
      {"__nv_rsqrtf", {(void *)&emuRsqrtf, "f(f)"}},
      {"__nv_rsqrt", {(void *)&emuRsqrt, "d(d)"}},
      {"__nv_fast_expf", {(void *)&emuFastExpf, "f(f)"}},
      {"__nv_fast_fdividef", {(void *)&emuFdividef, "f(ff)"}},
      {"__nv_fdividef", {(void *)&emuFdividef, "f(ff)"}},
      {"__nv_saturatef", {(void *)&emuSaturatef, "f(f)"}},
      {"__nvvm_reflect", {(void *)&emuReflect, "i(p)"}},
  };
  return m;
}

/// Inline PTX the generators emit, by asm string and constraints.
struct AsmImpl {
  const char *asmString, *constraints;
  Impl impl;
};
const AsmImpl kInlineAsm[] = {
    {"ex2.approx.ftz.f32 $0, $1;", "=f,f",
     {(void *)&emuEx2ApproxFtz, "f(f)"}},
};

std::string signatureOf(llvm::FunctionType *ft) {
  auto code = [](llvm::Type *t) -> std::string {
    if (t->isVoidTy())
      return "v";
    if (t->isFloatTy())
      return "f";
    if (t->isDoubleTy())
      return "d";
    if (t->isIntegerTy(32))
      return "i";
    if (t->isPointerTy())
      return "p";
    std::string s;
    llvm::raw_string_ostream os(s);
    t->print(os);
    return "<" + s + ">";
  };
  std::string s = code(ft->getReturnType()) + "(";
  for (llvm::Type *p : ft->params())
    s += code(p);
  return s + ")";
}

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//
struct Module;
struct Function {
  std::string name;
  Module *module = nullptr;
  void (*wrapper)(void **) = nullptr;
  bool fibers = false; ///< reaches a barrier or a trap
};
struct Module {
  llvm::orc::JITDylib *dylib = nullptr;
  std::map<std::string, Function> functions;
  std::map<std::string, std::pair<void *, size_t>> globals;
  std::vector<std::pair<void *, size_t>> shared; ///< addrspace(3) memory
};

struct Jit {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> tm;
  uint64_t next = 0;
};

/// The ORC JIT, created on first use (nullptr and `why` on failure).
Jit *getJit(std::string &why) {
  static std::once_flag once;
  static Jit *instance = nullptr;
  static std::string error;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) {
      error = llvm::toString(jtmb.takeError());
      return;
    }
    auto tm = jtmb->createTargetMachine();
    if (!tm) {
      error = llvm::toString(tm.takeError());
      return;
    }
    auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb)
                   .create();
    if (!jit) {
      error = llvm::toString(jit.takeError());
      return;
    }
    instance = new Jit{std::move(*jit), std::move(*tm)};
  });
  why = error;
  return instance;
}

constexpr const char *kWrapperPrefix = "kjit_emu_launch.";
constexpr const char *kSharedPrefix = "kjit_emu_shared.";

/// What the rewrite found.
struct Rewritten {
  std::vector<std::string> kernels;
  std::set<std::string> fiberKernels;
  std::vector<std::pair<std::string, size_t>> shared, globals;
  std::map<std::string, void *> symbols; ///< emulator functions to define
};

/// True when `f` (or a function it calls, transitively) calls one of `fns`.
bool reaches(llvm::Function *f, const std::set<llvm::Function *> &fns,
             std::set<llvm::Function *> &seen) {
  if (!seen.insert(f).second)
    return false;
  for (llvm::BasicBlock &bb : *f)
    for (llvm::Instruction &i : bb)
      if (auto *call = llvm::dyn_cast<llvm::CallBase>(&i))
        if (llvm::Function *callee = call->getCalledFunction()) {
          if (fns.count(callee))
            return true;
          if (!callee->isDeclaration() && reaches(callee, fns, seen))
            return true;
        }
  return false;
}

/// Rewrites an NVPTX module for the host (see the file comment). "" or why
/// it cannot be emulated.
std::string rewriteForHost(llvm::Module &m, const llvm::DataLayout &dl,
                           const llvm::Triple &triple, Rewritten &out) {
  llvm::LLVMContext &ctx = m.getContext();
  // Kernels: the PTX kernel calling convention (or nvvm.annotations).
  std::set<llvm::Function *> kernels;
  for (llvm::Function &f : m)
    if (f.getCallingConv() == llvm::CallingConv::PTX_Kernel)
      kernels.insert(&f);
  if (llvm::NamedMDNode *ann = m.getNamedMetadata("nvvm.annotations")) {
    for (llvm::MDNode *node : ann->operands()) {
      if (node->getNumOperands() < 3)
        continue;
      auto *kind = llvm::dyn_cast<llvm::MDString>(node->getOperand(1));
      auto *fn = llvm::mdconst::dyn_extract_or_null<llvm::Function>(
          node->getOperand(0));
      if (kind && fn && kind->getString() == "kernel")
        kernels.insert(fn);
    }
    m.eraseNamedMetadata(ann);
  }
  if (kernels.empty())
    return "the module has no kernel";

  // Inline PTX -> emulator functions.
  for (llvm::Function &f : m)
    for (llvm::BasicBlock &bb : f)
      for (llvm::Instruction &i : llvm::make_early_inc_range(bb)) {
        auto *call = llvm::dyn_cast<llvm::CallInst>(&i);
        if (!call || !call->isInlineAsm())
          continue;
        auto *ia = llvm::cast<llvm::InlineAsm>(call->getCalledOperand());
        const AsmImpl *found = nullptr;
        for (const AsmImpl &a : kInlineAsm)
          if (ia->getAsmString() == a.asmString &&
              ia->getConstraintString() == a.constraints)
            found = &a;
        std::string sig = signatureOf(ia->getFunctionType());
        if (!found)
          return std::string("the kernel has inline PTX the emulator does "
                             "not implement: \"") +
                 ia->getAsmString().str() + "\" (\"" +
                 ia->getConstraintString().str() + "\")";
        if (sig != found->impl.sig)
          return "inline PTX \"" + ia->getAsmString().str() +
                 "\" has the signature " + sig + ", the emulator's is " +
                 found->impl.sig;
        std::string sym = std::string("kjit_emu.asm.") + found->asmString;
        llvm::FunctionCallee g =
            m.getOrInsertFunction(sym, ia->getFunctionType());
        std::vector<llvm::Value *> args(call->arg_begin(), call->arg_end());
        auto *repl = llvm::CallInst::Create(g, args, "", call->getIterator());
        call->replaceAllUsesWith(repl);
        call->eraseFromParent();
        out.symbols[sym] = found->impl.fn;
      }

  // libdevice functions and NVVM intrinsics -> emulator functions.
  std::vector<llvm::Function *> replaced;
  std::set<llvm::Function *> fiberCallees;
  for (llvm::Function &f : m) {
    std::string name = f.getName().str();
    const Impl *impl = nullptr;
    bool isNvvm = llvm::StringRef(name).starts_with("llvm.nvvm.");
    bool isLibdevice = llvm::StringRef(name).starts_with("__nv_") ||
                       name == "__nvvm_reflect";
    if (isNvvm || name == "llvm.trap") {
      auto it = nvvmIntrinsics().find(name);
      if (it != nvvmIntrinsics().end())
        impl = &it->second;
    } else if (isLibdevice) {
      auto it = libdevice().find(name);
      if (it != libdevice().end())
        impl = &it->second;
      else if (!f.isDeclaration())
        continue; // a libdevice body: its calls are checked in turn
    } else {
      continue;
    }
    if (f.use_empty()) {
      replaced.push_back(&f);
      continue;
    }
    if (!impl)
      return "the kernel calls " + name +
             ", which the emulator does not implement (add it to "
             "tests/gpu/EmuCudaDriver.cpp)";
    std::string sig = signatureOf(f.getFunctionType());
    if (sig != impl->sig)
      return name + " has the signature " + sig + ", the emulator's is " +
             impl->sig;
    std::string sym = "kjit_emu." + name;
    llvm::Function *g = llvm::Function::Create(
        f.getFunctionType(), llvm::GlobalValue::ExternalLinkage, sym, m);
    g->addFnAttr(llvm::Attribute::NoUnwind);
    f.replaceAllUsesWith(g);
    replaced.push_back(&f);
    out.symbols[sym] = impl->fn;
    if (impl->fn == (void *)&emuBarrier || impl->fn == (void *)&emuBarrierI32 ||
        impl->fn == (void *)&emuBarrierI32I32 || impl->fn == (void *)&emuTrap)
      fiberCallees.insert(g);
  }
  for (llvm::Function *f : replaced)
    f->eraseFromParent();
  // Unused internal functions (unused libdevice bodies).
  for (bool changed = true; changed;) {
    changed = false;
    for (llvm::Function &f : llvm::make_early_inc_range(m))
      if (f.use_empty() && !kernels.count(&f) &&
          (f.hasLocalLinkage() || f.isDeclaration() ||
           f.hasLinkOnceLinkage())) {
        f.eraseFromParent();
        changed = true;
      }
  }
  for (llvm::Function &f : m)
    if (f.isDeclaration() && f.getName().starts_with("llvm.nvvm."))
      return "the kernel calls " + f.getName().str() +
             ", which the emulator does not implement";

  // Calling conventions and NVPTX attributes.
  for (llvm::Function &f : m) {
    f.setCallingConv(llvm::CallingConv::C);
    llvm::AttributeList attrs = f.getAttributes();
    llvm::AttributeMask drop;
    for (llvm::Attribute a : attrs.getFnAttrs())
      if (a.isStringAttribute() &&
          (a.getKindAsString() == "target-cpu" ||
           a.getKindAsString() == "target-features" ||
           a.getKindAsString().starts_with("nvvm.")))
        drop.addAttribute(a.getKindAsString());
    f.setAttributes(attrs.removeFnAttributes(ctx, drop));
    for (llvm::BasicBlock &bb : f)
      for (llvm::Instruction &i : bb)
        if (auto *call = llvm::dyn_cast<llvm::CallBase>(&i))
          call->setCallingConv(llvm::CallingConv::C);
  }
  m.setTargetTriple(triple);
  m.setDataLayout(dl);

  // Shared memory -> external globals the launch can reach; other named
  // globals (kjit_gpu_error) for cuModuleGetGlobal.
  unsigned sharedIndex = 0;
  for (llvm::GlobalVariable &g : m.globals()) {
    if (g.getAddressSpace() == 3) {
      if (!g.hasInitializer()) {
        if (g.use_empty())
          continue;
        return "the kernel uses dynamic shared memory (" + g.getName().str() +
               "), which the emulator does not implement";
      }
      g.setName(kSharedPrefix + std::to_string(sharedIndex++));
      g.setLinkage(llvm::GlobalValue::ExternalLinkage);
      g.setVisibility(llvm::GlobalValue::DefaultVisibility);
      out.shared.push_back(
          {g.getName().str(), size_t(dl.getTypeAllocSize(g.getValueType()))});
    } else if (g.hasInitializer() && !g.hasLocalLinkage() && g.hasName() &&
               !g.getName().starts_with("llvm.")) {
      out.globals.push_back(
          {g.getName().str(), size_t(dl.getTypeAllocSize(g.getValueType()))});
    }
  }

  // Wrappers: void w(void **params).
  llvm::Type *ptrTy = llvm::PointerType::get(ctx, 0);
  auto *wrapTy =
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptrTy}, false);
  for (llvm::Function *k : kernels) {
    std::string name = k->getName().str();
    out.kernels.push_back(name);
    std::set<llvm::Function *> seen;
    if (reaches(k, fiberCallees, seen))
      out.fiberKernels.insert(name);
    auto *w = llvm::Function::Create(
        wrapTy, llvm::GlobalValue::ExternalLinkage, kWrapperPrefix + name, m);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", w));
    std::vector<llvm::Value *> args;
    for (llvm::Argument &a : k->args()) {
      llvm::Value *slot = b.CreateConstGEP1_64(ptrTy, w->getArg(0),
                                               a.getArgNo());
      llvm::Value *p = b.CreateLoad(ptrTy, slot);
      if (a.hasByValAttr())
        args.push_back(p);
      else
        args.push_back(b.CreateLoad(a.getType(), p));
    }
    b.CreateCall(k, args);
    b.CreateRetVoid();
  }
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(m, &os))
    return "the rewritten module does not verify: " + err;
  return "";
}

void optimize(llvm::Module &m, llvm::TargetMachine *tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm =
      pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
  mpm.run(m, mam);
}

CUresult loadModule(void **out, const void *image) {
  if (!image)
    return fail("cuModuleLoadData: no image", kInvalidValue);
  auto *p = static_cast<const unsigned char *>(image);
  uint32_t header[5];
  memcpy(header, p, sizeof(header));
  if (header[0] != 0x0B17C0DEu) {
    if (memcmp(p, "\x7f" "ELF", 4) == 0 || memcmp(p, "BC\xC0\xDE", 4) == 0 ||
        strstr(reinterpret_cast<const char *>(p), ".version"))
      return fail("cuModuleLoadData: the image is not LLVM bitcode in its "
                  "wrapper (a cubin, PTX or raw bitcode cannot be emulated: "
                  "compile with KJIT_GPU_EMULATE=1)",
                  kInvalidImage);
    return fail("cuModuleLoadData: not a kernel image", kInvalidImage);
  }
  llvm::StringRef bitcode(reinterpret_cast<const char *>(p + header[2]),
                          header[3]);
  std::string why;
  Jit *jit = getJit(why);
  if (!jit)
    return fail("cannot create the ORC JIT: " + why);
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto parsed = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(bitcode, "kjit-gpu-module"), *ctx);
  if (!parsed)
    return fail("cannot read the kernel bitcode: " +
                    llvm::toString(parsed.takeError()),
                kInvalidImage);
  std::unique_ptr<llvm::Module> mod = std::move(*parsed);
  Rewritten rw;
  llvm::orc::LLJIT &lljit = *jit->jit;
  if (std::string err = rewriteForHost(*mod, lljit.getDataLayout(),
                                       lljit.getTargetTriple(), rw);
      !err.empty())
    return fail(err, kInvalidImage);
  optimize(*mod, jit->tm.get());

  std::lock_guard<std::mutex> lock(mu);
  auto dylib = lljit.getExecutionSession().createJITDylib(
      "kjit.emu." + std::to_string(jit->next++));
  if (!dylib) {
    lastDetail = "kjit GPU emulator: " + llvm::toString(dylib.takeError());
    return kUnknown;
  }
  llvm::orc::JITDylib &jd = *dylib;
  llvm::orc::MangleAndInterner mangle(lljit.getExecutionSession(),
                                      lljit.getDataLayout());
  llvm::orc::SymbolMap symbols;
  for (auto &[name, fn] : rw.symbols)
    symbols[mangle(name)] = {
        llvm::orc::ExecutorAddr::fromPtr(fn),
        llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  auto fail2 = [&](const std::string &what, llvm::Error e) {
    lastDetail = "kjit GPU emulator: " + what + ": " +
                 llvm::toString(std::move(e));
    llvm::cantFail(lljit.getExecutionSession().removeJITDylib(jd));
    return kInvalidImage;
  };
  if (llvm::Error e =
          jd.define(llvm::orc::absoluteSymbols(std::move(symbols))))
    return fail2("cannot define the emulator's functions", std::move(e));
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      lljit.getDataLayout().getGlobalPrefix());
  if (!gen)
    return fail2("cannot search the process", gen.takeError());
  jd.addGenerator(std::move(*gen));
  jd.addToLinkOrder(lljit.getMainJITDylib());
  if (llvm::Error e = lljit.addIRModule(
          jd,
          llvm::orc::ThreadSafeModule(std::move(mod), std::move(ctx))))
    return fail2("cannot add the module", std::move(e));
  auto *module = new Module;
  module->dylib = &jd;
  for (const std::string &k : rw.kernels) {
    auto addr = lljit.lookup(jd, kWrapperPrefix + k);
    if (!addr) {
      delete module;
      return fail2("cannot link kernel " + k, addr.takeError());
    }
    Function &f = module->functions[k];
    f.name = k;
    f.module = module;
    f.wrapper = reinterpret_cast<void (*)(void **)>(addr->getValue());
    f.fibers = rw.fiberKernels.count(k) != 0;
  }
  for (auto &[name, bytes] : rw.shared) {
    auto addr = lljit.lookup(jd, name);
    if (!addr) {
      delete module;
      return fail2("cannot link shared memory " + name, addr.takeError());
    }
    module->shared.push_back({addr->toPtr<void *>(), bytes});
  }
  for (auto &[name, bytes] : rw.globals) {
    auto addr = lljit.lookup(jd, name);
    if (!addr) {
      delete module;
      return fail2("cannot link global " + name, addr.takeError());
    }
    module->globals[name] = {addr->toPtr<void *>(), bytes};
    globals[addr->getValue()] = bytes;
  }
  *out = module;
  return kSuccess;
}

//===----------------------------------------------------------------------===//
// Launches
//===----------------------------------------------------------------------===//
constexpr size_t kStackBytes = 256 * 1024, kGuardBytes = 4096;
std::vector<char *> stacks; // reused; guarded by launchMu

void fiberMain() {
  LaunchState *s = launch;
  s->wrapper(s->params);
  s->threads[s->current].state = Fiber::Done;
  // Returning resumes uc_link: the scheduler.
}

CUresult runBlock(LaunchState &s, const Function &f) {
  unsigned n = s.ntid[0] * s.ntid[1] * s.ntid[2];
  auto setTid = [&](unsigned i) {
    s.tid[0] = i % s.ntid[0];
    s.tid[1] = (i / s.ntid[0]) % s.ntid[1];
    s.tid[2] = i / (s.ntid[0] * s.ntid[1]);
  };
  for (auto &[base, bytes] : f.module->shared)
    memset(base, 0xFF, bytes);
  if (!f.fibers) {
    s.fibers = false;
    for (unsigned i = 0; i < n; ++i) {
      setTid(i);
      f.wrapper(s.params);
    }
    return kSuccess;
  }
  s.fibers = true;
  while (stacks.size() < n) {
    void *mem = mmap(nullptr, kStackBytes + kGuardBytes,
                     PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
      return fail("cannot map a fiber stack", kOutOfMemory);
    mprotect(mem, kGuardBytes, PROT_NONE); // stacks grow down
    stacks.push_back(static_cast<char *>(mem));
  }
  s.threads.assign(n, Fiber());
  for (unsigned i = 0; i < n; ++i) {
    Fiber &t = s.threads[i];
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = stacks[i] + kGuardBytes;
    t.ctx.uc_stack.ss_size = kStackBytes;
    t.ctx.uc_link = &s.scheduler;
    makecontext(&t.ctx, fiberMain, 0);
  }
  unsigned live = n;
  while (live > 0) {
    for (unsigned i = 0; i < n; ++i) {
      if (s.threads[i].state != Fiber::Ready)
        continue;
      s.current = i;
      setTid(i);
      swapcontext(&s.scheduler, &s.threads[i].ctx);
      if (s.threads[i].state == Fiber::Done)
        --live;
    }
    // Every live thread is at the barrier (exited threads count as
    // arrived): release them.
    for (Fiber &t : s.threads)
      if (t.state == Fiber::AtBarrier)
        t.state = Fiber::Ready;
  }
  return kSuccess;
}

/// The host clock in ms, for events.
double nowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

extern "C" {
CUresult cuInit(unsigned) {
  initialized = true;
  return kSuccess;
}
CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return kSuccess;
}
CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return kInvalidDevice;
  *d = 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int len, int) {
  snprintf(name, size_t(len), "kjit CPU emulator");
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int) {
  switch (attr) {
  case 1: *v = 1024; break;      // max threads per block
  case 8: *v = 49152; break;     // shared memory per block
  case 16: *v = 132; break;      // SMs
  case 38: *v = 1 << 20; break;  // L2 bytes
  case 75: *v = 9; break;        // cc major
  case 76: *v = 0; break;        // cc minor
  default: return kInvalidValue;
  }
  return kSuccess;
}
CUresult cuGetErrorString(CUresult r, const char **s) {
  switch (r) {
  case kInvalidValue: *s = "invalid argument"; break;
  case kOutOfMemory: *s = "out of memory"; break;
  case kNoDevice: *s = "no CUDA-capable device is detected"; break;
  case kInvalidDevice: *s = "invalid device ordinal"; break;
  case kInvalidHandle: *s = "invalid resource handle"; break;
  case kNotFound: *s = "named symbol not found"; break;
  case kInvalidImage:
  case kLaunchFailed:
  case kUnknown: {
    std::lock_guard<std::mutex> lock(mu);
    *s = lastDetail.empty() ? "kjit GPU emulator: error" : lastDetail.c_str();
    break;
  }
  default: *s = nullptr; return kInvalidValue;
  }
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  *ctx = reinterpret_cast<void *>(0x1);
  return kSuccess;
}
CUresult cuCtxSetCurrent(void *) { return initialized ? kSuccess : 3; }

CUresult cuModuleLoadData(void **m, const void *image) {
  return loadModule(m, image);
}
CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned, int *,
                            void **) {
  return loadModule(m, image);
}
CUresult cuModuleUnload(void *m) {
  auto *mod = static_cast<Module *>(m);
  if (!mod)
    return kInvalidHandle;
  std::string why;
  Jit *jit = getJit(why);
  std::lock_guard<std::mutex> lock(mu);
  for (auto &[name, g] : mod->globals)
    globals.erase(uintptr_t(g.first));
  if (jit)
    llvm::consumeError(
        jit->jit->getExecutionSession().removeJITDylib(*mod->dylib));
  delete mod;
  return kSuccess;
}
CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  if (!m)
    return kInvalidHandle;
  auto *mod = static_cast<Module *>(m);
  auto it = mod->functions.find(name);
  if (it == mod->functions.end())
    return kNotFound;
  *f = &it->second;
  return kSuccess;
}
CUresult cuModuleGetGlobal_v2(unsigned long long *p, size_t *bytes, void *m,
                              const char *name) {
  if (!m)
    return kInvalidHandle;
  auto *mod = static_cast<Module *>(m);
  auto it = mod->globals.find(name);
  if (it == mod->globals.end())
    return kNotFound;
  if (p)
    *p = uintptr_t(it->second.first);
  if (bytes)
    *bytes = it->second.second;
  return kSuccess;
}
CUresult cuFuncSetAttribute(void *, int, int) { return kSuccess; }
CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *, void **params, void **extra) {
  if (!fn || (!params && extra))
    return fail("cuLaunchKernel: no function or no kernelParams",
                kInvalidValue);
  auto *f = static_cast<Function *>(fn);
  uint64_t threads = uint64_t(bx) * by * bz;
  if (threads == 0 || threads > 1024 || gx == 0 || gy == 0 || gz == 0)
    return fail("cuLaunchKernel: block " + std::to_string(bx) + "x" +
                    std::to_string(by) + "x" + std::to_string(bz) +
                    ", grid " + std::to_string(gx) + "x" +
                    std::to_string(gy) + "x" + std::to_string(gz) +
                    " is not a launch (1 to 1024 threads per block)",
                kInvalidValue);
  // A GPU's grid limits (compute capability 9.0): x < 2^31, y and z <=
  // 65535. Beyond them a launch fails there, so it fails here too.
  if (gx > 0x7fffffffu || gy > 65535 || gz > 65535)
    return fail("cuLaunchKernel: grid " + std::to_string(gx) + "x" +
                    std::to_string(gy) + "x" + std::to_string(gz) +
                    " exceeds the GPU's limits (x < 2^31, y and z <= 65535)",
                kInvalidValue);
  if (smem > 0)
    return fail("cuLaunchKernel: dynamic shared memory is not emulated",
                kInvalidValue);
  std::lock_guard<std::mutex> lock(launchMu);
  LaunchState s;
  s.ntid[0] = bx, s.ntid[1] = by, s.ntid[2] = bz;
  s.nctaid[0] = gx, s.nctaid[1] = gy, s.nctaid[2] = gz;
  s.wrapper = f->wrapper;
  s.params = params;
  LaunchState *previous = launch;
  launch = &s;
  CUresult r = kSuccess;
  for (unsigned z = 0; z < gz && r == kSuccess && s.error.empty(); ++z)
    for (unsigned y = 0; y < gy && r == kSuccess && s.error.empty(); ++y)
      for (unsigned x = 0; x < gx && r == kSuccess && s.error.empty(); ++x) {
        s.ctaid[0] = x, s.ctaid[1] = y, s.ctaid[2] = z;
        r = runBlock(s, *f);
      }
  launch = previous;
  if (r == kSuccess && !s.error.empty())
    return fail(f->name + ": " + s.error, kLaunchFailed);
  return r;
}
CUresult cuStreamCreate(void **s, unsigned) {
  *s = new int(0);
  return kSuccess;
}
CUresult cuStreamSynchronize(void *) { return kSuccess; }
CUresult cuStreamDestroy_v2(void *s) {
  delete static_cast<int *>(s);
  return kSuccess;
}
CUresult cuStreamWaitEvent(void *, void *, unsigned) { return kSuccess; }

CUresult cuEventCreate(void **e, unsigned) {
  *e = new double(0);
  return kSuccess;
}
CUresult cuEventRecord(void *e, void *) {
  if (!e)
    return kInvalidHandle;
  *static_cast<double *>(e) = nowMs(); // launches are synchronous
  return kSuccess;
}
CUresult cuEventSynchronize(void *) { return kSuccess; }
CUresult cuEventElapsedTime(float *ms, void *a, void *b) {
  if (!a || !b)
    return kInvalidHandle;
  *ms = float(*static_cast<double *>(b) - *static_cast<double *>(a));
  return kSuccess;
}
CUresult cuEventDestroy_v2(void *e) {
  delete static_cast<double *>(e);
  return kSuccess;
}
} // extern "C"
