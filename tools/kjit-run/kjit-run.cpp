//===- kjit-run.cpp - run one MLIR function on .npy files -----------------===//
//
// kjit-run FILE.mlir [--entry=main] --input=A.npy ... --output=Y.npy ...
//         [--config=ATTR] [--threads=N] [--repeat=N]
//         [--target=cpu|cpu:NAME|cuda]
//         [--device=N] [--no-l2-flush]
//         [--tuning-db=PATH|off] [--print-configs]
// --target=cpu:NAME compiles for a named CPU ISA instead of the host's
// (x86-64-v3, x86-64-v4, an LLVM CPU name such as znver3; cpu:host is the
// host): kjit::Target::cpu. One this host cannot execute is an error.
// Without --config each kjit op gets the tuning database's config (exact
// record, else the nearest tuned workload re-verified, else the default).
// With --target=cuda the kernel runs on CUDA device --device (the .npy data
// is copied to the device and back) and --repeat times it on the device with
// CUDA events, the L2 cache flushed before each run (--no-l2-flush: not).
// Without a CUDA driver: `kjit-run: error: ...: no CUDA driver: ...`.
// kjit-run FILE.mlir --target=cuda --emit=ptx|cubin|host-object [--chip=sm_90]
//         [-o OUT] (GPU code without a GPU: PTX text, a cubin through ptxas,
//         or the host object that launches it; see kjit::CudaCodeFormat)
// With KJIT_TUNE=budget:<seconds>, ops without a database record are tuned
// on-line after the first call (kjit-run waits for it; --print-configs then
// shows "online (best of N)"). Candidates run in the kjit-tune worker
// ($KJIT_MEASURE_WORKER, else the one beside libkjit); without one the
// library warns and --print-configs shows "default (online tuning not run:
// <why>)" (KJIT_TUNE=budget:<seconds>,in-process measures in kjit-run).
//
// Every failure is one line `kjit-run: error: ...` on stderr and exit code 1;
// the checks themselves live in the runtime (Kernel::run, npy::read,
// npy::arrayBytes: no array above the machine's physical memory). Outputs
// are written to temporary files and renamed into place once all are
// written (npy::PendingWrite): a failure leaves no partial .npy behind.
//
//===----------------------------------------------------------------------===//
#include "kjit/kjit.h"
#include "kjit/npy.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>

namespace cl = llvm::cl;

static cl::OptionCategory category("kjit-run options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<FILE.mlir>"),
                                      cl::Required, cl::cat(category));
static cl::opt<std::string> entry("entry", cl::desc("Entry function"),
                                  cl::init("main"), cl::cat(category));
static cl::list<std::string>
    inputs("input", cl::desc("Input .npy file, one per argument, in order"),
           cl::value_desc("A.npy"), cl::cat(category));
static cl::list<std::string>
    outputs("output", cl::desc("Output .npy file, one per result, in order"),
            cl::value_desc("Y.npy"), cl::cat(category));
static cl::opt<std::string>
    config("config", cl::desc("#kjit.config<{...}> for every kjit op"),
           cl::init(""), cl::cat(category));
static cl::opt<std::string> tuningDb(
    "tuning-db",
    cl::desc("Tuning database for configs when --config is not given "
             "(default: $KJIT_TUNING_DB, else <cache dir>/tuning.sqlite; "
             "'off': none)"),
    cl::value_desc("PATH|off"), cl::init(""), cl::cat(category));
static cl::opt<bool> printConfigs(
    "print-configs",
    cl::desc("Print each kjit op's config and where it came from"),
    cl::init(false), cl::cat(category));
// libLLVM.so already registers an option named "threads", so ours cannot be
// a cl::opt: it is taken out of the arguments before llvm::cl sees the rest.
static int threads = 0;
static cl::opt<int>
    repeat("repeat",
           cl::desc("Time N kernel calls after a warm-up and print "
                    "`time_ms median=.. min=.. max=.. runs=N`"),
           cl::init(0), cl::cat(category));
static cl::opt<std::string>
    target("target",
           cl::desc("Target: cpu (the host), cpu:NAME (a named CPU ISA: "
                    "x86-64-v3, x86-64-v4, znver3, ...; the host must be "
                    "able to run it), or cuda (a CUDA device; needs a "
                    "driver unless --emit)"),
           cl::init("cpu"), cl::cat(category));
