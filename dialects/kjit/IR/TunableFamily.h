//===- TunableFamily.h - TunableOpInterface from an op family --*- C++ -*-===//
//
// An op family describes its tuning with five functions: its geometry from
// the op, the default config, legality, the raw search space and the cost
// features. The four TunableOpInterface methods are the same composition of
// those for every family; KJIT_TUNABLE_OP writes them once.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_DIALECT_TUNABLEFAMILY_H
#define KJIT_DIALECT_TUNABLEFAMILY_H

#include "dialects/kjit/IR/KjitDialect.h"

#include <algorithm>
#include <string>
#include <type_traits>

namespace mlir::kjit {

/// `Config::parse(attr, base, reason)` reads a config over `base`;
/// GeomFn(op, reason) -> FailureOr<Geom>; DefaultFn(geom, target) -> Config;
/// CheckFn(config, geom, target, reason) -> LogicalResult;
/// SpaceFn(geom, target) -> SearchSpace; CostFn(config, geom, target).
template <typename Config, auto GeomFn, auto DefaultFn, auto CheckFn,
          auto SpaceFn, auto CostFn>
struct TunableFamily {
  template <typename OpT>
  static SearchSpace space(OpT op, const TargetInfo &t) {
    std::string why;
    auto g = GeomFn(op, why);
    return succeeded(g) ? SpaceFn(*g, t) : SearchSpace();
  }

  template <typename OpT>
  static LogicalResult verify(OpT op, ConfigAttr config, const TargetInfo &t,
                              std::string &reason) {
    auto g = GeomFn(op, reason);
    if (failed(g))
      return failure();
    auto c = Config::parse(config, DefaultFn(*g, t), reason);
    if (failed(c))
      return failure();
    return CheckFn(*c, *g, t, reason);
  }

  template <typename OpT>
  static ConfigAttr defaults(OpT op, const TargetInfo &t) {
    std::string why;
    auto g = GeomFn(op, why);
    using Geom = std::remove_cvref_t<decltype(*g)>;
    return DefaultFn(succeeded(g) ? *g : Geom(), t).toAttr(op->getContext());
  }

  template <typename OpT>
  static CostFeatures cost(OpT op, ConfigAttr config, const TargetInfo &t) {
    std::string why;
    auto g = GeomFn(op, why);
    if (failed(g))
      return {};
    auto c = Config::parse(config, DefaultFn(*g, t), why);
    return CostFn(succeeded(c) ? *c : DefaultFn(*g, t), *g, t);
  }
};

/// A family with a CPU and a GPU (CUDA) config: the target's kind picks
/// which one the four methods use.
template <typename CpuFamily, typename GpuFamily>
struct TargetFamily {
  static bool cuda(const TargetInfo &t) {
    return t.kind == TargetInfo::Kind::CUDA;
  }
  template <typename OpT>
  static SearchSpace space(OpT op, const TargetInfo &t) {
    return cuda(t) ? GpuFamily::space(op, t) : CpuFamily::space(op, t);
  }
  template <typename OpT>
  static LogicalResult verify(OpT op, ConfigAttr config, const TargetInfo &t,
                              std::string &reason) {
    return cuda(t) ? GpuFamily::verify(op, config, t, reason)
                   : CpuFamily::verify(op, config, t, reason);
  }
  template <typename OpT>
  static ConfigAttr defaults(OpT op, const TargetInfo &t) {
    return cuda(t) ? GpuFamily::defaults(op, t) : CpuFamily::defaults(op, t);
  }
  template <typename OpT>
  static CostFeatures cost(OpT op, ConfigAttr config, const TargetInfo &t) {
    return cuda(t) ? GpuFamily::cost(op, config, t)
                   : CpuFamily::cost(op, config, t);
  }
};

/// Threads per block a CUDA target allows (1024 when unknown).
inline int64_t gpuMaxThreads(const TargetInfo &t) {
  return t.maxThreadsPerBlock ? std::min<int64_t>(t.maxThreadsPerBlock, 1024)
                              : 1024;
}
/// Static shared memory per block kjit uses on a CUDA target (48 KiB, or
/// less when the target says so).
inline int64_t gpuSharedLimit(const TargetInfo &t) {
  int64_t lim = 48 * 1024;
  if (t.sharedMemPerBlock > 0)
    lim = std::min<int64_t>(lim, (int64_t)t.sharedMemPerBlock);
  return lim;
}
/// Legality of a `threads` (per block) knob: a multiple of the warp (32) in
/// [32, the target's maximum].
inline LogicalResult checkGpuThreads(int64_t threads, const TargetInfo &t,
                                     std::string &reason) {
  int64_t maxThreads = gpuMaxThreads(t);
  if (threads < 32 || threads > maxThreads || threads % 32 != 0) {
    reason = "threads (per block) must be a multiple of 32 in [32, " +
             std::to_string(maxThreads) + "], got " + std::to_string(threads);
    return failure();
  }
  return success();
}
/// Legality of a shared-memory footprint.
inline LogicalResult checkGpuShared(int64_t bytes, const TargetInfo &t,
                                    const std::string &what,
                                    std::string &reason) {
  int64_t limit = gpuSharedLimit(t);
  if (bytes > limit) {
    reason = what + " needs " + std::to_string(bytes) +
             " bytes of shared memory per block; at most " +
             std::to_string(limit);
    return failure();
  }
  return success();
}

} // namespace mlir::kjit

/// Defines OP's TunableOpInterface methods from FAMILY (a TunableFamily).
#define KJIT_TUNABLE_OP(OP, FAMILY)                                            \
  SearchSpace OP::getSearchSpace(const TargetInfo &t) {                        \
    return FAMILY::space(*this, t);                                            \
  }                                                                            \
  LogicalResult OP::verifyConfig(ConfigAttr config, const TargetInfo &t,       \
                                 std::string &reason) {                        \
    return FAMILY::verify(*this, config, t, reason);                           \
  }                                                                            \
  ConfigAttr OP::getDefaultConfig(const TargetInfo &t) {                       \
    return FAMILY::defaults(*this, t);                                         \
  }                                                                            \
  CostFeatures OP::getCostFeatures(ConfigAttr config, const TargetInfo &t) {   \
    return FAMILY::cost(*this, config, t);                                     \
  }

#endif
