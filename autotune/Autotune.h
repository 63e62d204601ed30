//===- Autotune.h - the tuner's interfaces ---------------------*- C++ -*-===//
//
// The contract the autotuner (issue: pruned spaces, cost model, measurer,
// SQLite database, run-time selection) is built on. Only the interfaces
// exist so far; the compiler side of the contract (TunableOpInterface:
// search space, verifyConfig, default config, cost features) is in
// dialects/kjit/IR and is implemented for the conv ops.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_AUTOTUNE_AUTOTUNE_H
#define KJIT_AUTOTUNE_AUTOTUNE_H

#include "dialects/kjit/IR/Tuning.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kjit::autotune {

/// One point of a search space: knob name -> value, printed as the text of
/// a `#kjit.config<{...}>` attribute.
struct Candidate {
  std::string configText;
};

/// A workload: one kjit op with its operand types and attributes, printed
/// canonically; its key is a hash of that text (ARCHITECTURE.md, Keys).
struct Workload {
  std::string opName;
  std::string canonicalText;
  std::string key;
};

/// A hardware rule that removes candidates (register-file fit, cache fit,
/// padding waste, ...). Each rule is named so that the tool can report what
/// it removed.
class PruningRule {
public:
  virtual ~PruningRule() = default;
  virtual std::string name() const = 0;
  /// True when `features` of a candidate break the rule on `target`.
  virtual bool prunes(const CostFeatures &features,
                      const TargetInfo &target) const = 0;
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
  enum class Status { Ok, CompileError, Illegal, Crash, Timeout } status;
  double medianSeconds = 0, spreadSeconds = 0;
  int repeats = 0;
  std::string message;
};

/// Runs a candidate (in a child process when it may crash).
class Measurer {
public:
  virtual ~Measurer() = default;
  virtual Measurement measure(const Workload &workload,
                              const Candidate &candidate) = 0;
};

/// Chooses what to measure next (pruned-exhaustive, random, model-guided,
/// model-only).
class SearchStrategy {
public:
  virtual ~SearchStrategy() = default;
  virtual std::string name() const = 0;
  /// The next candidate to measure, or nothing when done.
  virtual std::optional<Candidate> next() = 0;
  virtual void observe(const Candidate &candidate,
                       const Measurement &result) = 0;
};

/// Every measurement keyed by workload + target + compiler key.
class TuningDatabase {
public:
  virtual ~TuningDatabase() = default;
  virtual bool record(const Workload &workload, const std::string &targetKey,
                      const std::string &compilerKey,
                      const Candidate &candidate,
                      const Measurement &result) = 0;
  /// The best successful candidate recorded for exactly these keys.
  virtual std::optional<Candidate> best(const Workload &workload,
                                        const std::string &targetKey,
                                        const std::string &compilerKey) = 0;
};

} // namespace kjit::autotune

#endif
