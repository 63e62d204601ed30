//===- Search.h - search strategies ----------------------------*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_SEARCH_H
#define KJIT_AUTOTUNE_SEARCH_H

#include "autotune/Autotune.h"
#include "autotune/Space.h"

#include <chrono>
#include <memory>

namespace kjit::autotune {

/// When to stop measuring: 0 means no bound.
struct Budget {
  uint64_t maxCandidates = 0;
  double seconds = 0;
};

/// Measures a fixed list in order within a budget; tracks the best seen.
class ListStrategy : public SearchStrategy {
public:
  ListStrategy(std::string name, std::vector<Candidate> order, Budget budget);
  std::string name() const override { return name_; }
  std::optional<Candidate> next() override;
  void observe(const Candidate &c, const Measurement &m) override;
  std::optional<Candidate> pick() const override;

private:
  std::string name_;
  std::vector<Candidate> order_;
  Budget budget_;
  size_t pos_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::optional<Candidate> best_;
  double bestTime_ = 0;
};

/// Pruned-exhaustive: the survivors in cost-model order (`ranked` is
/// best-first, as rank() leaves it).
std::unique_ptr<SearchStrategy>
makePrunedExhaustive(const std::vector<SpacePoint> &ranked, Budget budget);
/// Random order over `points` (e.g. the whole legal space) from `seed`.
std::unique_ptr<SearchStrategy>
makeRandom(const std::vector<SpacePoint> &points, Budget budget,
           unsigned seed);

/// Model-only: measures nothing; pick() is the cost model's top candidate.
class ModelOnlyStrategy : public SearchStrategy {
public:
  explicit ModelOnlyStrategy(const std::vector<SpacePoint> &ranked);
  std::string name() const override { return "model"; }
  std::optional<Candidate> next() override { return std::nullopt; }
  void observe(const Candidate &, const Measurement &) override {}
  std::optional<Candidate> pick() const override { return top_; }

private:
  std::optional<Candidate> top_;
};

} // namespace kjit::autotune

#endif
