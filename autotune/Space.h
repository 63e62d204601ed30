//===- Space.h - workloads and their search spaces -------------*- C++ -*-===//
#ifndef KJIT_AUTOTUNE_SPACE_H
#define KJIT_AUTOTUNE_SPACE_H

#include "autotune/Autotune.h"
#include "autotune/Workload.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace kjit::autotune {

// extractWorkloads, workloadOf and sha256Hex: autotune/Workload.h.

/// A candidate with what the pruning rules and the cost model read.
struct SpacePoint {
  Candidate candidate;
  CostFeatures features;
  double predictedSeconds = 0; ///< filled by rank()
};

/// The enumerated space of one workload.
struct EnumeratedSpace {
  SearchSpace raw;              ///< the op's knobs
  uint64_t rawSize = 0;         ///< points of the cross product
  std::vector<SpacePoint> legal; ///< those verifyConfig accepts
  uint64_t illegal = 0;         ///< rawSize - legal.size()
  std::string firstIllegalReason;
};

/// One workload parsed once (an MLIR context of its own; use it from one
/// thread at a time).
class ParsedWorkload {
public:
  static llvm::Expected<std::unique_ptr<ParsedWorkload>>
  parse(const Workload &workload);
  ~ParsedWorkload();

  const Workload &workload() const;
  SearchSpace searchSpace(const TargetInfo &target) const;
  /// The cross product of the knobs, each point checked with verifyConfig.
  /// `limit` bounds the raw points visited (0: no bound).
  EnumeratedSpace enumerate(const TargetInfo &target,
                            uint64_t limit = 0) const;
  /// The op's default config on `target`, printed.
  std::string defaultConfig(const TargetInfo &target) const;
  /// verifyConfig on a config text; the reason on failure.
  llvm::Error verify(const std::string &configText,
                     const TargetInfo &target) const;
  /// Cost features of a config text (the default's when it does not parse).
  CostFeatures features(const std::string &configText,
                        const TargetInfo &target) const;
  /// A config text canonically reprinted (sorted knobs), or an error.
  llvm::Expected<std::string> canonicalConfig(const std::string &text) const;

private:
  struct Impl;
  explicit ParsedWorkload(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace kjit::autotune

#endif
