//===- Selector.h - run-time config selection from the database -*- C++ -*-===//
//
// ARCHITECTURE.md, Autotuning step 6: an exact record (workload + target +
// tuning epoch, compiler::tuningEpoch()) gives its best config; else the
// nearest tuned workload of the same op, target and epoch (same attributes,
// ranks and element types; closest tensor shapes); else nothing (the op's
// default). Records of an older epoch are never served. A nearest config is
// a suggestion only: the caller re-verifies it for the new shape
// (compiler::prepare does, through verifyConfig) and falls back to the
// default when it is illegal. Part of KjitTuningDb (linked by the runtime).
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_AUTOTUNE_SELECTOR_H
#define KJIT_AUTOTUNE_SELECTOR_H

#include "autotune/Database.h"

#include <optional>
#include <string>

namespace kjit::autotune {

struct Selection {
  enum class Source { None, Exact, Nearest };
  Source source = Source::None;
  std::string config;          ///< `#kjit.config<{...}>` text ("" for None)
  std::string fromWorkloadKey; ///< the record's workload
  double distance = 0;         ///< shape distance (Nearest)
};

/// The config to use for `workload` on these keys; an error when the
/// database cannot be read.
llvm::Expected<Selection> selectConfig(SqliteDatabase &db,
                                       const Workload &workload,
                                       const std::string &targetKey,
                                       const std::string &compilerKey);

/// Distance between two canonical workload texts that differ only in the
/// dimensions of their tensor types: the sum over dimensions of
/// |log((1+a)/(1+b))|. Nothing when they differ in anything else (op,
/// attributes, ranks, element types).
std::optional<double> workloadDistance(const std::string &a,
                                       const std::string &b);

} // namespace kjit::autotune

#endif
