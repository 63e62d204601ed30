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

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>

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

TuningSelector::TuningSelector(std::string path, size_t memoCapacity)
    : path_(std::move(path)), memoCapacity_(std::max<size_t>(memoCapacity, 1)) {
}
TuningSelector::~TuningSelector() = default;

bool TuningSelector::inCacheDirectory(const std::string &tuningDb) {
  const char *env = getenv("KJIT_TUNING_DB");
  return tuningDb.empty() && !(env && *env);
}

std::string TuningSelector::resolvePath(const std::string &tuningDb,
                                        const std::string &cacheDir) {
  if (!tuningDb.empty())
    return tuningDb;
  if (!inCacheDirectory(tuningDb))
    return getenv("KJIT_TUNING_DB");
  return cacheDir.empty() ? "" : cacheDir + "/tuning.sqlite";
}

void TuningSelector::forget() {
  std::lock_guard<std::mutex> lock(mu_);
  memo_.clear();
  memoOrder_.clear();
}

std::string TuningSelector::problem() {
  std::lock_guard<std::mutex> lock(mu_);
  return problem_;
}

size_t TuningSelector::memoSize() {
  std::lock_guard<std::mutex> lock(mu_);
  return memo_.size();
}

bool TuningSelector::FileState::operator==(const FileState &o) const {
  return exists == o.exists && device == o.device && inode == o.inode &&
         size == o.size && modifiedNs == o.modifiedNs;
}

TuningSelector::FileState TuningSelector::fileState(const std::string &path) {
  FileState f;
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return f;
  f.exists = true;
  f.device = st.st_dev;
  f.inode = st.st_ino;
  f.size = st.st_size;
  f.modifiedNs = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return f;
}

void TuningSelector::fail(const std::string &why) {
  db_.reset();
  memo_.clear();
  memoOrder_.clear();
  problem_ = why;
  failedFile_ = fileState(path_);
  retryAt_ = std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                 std::chrono::duration<double>(kRetrySeconds));
  if (warned_.insert(why).second)
    fprintf(stderr,
            "kjit: warning: tuning database not used (default configs): "
            "%s\n",
            why.c_str());
}

autotune::SqliteDatabase *TuningSelector::database() {
  if (db_)
    return db_.get();
  if (path_.empty() || path_ == "off")
    return nullptr;
  FileState now = fileState(path_);
  // A failed database is tried again once its file changed (replaced,
  // repaired, written) or after the back-off (a lock, a transient error).
  if (!problem_.empty() && now == failedFile_ &&
      std::chrono::steady_clock::now() < retryAt_)
    return nullptr;
  // A missing file is no error: nothing has been tuned yet (looked for
  // again at the next compile).
  if (!now.exists) {
    problem_.clear();
    return nullptr;
  }
  auto opened = autotune::SqliteDatabase::openReadOnly(path_);
  if (!opened) {
    fail(llvm::toString(opened.takeError()));
    return nullptr;
  }
  db_ = std::move(*opened);
  problem_.clear();
  // What was remembered without the database is stale now.
  memo_.clear();
  memoOrder_.clear();
  return db_.get();
}

void TuningSelector::remember(const std::string &key,
                              const OpSelection &selection) {
  memoOrder_.emplace_front(key, selection);
  memo_[memoOrder_.front().first] = memoOrder_.begin();
  while (memo_.size() > memoCapacity_) {
    memo_.erase(memoOrder_.back().first);
    memoOrder_.pop_back();
  }
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
  if (auto it = memo_.find(memoKey); it != memo_.end()) {
    memoOrder_.splice(memoOrder_.begin(), memoOrder_, it->second);
    return it->second->second;
  }

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
  // Records of this tuning epoch only: an older epoch's are seeds for
  // tuning, never served.
  std::string epoch = compiler::tuningEpoch();
  OpSelection out;
  std::string readError; // the database failed: defaults, not remembered
  unsigned index = 0;
  module->walk([&](mlir::kjit::TunableOpInterface op) {
    unsigned i = index++;
    if (mlir::kjit::getConfig(op)) {
      out.sources.push_back("own");
      return;
    }
    autotune::Workload w = autotune::workloadOf(op.getOperation());
    autotune::Selection s;
    if (db && readError.empty()) {
      if (auto found = autotune::selectConfig(*db, w, targetKey, epoch))
        s = std::move(*found);
      else
        readError = llvm::toString(found.takeError());
    }
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
  if (!readError.empty())
    fail(readError);
  else
    remember(memoKey, out);
  return out;
}
