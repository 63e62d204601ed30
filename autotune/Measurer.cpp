//===- Measurer.cpp - time a candidate through the runtime ---------------===//
#include "autotune/Measurer.h"
#include "autotune/InputData.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

using namespace kjit;
using namespace kjit::autotune;

RuntimeMeasurer::RuntimeMeasurer(kjit::Jit &jit, TargetInfo target,
                                 MeasureOptions options)
    : jit_(jit), target_(target), options_(options) {}
RuntimeMeasurer::~RuntimeMeasurer() = default;

namespace {
int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

} // namespace

Measurement RuntimeMeasurer::measure(const Workload &workload,
                                     const Candidate &candidate) {
  Measurement m;
  // Legality first: an illegal config is its own kind of failure.
  auto &pw = parsed_[workload.key];
  if (!pw) {
    auto p = ParsedWorkload::parse(workload);
    if (!p) {
      m.status = Measurement::Status::CompileError;
      m.message = llvm::toString(p.takeError());
      return m;
    }
    pw = std::move(*p);
  }
  if (auto e = pw->verify(candidate.configText, target_)) {
    m.status = Measurement::Status::Illegal;
    m.message = llvm::toString(std::move(e));
    return m;
  }
  CompileOptions co;
  co.config = candidate.configText;
  auto kernel = jit_.compileModule(workload.canonicalText, co);
  if (!kernel) {
    m.status = Measurement::Status::CompileError;
    m.message = kernel.errorMessage();
    return m;
  }
  // Input sets: fresh random data, rotated.
  double setBytes = 0;
  for (const ArgInfo &a : kernel->inputs())
    setBytes += (double)numElements(a.shape) * dtypeSize(a.dtype);
  int sets = options_.minInputSets;
  if (setBytes > 0)
    sets = std::max<int>(sets, (int)std::min(
                                   64.0, options_.rotateBytes / setBytes + 1));
  std::mt19937 rng(options_.seed);
  std::vector<std::vector<std::vector<uint8_t>>> inBufs(sets);
  std::vector<std::vector<TensorView>> inViews(sets);
  for (int s = 0; s < sets; ++s) {
    for (const ArgInfo &a : kernel->inputs())
      inBufs[s].emplace_back(numElements(a.shape) * dtypeSize(a.dtype) + 64);
    // Valid inputs for the op (kjit.spmm: a real CSR, not zero indices).
    fillOpInputs(workload.opName, kernel->inputs(), inBufs[s], rng);
    for (size_t i = 0; i < kernel->inputs().size(); ++i)
      inViews[s].emplace_back(inBufs[s][i].data(), kernel->inputs()[i].dtype,
                              kernel->inputs()[i].shape);
  }
  std::vector<std::vector<uint8_t>> outBufs;
  std::vector<TensorView> outViews;
  // Outputs the kernel sizes itself (kjit.spgemm): runAllocating (CPU) or
  // Kernel::time (CUDA; their views are ignored), whose allocation of the
  // result is part of what is measured.
  bool allocating = false;
  for (const ArgInfo &a : kernel->outputs()) {
    allocating |= a.isDynamic();
    if (a.isDynamic()) {
      outViews.emplace_back();
      continue;
    }
    outBufs.emplace_back(numElements(a.shape) * dtypeSize(a.dtype) + 64);
    outViews.emplace_back(outBufs.back().data(), a.dtype, a.shape);
  }
  std::vector<double> times;
  if (jit_.target().kind == Target::Kind::CUDA) {
    // On a GPU: device time of each run between CUDA events, the L2 cache
    // flushed before each (in place of rotated input sets), inputs copied
    // to the device once (Kernel::time).
    TimingOptions t;
    t.warmup = options_.warmup;
    t.repeat = std::max(1, options_.repeats);
    t.flushL2 = true;
    auto ms = kernel->time(inViews[0], outViews, t);
    if (!ms) {
      m.status = Measurement::Status::Crash;
      m.message = "run failed: " + ms.errorMessage();
      return m;
    }
    for (double v : *ms)
      times.push_back(v / 1000.0);
  } else {
    int run = 0;
    auto once = [&]() -> Status {
      const std::vector<TensorView> &in = inViews[run++ % sets];
      if (!allocating)
        return kernel->run(in, outViews);
      auto outs = kernel->runAllocating(in);
      return outs ? Status::ok() : outs.status();
    };
    for (int i = 0; i < options_.warmup; ++i)
      if (Status s = once(); !s) {
        m.status = Measurement::Status::Crash;
        m.message = "run failed: " + s.message();
        return m;
      }
    for (int i = 0; i < std::max(1, options_.repeats); ++i) {
      auto t0 = std::chrono::steady_clock::now();
      Status s = once();
      auto t1 = std::chrono::steady_clock::now();
      if (!s) {
        m.status = Measurement::Status::Crash;
        m.message = "run failed: " + s.message();
        return m;
      }
      times.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
  }
  std::sort(times.begin(), times.end());
  size_t n = times.size();
  m.medianSeconds =
      n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  m.spreadSeconds = times.back() - times.front();
  m.repeats = (int)n;
  m.status = Measurement::Status::Ok;
  return m;
}
