//===- Tuner.cpp - tune one workload -------------------------------------===//
#include "autotune/Tuner.h"

#include <chrono>

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
  auto measureOne = [&](const Candidate &c) {
    Measurement m = measurer->measure(workload, c);
    ++index;
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
  return finish();
}
