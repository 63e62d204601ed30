//===- Measurer.cpp - time a candidate through the runtime ---------------===//
#include "autotune/Measurer.h"
#include "autotune/InputData.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>

using namespace kjit;
using namespace kjit::autotune;

RuntimeMeasurer::RuntimeMeasurer(kjit::Jit &jit, TargetInfo target,
                                 MeasureOptions options)
    : SamplingMeasurer(options), jit_(jit), target_(target) {}
RuntimeMeasurer::~RuntimeMeasurer() = default;

namespace {
int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

} // namespace

AdaptiveOptions kjit::autotune::adaptiveOptions(const MeasureOptions &o) {
  AdaptiveOptions a;
  a.warmup = o.warmup;
  a.minRuns = std::max(1, o.repeats);
  a.maxRuns = std::max(a.minRuns, o.maxRepeats);
  a.targetRelativeCI = o.targetCI;
  a.budgetSeconds = o.budgetSeconds;
  return a;
}

PairedResult Measurer::compare(const Workload &workload, const Candidate &a,
                               const Candidate &b, const PairOptions &options) {
  // One "run" is a whole measurement (its median): slower, but any
  // measurer can do it.
  auto side = [&](const Candidate &c) -> RunFn {
    return [&, c](Sample &s) -> std::string {
      Measurement m = measure(workload, c);
      if (!m.ok())
        return std::string(statusName(m.status)) +
               (m.message.empty() ? "" : ": " + m.message);
      s.wall = m.medianSeconds;
      return "";
    };
  };
  PairOptions o = options;
  o.warmup = 0;
  o.maxPairs = std::min(o.maxPairs, std::max(o.minPairs, 24));
  return pairedCompare(side(a), side(b), o);
}

Measurement SamplingMeasurer::measure(const Workload &workload,
                                      const Candidate &candidate) {
  Prepared p = prepare(workload, candidate);
  if (!p.run)
    return p.failure;
  AdaptiveResult r = adaptiveRepeat(p.run, adaptiveOptions(options_));
  Measurement m;
  if (!r.error.empty()) {
    m.status = Measurement::Status::Crash;
    m.message = "run failed: " + r.error;
    return m;
  }
  m.medianSeconds = r.summary.median;
  m.spreadSeconds = r.summary.max - r.summary.min;
  m.minSeconds = r.summary.min;
  m.ciLowSeconds = r.summary.ciLow;
  m.ciHighSeconds = r.summary.ciHigh;
  m.noise = r.summary.noise;
  m.repeats = r.summary.runs;
  m.status = Measurement::Status::Ok;
  return m;
}

std::pair<SamplingMeasurer::Prepared, SamplingMeasurer::Prepared>
SamplingMeasurer::preparePair(const Workload &workload, const Candidate &a,
                              const Candidate &b) {
  Prepared pa = prepare(workload, a);
  if (!pa.run)
    return {std::move(pa), Prepared()};
  return {std::move(pa), prepare(workload, b)};
}

PairedResult SamplingMeasurer::compare(const Workload &workload,
                                       const Candidate &a, const Candidate &b,
                                       const PairOptions &options) {
  PairedResult r;
  auto [pa, pb] = preparePair(workload, a, b);
  for (auto [p, c] : {std::pair{&pa, &a}, std::pair{&pb, &b}})
    if (!p->run) {
      r.error = c->configText + ": " + statusName(p->failure.status) + ": " +
                p->failure.message;
      return r;
    }
  return pairedCompare(pa.run, pb.run, options);
}

namespace {
double threadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

/// The first 64-byte aligned byte of a buffer allocated with 64 bytes to
/// spare: where malloc happens to put a buffer would otherwise decide
/// (split cache lines) which of two kernels compared in one process is
/// faster.
uint8_t *cacheLineAligned(std::vector<uint8_t> &buf) {
  uintptr_t at = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - at % 64) % 64);
}

/// A workload's input sets and outputs (shared by the two kernels of a
/// paired comparison: the same memory, so that where the buffers lie does
/// not decide which is faster).
struct Buffers {
  std::vector<std::vector<std::vector<uint8_t>>> inBufs;
  std::vector<std::vector<TensorView>> inViews;
  std::vector<std::vector<uint8_t>> outBufs;
  std::vector<TensorView> outViews;
  bool allocating = false;
  int sets = 1;
  /// Runs so far of every kernel on these buffers: each run takes the
  /// least recently used input set (never the one the other kernel of a
  /// pair just brought into the cache).
  int run = 0;
};

/// What a prepared candidate's runs use: its kernel and buffers.
struct RunState {
  std::optional<kjit::Kernel> kernel;
  std::shared_ptr<Buffers> buffers;
};

