//===- Search.cpp - search strategies ------------------------------------===//
#include "autotune/Search.h"

#include <algorithm>
#include <random>

using namespace kjit::autotune;

ListStrategy::ListStrategy(std::string name, std::vector<Candidate> order,
                           Budget budget)
    : name_(std::move(name)), order_(std::move(order)), budget_(budget),
      start_(std::chrono::steady_clock::now()) {}

std::optional<Candidate> ListStrategy::next() {
  if (pos_ >= order_.size())
    return std::nullopt;
  if (budget_.maxCandidates && pos_ >= budget_.maxCandidates)
    return std::nullopt;
  if (budget_.seconds > 0 &&
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
              .count() >= budget_.seconds)
    return std::nullopt;
  return order_[pos_++];
}

void ListStrategy::observe(const Candidate &c, const Measurement &m) {
  if (m.ok() && (!best_ || m.medianSeconds < bestTime_)) {
    best_ = c;
    bestTime_ = m.medianSeconds;
  }
}

std::optional<Candidate> ListStrategy::pick() const { return best_; }

std::unique_ptr<SearchStrategy>
kjit::autotune::makePrunedExhaustive(const std::vector<SpacePoint> &ranked,
                                     Budget budget) {
  std::vector<Candidate> order;
  for (const SpacePoint &p : ranked)
    order.push_back(p.candidate);
  return std::make_unique<ListStrategy>("pruned", std::move(order), budget);
}

std::unique_ptr<SearchStrategy>
kjit::autotune::makeRandom(const std::vector<SpacePoint> &points,
                           Budget budget, unsigned seed) {
  std::vector<Candidate> order;
  for (const SpacePoint &p : points)
    order.push_back(p.candidate);
  std::mt19937 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  return std::make_unique<ListStrategy>("random", std::move(order), budget);
}

ModelOnlyStrategy::ModelOnlyStrategy(const std::vector<SpacePoint> &ranked) {
  if (!ranked.empty())
    top_ = ranked.front().candidate;
}
