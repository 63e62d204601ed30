//===- kjit-tune.cpp - the offline autotuner -----------------------------===//
//
// kjit-tune INPUT... [--db=PATH]
//   [--target=host|cpu|cpu:NAME|cuda|cuda:N|sm_NN]
//   [--strategy=pruned|guided|random|model] [--top-k=N] [--budget=SECONDS]
//   [--total-budget=SECONDS] [--timeout=SECONDS] [--threads=N] [--resume]
//   [--dry-run] [--export=FILE] [--import=FILE] [--plot=DIR]
//
// INPUT: an MLIR file (every kjit op is a workload), a workload list
// (*.list: one MLIR path a line, '#' comments, relative to the
// list) or JSON lines with a "workload_text" field (*.jsonl, e.g. an
// --export). Every candidate is measured in a child process (this binary,
// run as `kjit-tune --measure-worker REQ RES`): a crash or a hang is a failed
// candidate, and tuning goes on. Ctrl-C stops after saving what was
// measured. --target=cuda[:N] measures on CUDA device N (default 0) with
// CUDA events, the L2 flushed before each timed run; records are keyed by
// the GPU (name, compute capability, SM count, driver version: the key
// Jit(Target::cuda(N)) selects with). --target=cpu:NAME tunes a named CPU
// ISA (x86-64-v3, x86-64-v4, an LLVM CPU name; cpu:host is the host) on
// this CPU, keyed by that target (the key Jit(Target::cpu(NAME)) selects
// with); one this CPU cannot execute is for --dry-run only. --target=sm_NN
// is the no-device
// --dry-run of a chip's spaces. The database (default: the kjit cache
// directory's, created when missing) must be writable: a measurement it
// cannot record (a full disk, a lock held past the busy timeout, an I/O
// error) stops the run, and that workload is resumed by the next run, as is
// one whose run was killed. Exit codes: 0 ok, 1 a tuning or database error
// (also: no CUDA driver or device for --target=cuda, a failed --export, the
// measuring itself failing, e.g. no temporary directory), 2 bad input or
// usage (a number flag out of its range, a --db that cannot be opened for
// recording), 130 interrupted.
//
//===----------------------------------------------------------------------===//
#include "autotune/Plot.h"
#include "autotune/ProcessMeasurer.h"
#include "autotune/Tuner.h"
#include "compiler/Compiler.h"
#include "compiler/Pipelines/NVVMPipeline.h"

#include "Selection.h" // runtime/lib: the tuning target of a CUDA device

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <set>
#include <unistd.h>

using namespace kjit;
using namespace kjit::autotune;
namespace cl = llvm::cl;

static cl::OptionCategory cat("kjit-tune options");

// Number flags are checked where llvm::cl parses them: NaN, an infinity, a
// negative, a zero where it means nothing or a value that does not parse is
// a usage error (exit 2) naming the flag and its range, before anything is
// measured.
static constexpr unsigned kMaxCount = 2147483647; // measure.repeats is an int

/// "" when `arg` is an integer in [min, kMaxCount] (stored in `v`), else
/// what is wrong.
static std::string parseCount(llvm::StringRef arg, unsigned min, unsigned &v) {
  unsigned long long n = 0;
  if (arg.getAsInteger(10, n) || n < min || n > kMaxCount)
    return "expected an integer from " + std::to_string(min) + " to " +
           std::to_string(kMaxCount) + ", got '" + arg.str() + "'";
  v = (unsigned)n;
  return "";
}

/// A count flag of at least Min.
template <unsigned Min> struct CountParser : cl::parser<unsigned> {
  using cl::parser<unsigned>::parser;
  bool parse(cl::Option &o, llvm::StringRef, llvm::StringRef arg, unsigned &v) {
    std::string why = parseCount(arg, Min, v);
    return why.empty() ? false : o.error(why);
  }
};

