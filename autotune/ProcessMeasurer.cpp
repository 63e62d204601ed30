//===- ProcessMeasurer.cpp - measure each candidate in a child -----------===//
#include "autotune/ProcessMeasurer.h"
#include "compiler/Compiler.h"
#include "compiler/Pipelines/NVVMPipeline.h"
#include "kjit/kjit.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

using namespace kjit;
using namespace kjit::autotune;

namespace {
constexpr llvm::StringLiteral kDirPrefix = "kjit-measure-";

std::string readFile(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  return buf ? (*buf)->getBuffer().str() : std::string();
}

/// The last `n` characters of `s`, trimmed.
std::string tail(const std::string &s, size_t n) {
  llvm::StringRef r = llvm::StringRef(s).trim();
  return r.size() > n ? "..." + r.take_back(n).str() : r.str();
}

Measurement failure(Measurement::Status st, std::string msg) {
  Measurement m;
  m.status = st;
  m.message = std::move(msg);
  return m;
}

llvm::Error error(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

/// The options a host program gave, checked: a NaN or infinite time-out
/// would never fire (or overflow the worker's alarm), a zero repeat count
/// would time nothing.
llvm::Error checkOptions(const ProcessMeasureOptions &o) {
  auto bad = [](const char *field, double v, const char *range) {
    char value[32];
    snprintf(value, sizeof value, "%g", v);
    return error(llvm::Twine("ProcessMeasureOptions::") + field + " is " +
                 value + "; it must be " + range);
  };
  if (!std::isfinite(o.timeoutSeconds) || o.timeoutSeconds <= 0)
    return bad("timeoutSeconds", o.timeoutSeconds,
               "a finite number of seconds > 0");
  const MeasureOptions &m = o.measure;
  if (m.warmup < 0)
    return bad("measure.warmup", m.warmup, "an integer >= 0");
  if (m.repeats < 1)
    return bad("measure.repeats", m.repeats, "an integer >= 1");
  if (!std::isfinite(m.targetCI) || m.targetCI < 0)
    return bad("measure.targetCI", m.targetCI, "a finite fraction >= 0");
  if (!std::isfinite(m.budgetSeconds) || m.budgetSeconds < 0)
    return bad("measure.budgetSeconds", m.budgetSeconds,
               "a finite number of seconds >= 0");
  if (m.minInputSets < 1)
    return bad("measure.minInputSets", m.minInputSets, "an integer >= 1");
  if (!std::isfinite(m.rotateBytes) || m.rotateBytes < 0)
    return bad("measure.rotateBytes", m.rotateBytes,
               "a finite number of bytes >= 0");
  if (o.workerPath.empty())
    return error("ProcessMeasureOptions::workerPath names no measuring "
                 "worker (the kjit-tune executable)");
  if (access(o.workerPath.c_str(), X_OK) != 0)
    return error("cannot run the measuring worker '" + o.workerPath +
                 "': " + std::strerror(errno));
  return llvm::Error::success();
}

/// Makes <base>/kjit-measure-<pid>-XXXXXX (mode 0700).
llvm::Expected<std::string> makePrivateDir(const std::string &base) {
  std::string tmpl =
      base + "/" + kDirPrefix.str() + std::to_string(getpid()) + "-XXXXXX";
  if (!mkdtemp(tmpl.data()))
    return error("cannot create a directory in '" + base +
                 "': " + std::strerror(errno));
  return tmpl;
}

/// Removes what `dir` holds (links, not what they point to).
void removeEntries(const std::string &dir) {
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec, /*follow=*/false), end;
       !ec && it != end; it.increment(ec)) {
    if (it->type() == llvm::sys::fs::file_type::directory_file)
      llvm::sys::fs::remove_directories(it->path(), /*IgnoreErrors=*/true);
    else
      llvm::sys::fs::remove(it->path());
  }
}

/// Removes the private directories that dead processes left in `base`.
/// A name whose pid still runs (or runs as another user: EPERM) is kept,
/// and so is anything that is not a directory of ours.
void removeDeadLeftovers(const std::string &base) {
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(base, ec), end; !ec && it != end;
       it.increment(ec)) {
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    if (!name.consume_front(kDirPrefix))
      continue;
    auto [pidText, rest] = name.split('-');
    pid_t pid = 0;
    if (rest.empty() || pidText.getAsInteger(10, pid) || pid <= 0 ||
        kill(pid, 0) == 0 || errno != ESRCH)
      continue;
    // Not through a link: only a real directory of this user.
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != geteuid())
      continue;
    llvm::sys::fs::remove_directories(it->path(), /*IgnoreErrors=*/true);
  }
}