static cl::opt<int> device("device",
                           cl::desc("CUDA device ordinal for --target=cuda"),
                           cl::init(0), cl::cat(category));
static cl::opt<bool>
    noL2Flush("no-l2-flush",
              cl::desc("With --target=cuda --repeat: do not flush the L2 "
                       "cache between timed runs"),
              cl::init(false), cl::cat(category));
static cl::opt<std::string>
    emit("emit",
         cl::desc("With --target=cuda: print the PTX (ptx), or write the "
                  "cubin assembled by ptxas (cubin) or the host object "
                  "that runs the kernel (host-object) instead of running"),
         cl::init(""), cl::cat(category));
static cl::opt<std::string> chip("chip",
                                 cl::desc("CUDA chip for --emit (sm_80, "
                                          "sm_90, ...)"),
                                 cl::init("sm_90"), cl::cat(category));
static cl::opt<std::string>
    emitOutput("o", cl::desc("Where --emit writes (default: stdout for ptx, "
                             "required for cubin)"),
               cl::value_desc("FILE"), cl::init(""), cl::cat(category));

static int fail(const std::string &message) {
  fprintf(stderr, "kjit-run: error: %s\n", message.c_str());
  return 1;
}

static std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return shape.empty() ? "scalar" : s;
}

/// The arguments without --threads=N / --threads N (which it parses into
/// `threads`); false on a malformed value. kjit-run keeps its own copy of
/// the arguments: InitLLVM's crash report prints the process's argv, which
/// must stay as it was.
static bool extractThreads(llvm::ArrayRef<const char *> args,
                           std::vector<const char *> &rest,
                           std::string &error) {
  rest.assign(args.begin(), args.begin() + (args.empty() ? 0 : 1));
  for (size_t i = 1; i < args.size(); ++i) {
    llvm::StringRef arg(args[i]);
    if (arg == "--") { // everything after is positional
      rest.insert(rest.end(), args.begin() + i, args.end());
      break;
    }
    llvm::StringRef value;
    if (arg.consume_front("--threads") || arg.consume_front("-threads")) {
      if (arg.consume_front("=")) {
        value = arg;
      } else if (arg.empty() && i + 1 < args.size()) {
        value = args[++i];
      } else if (!arg.empty()) { // e.g. --threadsX: not ours
        rest.push_back(args[i]);
        continue;
      } else {
        error = "--threads needs a value";
        return false;
      }
      if (value.getAsInteger(10, threads) || threads < 0) {
        error = "--threads must be a non-negative integer, got '" +
                value.str() + "'";
        return false;
      }
      continue;
    }
    rest.push_back(args[i]);
  }
  return true;
}

