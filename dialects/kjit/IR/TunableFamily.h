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
