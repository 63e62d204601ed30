//===- kjit-tune.cpp - the offline autotuner -----------------------------===//
//
// kjit-tune FILE.mlir... [--db=PATH] [--strategy=pruned|random|model]
//   [--top-k=N] [--budget=SECONDS] [--threads=N] [--resume] [--dry-run]
//
// Every kjit op in the files is a workload. Exit codes: 0 ok, 1 a tuning
// error, 2 bad input or usage.
//
//===----------------------------------------------------------------------===//
#include "autotune/Measurer.h"
#include "autotune/Tuner.h"
#include "compiler/Compiler.h"
#include "kjit/kjit.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

using namespace kjit;
using namespace kjit::autotune;
namespace cl = llvm::cl;

static cl::OptionCategory cat("kjit-tune options");
static cl::list<std::string> files(cl::Positional, cl::desc("<file.mlir>..."),
                                   cl::OneOrMore, cl::cat(cat));
static cl::opt<std::string>
    dbPath("db",
           cl::desc("Tuning database (default: $KJIT_TUNING_DB, else "
                    "<kjit cache dir>/tuning.sqlite)"),
           cl::value_desc("path"), cl::cat(cat));
static cl::opt<std::string>
    strategy("strategy", cl::desc("pruned (default), random or model"),
             cl::init("pruned"), cl::cat(cat));
static cl::opt<unsigned> topK("top-k",
                              cl::desc("Measure at most N candidates per "
                                       "workload (0: all survivors)"),
                              cl::init(0), cl::cat(cat));
static cl::opt<double> budget("budget",
                              cl::desc("Seconds of tuning per workload "
                                       "(0: no limit)"),
                              cl::init(30), cl::cat(cat));
// --threads=N: libLLVM already registers a global option named "threads",
// so this one is taken out of argv before llvm::cl sees it.
static unsigned threads = 0;
static cl::opt<bool> resume("resume",
                            cl::desc("Skip workloads already tuned for this "
                                     "target and compiler (default on; "
                                     "--resume=false to retune)"),
                            cl::init(true), cl::cat(cat));
static cl::opt<bool> dryRun("dry-run",
                            cl::desc("Print each space and its pruning; "
                                     "measure nothing"),
                            cl::cat(cat));

static std::string fmtTime(std::optional<double> s) {
  if (!s)
    return "failed";
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f us", *s * 1e6);
  return buf;
}