/// A flag of seconds: finite, >= 0 (0: no limit) or, without AllowZero,
/// > 0.
template <bool AllowZero> struct SecondsParser : cl::parser<double> {
  using cl::parser<double>::parser;
  bool parse(cl::Option &o, llvm::StringRef, llvm::StringRef arg, double &v) {
    if (!arg.getAsDouble(v) && std::isfinite(v) && (AllowZero ? v >= 0 : v > 0))
      return false;
    return o.error(std::string("expected a finite number of seconds ") +
                   (AllowZero ? ">= 0 (0: no limit)" : "> 0") + ", got '" +
                   arg.str() + "'");
  }
};

/// A percentage flag: finite, > 0 and <= 100.
struct PercentParser : cl::parser<double> {
  using cl::parser<double>::parser;
  bool parse(cl::Option &o, llvm::StringRef, llvm::StringRef arg, double &v) {
    if (!arg.getAsDouble(v) && std::isfinite(v) && v > 0 && v <= 100)
      return false;
    return o.error("expected a percentage > 0 and <= 100, got '" + arg.str() +
                   "'");
  }
};

static cl::list<std::string>
    inputs(cl::Positional,
           cl::desc("<file.mlir | workloads.list | workloads.jsonl>..."),
           cl::ZeroOrMore, cl::cat(cat));
static cl::opt<std::string>
    dbPath("db",
           cl::desc("Tuning database (default: $KJIT_TUNING_DB, else "
                    "<kjit cache dir>/tuning.sqlite)"),
           cl::value_desc("path"), cl::cat(cat));
static cl::opt<std::string>
    targetName("target",
               cl::desc("host or cpu (default); cpu:NAME (a named CPU ISA: "
                        "x86-64-v3, x86-64-v4, znver3, ...); cuda or cuda:N "
                        "(measure on CUDA "
                        "device N, default 0); or a CUDA chip such as sm_90 "
                        "(--dry-run only: its GPU search spaces, no device)"),
               cl::init("host"), cl::cat(cat));
static cl::opt<std::string>
    strategy("strategy",
             cl::desc("pruned (default: the pruned space in cost-model "
                      "order), guided (model-seeded local search), random "
                      "or model (measure only the default)"),
             cl::init("pruned"), cl::cat(cat));
static cl::opt<unsigned, false, CountParser<0>>
    topK("top-k",
         cl::desc("Measure at most N candidates per workload (0: no bound)"),
         cl::init(0), cl::cat(cat));
static cl::opt<double, false, SecondsParser<true>>
    budget("budget", cl::desc("Seconds of tuning per workload (0: no limit)"),
           cl::init(30), cl::cat(cat));
static cl::opt<double, false, SecondsParser<true>>
    totalBudget("total-budget",
                cl::desc("Seconds of tuning for the whole run (0: no "
                         "limit); workloads left when it is spent are not "
                         "tuned"),
                cl::init(0), cl::cat(cat));
static cl::opt<double, false, SecondsParser<false>>
    timeout("timeout",
            cl::desc("Seconds one candidate may take (compile + runs) before "
                     "it is killed and recorded as a timeout"),
            cl::init(60), cl::cat(cat));
static cl::opt<unsigned, false, CountParser<1>>
    repeats("repeats",
            cl::desc("Timed runs per candidate at least (more until --ci "
                     "or --measure-budget; the median is recorded)"),
            cl::init(7), cl::cat(cat));
static cl::opt<double, false, PercentParser>
    ciPercent("ci",
              cl::desc("Repeat a candidate until the 95% interval of its "
                       "median is within PCT percent of it (default 3)"),
              cl::value_desc("PCT"), cl::init(3), cl::cat(cat));
static cl::opt<double, false, SecondsParser<false>>
    measureBudget("measure-budget",
                  cl::desc("Seconds of timed runs per candidate at most "
                           "(default 1)"),
                  cl::init(1), cl::cat(cat));
static cl::opt<double, false, SecondsParser<false>>
    compareBudget("compare-budget",
                  cl::desc("Seconds of timed runs per paired comparison "
                           "(finalists, and the winner against the default) "
                           "at most (default 2)"),
                  cl::init(2), cl::cat(cat));
