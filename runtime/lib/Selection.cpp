//===- Selection.cpp - run-time config selection for the Jit -------------===//
#include "Selection.h"
#include "CudaExecutor.h"

#include "autotune/Selector.h"
#include "autotune/Tuner.h"
#include "autotune/Workload.h"
#include "compiler/InitAll.h"
#include "compiler/Pipelines/NVVMPipeline.h"
#include "compiler/SourceLimits.h"
#include "dialects/kjit/IR/KjitDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"

#include <cstdio>
#include <cstdlib>

using namespace kjit;
using namespace kjit::runtime;

std::string kjit::runtime::tuningTargetKey(const compiler::CpuTarget &target,
                                           int threads) {
  std::string key = target.key();
  // As kjit-tune --threads=N records it.
  if (threads > 0 && threads != target.info.numCores)
    key += ";tuned-threads=" + std::to_string(threads);
  return key;
}

TuningTarget kjit::runtime::cpuTuningTarget(const compiler::CpuTarget &cpu,
                                            int threads) {
  TuningTarget t;
  t.info = cpu.info;
  if (threads > 0)
    t.info.numCores = unsigned(threads);
  t.key = tuningTargetKey(cpu, threads);
  return t;
}

llvm::Expected<TuningTarget> kjit::runtime::cudaTuningTarget(int ordinal) {
  auto dev = cudaDeviceInfo(ordinal);
  if (!dev)
    return dev.takeError();
  std::string chip = dev->chip();
  auto info = compiler::cudaTargetInfo(chip);
  if (!info)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "CUDA device " + std::to_string(ordinal) + " (" + dev->name +
            ") is " + chip + ", a chip kjit does not compile for");
  TuningTarget t;
  t.info = *info;
  if (dev->smCount > 0)
    t.info.smCount = unsigned(dev->smCount);
  t.key = cudaTargetKey(*dev);
  t.cudaChip = chip;
  t.cudaOrdinal = ordinal;
  return t;
}

TuningSelector::TuningSelector(std::string path) : path_(std::move(path)) {}
TuningSelector::~TuningSelector() = default;

std::string TuningSelector::resolvePath(const std::string &tuningDb,
                                        const std::string &cacheDir) {
  if (!tuningDb.empty())
    return tuningDb;
  if (const char *p = getenv("KJIT_TUNING_DB"); p && *p)
    return p;
  return cacheDir.empty() ? "" : cacheDir + "/tuning.sqlite";
}

void TuningSelector::forget() {
  std::lock_guard<std::mutex> lock(mu_);
  memo_.clear();
}

std::string TuningSelector::problem() {
  std::lock_guard<std::mutex> lock(mu_);
  return problem_;
}

autotune::SqliteDatabase *TuningSelector::database() {
  if (db_ || failed_)
    return db_.get();
  if (path_.empty() || path_ == "off")
    return nullptr;
  // A missing file is no error: nothing has been tuned yet (looked for
  // again at the next compile).
  if (!llvm::sys::fs::exists(path_))
    return nullptr;
  auto opened = autotune::SqliteDatabase::openReadOnly(path_);
  if (!opened) {
    failed_ = true;
    problem_ = llvm::toString(opened.takeError());
    fprintf(stderr,
            "kjit: warning: tuning database not used (default configs): "
            "%s\n",
            problem_.c_str());
    return nullptr;
  }
  db_ = std::move(*opened);
  return db_.get();
}

OpSelection TuningSelector::select(const std::string &mlirText,
                                   const TuningTarget &target,
                                   bool modelPick) {
  std::lock_guard<std::mutex> lock(mu_);
  autotune::SqliteDatabase *db = database();
  if (!db && !modelPick)
    return {};
  std::string memoKey =
      target.key + (modelPick ? "\nm\n" : "\n\n") + mlirText;
  if (auto it = memo_.find(memoKey); it != memo_.end())
    return it->second;

  mlir::MLIRContext ctx(compiler::getRegistry(),
                        mlir::MLIRContext::Threading::DISABLED);
  // Parse errors are prepare()'s to report; here they mean no selection.
  mlir::ScopedDiagnosticHandler quiet(
      &ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  if (llvm::Error e = compiler::checkSourceNesting(mlirText)) {
    llvm::consumeError(std::move(e));
    return {};
  }
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(mlirText, &ctx, "input.mlir");
  if (!module)
    return {};
  const std::string &targetKey = target.key;
  std::string compilerKey = compiler::compilerKey();
  OpSelection out;
  unsigned index = 0;
  module->walk([&](mlir::kjit::TunableOpInterface op) {
    unsigned i = index++;
    if (mlir::kjit::getConfig(op)) {
      out.sources.push_back("own");
      return;
    }
    autotune::Workload w = autotune::workloadOf(op.getOperation());
    autotune::Selection s;
    if (db)
      s = autotune::selectConfig(*db, w, targetKey, compilerKey);
    switch (s.source) {
    case autotune::Selection::Source::Exact:
      out.configs[i] = s.config;
      out.sources.push_back("tuned");
      break;
    case autotune::Selection::Source::Nearest:
      out.configs[i] = s.config;
      out.sources.push_back("nearest " + s.fromWorkloadKey.substr(0, 16));
      break;
    case autotune::Selection::Source::None:
      if (modelPick) {
        // prepare() re-verifies it like any suggestion.
        if (auto pick = autotune::modelOnlyPick(w, target.info)) {
          out.configs[i] = *pick;
          out.sources.push_back("model");
          break;
        } else {
          llvm::consumeError(pick.takeError());
        }
      }
      out.sources.push_back("default");
      break;
    }
  });
  memo_[memoKey] = out;
  return out;
}
