//===- Tuner.cpp - tune one workload -------------------------------------===//
#include "autotune/Tuner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <map>

using namespace kjit::autotune;

llvm::Expected<std::string>
kjit::autotune::modelOnlyPick(const Workload &workload,
                              const TargetInfo &target) {
  auto pw = ParsedWorkload::parse(workload);
  if (!pw)
    return pw.takeError();
  EnumeratedSpace space = (*pw)->enumerate(target);
  PruningReport report;
  std::vector<SpacePoint> survivors =
      prune(space, defaultRules(), target, report);
  if (survivors.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no candidate survives pruning");
  RooflineModel model;
  rank(survivors, model, target);
  return survivors.front().candidate.configText;
}

namespace {
/// The paired final after the search: the finalists' tournament, then the
/// winner against the default (always). Sets bestConfig/bestSeconds to
/// what may be served, and the confirmation fields.
void decideWinner(const Workload &workload, Measurer &measurer,
                  const TuneOptions &options,
                  const std::map<std::string, std::vector<double>> &samples,
                  TuneResult &res) {
  auto fastest = [&](const std::string &config) {
    const std::vector<double> &v = samples.at(config);
    return *std::min_element(v.begin(), v.end());
  };
  std::vector<std::pair<double, std::string>> order;
  for (auto &[config, times] : samples)
    if (config != res.defaultConfig)
      order.push_back({fastest(config), config});
  std::sort(order.begin(), order.end());
  bool defaultRan = samples.count(res.defaultConfig) > 0;
  if (order.empty()) {
    if (defaultRan) {
      res.bestConfig = res.defaultConfig;
      res.bestSeconds = res.defaultSeconds;
      res.confirmation = "default kept: no other candidate ran";
    }
    return;
  }
  // The incumbent meets each challenger, interleaved in one process.
  std::string incumbent = order.front().second;
  PairOptions pair = options.pair;
  pair.threshold = 1.0;
  for (size_t i = 1; i < order.size() && i < options.finalists; ++i) {
    if (options.stop && options.stop())
      return;
    PairedResult pr = measurer.compare(workload, Candidate{incumbent},
                                       Candidate{order[i].second}, pair);
    ++res.comparisons;
    if (pr.bFasterThan(1.0))
      incumbent = order[i].second;
  }
  res.searchBest = incumbent;
  char b[160];
  if (!defaultRan) {
    // Nothing to be worse than: the default does not run here.
    res.bestConfig = incumbent;
    res.bestSeconds = fastest(incumbent);
    res.confirmation = "default failed: the best served unconfirmed";
    return;
  }
  if (options.stop && options.stop())
    return;
  // The confirmation: winner against the default.
  pair.threshold = winThreshold(res.noise);
  PairedResult pr = measurer.compare(workload, Candidate{res.defaultConfig},
                                     Candidate{incumbent}, pair);
  ++res.comparisons;
  if (pr.bFasterThan(pair.threshold)) {
    res.confirmed = true;
    res.bestConfig = incumbent;
    res.bestSeconds = fastest(incumbent);
    res.speedup = 1.0 / pr.ratio;
    res.speedupLow = 1.0 / pr.ratioHigh;
    res.speedupHigh = 1.0 / pr.ratioLow;
    snprintf(b, sizeof b,
             "confirmed: %.3fx [%.3f, %.3f] over the default in %d pairs "
             "(noise %.1f%%)",
             res.speedup, res.speedupLow, res.speedupHigh, pr.pairs,
             100 * res.noise);
    res.confirmation = b;
    return;
  }
  res.bestConfig = res.defaultConfig;
  res.bestSeconds = res.defaultSeconds;
  if (!pr.error.empty()) {
    res.confirmation = "not confirmed: default kept (the comparison failed: " +
                       pr.error + ")";
  } else {
    snprintf(b, sizeof b,
             "not confirmed: default kept (best %.3fx [%.3f, %.3f] in %d "
             "pairs, noise %.1f%%)",
             1.0 / pr.ratio, 1.0 / pr.ratioHigh, 1.0 / pr.ratioLow, pr.pairs,
             100 * res.noise);
    res.confirmation = b;
  }
}
} // namespace

llvm::Expected<TuneResult> kjit::autotune::tuneWorkload(
    const Workload &workload, const TargetInfo &target,
    const std::string &targetKey, const std::string &compilerKey,
    SqliteDatabase *db, Measurer *measurer, const TuneOptions &options,
    const ProgressFn &progress) {
  auto t0 = std::chrono::steady_clock::now();
  TuneResult res;
  res.workload = workload;
  auto pw = ParsedWorkload::parse(workload);
  if (!pw)
    return pw.takeError();
  EnumeratedSpace space = (*pw)->enumerate(target);
  std::vector<SpacePoint> survivors =
      prune(space, defaultRules(), target, res.pruning);
  if (target.kind == TargetInfo::Kind::CUDA && target.computeCapability > 0)
    survivors = pruneByGpuRegisters(
        std::move(survivors), target,
        ptxasResources(workload,
                       "sm_" + std::to_string(target.computeCapability)),
        options.gpuRegisters, res.pruning);
  RooflineModel model;
  rank(survivors, model, target);
  res.defaultConfig = (*pw)->defaultConfig(target);
  if (!survivors.empty())
    res.modelPick = survivors.front().candidate.configText;
  res.survivors = survivors;
  auto finish = [&]() {
    res.seconds = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
    return std::move(res);
  };
  // An op without knobs, or whose very default is illegal here (an op
  // without a code generator for the target): nothing to search.
  if (auto e = (*pw)->verify(res.defaultConfig, target))
    res.nothingToTune = llvm::toString(std::move(e));
  else if (space.rawSize == 0)
    res.nothingToTune = workload.opName + " has no tuning knobs on this target";
  if (options.dryRun || !measurer || !res.nothingToTune.empty())
    return finish();
  // Resume: a finished run is not repeated; the records of an unfinished
  // one (killed, interrupted, stopped by a database error) count as
  // measured, and the rest is measured.
  std::vector<Record> earlier;
  if (db && options.resume) {
    auto tuned = db->isTuned(workload.key, targetKey, compilerKey);
    if (!tuned)
      return tuned.takeError();
    if (*tuned) {
      auto best = db->bestRecord(workload.key, targetKey, compilerKey);
      if (!best)
        return best.takeError();
      res.skipped = true;
      if (*best) {
        res.bestConfig = (*best)->config;
        res.bestSeconds = (*best)->result.medianSeconds;
      }
      auto run = db->tuningRun(workload.key, targetKey, compilerKey);
      if (!run)
        return run.takeError();
      if (*run) {
        res.noise = (*run)->noise;
        res.confirmed = (*run)->confirmed;
        res.speedup = (*run)->speedup;
        res.speedupLow = (*run)->speedupLow;
        res.speedupHigh = (*run)->speedupHigh;
        res.confirmation = (*run)->note;
      }
      return finish();
    }
    auto recs = db->records(workload.key, targetKey, compilerKey);
    if (!recs)
      return recs.takeError();
    earlier = std::move(*recs);
  }

  std::unique_ptr<SearchStrategy> strategy;
  Budget budget = options.budget;
  if (options.strategy == "pruned") {
    if (options.topK && (!budget.maxCandidates ||
                         options.topK < budget.maxCandidates))
      budget.maxCandidates = options.topK;
    strategy = makePrunedExhaustive(survivors, budget);
  } else if (options.strategy == "guided") {
    if (options.topK && (!budget.maxCandidates ||
                         options.topK < budget.maxCandidates))
      budget.maxCandidates = options.topK;
    std::vector<SpacePoint> legal = space.legal;
    rank(legal, model, target);
    size_t initial = std::max<uint64_t>(
        2, budget.maxCandidates ? budget.maxCandidates / 3 : 4);
    strategy = std::make_unique<GuidedStrategy>(survivors, std::move(legal),
                                                budget, initial);
  } else if (options.strategy == "random") {
    if (options.topK && !budget.maxCandidates)
      budget.maxCandidates = options.topK;
    strategy = makeRandom(space.legal, budget, options.seed);
  } else if (options.strategy == "model") {
    strategy = std::make_unique<ModelOnlyStrategy>(survivors);
  } else {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown strategy '" + options.strategy +
                                       "' (pruned, guided, random or model)");
  }

  auto stopped = [&]() { return options.stop && options.stop(); };
  uint64_t index = 0;
  std::set<std::string> measuredTexts;
  std::map<std::string, std::vector<double>> samples; // ok medians per config
  // What a measurement (this run's or a resumed one's) tells the result and
  // the strategy.
  auto account = [&](const Candidate &c, const Measurement &m) {
    measuredTexts.insert(c.configText);
    if (m.ok()) {
      samples[c.configText].push_back(m.medianSeconds);
      if (c.configText == res.defaultConfig && !res.defaultSeconds) {
        // The first measurement of the default: the baseline, and the
        // machine's noise as its repeated runs showed it.
        res.defaultSeconds = m.medianSeconds;
        res.noise = m.noise;
      }
      if (!res.bestSeconds || m.medianSeconds < *res.bestSeconds) {
        res.bestSeconds = m.medianSeconds;
        res.bestConfig = c.configText;
      }
    }
    res.trace.push_back(res.bestSeconds
                            ? *res.bestSeconds
                            : std::numeric_limits<double>::quiet_NaN());
    strategy->observe(c, m);
  };
  // Why a measurement could not be recorded ("" while every one was).
  std::string recordError;
  // Returns false when tuning must stop (interrupted, or the database
  // cannot record).
  auto measureOne = [&](const Candidate &c) {
    if (stopped()) {
      res.interrupted = true;
      return false;
    }
    measuredTexts.insert(c.configText);
    Measurement m = measurer->measure(workload, c);
    if (stopped() && !m.ok()) {
      // Most likely the child killed by the interrupt: not a result.
      res.interrupted = true;
      return false;
    }
    // A measurement the database cannot hold is lost: going on would
    // measure for nothing, and report a best that is not in the database.
    if (db && !db->record(workload, targetKey, compilerKey, c, m)) {
      recordError = db->lastError();
      return false;
    }
    ++index;
    if (m.ok())
      ++res.measured;
    else
      ++res.failed;
    account(c, m);
    if (progress)
      progress(index, c, m);
    return true;
  };
  auto recordFailure = [&]() -> llvm::Error {
    return llvm::make_error<DatabaseError>(
        recordError + "; tuning of " + workload.opName + " " +
        workload.key.substr(0, 16) + " stopped after " + std::to_string(index) +
        " recorded measurement(s) (they are kept; the next run resumes it)");
  };
  for (const Record &r : earlier) {
    account(Candidate{r.config}, r.result);
    ++res.resumed;
  }
  // The best configs this workload had on other targets or compilers
  // (legal here) seed the search, right after the default; they are never
  // served as current.
  std::vector<std::string> seeds;
  if (db && options.maxSeeds && options.strategy != "model") {
    auto foreign = db->foreignRecords(workload.key, targetKey, compilerKey);
    if (!foreign)
      return foreign.takeError();
    for (const Record &r : *foreign) {
      if (seeds.size() >= options.maxSeeds)
        break;
      auto canon = (*pw)->canonicalConfig(r.config);
      if (!canon) {
        llvm::consumeError(canon.takeError());
        continue;
      }
      if (auto e = (*pw)->verify(*canon, target)) {
        llvm::consumeError(std::move(e));
        continue;
      }
      if (*canon != res.defaultConfig &&
          std::find(seeds.begin(), seeds.end(), *canon) == seeds.end())
        seeds.push_back(*canon);
    }
  }
  if (options.onPlan) {
    uint64_t pool = options.strategy == "model"    ? 0
                    : options.strategy == "pruned" ? survivors.size()
                                                   : space.legal.size();
    if (budget.maxCandidates)
      pool = std::min<uint64_t>(pool, budget.maxCandidates);
    uint64_t planned = 1 + seeds.size() + pool;
    options.onPlan(planned - std::min<uint64_t>(planned, measuredTexts.size()));
  }
  // The default first: the baseline of the speed-up.
  bool go = measuredTexts.count(res.defaultConfig) ||
            measureOne(Candidate{res.defaultConfig});
  for (const std::string &sd : seeds) {
    if (measuredTexts.count(sd))
      continue;
    if (!go || !(go = measureOne(Candidate{sd})))
      break;
    ++res.seeded;
  }
  while (go) {
    if (stopped()) {
      res.interrupted = true;
      break;
    }
    auto c = strategy->next();
    if (!c)
      break;
    if (measuredTexts.count(c->configText))
      continue;
    go = measureOne(*c);
  }
  if (!recordError.empty())
    return recordFailure();
  if (db) {
    // The pruned-exhaustive optimum is known when every survivor has a
    // record for these keys.
    std::set<std::string> have;
    double best = std::numeric_limits<double>::infinity();
    auto recs = db->records(workload.key, targetKey, compilerKey);
    if (!recs)
      return recs.takeError();
    for (const Record &r : *recs) {
      have.insert(r.config);
      if (r.result.ok())
        best = std::min(best, r.result.medianSeconds);
    }
    bool all = !survivors.empty();
    for (const SpacePoint &p : survivors)
      if (!have.count(p.candidate.configText)) {
        all = false;
        break;
      }
    if (all && std::isfinite(best))
      res.exhaustiveBest = best;
  }
  if (!stopped() && !res.interrupted)
    decideWinner(workload, *measurer, options, samples, res);
  if (stopped())
    res.interrupted = true;
  // The run finished: resume will not repeat it. (An interrupted one is
  // resumed.)
  if (db && !res.interrupted) {
    TuningRun run;
    run.winner = res.bestConfig;
    run.noise = res.noise;
    run.confirmed = res.confirmed;
    run.speedup = res.speedup;
    run.speedupLow = res.speedupLow;
    run.speedupHigh = res.speedupHigh;
    run.note = res.confirmation;
    if (auto e = db->markTuned(workload.key, targetKey, compilerKey,
                               res.bestConfig.empty() ? nullptr : &run))
      return std::move(e);
  }
  return finish();
}