static cl::opt<unsigned, false, CountParser<1>>
    finalists("finalists",
              cl::desc("The fastest N of the search meet in paired "
                       "comparisons before the winner is confirmed against "
                       "the default (default 3)"),
              cl::init(3), cl::cat(cat));
// --threads=N: libLLVM already registers a global option named "threads",
// so this one is taken out of argv before llvm::cl sees it.
static unsigned threads = 0;
static cl::opt<bool> resume("resume",
                            cl::desc("Skip workloads already tuned for this "
                                     "target and tuning epoch (default on; "
                                     "--resume=false to retune)"),
                            cl::init(true), cl::cat(cat));
static cl::opt<unsigned, false, CountParser<0>>
    seeds("seeds",
          cl::desc("Measure first the best configs of at most N records of "
                   "the workload from other targets or tuning epochs "
                   "(default 4; 0: none)"),
          cl::init(4), cl::cat(cat));
static cl::opt<bool> dryRun("dry-run",
                            cl::desc("Print each space and its pruning; "
                                     "measure nothing"),
                            cl::cat(cat));
static cl::opt<std::string>
    exportPath("export",
               cl::desc("After tuning, write every record of the database "
                        "as JSON lines to FILE"),
               cl::value_desc("FILE"), cl::cat(cat));
static cl::opt<std::string>
    importPath("import",
               cl::desc("Before tuning, add the records of a JSON-lines "
                        "FILE to the database"),
               cl::value_desc("FILE"), cl::cat(cat));
static cl::opt<std::string>
    plotDir("plot",
            cl::desc("Directory of the run's SVG plot (default: the "
                     "database's directory)"),
            cl::value_desc("DIR"), cl::cat(cat));

static std::atomic<bool> gStop{false};
extern "C" void onInterrupt(int) {
  if (gStop.exchange(true)) {
    // A second Ctrl-C: every committed record is already on disk.
    _exit(130);
  }
}

static std::string fmtTime(std::optional<double> s) {
  if (!s)
    return "-";
  char buf[32];
  if (*s < 1e-3)
    snprintf(buf, sizeof buf, "%.1f us", *s * 1e6);
  else
    snprintf(buf, sizeof buf, "%.2f ms", *s * 1e3);
  return buf;
}

static int usage(const llvm::Twine &msg) {
  llvm::errs() << "kjit-tune: " << msg << "\n";
  return 2;
}

/// Reads the workloads of one input; appends to `out`.
static llvm::Error readInput(const std::string &path,
                             std::vector<Workload> &out, int depth = 0) {
  auto fail = [&](const llvm::Twine &m) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), m);
  };
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return fail("cannot read '" + path + "': " + buf.getError().message());
  llvm::StringRef text = (*buf)->getBuffer();
  llvm::StringRef ext = llvm::sys::path::extension(path);
  if (ext == ".jsonl") {
    unsigned line = 0;
    while (!text.empty()) {
      auto [l, rest] = text.split('\n');
      text = rest;
      ++line;
      if (l.trim().empty())
        continue;
      auto v = llvm::json::parse(l);
      if (!v)
        return fail(path + ":" + llvm::Twine(line) + ": " +
                    llvm::toString(v.takeError()));
      auto *o = v->getAsObject();
      auto wt = o ? o->getString("workload_text") : std::nullopt;
      if (!wt)
        return fail(path + ":" + llvm::Twine(line) +
                    ": no \"workload_text\" string");
      auto ws = extractWorkloads(wt->str());
      if (!ws)
        return fail(path + ":" + llvm::Twine(line) + ": " +
                    llvm::toString(ws.takeError()));
      out.insert(out.end(), ws->begin(), ws->end());
    }
    return llvm::Error::success();
  }
  if (ext == ".list") {
    if (depth > 0)
      return fail("'" + path + "': a workload list inside a list");
    llvm::SmallString<256> dir(path);
    llvm::sys::path::remove_filename(dir);
    unsigned line = 0;
    while (!text.empty()) {
      auto [l, rest] = text.split('\n');
      text = rest;
      ++line;
      l = l.split('#').first.trim();
      if (l.empty())
        continue;
      llvm::SmallString<256> p(l);
      if (llvm::sys::path::is_relative(p) && !dir.empty()) {
        p = dir;
        llvm::sys::path::append(p, l);
      }
      if (auto e = readInput(p.str().str(), out, depth + 1))
        return fail(path + ":" + llvm::Twine(line) + ": " +
                    llvm::toString(std::move(e)));
    }
    return llvm::Error::success();
  }
  auto ws = extractWorkloads(text.str());
  if (!ws)
    return fail(path + ": " + llvm::toString(ws.takeError()));
  out.insert(out.end(), ws->begin(), ws->end());
  return llvm::Error::success();
}