/// This process's environment with TMPDIR replaced.
std::vector<std::string> environmentWithTmpdir(const std::string &tmpdir) {
  std::vector<std::string> env;
  for (char **e = environ; *e; ++e)
    if (!llvm::StringRef(*e).starts_with("TMPDIR="))
      env.push_back(*e);
  env.push_back("TMPDIR=" + tmpdir);
  return env;
}

std::vector<char *> pointers(std::vector<std::string> &strings) {
  std::vector<char *> p;
  for (std::string &s : strings)
    p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}
} // namespace

ProcessMeasurer::ProcessMeasurer(ProcessMeasureOptions options)
    : options_(std::move(options)) {}

ProcessMeasurer::~ProcessMeasurer() {
  if (!dir_.empty())
    llvm::sys::fs::remove_directories(dir_, /*IgnoreErrors=*/true);
}

llvm::Error ProcessMeasurer::prepare() {
  if (!broken_.empty())
    return error(broken_);
  if (prepared_)
    return llvm::Error::success();
  auto fail = [&](llvm::Error e) {
    broken_ = llvm::toString(std::move(e));
    return error(broken_);
  };
  if (auto e = checkOptions(options_))
    return fail(std::move(e));
  // $TMPDIR, else /tmp; a TMPDIR where nothing can be created gets one
  // warning and /tmp, rather than every candidate failing.
  const char *env = getenv("TMPDIR");
  std::string base = env && *env ? env : "/tmp";
  auto dir = makePrivateDir(base);
  if (!dir && base != "/tmp") {
    std::string why = llvm::toString(dir.takeError());
    fprintf(stderr,
            "kjit: warning: TMPDIR is not usable for the measuring files "
            "(%s); using /tmp\n",
            why.c_str());
    base = "/tmp";
    dir = makePrivateDir(base);
  }
  if (!dir)
    return fail(error("no temporary directory for the measuring files: " +
                      llvm::toString(dir.takeError())));
  dir_ = *dir;
  removeDeadLeftovers(base);
  prepared_ = true;
  return llvm::Error::success();
}

Measurement ProcessMeasurer::infrastructureFailure(std::string why) {
  broken_ = std::move(why);
  return failure(Measurement::Status::Crash, "not measured: " + broken_);
}

llvm::json::Object ProcessMeasurer::request(const Workload &workload,
                                            const Candidate &candidate) const {
  const MeasureOptions &mo = options_.measure;
  return llvm::json::Object{{"workload_text", workload.canonicalText},
                            {"workload_key", workload.key},
                            {"op_name", workload.opName},
                            {"config", candidate.configText},
                            {"warmup", mo.warmup},
                            {"repeats", mo.repeats},
                            {"target_ci", mo.targetCI},
                            {"budget_s", mo.budgetSeconds},
                            {"max_repeats", mo.maxRepeats},
                            {"cpu_time", mo.cpuTime},
                            {"min_input_sets", mo.minInputSets},
                            {"rotate_bytes", mo.rotateBytes},
                            {"seed", (int64_t)mo.seed},
                            {"threads", (int64_t)options_.threads},
                            {"cpu_target", options_.cpuTarget},
                            {"cuda_device", (int64_t)options_.cudaDevice},
                            {"cuda_chip", options_.cudaChip},
                            {"cuda_sm_count", (int64_t)options_.cudaSmCount},
                            {"timeout_s", options_.timeoutSeconds}};
}

Measurement ProcessMeasurer::measure(const Workload &workload,
                                     const Candidate &candidate) {
  std::optional<llvm::json::Object> o;
  Measurement m = runChild(request(workload, candidate), o);
  if (!o)
    return m;
  m.medianSeconds = o->getNumber("median_s").value_or(0);
  m.spreadSeconds = o->getNumber("spread_s").value_or(0);
  m.repeats = (int)o->getInteger("repeats").value_or(0);
  m.minSeconds = o->getNumber("min_s").value_or(0);
  m.ciLowSeconds = o->getNumber("ci_low_s").value_or(0);
  m.ciHighSeconds = o->getNumber("ci_high_s").value_or(0);
  m.noise = o->getNumber("noise").value_or(0);
  if (auto s = o->getString("message"))
    m.message = s->str();
  return m;
}

