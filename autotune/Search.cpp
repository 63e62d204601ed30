//===- Search.cpp - search strategies ------------------------------------===//
#include "autotune/Search.h"

#include <algorithm>
#include <random>

#include "llvm/ADT/StringRef.h"

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

std::map<std::string, std::string>
kjit::autotune::knobValues(const std::string &text) {
  std::map<std::string, std::string> out;
  llvm::StringRef s(text);
  size_t b = s.find("<{"), e = s.rfind("}>");
  if (b == llvm::StringRef::npos || e == llvm::StringRef::npos || e < b)
    return out;
  s = s.slice(b + 2, e);
  while (!s.empty()) {
    // Split at the next comma outside a string.
    size_t i = 0;
    bool quoted = false;
    for (; i < s.size(); ++i) {
      if (s[i] == '"')
        quoted = !quoted;
      else if (s[i] == ',' && !quoted)
        break;
    }
    llvm::StringRef item = s.take_front(i).trim();
    s = i < s.size() ? s.drop_front(i + 1) : llvm::StringRef();
    auto [k, v] = item.split('=');
    if (!k.trim().empty())
      out[k.trim().str()] = v.trim().str();
  }
  return out;
}

GuidedStrategy::GuidedStrategy(std::vector<SpacePoint> ranked,
                               std::vector<SpacePoint> legal, Budget budget,
                               size_t initial, size_t incumbents)
    : budget_(budget), initial_(std::max<size_t>(1, initial)),
      incumbents_(std::max<size_t>(1, incumbents)),
      start_(std::chrono::steady_clock::now()) {
  for (SpacePoint &p : ranked)
    ranked_.push_back({p.candidate, knobValues(p.candidate.configText), {},
                       p.predictedSeconds});
  for (SpacePoint &p : legal)
    legal_.push_back({p.candidate, knobValues(p.candidate.configText), {},
                      p.predictedSeconds});
  // Each knob's values in order: numerically when they are integers, else
  // in order of appearance.
  std::map<std::string, std::vector<std::string>> values;
  for (const Point &p : legal_)
    for (const auto &[k, v] : p.knobs) {
      auto &vs = values[k];
      if (std::find(vs.begin(), vs.end(), v) == vs.end())
        vs.push_back(v);
    }
  for (auto &[k, vs] : values) {
    bool ints = true;
    for (const std::string &v : vs) {
      long long x;
      if (llvm::StringRef(v).split(' ').first.getAsInteger(10, x))
        ints = false;
    }
    if (ints)
      std::stable_sort(vs.begin(), vs.end(), [](const std::string &a,
                                                const std::string &b) {
        long long x = 0, y = 0;
        (void)llvm::StringRef(a).split(' ').first.getAsInteger(10, x);
        (void)llvm::StringRef(b).split(' ').first.getAsInteger(10, y);
        return x < y;
      });
  }
  for (Point &p : legal_)
    for (const auto &[k, v] : p.knobs) {
      auto &vs = values[k];
      p.index[k] = (int)(std::find(vs.begin(), vs.end(), v) - vs.begin());
    }
}

const GuidedStrategy::Point *
GuidedStrategy::neighbour(const std::string &incText,
                          bool adjacentOnly) const {
  const Point *inc = nullptr;
  for (const Point &p : legal_)
    if (p.candidate.configText == incText) {
      inc = &p;
      break;
    }
  if (!inc)
    return nullptr; // e.g. a seed outside this space
  const Point *best = nullptr;
  for (const Point &p : legal_) {
    if (seen_.count(p.candidate.configText) ||
        p.knobs.size() != inc->knobs.size())
      continue;
    int diff = 0, step = 0;
    for (const auto &[k, i] : p.index) {
      auto it = inc->index.find(k);
      if (it == inc->index.end()) {
        diff = 99;
        break;
      }
      if (it->second != i) {
        ++diff;
        step = std::abs(it->second - i);
      }
    }
    if (diff != 1 || (adjacentOnly && step != 1))
      continue;
    if (!best || p.predicted < best->predicted)
      best = &p;
  }
  return best;
}

std::optional<Candidate> GuidedStrategy::next() {
  if (budget_.maxCandidates && handedOut_ >= budget_.maxCandidates)
    return std::nullopt;
  if (budget_.seconds > 0 &&
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
              .count() >= budget_.seconds)
    return std::nullopt;
  auto hand = [&](const Candidate &c) {
    seen_.insert(c.configText);
    ++handedOut_;
    return c;
  };
  auto nextSurvivor = [&]() -> std::optional<Candidate> {
    while (nextRanked_ < ranked_.size()) {
      const Point &p = ranked_[nextRanked_++];
      if (!seen_.count(p.candidate.configText))
        return hand(p.candidate);
    }
    return std::nullopt;
  };
  // Phase 1: the model's best survivors.
  if (handedOut_ < initial_ || measured_.empty())
    if (auto c = nextSurvivor())
      return c;
  // Phase 2: the best-predicted unmeasured neighbour of the incumbents.
  size_t n = std::min(incumbents_, measured_.size());
  for (bool adjacent : {true, false})
    for (size_t i = 0; i < n; ++i)
      if (const Point *p = neighbour(measured_[i].second, adjacent))
        return hand(p->candidate);
  // The incumbents' neighbourhoods are exhausted: go on down the ranking.
  if (auto c = nextSurvivor())
    return c;
  return std::nullopt;
}

void GuidedStrategy::observe(const Candidate &c, const Measurement &m) {
  seen_.insert(c.configText);
  if (!m.ok())
    return;
  auto it = std::lower_bound(
      measured_.begin(), measured_.end(),
      std::make_pair(m.medianSeconds, c.configText));
  measured_.insert(it, {m.medianSeconds, c.configText});
}

std::optional<Candidate> GuidedStrategy::pick() const {
  if (measured_.empty())
    return std::nullopt;
  return Candidate{measured_.front().second};
}
