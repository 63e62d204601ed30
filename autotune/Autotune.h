//===- Autotune.h - the tuner's interfaces ---------------------*- C++ -*-===//
//
// The contract the autotuner is built on (issue 4): a workload is one kjit
// op with its operand types and attributes; a candidate is a
// `#kjit.config<{...}>`; pruning rules and the cost model read the op's
// CostFeatures (TunableOpInterface, dialects/kjit/IR); a Measurer runs a
// candidate; a SearchStrategy orders what gets measured; a TuningDatabase
// keeps every measurement keyed by workload + target + compiler key.
//
// Implementations: Space.h (workloads, enumeration), Pruning.h, CostModel.h,
// Database.h (SQLite), Measurer.h, Search.h, Tuner.h (the driver).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_AUTOTUNE_AUTOTUNE_H
#define KJIT_AUTOTUNE_AUTOTUNE_H

#include "autotune/Statistics.h"
#include "dialects/kjit/IR/Tuning.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kjit::autotune {

/// One point of a search space, printed as the text of a
/// `#kjit.config<{...}>` attribute.
struct Candidate {
  std::string configText;
  bool operator==(const Candidate &o) const {
    return configText == o.configText;
  }
};

/// A workload: one kjit op with its operand types and attributes (no
/// config), printed canonically as a module `func.func @main` that takes the
/// op's operands and returns its results; `key` is the SHA-256 of that text
/// (ARCHITECTURE.md, Keys).
struct Workload {
  std::string opName;
  std::string canonicalText;
  std::string key;
};

/// A hardware rule that removes candidates (register-file fit, cache fit,
/// lane waste, ...). Each rule is named so that the tool can report what it
/// removed.
class PruningRule {
public:
  virtual ~PruningRule() = default;
  virtual std::string name() const = 0;
  /// One line saying what the rule keeps.
  virtual std::string description() const { return ""; }
  /// True when `features` of a candidate break the rule on `target`.
  virtual bool prunes(const CostFeatures &features,
                      const TargetInfo &target) const = 0;
  /// Called by prune() before `prunes`, with the candidates the earlier
  /// rules kept: a rule relative to the best candidate (e.g. "at most twice
  /// the least traffic") reads them here. A rule never prepared is a no-op
  /// where it needs them.
  virtual void prepare(const std::vector<const CostFeatures *> &alive,
                       const TargetInfo &target) {
    (void)alive;
    (void)target;
  }
};

/// Ranks candidates without running them (roofline from FLOPs and bytes).
class CostModel {
public:
  virtual ~CostModel() = default;
  /// Predicted seconds; lower is better.
  virtual double predict(const CostFeatures &features,
                         const TargetInfo &target) const = 0;
};

/// One measurement, success or failure (failures are records too).
struct Measurement {
  enum class Status { Ok, CompileError, Illegal, Crash, Timeout };
  Status status = Status::Ok;
  double medianSeconds = 0, spreadSeconds = 0;
  int repeats = 0; ///< timed runs the median is taken over
  /// The fastest run, and the 95% interval of the median (0: not known,
  /// e.g. a record older than schema v4).
  double minSeconds = 0, ciLowSeconds = 0, ciHighSeconds = 0;
  /// The runs' relative half inter-quartile range (the machine's noise as
  /// this measurement saw it).
  double noise = 0;
  std::string message;
  bool ok() const { return status == Status::Ok; }
};

/// "ok", "compile-error", "illegal", "crash", "timeout".
const char *statusName(Measurement::Status s);
/// The inverse of statusName; nothing for an unknown name.
std::optional<Measurement::Status> parseStatus(const std::string &name);

/// Runs a candidate.
class Measurer {
public:
  virtual ~Measurer() = default;
  virtual Measurement measure(const Workload &workload,
                              const Candidate &candidate) = 0;
  /// `a` and `b` timed alternately (Statistics.h, pairedCompare): the
  /// ratio time(b) / time(a) with its interval. This default alternates
  /// whole measure() calls (one ratio of medians per pair); a measurer that
  /// can hold both compiled alternates single runs in one process.
  virtual PairedResult compare(const Workload &workload, const Candidate &a,
                               const Candidate &b, const PairOptions &options);
};

/// Chooses what to measure next (pruned-exhaustive, random, model-only).
class SearchStrategy {
public:
  virtual ~SearchStrategy() = default;
  virtual std::string name() const = 0;
  /// The next candidate to measure, or nothing when done.
  virtual std::optional<Candidate> next() = 0;
  virtual void observe(const Candidate &candidate,
                       const Measurement &result) = 0;
  /// The strategy's pick when nothing more is measured (model-only: the cost
  /// model's top candidate; others: the best observed so far).
  virtual std::optional<Candidate> pick() const = 0;
};

/// Every measurement keyed by workload + target + compiler key.
class TuningDatabase {
public:
  virtual ~TuningDatabase() = default;
  /// False when the measurement could not be stored (it is then lost:
  /// callers must stop, not go on measuring).
  [[nodiscard]] virtual bool record(const Workload &workload,
                                    const std::string &targetKey,
                                    const std::string &compilerKey,
                                    const Candidate &candidate,
                                    const Measurement &result) = 0;
  /// The best successful candidate recorded for exactly these keys; an
  /// error when the database cannot be read (never "none").
  virtual llvm::Expected<std::optional<Candidate>>
  best(const Workload &workload, const std::string &targetKey,
       const std::string &compilerKey) = 0;
};

} // namespace kjit::autotune

#endif