PairedResult ProcessMeasurer::compare(const Workload &workload,
                                      const Candidate &a, const Candidate &b,
                                      const PairOptions &options) {
  // Both compiled in one child, their runs alternated there.
  llvm::json::Object req = request(workload, a);
  req["compare_config"] = b.configText;
  req["pair_warmup"] = options.warmup;
  req["pair_min"] = options.minPairs;
  req["pair_max"] = options.maxPairs;
  req["pair_budget_s"] = options.budgetSeconds;
  req["pair_threshold"] = options.threshold;
  std::optional<llvm::json::Object> o;
  Measurement m = runChild(std::move(req), o);
  PairedResult r;
  if (!o || !m.ok()) {
    r.error = std::string(statusName(m.status)) + ": " +
              (o ? o->getString("message").value_or("").str() : m.message);
    return r;
  }
  r.ratio = o->getNumber("ratio").value_or(1);
  r.ratioLow = o->getNumber("ratio_low").value_or(1);
  r.ratioHigh = o->getNumber("ratio_high").value_or(1);
  r.pairs = (int)o->getInteger("pairs").value_or(0);
  r.dropped = (int)o->getInteger("dropped").value_or(0);
  if (r.pairs <= 0)
    r.error = "the measuring process compared no pairs";
  return r;
}

Measurement ProcessMeasurer::runChild(llvm::json::Object requestObject,
                                      std::optional<llvm::json::Object> &out) {
  out.reset();
  interrupted_ = false;
  if (auto e = prepare())
    return infrastructureFailure(llvm::toString(std::move(e)));
  // Fixed names in the private directory, emptied after each candidate
  // (with whatever the worker left there as its TMPDIR), so that no result
  // of an earlier one is ever read.
  std::string req = dir_ + "/request.json", res = dir_ + "/result.json",
              err = dir_ + "/stderr.txt";
  struct Empty {
    const std::string &dir;
    ~Empty() { removeEntries(dir); }
  } emptyAfter{dir_};
  {
    llvm::json::Object o = std::move(requestObject);
    std::error_code ec;
    llvm::raw_fd_ostream os(req, ec);
    if (!ec) {
      os << llvm::json::Value(std::move(o)) << "\n";
      os.close();
      ec = os.error();
      os.clear_error();
    }
    if (ec)
      return infrastructureFailure("cannot write the measuring request '" +
                                   req + "': " + ec.message());
  }
  const std::string &worker = options_.workerPath;
  std::vector<std::string> argStrs = {worker, "--measure-worker", req, res};
  std::vector<char *> argv = pointers(argStrs);
  std::vector<std::string> envStrs = environmentWithTmpdir(dir_);
  std::vector<char *> envp = pointers(envStrs);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGALRM, SIGSEGV, SIGBUS, SIGPIPE})
    sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // A process group of its own: Ctrl-C on the terminal reaches the tuner,
  // which kills the child and stops; and the child with everything it
  // started dies by one kill(-pid).
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc =
      posix_spawn(&pid, worker.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return infrastructureFailure("cannot start the measuring process '" +
                                 worker + "': " + std::strerror(rc));

  // Wait for the child's exit without reaping it (WNOWAIT): until it is
  // reaped its pid, the group's id, cannot be reused, so the kill of the
  // group below never reaches an unrelated process.
  auto t0 = std::chrono::steady_clock::now();
  bool timedOut = false, stopped = false;
  std::string waitError;
  auto pause = std::chrono::microseconds(500);
  while (true) {
    siginfo_t info = {};
    if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
      if (info.si_pid == pid)
        break;
    } else if (errno != EINTR) {
      waitError = std::string("waitid failed: ") + std::strerror(errno);
      break;
    }
    stopped = options_.stop && options_.stop->load();
    double elapsed = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - t0)
                         .count();
    timedOut = elapsed >= options_.timeoutSeconds;
    if (stopped || timedOut)
      break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
  // The whole group: the worker if it still runs, and whatever it started
  // (ptxas) that outlives it.
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!waitError.empty())
    return infrastructureFailure(waitError);
  if (stopped) {
    interrupted_ = true;
    return failure(Measurement::Status::Crash, "interrupted");
  }
  if (timedOut) {
    char b[64];
    snprintf(b, sizeof b, "%g", options_.timeoutSeconds);
    return failure(Measurement::Status::Timeout,
                   std::string("no result within ") + b +
                       " s (compile + runs); the measuring process was "
                       "killed");
  }
  std::string errText = tail(readFile(err), 400);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::string m = std::string("the measuring process died of signal ") +
                    std::to_string(sig) + " (" + strsignal(sig) + ")";
    if (!errText.empty())
      m += ": " + errText;
    return failure(Measurement::Status::Crash, m);
  }
  std::string text = readFile(res);
  auto v = llvm::json::parse(text);
  const llvm::json::Object *o = v ? v->getAsObject() : nullptr;
  if (!v)
    llvm::consumeError(v.takeError());
  std::optional<Measurement::Status> st;
  if (o)
    if (auto s = o->getString("status"))
      st = parseStatus(s->str());
  if (!o || !st) {
    std::string m = "the measuring process exited with code " +
                    std::to_string(WEXITSTATUS(status)) +
                    " without a result";
    if (!errText.empty())
      m += ": " + errText;
    return failure(Measurement::Status::Crash, m);
  }
  Measurement m;
  m.status = *st;
  out = std::move(*o);
  return m;
}