std::shared_ptr<Buffers> makeBuffers(const kjit::Kernel &k,
                                     const std::string &opName,
                                     const MeasureOptions &options) {
  auto b = std::make_shared<Buffers>();
  // Input sets: fresh random data, rotated.
  double setBytes = 0;
  for (const ArgInfo &a : k.inputs())
    setBytes += (double)numElements(a.shape) * dtypeSize(a.dtype);
  int sets = options.minInputSets;
  if (setBytes > 0)
    sets = std::max<int>(sets, (int)std::min(
                                   64.0, options.rotateBytes / setBytes + 1));
  b->sets = sets;
  std::mt19937 rng(options.seed);
  b->inBufs.resize(sets);
  b->inViews.resize(sets);
  for (int s = 0; s < sets; ++s) {
    for (const ArgInfo &a : k.inputs())
      b->inBufs[s].emplace_back(numElements(a.shape) * dtypeSize(a.dtype) +
                                64);
    // Valid inputs for the op (kjit.spmm: a real CSR, not zero indices).
    fillOpInputs(opName, k.inputs(), b->inBufs[s], rng);
    for (size_t i = 0; i < k.inputs().size(); ++i) {
      const ArgInfo &a = k.inputs()[i];
      std::vector<uint8_t> &buf = b->inBufs[s][i];
      size_t bytes = numElements(a.shape) * dtypeSize(a.dtype);
      uint8_t *p = cacheLineAligned(buf);
      std::memmove(p, buf.data(), bytes);
      b->inViews[s].emplace_back(p, a.dtype, a.shape);
    }
  }
  // Outputs the kernel sizes itself (kjit.spgemm): runAllocating (CPU) or
  // Kernel::time (CUDA; their views are ignored), whose allocation of the
  // result is part of what is measured.
  for (const ArgInfo &a : k.outputs()) {
    b->allocating |= a.isDynamic();
    if (a.isDynamic()) {
      b->outViews.emplace_back();
      continue;
    }
    b->outBufs.emplace_back(numElements(a.shape) * dtypeSize(a.dtype) + 64);
    b->outViews.emplace_back(cacheLineAligned(b->outBufs.back()), a.dtype,
                             a.shape);
  }
  return b;
}
} // namespace

SamplingMeasurer::Prepared
RuntimeMeasurer::prepare(const Workload &workload,
                         const Candidate &candidate) {
  return prepareSharing(workload, candidate, nullptr);
}

std::pair<SamplingMeasurer::Prepared, SamplingMeasurer::Prepared>
RuntimeMeasurer::preparePair(const Workload &workload, const Candidate &a,
                             const Candidate &b) {
  std::shared_ptr<void> shared;
  Prepared pa = prepareSharing(workload, a, &shared);
  if (!pa.run)
    return {std::move(pa), Prepared()};
  return {std::move(pa), prepareSharing(workload, b, &shared)};
}

SamplingMeasurer::Prepared
RuntimeMeasurer::prepareSharing(const Workload &workload,
                                const Candidate &candidate,
                                std::shared_ptr<void> *shared) {
  Prepared p;
  Measurement &m = p.failure;
  // Legality first: an illegal config is its own kind of failure.
  auto &pw = parsed_[workload.key];
  if (!pw) {
    auto parsed = ParsedWorkload::parse(workload);
    if (!parsed) {
      m.status = Measurement::Status::CompileError;
      m.message = llvm::toString(parsed.takeError());
      return p;
    }
    pw = std::move(*parsed);
  }
  if (auto e = pw->verify(candidate.configText, target_)) {
    m.status = Measurement::Status::Illegal;
    m.message = llvm::toString(std::move(e));
    return p;
  }
  CompileOptions co;
  co.config = candidate.configText;
  auto kernel = jit_.compileModule(workload.canonicalText, co);
  if (!kernel) {
    m.status = Measurement::Status::CompileError;
    m.message = kernel.errorMessage();
    return p;
  }
  auto st = std::make_shared<RunState>();
  st->kernel.emplace(std::move(*kernel));
  if (shared && *shared)
    st->buffers = std::static_pointer_cast<Buffers>(*shared);
  else
    st->buffers = makeBuffers(*st->kernel, workload.opName, options_);
  if (shared)
    *shared = st->buffers;
  if (jit_.target().kind == Target::Kind::CUDA) {
    // On a GPU: device time of one run between CUDA events, the L2 cache
    // flushed before it (in place of rotated input sets).
    p.run = [st](Sample &s) -> std::string {
      TimingOptions t;
      t.warmup = 0;
      t.repeat = 1;
      t.flushL2 = true;
      auto ms = st->kernel->time(st->buffers->inViews[0],
                                 st->buffers->outViews, t);
      if (!ms)
        return ms.errorMessage();
      s.wall = ms->empty() ? 0 : ms->front() / 1000.0;
      return "";
    };
    return p;
  }
  bool cpuTime = options_.cpuTime;
  p.run = [st, cpuTime](Sample &s) -> std::string {
    Buffers &b = *st->buffers;
    const std::vector<TensorView> &in = b.inViews[b.run++ % b.sets];
    double c0 = cpuTime ? threadCpuSeconds() : 0;
    auto t0 = std::chrono::steady_clock::now();
    Status r = Status::ok();
    if (!b.allocating) {
      r = st->kernel->run(in, b.outViews);
    } else {
      auto outs = st->kernel->runAllocating(in);
      r = outs ? Status::ok() : outs.status();
    }
    auto t1 = std::chrono::steady_clock::now();
    if (cpuTime)
      s.cpu = threadCpuSeconds() - c0;
    if (!r)
      return r.message();
    s.wall = std::chrono::duration<double>(t1 - t0).count();
    return "";
  };
  return p;
}
