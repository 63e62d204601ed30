//===- Search.h - search strategies ----------------------------*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_SEARCH_H
#define KJIT_AUTOTUNE_SEARCH_H

#include "autotune/Autotune.h"
#include "autotune/Space.h"

#include <chrono>
#include <map>
#include <memory>
#include <set>

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

/// The knobs of a printed `#kjit.config<{k = v : i64, s = "x"}>` as
/// name -> value text (the value as printed).
std::map<std::string, std::string> knobValues(const std::string &configText);

/// Model-guided search (a model-seeded local search): first the cost
/// model's `initial` best survivors, then, repeatedly, an unmeasured
/// neighbour of the best measured candidates (the `incumbents`), the
/// model's best-predicted first: a neighbour changes one knob to the next
/// value up or down (then, when those are all measured, to any value),
/// anywhere in `legal`, pruned or not; when the incumbents have no
/// unmeasured neighbour left, the next survivor in model order. The
/// measurements steer it where the model is wrong.
class GuidedStrategy : public SearchStrategy {
public:
  /// `ranked`: the pruned survivors best-first; `legal`: every legal point
  /// (its neighbours come from here), predictedSeconds filled.
  GuidedStrategy(std::vector<SpacePoint> ranked, std::vector<SpacePoint> legal,
                 Budget budget, size_t initial = 4, size_t incumbents = 2);
  std::string name() const override { return "guided"; }
  std::optional<Candidate> next() override;
  void observe(const Candidate &c, const Measurement &m) override;
  std::optional<Candidate> pick() const override;

private:
  struct Point {
    Candidate candidate;
    std::map<std::string, std::string> knobs;
    std::map<std::string, int> index; ///< of each value in its knob's order
    double predicted = 0;
  };
  /// The best-predicted unmeasured neighbour of `inc` (adjacent values
  /// only, or any value of one knob).
  const Point *neighbour(const std::string &inc, bool adjacentOnly) const;
  std::vector<Point> ranked_, legal_;
  Budget budget_;
  size_t initial_, incumbents_;
  size_t handedOut_ = 0, nextRanked_ = 0;
  std::set<std::string> seen_; ///< handed out or observed
  std::vector<std::pair<double, std::string>> measured_; ///< ok, by time
  std::chrono::steady_clock::time_point start_;
};

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
