//===- Tuner.cpp - tune one workload -------------------------------------===//
#include "autotune/Tuner.h"

#include <algorithm>
#include <chrono>
#include <map>

using namespace kjit::autotune;

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
  RooflineModel model;
  rank(survivors, model, target);
  res.defaultConfig = (*pw)->defaultConfig(target);
  if (!survivors.empty())
    res.modelPick = survivors.front().candidate.configText;
  auto finish = [&]() {
    res.seconds = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
    return std::move(res);
  };
  if (options.dryRun || !measurer)
    return finish();
  if (db && options.resume)
    if (auto best = db->bestRecord(workload.key, targetKey, compilerKey)) {
      res.skipped = true;
      res.bestConfig = best->config;
      res.bestSeconds = best->result.medianSeconds;
      return finish();
    }

  std::unique_ptr<SearchStrategy> strategy;
  Budget budget = options.budget;
  if (options.strategy == "pruned") {
    if (options.topK && (!budget.maxCandidates ||
                         options.topK < budget.maxCandidates))
      budget.maxCandidates = options.topK;
    strategy = makePrunedExhaustive(survivors, budget);
  } else if (options.strategy == "random") {
    if (options.topK && !budget.maxCandidates)
      budget.maxCandidates = options.topK;
    strategy = makeRandom(space.legal, budget, options.seed);
  } else if (options.strategy == "model") {
    strategy = std::make_unique<ModelOnlyStrategy>(survivors);
  } else {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "unknown strategy '" + options.strategy +
                                       "' (pruned, random or model)");
  }

  uint64_t index = 0;
  std::map<std::string, std::vector<double>> samples; // ok medians per config
  auto measureOne = [&](const Candidate &c) {
    Measurement m = measurer->measure(workload, c);
    ++index;
    if (m.ok())
      samples[c.configText].push_back(m.medianSeconds);
    if (m.ok()) {
      ++res.measured;
      if (!res.bestSeconds || m.medianSeconds < *res.bestSeconds) {
        res.bestSeconds = m.medianSeconds;
        res.bestConfig = c.configText;
      }
    } else {
      ++res.failed;
    }
    if (db)
      db->record(workload, targetKey, compilerKey, c, m);
    strategy->observe(c, m);
    if (progress)
      progress(index, c, m);
    return m;
  };
  auto stopped = [&] { return options.stop && options.stop(); };
  if (stopped())
    return finish();
  // The default first: the baseline of the speed-up.
  Measurement dm = measureOne(Candidate{res.defaultConfig});
  if (dm.ok())
    res.defaultSeconds = dm.medianSeconds;
  while (!stopped()) {
    auto c = strategy->next();
    if (!c)
      break;
    if (c->configText == res.defaultConfig)
      continue;
    measureOne(*c);
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
    for (unsigned r = 0; r < options.confirmRounds && !stopped(); ++r)
      for (const std::string &config : finalists)
        measureOne(Candidate{config});
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
  return finish();
}