/// Refuses, before anything is allocated or run, static outputs too large
/// for this machine (npy::arrayBytes), naming the output and its file.
static kjit::Status checkOutputSizes(const std::vector<kjit::ArgInfo> &outs) {
  for (size_t i = 0; i < outs.size(); ++i) {
    if (outs[i].isDynamic())
      continue; // sized by the kernel, checked by the runtime
    auto bytes = kjit::npy::arrayBytes(outs[i].dtype, outs[i].shape);
    if (!bytes)
      return kjit::Status::error("output " + std::to_string(i) + " (" +
                                 outputs[i] + "): " + bytes.errorMessage());
  }
  return kjit::Status::ok();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // A write past `ulimit -f` then fails with EFBIG, reported like any write
  // failure (and the partial output removed), instead of killing us.
  signal(SIGXFSZ, SIG_IGN);
  std::string threadsError;
  std::vector<const char *> args;
  if (!extractThreads(llvm::ArrayRef<const char *>(argv, argc), args,
                      threadsError))
    return fail(threadsError);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      int(args.size()), args.data(),
      "kjit-run: compile one MLIR function with kjit and run it on .npy "
      "files\n\n  --threads=<int>  Threads per kernel (0: the config's "
      "choice)\n");

  kjit::Target tgt;
  llvm::StringRef cpuName(target);
  if (target == "cpu" || target == "host")
    tgt = kjit::Target::host();
  else if (cpuName.consume_front("cpu:"))
    tgt = kjit::Target::cpu(cpuName.str());
  else if (target == "cuda")
    tgt = kjit::Target::cuda(device);
  else
    return fail("unknown target '" + target +
                "' (expected cpu, cpu:NAME or cuda)");
  if (kjit::Status s = tgt.check(); !s)
    return fail("--target=" + target + ": " + s.message());
  if (repeat < 0)
    return fail("--repeat must be >= 0");
  if (!emit.empty() && target != "cuda")
    return fail("--emit needs --target=cuda");
  if (!emit.empty() && emit != "ptx" && emit != "cubin" &&
      emit != "host-object")
    return fail("unknown --emit '" + emit +
                "' (expected ptx, cubin or host-object)");

  auto file = llvm::MemoryBuffer::getFile(inputFile, /*IsText=*/true);
  if (!file)
    return fail(inputFile + ": cannot read: " + file.getError().message());

  if (!emit.empty()) {
    if (emit != "ptx" && emitOutput.empty())
      return fail("--emit=" + emit + " needs -o FILE");
    kjit::CompileOptions options;
    options.entry = entry;
    options.config = config;
    options.threads = threads;
    auto code = kjit::emitCudaCode(
        (*file)->getBuffer().str(), options, chip,
        emit == "ptx"     ? kjit::CudaCodeFormat::PTX
        : emit == "cubin" ? kjit::CudaCodeFormat::Cubin
                          : kjit::CudaCodeFormat::HostObject);
    if (!code)
      return fail(inputFile + ": " + code.errorMessage());
    if (emitOutput.empty() || emitOutput == "-") {
      fwrite(code->data(), 1, code->size(), stdout);
      return 0;
    }
    FILE *f = fopen(emitOutput.c_str(), "wb");
    if (!f)
      return fail(emitOutput + ": cannot write");
    bool ok = fwrite(code->data(), 1, code->size(), f) == code->size();
    ok = (fclose(f) == 0) && ok;
    if (!ok)
      return fail(emitOutput + ": cannot write");
    return 0;
  }

  kjit::JitOptions jitOptions;
  jitOptions.tuningDb = tuningDb;
  kjit::Jit jit(tgt, jitOptions);
  kjit::CompileOptions options;
  options.entry = entry;
  options.config = config;
  options.threads = threads;
  auto kernel = jit.compileModule((*file)->getBuffer().str(), options);
  if (!kernel)
    return fail(inputFile + ": " + kernel.errorMessage());
  auto printConfigList = [&] {
    for (size_t i = 0; i < kernel->configs().size(); ++i)
      printf("config %zu: %s (%s)\n", i, kernel->configs()[i].c_str(),
             i < kernel->configSources().size()
                 ? kernel->configSources()[i].c_str()
                 : "?");
  };
  const bool tuning = kernel->tuning();
  if (printConfigs && !tuning)
    printConfigList();
  const auto &ins = kernel->inputs();
  const auto &outs = kernel->outputs();
  if (inputs.size() != ins.size())
    return fail("@" + entry + " takes " + std::to_string(ins.size()) +
                " inputs, " + std::to_string(inputs.size()) +
                " --input files given");
  if (outputs.size() != outs.size())
    return fail("@" + entry + " returns " + std::to_string(outs.size()) +
                " results, " + std::to_string(outputs.size()) +
                " --output files given");
  if (kjit::Status s = checkOutputSizes(outs); !s)
    return fail(s.message());

  std::vector<kjit::npy::Array> inArrays, outArrays;
  std::vector<kjit::TensorView> inViews, outViews;
  for (size_t i = 0; i < ins.size(); ++i) {
    auto array = kjit::npy::read(inputs[i]);
    if (!array)
      return fail(array.errorMessage());
    if (array->dtype != ins[i].dtype)
      return fail(inputs[i] + ": dtype " + kjit::dtypeName(array->dtype) +
                  " does not match argument " + std::to_string(i) + " (" +
                  kjit::dtypeName(ins[i].dtype) + ")");
    if (array->shape != ins[i].shape)
      return fail(inputs[i] + ": shape " + shapeText(array->shape) +
                  " does not match argument " + std::to_string(i) + " (" +
                  shapeText(ins[i].shape) + ")");
    inArrays.push_back(std::move(*array));
  }
  // Outputs the kernel sizes itself (e.g. kjit.spgemm's col_idx and
  // values) come back from runAllocating; static ones are written in place.
  bool allocating = false;
  for (const kjit::ArgInfo &o : outs)
    allocating |= o.isDynamic();
  for (auto &a : inArrays)
    inViews.push_back(a.view());
  std::vector<kjit::Tensor> allocated;
  auto runOnce = [&]() -> kjit::Status {
    if (!allocating)
      return kernel->run(inViews, outViews);
    auto result = kernel->runAllocating(inViews);
    if (!result)
      return result.status();
    allocated = std::move(*result);
    return kjit::Status::ok();
  };
  if (!allocating) {
    for (size_t i = 0; i < outs.size(); ++i) {
      auto array = kjit::npy::Array::create(outs[i].dtype, outs[i].shape);
      if (!array)
        return fail("output " + std::to_string(i) + " (" + outputs[i] +
                    "): " + array.errorMessage());
      outArrays.push_back(std::move(*array));
    }
    for (auto &a : outArrays)
      outViews.push_back(a.view());
  }

  if (kjit::Status s = runOnce(); !s)
    return fail(s.message());
  // KJIT_TUNE=budget:<s>: the call above ran the default code; wait for the
  // on-line tuning (its records reach the database), then time and write
  // with the tuned code.
  if (tuning) {
    kernel->waitForTuning();
    if (kjit::Status s = runOnce(); !s)
      return fail(s.message());
    if (printConfigs)
      printConfigList();
  }

  if (repeat > 0) {
    // The run above was the warm-up; time kernel calls only (CPU: wall
    // clock per call; CUDA: device time per launch, CUDA events). Kernels
    // that allocate their outputs (kjit.spgemm) allocate them in every
    // timed call (Kernel::time ignores views of dynamic outputs; scratch
    // arrays take the static ones).
    std::vector<kjit::npy::Array> scratch;
    std::vector<kjit::TensorView> timedOuts = outViews;
    if (allocating) {
      timedOuts.clear();
      scratch.reserve(outs.size()); // views into them stay valid
      for (const kjit::ArgInfo &o : outs) {
        if (o.isDynamic()) {
          timedOuts.emplace_back();
          continue;
        }
        auto array = kjit::npy::Array::create(o.dtype, o.shape);
        if (!array)
          return fail("--repeat: " + array.errorMessage());
        scratch.push_back(std::move(*array));
        timedOuts.push_back(scratch.back().view());
      }
    }
    kjit::TimingOptions timing;
    timing.warmup = 0;
    timing.repeat = repeat;
    timing.flushL2 = !noL2Flush;
    auto times = kernel->time(inViews, timedOuts, timing);
    if (!times)
      return fail(times.errorMessage());
    std::vector<double> ms = *times;
    std::sort(ms.begin(), ms.end());
    double median = ms.size() % 2 ? ms[ms.size() / 2]
                                  : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
    printf("time_ms median=%.4f min=%.4f max=%.4f runs=%d%s\n", median,
           ms.front(), ms.back(), int(repeat),
           tgt.kind == kjit::Target::Kind::CUDA
               ? (noL2Flush ? " (cuda events)" : " (cuda events, L2 flushed)")
               : "");
  }

  if (allocating)
    for (kjit::Tensor &t : allocated)
      outViews.push_back(t.view());
  // Every output is written in full before any replaces its file: a
  // failure leaves no partial file and the existing ones as they were.
  std::vector<kjit::npy::PendingWrite> written;
  for (size_t i = 0; i < outs.size(); ++i) {
    auto pending = kjit::npy::PendingWrite::start(outputs[i], outViews[i]);
    if (!pending)
      return fail(pending.errorMessage());
    written.push_back(std::move(*pending));
  }
  for (kjit::npy::PendingWrite &pending : written)
    if (kjit::Status s = pending.commit(); !s)
      return fail(s.message());
  return 0;
}