namespace {
/// The "hang-with-child" fault's grandchild: a `sleep 300` in the worker's
/// process group, its pid written to $KJIT_TUNE_TEST_FAULT_PIDFILE.
void startTestGrandchild() {
  std::string sleepArgs[] = {"sleep", "300"};
  char *argv[] = {sleepArgs[0].data(), sleepArgs[1].data(), nullptr};
  pid_t child = -1;
  if (posix_spawnp(&child, "sleep", nullptr, nullptr, argv, environ) != 0)
    return;
  if (const char *f = getenv("KJIT_TUNE_TEST_FAULT_PIDFILE"); f && *f) {
    std::error_code ec;
    llvm::raw_fd_ostream os(f, ec);
    if (!ec)
      os << child << "\n";
  }
}

/// KJIT_TUNE_TEST_FAULT="crash:TEXT" / "hang:TEXT" / "hang-with-child:TEXT":
/// the tests' broken candidate.
void injectTestFault(const std::string &config) {
  const char *f = getenv("KJIT_TUNE_TEST_FAULT");
  if (!f || !*f)
    return;
  llvm::StringRef spec(f);
  auto [kind, text] = spec.split(':');
  if (text.empty() || config.find(text.str()) == std::string::npos)
    return;
  if (kind == "crash") {
    std::signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
  }
  if (kind == "hang" || kind == "hang-with-child") {
    if (kind == "hang-with-child")
      startTestGrandchild();
    // Hang until killed, or until the tuner is gone.
    pid_t parent = getppid();
    while (getppid() == parent)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    _exit(3);
  }
}
} // namespace