/// A progress bar on a terminal, plain lines otherwise.
struct Progress {
  bool tty = isatty(STDOUT_FILENO);
  uint64_t planned = 0;
  std::string label;
  std::chrono::steady_clock::time_point start;
  double budgetSeconds = 0;
  bool drawn = false;

  void begin(const std::string &l, uint64_t plan, double budgetS) {
    label = l;
    planned = plan;
    budgetSeconds = budgetS;
    start = std::chrono::steady_clock::now();
  }
  void update(uint64_t n, const Candidate &c, const Measurement &m,
              std::optional<double> best) {
    if (!tty) {
      llvm::outs() << "  [" << n << "] " << c.configText << "  "
                   << (m.ok() ? fmtTime(m.medianSeconds) + " (spread " +
                                    fmtTime(m.spreadSeconds) + ")"
                              : std::string(statusName(m.status)) + ": " +
                                    m.message)
                   << "\n";
      llvm::outs().flush();
      return;
    }
    double elapsed = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    double frac = planned ? double(n) / planned : 0;
    if (budgetSeconds > 0)
      frac = std::max(frac, elapsed / budgetSeconds);
    frac = std::min(1.0, frac);
    const int width = 30;
    int fill = (int)std::lround(frac * width);
    std::string bar(fill, '#');
    bar += std::string(width - fill, '.');
    char line[256];
    snprintf(line, sizeof line, "\r  [%s] %3d%% %llu/%llu  best %s  %s%s",
             bar.c_str(), (int)std::lround(frac * 100),
             (unsigned long long)n, (unsigned long long)planned,
             fmtTime(best).c_str(), m.ok() ? "" : statusName(m.status),
             "\033[K");
    llvm::outs() << line;
    llvm::outs().flush();
    drawn = true;
  }
  void end() {
    if (tty && drawn)
      llvm::outs() << "\n";
    drawn = false;
  }
};

