//===- BenchUtil.h - timing and comparison helpers of the benchmarks ------===//
#ifndef KJIT_BENCH_BENCHUTIL_H
#define KJIT_BENCH_BENCHUTIL_H

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <vector>

namespace kjit::bench {

/// Median wall time in ms of `reps` calls after one warm-up call.
inline double medianMs(int reps, const std::function<void()> &fn) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto a = std::chrono::steady_clock::now();
    fn();
    auto b = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

/// ||a - b||_2 / ||b||_2.
inline double relDiff(const std::vector<float> &a,
                      const std::vector<float> &b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = double(a[i]) - b[i];
    num += d * d;
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

} // namespace kjit::bench

#endif
