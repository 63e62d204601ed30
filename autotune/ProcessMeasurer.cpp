//===- ProcessMeasurer.cpp - measure each candidate in a child -----------===//
#include "autotune/ProcessMeasurer.h"
#include "compiler/Compiler.h"
#include "compiler/Pipelines/NVVMPipeline.h"
#include "kjit/kjit.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <cstdlib>
#include <cstring>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

using namespace kjit;
using namespace kjit::autotune;

namespace {
/// A temporary file removed on scope exit.
struct TempFile {
  llvm::SmallString<128> path;
  explicit TempFile(const char *prefix, const char *suffix) {
    if (llvm::sys::fs::createTemporaryFile(prefix, suffix, path))
      path.clear();
  }
  ~TempFile() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
};

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
} // namespace

ProcessMeasurer::ProcessMeasurer(ProcessMeasureOptions options)
    : options_(std::move(options)) {}

Measurement ProcessMeasurer::measure(const Workload &workload,
                                     const Candidate &candidate) {
  interrupted_ = false;
  TempFile req("kjit-measure-req", "json"), res("kjit-measure-res", "json"),
      err("kjit-measure-err", "txt");
  if (req.path.empty() || res.path.empty() || err.path.empty())
    return failure(Measurement::Status::Crash,
                   "cannot create temporary files for the measuring process");
  {
    const MeasureOptions &mo = options_.measure;
    llvm::json::Object o{{"workload_text", workload.canonicalText},
                         {"workload_key", workload.key},
                         {"op_name", workload.opName},
                         {"config", candidate.configText},
                         {"warmup", mo.warmup},
                         {"repeats", mo.repeats},
                         {"min_input_sets", mo.minInputSets},
                         {"rotate_bytes", mo.rotateBytes},
                         {"seed", (int64_t)mo.seed},
                         {"threads", (int64_t)options_.threads},
                         {"cuda_device", (int64_t)options_.cudaDevice},
                         {"cuda_chip", options_.cudaChip},
                         {"cuda_sm_count", (int64_t)options_.cudaSmCount},
                         {"timeout_s", options_.timeoutSeconds}};
    std::error_code ec;
    llvm::raw_fd_ostream os(req.path, ec);
    if (ec)
      return failure(Measurement::Status::Crash,
                     "cannot write the measuring request: " + ec.message());
    os << llvm::json::Value(std::move(o)) << "\n";
  }
  std::string worker = options_.workerPath;
  std::vector<std::string> argStrs = {worker, "--measure-worker",
                                      req.path.str().str(),
                                      res.path.str().str()};
  std::vector<char *> argv;
  for (std::string &a : argStrs)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.path.c_str(),
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
  int rc = posix_spawn(&pid, worker.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return failure(Measurement::Status::Crash,
                   "cannot start the measuring process '" + worker +
                       "': " + std::strerror(rc));

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
    timedOut =
        options_.timeoutSeconds > 0 && elapsed >= options_.timeoutSeconds;
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
    return failure(Measurement::Status::Crash, waitError);
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
  std::string errText = tail(readFile(err.path.str().str()), 400);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::string m = std::string("the measuring process died of signal ") +
                    std::to_string(sig) + " (" + strsignal(sig) + ")";
    if (!errText.empty())
      m += ": " + errText;
    return failure(Measurement::Status::Crash, m);
  }
  std::string out = readFile(res.path.str().str());
  auto v = llvm::json::parse(out);
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
  m.medianSeconds = o->getNumber("median_s").value_or(0);
  m.spreadSeconds = o->getNumber("spread_s").value_or(0);
  m.repeats = (int)o->getInteger("repeats").value_or(0);
  if (auto s = o->getString("message"))
    m.message = s->str();
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
  auto write = [&](const Measurement &m) {
    std::error_code ec;
    llvm::raw_fd_ostream os(resultPath, ec);
    if (ec) {
      llvm::errs() << "kjit-tune worker: cannot write '" << resultPath
                   << "': " << ec.message() << "\n";
      return 1;
    }
    os << llvm::json::Value(llvm::json::Object{
              {"status", statusName(m.status)},
              {"median_s", m.medianSeconds},
              {"spread_s", m.spreadSeconds},
              {"repeats", m.repeats},
              {"message", m.message}})
       << "\n";
    return 0;
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
  // A safety net: a child whose tuner died (kill -9) ends on its own.
  double timeout = o->getNumber("timeout_s").value_or(0);
  if (timeout > 0)
    alarm((unsigned)std::ceil(timeout) + 30);
  MeasureOptions mo;
  mo.warmup = (int)o->getInteger("warmup").value_or(mo.warmup);
  mo.repeats = (int)o->getInteger("repeats").value_or(mo.repeats);
  mo.minInputSets =
      (int)o->getInteger("min_input_sets").value_or(mo.minInputSets);
  mo.rotateBytes = o->getNumber("rotate_bytes").value_or(mo.rotateBytes);
  mo.seed = (unsigned)o->getInteger("seed").value_or(mo.seed);
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
    target = compiler::CpuTarget::host().info;
    if (int64_t th = o->getInteger("threads").value_or(0); th > 0)
      target.numCores = (unsigned)th;
  }

  injectTestFault(c.configText);
  kjit::JitOptions jo;
  jo.tuningDb = "off"; // the config is given; no run-time selection
  jo.onlineTuneBudgetSeconds = 0; // nor on-line tuning (KJIT_TUNE)
  kjit::Jit jit(cudaDevice >= 0 ? kjit::Target::cuda((int)cudaDevice)
                                : kjit::Target::host(),
                jo);
  RuntimeMeasurer m(jit, target, mo);
  return write(m.measure(w, c));
}