int main(int argc, char **argv) {
  std::vector<char *> args;
  for (int i = 0; i < argc; ++i) {
    llvm::StringRef a(argv[i]);
    if (i > 0 && (a.consume_front("--threads=") ||
                  a.consume_front("-threads="))) {
      if (a.getAsInteger(10, threads) || threads == 0) {
        llvm::errs() << "kjit-tune: --threads needs a positive integer, got '"
                     << a << "'\n";
        return 2;
      }
      continue;
    }
    args.push_back(argv[i]);
  }
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(
      (int)args.size(), args.data(),
      "kjit-tune: the offline kjit autotuner\n\n"
      "  --threads=N   tune for N threads (default: every core)\n");
  if (strategy != "pruned" && strategy != "random" && strategy != "model") {
    llvm::errs() << "kjit-tune: unknown --strategy '" << strategy
                 << "' (pruned, random or model)\n";
    return 2;
  }
  compiler::CpuTarget cpu = compiler::CpuTarget::host();
  TargetInfo target = cpu.info;
  std::string targetKey = cpu.key();
  if (threads > 0 && threads != target.numCores) {
    target.numCores = threads;
    targetKey += ";tuned-threads=" + std::to_string(threads);
  }
  std::string compilerKey = compiler::compilerKey();

  std::vector<Workload> workloads;
  for (const std::string &f : files) {
    auto buf = llvm::MemoryBuffer::getFile(f);
    if (!buf) {
      llvm::errs() << "kjit-tune: cannot read '" << f
                   << "': " << buf.getError().message() << "\n";
      return 2;
    }
    auto ws = extractWorkloads((*buf)->getBuffer().str());
    if (!ws) {
      llvm::errs() << "kjit-tune: " << f << ": "
                   << llvm::toString(ws.takeError()) << "\n";
      return 2;
    }
    workloads.insert(workloads.end(), ws->begin(), ws->end());
  }

  std::unique_ptr<SqliteDatabase> db;
  std::unique_ptr<Jit> jit;
  std::unique_ptr<RuntimeMeasurer> measurer;
  if (!dryRun) {
    std::string path = dbPath.empty() ? SqliteDatabase::defaultPath()
                                      : std::string(dbPath);
    auto d = SqliteDatabase::open(path);
    if (!d) {
      llvm::errs() << "kjit-tune: " << llvm::toString(d.takeError()) << "\n";
      return 2;
    }
    db = std::move(*d);
    jit = std::make_unique<Jit>();
    measurer = std::make_unique<RuntimeMeasurer>(*jit, target);
  }

  TuneOptions opts;
  opts.strategy = strategy;
  opts.topK = topK;
  opts.budget.seconds = budget;
  opts.resume = resume;
  opts.dryRun = dryRun;
  int rc = 0;
  std::vector<TuneResult> results;
  for (size_t i = 0; i < workloads.size(); ++i) {
    const Workload &w = workloads[i];
    llvm::outs() << "workload " << i + 1 << "/" << workloads.size() << ": "
                 << w.opName << " " << w.key.substr(0, 16) << "\n";
    llvm::outs().flush();
    auto r = tuneWorkload(
        w, target, targetKey, compilerKey, db.get(), measurer.get(), opts,
        [&](uint64_t n, const Candidate &c, const Measurement &m) {
          llvm::outs() << "  [" << n << "] " << c.configText << "  "
                       << (m.ok() ? fmtTime(m.medianSeconds) +
                                        " (spread " +
                                        fmtTime(m.spreadSeconds) + ")"
                                  : std::string(statusName(m.status)) +
                                        ": " + m.message)
                       << "\n";
          llvm::outs().flush();
        });
    if (!r) {
      llvm::errs() << "kjit-tune: " << w.opName << ": "
                   << llvm::toString(r.takeError()) << "\n";
      rc = 1;
      continue;
    }
    llvm::outs() << formatReport(r->pruning);
    if (!r->modelPick.empty())
      llvm::outs() << "  model pick: " << r->modelPick << "\n";
    if (r->skipped)
      llvm::outs() << "  already tuned (resume): best " << r->bestConfig
                   << " " << fmtTime(r->bestSeconds) << "\n";
    results.push_back(std::move(*r));
  }
  if (dryRun)
    return rc;
  llvm::outs() << "\n"
               << llvm::format("%-24s %-17s %12s %12s %8s %10s %8s\n", "op",
                               "workload", "default", "best", "speedup",
                               "meas/fail", "seconds");
  for (const TuneResult &r : results) {
    std::string speed = "-";
    if (r.defaultSeconds && r.bestSeconds && *r.bestSeconds > 0) {
      char b[32];
      snprintf(b, sizeof b, "%.2fx", *r.defaultSeconds / *r.bestSeconds);
      speed = b;
    }
    std::string mf = r.skipped ? "resumed"
                               : std::to_string(r.measured) + "/" +
                                     std::to_string(r.failed);
    llvm::outs() << llvm::format(
        "%-24s %-17s %12s %12s %8s %10s %8.1f\n", r.workload.opName.c_str(),
        r.workload.key.substr(0, 16).c_str(),
        fmtTime(r.defaultSeconds).c_str(), fmtTime(r.bestSeconds).c_str(),
        speed.c_str(), mf.c_str(), r.seconds);
    if (!r.bestConfig.empty())
      llvm::outs() << "  best: " << r.bestConfig << "\n";
  }
  return rc;
}
