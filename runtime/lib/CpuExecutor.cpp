//===- CpuExecutor.cpp - ORC-based object loader --------------------------===//
#include "CpuExecutor.h"
#include "KernelErrors.h"
#include "RuntimeInternal.h"
#include "compiler/Compiler.h"

#include "llvm/ExecutionEngine/Orc/AbsoluteSymbols.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"

#include <atomic>
#include <cstdio>
#include <mutex>

using namespace kjit;
using namespace kjit::runtime;

struct CpuExecutor::Impl {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::atomic<uint64_t> nextId{0};
};

Result<CpuExecutor *> CpuExecutor::get() {
  static std::once_flag once;
  static CpuExecutor *executor;
  static Status failure;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // Generated code may call into libomp; it must be resolvable before the
    // first object is linked.
    if (llvm::Error err = compiler::loadRuntimeLibraries()) {
      failure = toStatus(std::move(err), "cannot load kjit's runtime libraries");
      return;
    }
    auto jit = llvm::orc::LLJITBuilder().create();
    if (!jit) {
      failure = internalError("cannot create the ORC JIT: " +
                              llvm::toString(jit.takeError()));
      return;
    }
    auto *impl = new Impl;
    impl->jit = std::move(*jit);
    executor = new CpuExecutor(impl);
  });
  if (!executor)
    return failure;
  return executor;
}

namespace {
/// JITDylibs created and not yet removed.
std::atomic<size_t> liveCount{0};
} // namespace

size_t CpuExecutor::liveObjects() { return liveCount.load(); }

LoadedObject::~LoadedObject() {
  // The executor made this object, so it exists (and is never destroyed).
  Result<CpuExecutor *> executor = CpuExecutor::get();
  if (!executor)
    return;
  // Removing the JITDylib releases its code and data memory and its EH
  // frame registration. A failure leaves the memory in place: a leak, and
  // nothing a caller could act on from a destructor.
  if (llvm::Error err =
          (*executor)->impl_->jit->getExecutionSession().removeJITDylib(
              *dylib_))
    fprintf(stderr, "kjit: warning: cannot unload a kernel's code: %s\n",
            llvm::toString(std::move(err)).c_str());
  --liveCount;
}

Result<std::unique_ptr<LoadedObject>> CpuExecutor::loadObject(
    std::string_view object, const std::vector<std::string> &symbols,
    const std::vector<std::pair<const char *, void *>> &extraSymbols) {
  llvm::orc::LLJIT &jit = *impl_->jit;
  std::string name = "kjit.kernel." + std::to_string(impl_->nextId++);
  auto jd = jit.getExecutionSession().createJITDylib(name);
  if (!jd)
    return internalError("cannot create JITDylib: " +
                         llvm::toString(jd.takeError()));
  ++liveCount;
  // Owned from here on: an error below unloads what was set up.
  std::unique_ptr<LoadedObject> loaded(new LoadedObject(&*jd, {}));
  // omp_* first from LLVM's libomp: GNU libgomp may be in the process too
  // (oneDNN, PyTorch, OpenBLAS) and exports the same names; a kernel that
  // took omp_get_thread_num from it and __kmpc_fork_call from libomp would
  // see every thread as thread 0. Only OpenMP's own names: a search of
  // libomp's handle also reaches libc, and a kernel's malloc must be the
  // process's (an interposed allocator's, e.g. jemalloc or ASan's), the
  // one that frees what runAllocating returns.
  auto omp = llvm::orc::DynamicLibrarySearchGenerator::Load(
      compiler::openMPRuntimePath(), jit.getDataLayout().getGlobalPrefix(),
      [](const llvm::orc::SymbolStringPtr &name) {
        llvm::StringRef n = *name;
        for (llvm::StringRef prefix : {"omp_", "ompx_", "ompc_", "ompt_",
                                       "__kmpc_", "__kmp_", "kmp_", "kmpc_",
                                       "GOMP_"})
          if (n.starts_with(prefix))
            return true;
        return false;
      });
  if (!omp)
    return internalError("cannot search the OpenMP runtime for symbols: " +
                         llvm::toString(omp.takeError()));
  jd->addGenerator(std::move(*omp));
  // The runtime's own entry points, bound directly (not through a search of
  // the process, which misses them when libkjit.so was dlopen'ed with
  // RTLD_LOCAL).
  llvm::orc::MangleAndInterner mangle(jit.getExecutionSession(),
                                      jit.getDataLayout());
  llvm::orc::SymbolMap runtimeSymbols;
  runtimeSymbols[mangle("kjit_rt_report_error")] = {
      llvm::orc::ExecutorAddr::fromPtr(&kjit_rt_report_error),
      llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  for (const auto &[sym, addr] : extraSymbols)
    runtimeSymbols[mangle(sym)] = {
        llvm::orc::ExecutorAddr::fromPtr(addr),
        llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  if (llvm::Error err =
          jd->define(llvm::orc::absoluteSymbols(std::move(runtimeSymbols))))
    return internalError("cannot define the runtime's symbols: " +
                         llvm::toString(std::move(err)));
  auto generator =
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          jit.getDataLayout().getGlobalPrefix());
  if (!generator)
    return internalError("cannot search the process for symbols: " +
                         llvm::toString(generator.takeError()));
  jd->addGenerator(std::move(*generator));
  // Also see what the platform set up (e.g. __dso_handle, atexit shims).
  jd->addToLinkOrder(jit.getMainJITDylib());

  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(object.data(), object.size()), name);
  if (llvm::Error err = jit.addObjectFile(*jd, std::move(buffer)))
    return internalError("cannot add kernel object: " +
                         llvm::toString(std::move(err)));
  for (const std::string &symbol : symbols) {
    auto addr = jit.lookup(*jd, symbol);
    if (!addr)
      return internalError("cannot link kernel symbol '" + symbol +
                           "': " + llvm::toString(addr.takeError()));
    loaded->addresses_.push_back(addr->toPtr<void *>());
  }
  return loaded;
}