int kjit::autotune::runMeasureWorker(const std::string &requestPath,
                                     const std::string &resultPath) {
  auto writeResult = [&](llvm::json::Object o) {
    std::error_code ec;
    llvm::raw_fd_ostream os(resultPath, ec);
    if (ec) {
      llvm::errs() << "kjit-tune worker: cannot write '" << resultPath
                   << "': " << ec.message() << "\n";
      return 1;
    }
    os << llvm::json::Value(std::move(o)) << "\n";
    return 0;
  };
  auto write = [&](const Measurement &m) {
    return writeResult(llvm::json::Object{{"status", statusName(m.status)},
                                          {"median_s", m.medianSeconds},
                                          {"spread_s", m.spreadSeconds},
                                          {"repeats", m.repeats},
                                          {"min_s", m.minSeconds},
                                          {"ci_low_s", m.ciLowSeconds},
                                          {"ci_high_s", m.ciHighSeconds},
                                          {"noise", m.noise},
                                          {"message", m.message}});
  };
  auto writePaired = [&](const PairedResult &p) {
    return writeResult(
        llvm::json::Object{{"status", p.error.empty() ? "ok" : "crash"},
                           {"message", p.error},
                           {"ratio", p.ratio},
                           {"ratio_low", p.ratioLow},
                           {"ratio_high", p.ratioHigh},
                           {"pairs", p.pairs},
                           {"dropped", p.dropped}});
  };
  std::string text = readFile(requestPath);
  auto v = llvm::json::parse(text);
  if (!v) {
    llvm::errs() << "kjit-tune worker: bad request '" << requestPath
                 << "': " << llvm::toString(v.takeError()) << "\n";
    return 2;
  }
  const llvm::json::Object *o = v->getAsObject();
  auto str = [&](const char *k) {
    auto s = o ? o->getString(k) : std::nullopt;
    return s ? s->str() : std::string();
  };
  Workload w{str("op_name"), str("workload_text"), str("workload_key")};
  Candidate c{str("config")};
  if (!o || w.canonicalText.empty()) {
    llvm::errs() << "kjit-tune worker: the request names no workload\n";
    return 2;
  }
  // A safety net: a child whose tuner died (kill -9) ends on its own
  // (a huge time-out is bounded rather than overflowing alarm's seconds).
  double timeout = o->getNumber("timeout_s").value_or(0);
  if (std::isfinite(timeout) && timeout > 0)
    alarm((unsigned)std::min(std::ceil(timeout) + 30, 1e9));
  MeasureOptions mo;
  mo.warmup = (int)o->getInteger("warmup").value_or(mo.warmup);
  mo.repeats = (int)o->getInteger("repeats").value_or(mo.repeats);
  mo.minInputSets =
      (int)o->getInteger("min_input_sets").value_or(mo.minInputSets);
  mo.rotateBytes = o->getNumber("rotate_bytes").value_or(mo.rotateBytes);
  mo.seed = (unsigned)o->getInteger("seed").value_or(mo.seed);
  mo.targetCI = o->getNumber("target_ci").value_or(mo.targetCI);
  mo.budgetSeconds = o->getNumber("budget_s").value_or(mo.budgetSeconds);
  mo.maxRepeats = (int)o->getInteger("max_repeats").value_or(mo.maxRepeats);
  mo.cpuTime = o->getBoolean("cpu_time").value_or(mo.cpuTime);
  int64_t cudaDevice = o->getInteger("cuda_device").value_or(-1);
  TargetInfo target;
  if (cudaDevice >= 0) {
    std::string chip = str("cuda_chip");
    auto info = compiler::cudaTargetInfo(chip);
    if (!info) {
      llvm::errs() << "kjit-tune worker: unknown CUDA chip '" << chip
                   << "' in the request\n";
      return 2;
    }
    target = *info;
    if (int64_t sms = o->getInteger("cuda_sm_count").value_or(0); sms > 0)
      target.smCount = (unsigned)sms;
  } else {
    auto cpu = compiler::CpuTarget::named(str("cpu_target"));
    if (!cpu) {
      llvm::errs() << "kjit-tune worker: " << llvm::toString(cpu.takeError())
                   << "\n";
      return 2;
    }
    target = cpu->info;
    if (int64_t th = o->getInteger("threads").value_or(0); th > 0)
      target.numCores = (unsigned)th;
  }

  injectTestFault(c.configText);
  std::optional<Candidate> other;
  if (auto b = o->getString("compare_config")) {
    other = Candidate{b->str()};
    injectTestFault(other->configText);
  }
  kjit::JitOptions jo;
  jo.tuningDb = "off"; // the config is given; no run-time selection
  jo.onlineTuneBudgetSeconds = 0; // nor on-line tuning (KJIT_TUNE)
  kjit::Jit jit(cudaDevice >= 0 ? kjit::Target::cuda((int)cudaDevice)
                                : kjit::Target::cpu(str("cpu_target")),
                jo);
  RuntimeMeasurer m(jit, target, mo);
  if (!other)
    return write(m.measure(w, c));
  PairOptions po;
  po.warmup = (int)o->getInteger("pair_warmup").value_or(po.warmup);
  po.minPairs = (int)o->getInteger("pair_min").value_or(po.minPairs);
  po.maxPairs = (int)o->getInteger("pair_max").value_or(po.maxPairs);
  po.budgetSeconds = o->getNumber("pair_budget_s").value_or(po.budgetSeconds);
  po.threshold = o->getNumber("pair_threshold").value_or(po.threshold);
  return writePaired(m.compare(w, c, *other, po));
}
