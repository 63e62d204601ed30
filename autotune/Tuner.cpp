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
      if (c.configText == res.defaultConfig && !res.defaultSeconds)
        res.defaultSeconds = m.medianSeconds;
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
  if (options.confirmTop > 0 && samples.size() > 1 && !stopped()) {
    // The fastest few by their search measurement, plus the default.
    std::vector<std::pair<double, std::string>> order;
    for (auto &[config, times] : samples)
      order.push_back({*std::min_element(times.begin(), times.end()), config});
    std::sort(order.begin(), order.end());
    std::vector<std::string> finalists;
    for (size_t i = 0; i < order.size() && i < options.confirmTop; ++i)
      finalists.push_back(order[i].second);
    if (samples.count(res.defaultConfig) &&
        std::find(finalists.begin(), finalists.end(), res.defaultConfig) ==
            finalists.end())
      finalists.push_back(res.defaultConfig);
    // measured/failed keep counting the search only.
    uint64_t okBefore = res.measured, failedBefore = res.failed;
    bool more = true;
    for (unsigned r = 0; more && r < options.confirmRounds && !stopped(); ++r)
      for (const std::string &config : finalists)
        if (!(more = measureOne(Candidate{config})))
          break;
    if (!recordError.empty())
      return recordFailure();
    res.confirmations =
        (res.measured - okBefore) + (res.failed - failedBefore);
    res.measured = okBefore;
    res.failed = failedBefore;
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      size_t n = v.size();
      return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    };
    res.bestConfig.clear();
    res.bestSeconds.reset();
    for (const std::string &config : finalists) {
      double m = median(samples[config]);
      if (config == res.defaultConfig)
        res.defaultSeconds = m;
      if (!res.bestSeconds || m < *res.bestSeconds) {
        res.bestSeconds = m;
        res.bestConfig = config;
      }
    }
  }
  // The run finished: resume will not repeat it. (An interrupted one is
  // resumed.)
  if (db && !res.interrupted)
    if (auto e = db->markTuned(workload.key, targetKey, compilerKey))
      return std::move(e);
  return finish();
}