int main(int argc, char **argv) {
  if (argc >= 2 && llvm::StringRef(argv[1]) == "--measure-worker") {
    if (argc != 4) {
      llvm::errs() << "kjit-tune: --measure-worker REQUEST RESULT\n";
      return 2;
    }
    return runMeasureWorker(argv[2], argv[3]);
  }
  std::vector<char *> args;
  for (int i = 0; i < argc; ++i) {
    llvm::StringRef a(argv[i]);
    if (i > 0 && (a.consume_front("--threads=") ||
                  a.consume_front("-threads="))) {
      if (std::string why = parseCount(a, 1, threads); !why.empty())
        return usage("for the --threads option: " + why);
      continue;
    }
    args.push_back(argv[i]);
  }
  cl::HideUnrelatedOptions(cat);
  if (!cl::ParseCommandLineOptions(
          (int)args.size(), args.data(),
          "kjit-tune: the offline kjit autotuner\n\n"
          "  kjit-tune model.mlir --db=tuning.sqlite --budget=60\n"
          "  kjit-tune model.mlir --dry-run            (spaces and pruning)\n"
          "  kjit-tune model.mlir --target=cuda        (on CUDA device 0)\n"
          "  kjit-tune model.mlir --target=cuda:1 --budget=120\n"
          "  kjit-tune model.mlir --target=sm_90 --dry-run  (no GPU needed)\n"
          "  kjit-tune --db=a.sqlite --export=a.jsonl  (and --import=...)\n\n"
          "  --threads=N   tune for N threads (default: every core)\n",
          &llvm::errs()))
    return 2;
  if (strategy != "pruned" && strategy != "guided" && strategy != "random" &&
      strategy != "model")
    return usage("unknown --strategy '" + strategy +
                 "' (pruned, guided, random or model)");
  if (inputs.empty() && importPath.empty() && exportPath.empty())
    return usage("no input (give MLIR files, a workload list, or "
                 "--import/--export; --help for usage)");

  // The target.
  TargetInfo target;
  std::string targetKey, chip;
  std::string cpuTarget; ///< a named CPU target ("host": the host)
  int cudaDevice = -1;
  llvm::StringRef tname(targetName);
  if (tname == "cuda" || tname.starts_with("cuda:")) {
    cudaDevice = 0;
    if (tname.consume_front("cuda:") &&
        (tname.getAsInteger(10, cudaDevice) || cudaDevice < 0))
      return usage("--target=" + targetName +
                   ": expected cuda or cuda:N with a device number N >= 0");
    if (threads > 0)
      return usage("--threads is for the host target; a GPU has no "
                   "thread count to tune for");
    auto tt = runtime::cudaTuningTarget(cudaDevice);
    if (!tt) {
      std::string why = llvm::toString(tt.takeError());
      llvm::errs() << "kjit-tune: --target=" << targetName << ": " << why
                   << "\n";
      if (llvm::StringRef(why).starts_with("no CUDA driver"))
        llvm::errs() << "kjit-tune: without a GPU, --target=sm_NN --dry-run "
                        "shows a chip's search spaces\n";
      return 1;
    }
    target = tt->info;
    targetKey = tt->key;
    chip = tt->cudaChip;
    llvm::outs() << "target: " << targetKey << " (" << chip << ")\n";
  } else if (tname == "host" || tname == "cpu" || tname.starts_with("cpu:")) {
    cpuTarget = tname.consume_front("cpu:") ? tname.str() : "host";
    auto named = compiler::CpuTarget::named(cpuTarget);
    if (!named)
      return usage("--target=" + targetName + ": " +
                   llvm::toString(named.takeError()));
    if (std::vector<std::string> missing = named->missingOnHost();
        !missing.empty() && !dryRun)
      return usage("--target=" + targetName + ": this CPU cannot run its "
                   "code (it lacks " + llvm::join(missing, ", ") +
                   "); it is for --dry-run (the target's search spaces) "
                   "here");
    // The key Jit(Target::cpu(NAME)) selects with, for these threads.
    runtime::TuningTarget tt = runtime::cpuTuningTarget(*named, threads);
    target = tt.info;
    targetKey = tt.key;
    if (cpuTarget != "host")
      llvm::outs() << "target: " << targetKey << " (cpu:" << cpuTarget
                   << ")\n";
  } else if (llvm::StringRef(targetName).starts_with("sm_")) {
    auto ci = compiler::cudaTargetInfo(targetName);
    if (!ci) {
      std::string why;
      (void)compiler::nvptxFeatures(targetName, "", why);
      return usage("unknown --target '" + targetName + "': " + why);
    }
    if (!dryRun)
      return usage("--target=" + targetName +
                   " names a chip, not a device: it is for --dry-run (the "
                   "chip's search spaces); use --target=cuda (or cuda:N) "
                   "to measure on a GPU");
    target = *ci;
    chip = targetName;
    targetKey = "cuda;" + chip;
  } else {
    return usage("unknown --target '" + targetName +
                 "' (host, cpu:NAME, cuda, cuda:N, or a CUDA chip such as "
                 "sm_90)");
  }
  // Records are keyed by the tuning epoch, not the build: a rebuilt kjit
  // keeps serving them; an older epoch's seed the search (--seeds) and are
  // measured again before anything from them is served.
  std::string epoch = compiler::tuningEpoch();

  std::vector<Workload> workloads;
  for (const std::string &f : inputs)
    if (auto e = readInput(f, workloads))
      return usage(llvm::toString(std::move(e)));
  {
    // The same workload twice (two equal ops, or many records of one
    // workload in a JSON-lines list) is tuned once.
    std::set<std::string> keys;
    std::vector<Workload> unique;
    for (Workload &w : workloads)
      if (keys.insert(w.key).second)
        unique.push_back(std::move(w));
    workloads = std::move(unique);
  }

  std::unique_ptr<SqliteDatabase> db;
  if (!dryRun || !importPath.empty() || !exportPath.empty()) {
    std::string path = dbPath.empty() ? SqliteDatabase::defaultPath()
                                      : std::string(dbPath);
    // The cache directory's database is ours to place; a path the user
    // named must be in a directory that exists.
    auto d = SqliteDatabase::open(
        path, dbPath.empty() && path == SqliteDatabase::cacheDirectoryPath());
    if (!d)
      return usage(llvm::toString(d.takeError()));
    db = std::move(*d);
    db->setSource("kjit-tune:" + strategy);
    if (!dryRun)
      llvm::outs() << "tuning epoch: " << epoch << "\n";
  }
  if (!importPath.empty()) {
    auto n = db->importJsonLines(importPath);
    if (!n) {
      bool dbFailed = n.errorIsA<DatabaseError>();
      std::string why = "--import: " + llvm::toString(n.takeError());
      if (!dbFailed)
        return usage(why);
      llvm::errs() << "kjit-tune: " << why << "\n";
      return 1;
    }
    llvm::outs() << "imported " << *n << " records from " << importPath
                 << "\n";
  }

  // Ctrl-C / SIGTERM: stop after the current candidate, save, report.
  struct sigaction sa = {};
  sa.sa_handler = onInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::unique_ptr<ProcessMeasurer> measurer;
  if (!dryRun) {
    ProcessMeasureOptions po;
    po.workerPath =
        llvm::sys::fs::getMainExecutable(argv[0], (void *)&usage);
    po.timeoutSeconds = timeout;
    po.threads = threads;
    po.cpuTarget = cpuTarget;
    if (cudaDevice >= 0) {
      po.cudaDevice = cudaDevice;
      po.cudaChip = chip;
      po.cudaSmCount = target.smCount;
    }
    po.measure.repeats = (int)repeats;
    po.measure.targetCI = ciPercent / 100.0;
    po.measure.budgetSeconds = measureBudget;
    // 1 thread: the thread's CPU time tells runs the VM descheduled.
    po.measure.cpuTime = threads == 1 && cudaDevice < 0;
    po.stop = &gStop;
    measurer = std::make_unique<ProcessMeasurer>(po);
    // The measuring's own failures (no temporary directory, no worker) end
    // the run before any candidate is measured, not as crash records.
    if (auto e = measurer->prepare()) {
      llvm::errs() << "kjit-tune: cannot measure: "
                   << llvm::toString(std::move(e)) << "\n";
      return 1;
    }
  }

  TuneOptions opts;
  opts.strategy = strategy;
  opts.topK = topK;
  opts.resume = resume;
  opts.dryRun = dryRun;
  opts.maxSeeds = seeds;
  opts.finalists = finalists;
  opts.pair.budgetSeconds = compareBudget;
  // A failure of the measuring itself stops like an interrupt (the
  // candidate it hit is not recorded) and is reported below.
  opts.stop = [&measurer] {
    return gStop.load() ||
           (measurer && !measurer->infrastructureError().empty());
  };
  int rc = 0;
  std::vector<TuneResult> results;
  auto runStart = std::chrono::steady_clock::now();
  uint64_t notTuned = 0;
  Progress progress;
  for (size_t i = 0; i < workloads.size() && !gStop; ++i) {
    const Workload &w = workloads[i];
    llvm::outs() << "workload " << i + 1 << "/" << workloads.size() << ": "
                 << w.opName << " " << w.key.substr(0, 16) << "\n";
    llvm::outs().flush();
    if (!chip.empty()) {
      // A GPU space only where the compiler generates GPU code for it.
      compiler::CompileRequest req;
      req.mlirText = w.canonicalText;
      req.cudaChip = chip;
      auto prepared = compiler::prepare(req);
      llvm::Error e = prepared ? llvm::Error::success() : prepared.takeError();
      if (!e) {
        auto ptx = compiler::compileToPtx(*prepared, chip);
        if (!ptx)
          e = ptx.takeError();
      }
      if (e) {
        std::string why = llvm::toString(std::move(e));
        // The op's interface resolved CPU knobs for the chip: it has no GPU
        // tuning (compileToPtx says so in terms of the prepared module).
        if (why.find("prepared for the CPU") != std::string::npos)
          why = w.opName + " has no GPU code generator or GPU configs yet "
                "(its config for " + chip + " has CPU knobs)";
        llvm::outs() << "  no search space on " << chip << ": " << why
                     << "\n";
        continue;
      }
    }
    opts.budget.seconds = budget;
    if (totalBudget > 0) {
      double left = totalBudget - std::chrono::duration<double>(
                                      std::chrono::steady_clock::now() -
                                      runStart)
                                      .count();
      if (left <= 0) {
        notTuned = workloads.size() - i;
        llvm::outs() << "  total budget spent: " << notTuned
                     << " workload(s) left untuned\n";
        break;
      }
      opts.budget.seconds = budget > 0 ? std::min<double>(budget, left) : left;
    }
    std::optional<double> best;
    opts.onPlan = [&](uint64_t planned) {
      progress.begin(w.opName, planned, opts.budget.seconds);
    };
    auto r = tuneWorkload(
        w, target, targetKey, epoch, db.get(), measurer.get(), opts,
        [&](uint64_t n, const Candidate &c, const Measurement &m) {
          if (m.ok() && (!best || m.medianSeconds < *best))
            best = m.medianSeconds;
          progress.update(n, c, m, best);
        });
    progress.end();
    if (measurer && !measurer->infrastructureError().empty()) {
      llvm::errs() << "kjit-tune: cannot measure: "
                   << measurer->infrastructureError() << "\n";
      rc = 1;
      break;
    }
    if (!r) {
      // The database failing stops the run: what would be measured next
      // could not be recorded either.
      bool dbFailed = r.errorIsA<DatabaseError>();
      llvm::errs() << "kjit-tune: " << w.opName << ": "
                   << llvm::toString(r.takeError()) << "\n";
      rc = 1;
      if (dbFailed) {
        llvm::errs() << "kjit-tune: stopped: the tuning database cannot "
                        "record measurements\n";
        break;
      }
      continue;
    }
    if (!r->nothingToTune.empty()) {
      llvm::outs() << "  nothing to tune: " << r->nothingToTune << "\n";
      continue;
    }
    llvm::outs() << formatReport(r->pruning);
    if (!r->modelPick.empty())
      llvm::outs() << "  model pick: " << r->modelPick << "\n";
    if (dryRun && !chip.empty() && !r->survivors.empty()) {
      // The survivors in model order, with what ptxas allocated.
      size_t shown = std::min<size_t>(r->survivors.size(), 64);
      llvm::outs() << "  survivors (model order" 
                   << (shown < r->survivors.size()
                           ? ", first " + std::to_string(shown)
                           : std::string())
                   << "): regs/thread  spill B  occupancy  predicted  "
                      "config\n";
      for (size_t k = 0; k < shown; ++k) {
        const SpacePoint &p = r->survivors[k];
        const CostFeatures &f = p.features;
        std::string regs = f.gpuRegisters > 0
                               ? std::to_string((int)f.gpuRegisters)
                               : std::string("-");
        std::string spill = f.gpuRegisters > 0
                                ? std::to_string((int)f.gpuSpillBytes)
                                : std::string("-");
        llvm::outs() << llvm::format("    %11s  %7s  %9.2f  %9s  %s\n",
                                     regs.c_str(), spill.c_str(),
                                     gpuOccupancy(f, target),
                                     fmtTime(p.predictedSeconds).c_str(),
                                     p.candidate.configText.c_str());
      }
    }
    if (r->skipped && r->bestConfig.empty())
      llvm::outs() << "  already tuned (resume): no candidate ran\n";
    else if (r->skipped)
      llvm::outs() << "  already tuned (resume): best " << r->bestConfig
                   << " " << fmtTime(r->bestSeconds) << "\n";
    if (r->resumed)
      llvm::outs() << "  resumed an unfinished run: " << r->resumed
                   << " earlier measurement(s) kept\n";
    if (r->seeded)
      llvm::outs() << "  seeded with " << r->seeded
                   << " config(s) from other targets/compilers\n";
    results.push_back(std::move(*r));
  }
  bool interrupted = gStop.load();
  if (!dryRun && !results.empty()) {
    llvm::outs() << "\n"
                 << llvm::format("%-24s %-17s %12s %12s %8s %10s %8s\n", "op",
                                 "workload", "default", "best", "speedup",
                                 "meas/fail", "seconds");
    std::vector<PlotSeries> series;
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
          "%-24s %-17s %12s %12s %8s %10s %8.1f%s\n",
          r.workload.opName.c_str(), r.workload.key.substr(0, 16).c_str(),
          fmtTime(r.defaultSeconds).c_str(), fmtTime(r.bestSeconds).c_str(),
          speed.c_str(), mf.c_str(), r.seconds,
          r.interrupted ? "  (interrupted)" : "");
      if (!r.bestConfig.empty())
        llvm::outs() << "  best: " << r.bestConfig << "\n";
      if (!r.confirmation.empty())
        llvm::outs() << "  " << r.confirmation << "\n";
      if (!r.trace.empty())
        series.push_back({r.workload.opName + " " +
                              r.workload.key.substr(0, 8),
                          r.trace, r.defaultSeconds, r.exhaustiveBest});
    }
    // The machine's noise (the default's runs, per workload) and how many
    // wins held up against the default.
    std::vector<double> noises;
    unsigned confirmed = 0, decided = 0;
    for (const TuneResult &r : results) {
      if (r.defaultSeconds)
        noises.push_back(r.noise);
      decided += !r.confirmation.empty();
      confirmed += r.confirmed;
    }
    if (!noises.empty()) {
      TimeSummary n = summarize(noises);
      llvm::outs() << llvm::format(
          "noise (relative half-IQR of the default's runs): median %.1f%%, "
          "max %.1f%% over %zu workload(s)\n",
          100 * n.median, 100 * n.max, noises.size());
    }
    if (decided)
      llvm::outs() << "confirmed wins over the default: " << confirmed << " of "
                   << decided << " (the others keep the default)\n";
    if (!series.empty()) {
      llvm::SmallString<256> dir(plotDir);
      if (dir.empty()) {
        dir = db->path();
        llvm::sys::path::remove_filename(dir);
        if (dir.empty())
          dir = ".";
      }
      char stamp[64];
      std::time_t now = std::time(nullptr);
      std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S",
                    std::localtime(&now));
      llvm::SmallString<256> p(dir);
      llvm::sys::path::append(p, std::string("kjit-tune-") + stamp + "-" +
                                     std::to_string(getpid()) + ".svg");
      if (auto e = llvm::sys::fs::create_directories(dir))
        llvm::errs() << "kjit-tune: cannot create '" << dir
                     << "': " << e.message() << "\n";
      else if (auto e2 = writeTracePlot(p.str().str(),
                                        "kjit-tune " + strategy + " (" +
                                            targetName + ")",
                                        series))
        llvm::errs() << "kjit-tune: " << llvm::toString(std::move(e2))
                     << "\n";
      else
        llvm::outs() << "plot: " << p << "\n";
    }
  }
  if (!exportPath.empty()) {
    auto n = db->count();
    llvm::Error e = n ? db->exportJsonLines(exportPath) : n.takeError();
    if (e) {
      llvm::errs() << "kjit-tune: --export: " << llvm::toString(std::move(e))
                   << "\n";
      return 1;
    }
    llvm::outs() << "exported " << *n << " records to " << exportPath << "\n";
  }
  if (interrupted) {
    llvm::outs() << "interrupted: every measurement so far is saved"
                 << (db ? " in " + db->path() : std::string()) << "\n";
    llvm::outs().flush();
    return 130;
  }
  return rc;
}
