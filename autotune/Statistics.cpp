//===- Statistics.cpp - timings that hold on a noisy machine -------------===//
#include "autotune/Statistics.h"

#include <algorithm>
#include <cmath>

using namespace kjit::autotune;

double kjit::autotune::normalQuantile(double confidence) {
  // z with P(|Z| <= z) = confidence: erfc(z / sqrt 2) = 1 - confidence,
  // by bisection (erfc decreases).
  double tail = std::clamp(1.0 - confidence, 1e-12, 1.0);
  double lo = 0, hi = 10;
  for (int i = 0; i < 100; ++i) {
    double mid = 0.5 * (lo + hi);
    (std::erfc(mid / std::sqrt(2.0)) > tail ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

namespace {
/// The q-quantile of sorted values (linear interpolation).
double quantile(const std::vector<double> &v, double q) {
  double pos = q * double(v.size() - 1);
  size_t i = size_t(pos);
  if (i + 1 >= v.size())
    return v.back();
  return v[i] + (pos - double(i)) * (v[i + 1] - v[i]);
}

/// The order statistics bounding the median at `confidence`: indices
/// (0-based, symmetric) of sorted values; [0, n-1] with too few values.
std::pair<size_t, size_t> medianBounds(size_t n, double confidence) {
  double z = normalQuantile(confidence);
  double rank = std::floor(0.5 * double(n) - 0.5 * z * std::sqrt(double(n)));
  if (rank < 1)
    return {0, n - 1};
  size_t lo = size_t(rank) - 1;
  return {lo, n - 1 - lo};
}

bool agrees(const Sample &s, double tolerance) {
  return s.cpu >= (1.0 - tolerance) * s.wall;
}
} // namespace

TimeSummary kjit::autotune::summarize(std::vector<double> times,
                                      double confidence) {
  TimeSummary s;
  if (times.empty())
    return s;
  std::sort(times.begin(), times.end());
  s.runs = int(times.size());
  s.min = times.front();
  s.max = times.back();
  s.median = quantile(times, 0.5);
  auto [lo, hi] = medianBounds(times.size(), confidence);
  s.ciLow = times[lo];
  s.ciHigh = times[hi];
  if (s.median > 0)
    s.noise = 0.5 * (quantile(times, 0.75) - quantile(times, 0.25)) / s.median;
  return s;
}

std::vector<double> kjit::autotune::trustedTimes(
    const std::vector<Sample> &samples, double tolerance, int &dropped) {
  dropped = 0;
  std::vector<double> all, agreeing;
  bool haveCpu = !samples.empty();
  for (const Sample &s : samples) {
    all.push_back(s.wall);
    haveCpu &= s.cpu >= 0;
    if (agrees(s, tolerance))
      agreeing.push_back(s.wall);
  }
  // CPU time is used only where it agrees with wall time on most runs.
  if (!haveCpu || 2 * agreeing.size() < samples.size())
    return all;
  dropped = int(samples.size() - agreeing.size());
  return agreeing;
}

AdaptiveResult kjit::autotune::adaptiveRepeat(const RunFn &run,
                                              const AdaptiveOptions &o) {
  AdaptiveResult r;
  Sample s;
  for (int i = 0; i < o.warmup; ++i)
    if (std::string e = run(s); !e.empty()) {
      r.error = e;
      return r;
    }
  std::vector<Sample> samples;
  double spent = 0;
  int maxRuns = std::max(1, std::max(o.minRuns, o.maxRuns));
  // The interval is judged after minRuns, then every 5% more runs (a sort
  // per run would cost more than a microsecond kernel).
  size_t nextCheck = size_t(std::max(1, o.minRuns));
  while (int(samples.size()) < maxRuns) {
    s = Sample();
    if (std::string e = run(s); !e.empty()) {
      r.error = e;
      return r;
    }
    samples.push_back(s);
    spent += s.wall;
    if (samples.size() < nextCheck && spent < o.budgetSeconds)
      continue;
    if (int(samples.size()) < o.minRuns)
      continue;
    nextCheck = samples.size() + std::max<size_t>(1, samples.size() / 20);
    r.summary = summarize(trustedTimes(samples, o.cpuTolerance, r.descheduled),
                          o.confidence);
    if (r.summary.relativeHalfWidth() <= o.targetRelativeCI) {
      r.converged = true;
      break;
    }
    if (spent >= o.budgetSeconds)
      break;
  }
  r.timedRuns = int(samples.size());
  r.summary = summarize(trustedTimes(samples, o.cpuTolerance, r.descheduled),
                        o.confidence);
  return r;
}

PairedResult kjit::autotune::pairedCompare(const RunFn &a, const RunFn &b,
                                           const PairOptions &o) {
  PairedResult r;
  auto fail = [&](const char *side, const std::string &why) {
    r.error = std::string(side) + ": " + why;
    return r;
  };
  Sample s;
  for (int i = 0; i < o.warmup; ++i) {
    if (std::string e = a(s); !e.empty())
      return fail("a", e);
    if (std::string e = b(s); !e.empty())
      return fail("b", e);
  }
  // a b a b ...: every run follows a run of the other kernel (a kernel run
  // twice in a row is warmer: caches, branch predictors), and each pair
  // is one a and the b right after it, single against single (a b judged
  // against an average of a runs would gain from the skew of run times).
  // A drift of the machine within one run is negligible.
  std::vector<Sample> as, bs;
  double spent = 0;
  int maxPairs = std::max(1, std::max(o.minPairs, o.maxPairs));
  size_t nextCheck = 0;
  auto judge = [&]() {
    // A pair with a descheduled run (CPU time short of wall time) is left
    // out while most pairs agree.
    auto pairAgrees = [&](size_t j) {
      return agrees(as[j], o.cpuTolerance) && agrees(bs[j], o.cpuTolerance);
    };
    size_t agreeing = 0;
    bool haveCpu = true;
    for (size_t j = 0; j < bs.size(); ++j) {
      haveCpu &= as[j].cpu >= 0 && bs[j].cpu >= 0;
      agreeing += pairAgrees(j);
    }
    bool filter = haveCpu && 2 * agreeing >= bs.size();
    std::vector<double> logRatios;
    r.dropped = 0;
    for (size_t j = 0; j < bs.size(); ++j) {
      if (filter && !pairAgrees(j)) {
        ++r.dropped;
        continue;
      }
      if (as[j].wall > 0 && bs[j].wall > 0)
        logRatios.push_back(std::log(bs[j].wall / as[j].wall));
    }
    TimeSummary t = summarize(logRatios, o.confidence);
    r.pairs = t.runs;
    r.ratio = std::exp(t.median);
    r.ratioLow = std::exp(t.ciLow);
    r.ratioHigh = std::exp(t.ciHigh);
  };
  for (int i = 0; i < maxPairs; ++i) {
    as.emplace_back();
    if (std::string e = a(as.back()); !e.empty())
      return fail("a", e);
    bs.emplace_back();
    if (std::string e = b(bs.back()); !e.empty())
      return fail("b", e);
    spent += bs.back().wall + as.back().wall;
    // Judged after minPairs, then every 25% more pairs: fewer looks at a
    // sequential test keep its error rate nearer the nominal one.
    if (int(bs.size()) < o.minPairs ||
        (bs.size() < nextCheck && spent < o.budgetSeconds))
      continue;
    nextCheck = bs.size() + std::max<size_t>(1, bs.size() / 4);
    judge();
    // Decided; or a deterministic timer (every ratio equal): more pairs
    // would tell nothing new.
    if (r.pairs > 0 && (r.ratioHigh < o.threshold ||
                        r.ratioLow > o.threshold ||
                        r.ratioLow == r.ratioHigh))
      return r;
    if (spent >= o.budgetSeconds)
      break;
  }
  judge();
  return r;
}
