//===- Measurer.cpp - time a candidate through the runtime ---------------===//
#include "autotune/Measurer.h"

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

bool isVec(const ArgInfo &a, DType t) {
  return a.dtype == t && a.shape.size() == 1;
}

/// A CSR matrix in the inputs is three consecutive 1-D tensors: row_ptr
/// (i32, R + 1), col_idx (i32, nnz) and values (f32, nnz) (kjit.spmm's a,
/// kjit.spgemm's a and b). Zero-filled indices are not a valid CSR (the
/// kernel checks row_ptr[R] = nnz), so these get one: nnz spread over the
/// rows at random, columns at random below the column count, read from
/// what follows (a dense 2-D f32 operand: its rows; another CSR: its row
/// count; else 1, always in range).
void fillCsrInputs(const std::vector<ArgInfo> &ins,
                   std::vector<std::vector<uint8_t>> &bufs, std::mt19937 &rng) {
  for (size_t i = 0; i + 2 < ins.size(); ++i) {
    if (!isVec(ins[i], DType::i32) || !isVec(ins[i + 1], DType::i32) ||
        !isVec(ins[i + 2], DType::f32) || ins[i].shape[0] < 1 ||
        ins[i + 1].shape[0] != ins[i + 2].shape[0])
      continue;
    int64_t rows = ins[i].shape[0] - 1, nnz = ins[i + 1].shape[0];
    int64_t cols = 1;
    if (i + 3 < ins.size() && ins[i + 3].dtype == DType::f32 &&
        ins[i + 3].shape.size() == 2)
      cols = ins[i + 3].shape[0];
    else if (i + 3 < ins.size() && isVec(ins[i + 3], DType::i32))
      cols = ins[i + 3].shape[0] - 1;
    cols = std::max<int64_t>(1, cols);
    auto *rp = (int32_t *)bufs[i].data();
    auto *ci = (int32_t *)bufs[i + 1].data();
    std::vector<int64_t> cuts;
    if (rows > 0) {
      std::uniform_int_distribution<int64_t> at(0, nnz);
      for (int64_t r = 1; r < rows; ++r)
        cuts.push_back(at(rng));
    }
    std::sort(cuts.begin(), cuts.end());
    rp[0] = 0;
    for (int64_t r = 1; r < rows; ++r)
      rp[r] = (int32_t)cuts[r - 1];
    if (rows > 0)
      rp[rows] = (int32_t)nnz;
    std::uniform_int_distribution<int64_t> col(0, cols - 1);
    for (int64_t r = 0; r < rows; ++r) {
      // Sorted within a row, as CSR producers write them.
      std::vector<int32_t> row;
      for (int64_t p = rp[r]; p < rp[r + 1]; ++p)
        row.push_back((int32_t)col(rng));
      std::sort(row.begin(), row.end());
      std::copy(row.begin(), row.end(), ci + rp[r]);
    }
    i += 2;
  }
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
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<std::vector<std::vector<uint8_t>>> inBufs(sets);
  std::vector<std::vector<TensorView>> inViews(sets);
  const std::vector<ArgInfo> &ins = kernel->inputs();
  for (int s = 0; s < sets; ++s) {
    for (const ArgInfo &a : ins) {
      int64_t n = numElements(a.shape);
      std::vector<uint8_t> buf(n * dtypeSize(a.dtype) + 64);
      if (a.dtype == DType::f32) {
        float *f = (float *)buf.data();
        for (int64_t i = 0; i < n; ++i)
          f[i] = dist(rng);
      } // Other i32 inputs (indices) stay zero: always in range.
      inBufs[s].push_back(std::move(buf));
    }
    fillCsrInputs(ins, inBufs[s], rng);
    for (size_t i = 0; i < ins.size(); ++i)
      inViews[s].emplace_back(inBufs[s][i].data(), ins[i].dtype,
                              ins[i].shape);
  }
  std::vector<std::vector<uint8_t>> outBufs;
  std::vector<TensorView> outViews;
  for (const ArgInfo &a : kernel->outputs()) {
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
      return kernel->run(inViews[run++ % sets], outViews);
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
