//===- KnobReader.h - read a #kjit.config into an op's config --*- C++ -*-===//
//
// Every op family reads its config the same way: each knob it knows is bound
// to a field; a knob it does not know, a string where an integer belongs or
// an enum value outside its choices is an error naming the knob.
//
//===----------------------------------------------------------------------===//
#ifndef KJIT_DIALECT_KNOBREADER_H
#define KJIT_DIALECT_KNOBREADER_H

#include "dialects/kjit/IR/KjitDialect.h"

#include <functional>

namespace mlir::kjit {

class KnobReader {
public:
  /// `what` names the op in messages ("kjit.spmm", "a depthwise convolution").
  explicit KnobReader(StringRef what) : what(what.str()) {}

  /// An integer knob.
  KnobReader &integer(StringRef name, int64_t &field);
  /// An enum knob: one of `values`; `set` receives the chosen one.
  KnobReader &choice(StringRef name, ArrayRef<StringRef> values,
                     std::function<void(StringRef)> set);

  /// Reads every knob of `config` (absent knobs keep their fields).
  LogicalResult read(ConfigAttr config, std::string &reason) const;

private:
  struct Binding {
    std::string name;
    int64_t *integer = nullptr;
    std::vector<std::string> values;
    std::function<void(StringRef)> set;
  };
  std::string what;
  std::vector<Binding> bindings;
};

/// One integer knob of a config struct `C`: its name and its field. A config
/// whose knobs are all integers names them once, in one table, and reads and
/// prints itself from it (parse and print cannot drift apart).
template <typename C> struct IntKnob {
  const char *name;
  int64_t C::*field;
};

/// `base` with the knobs of `config` read through `knobs`.
template <typename C>
FailureOr<C> readIntKnobs(StringRef what, ArrayRef<IntKnob<C>> knobs,
                          ConfigAttr config, const C &base,
                          std::string &reason) {
  C c = base;
  KnobReader reader(what);
  for (const IntKnob<C> &k : knobs)
    reader.integer(k.name, c.*k.field);
  if (failed(reader.read(config, reason)))
    return failure();
  return c;
}

/// `c` as a `#kjit.config` of the knobs in `knobs`.
template <typename C>
ConfigAttr intKnobsAttr(MLIRContext *ctx, ArrayRef<IntKnob<C>> knobs,
                        const C &c) {
  SmallVector<std::pair<std::string, int64_t>> ints;
  for (const IntKnob<C> &k : knobs)
    ints.push_back({k.name, c.*k.field});
  return ConfigAttr::get(ctx, ints);
}

/// Legality of a CPU `vector_width` knob (4, 8 or 16 f32 lanes, no wider
/// than the target's vectors): success, or failure with `reason`.
LogicalResult checkVectorWidth(int64_t vectorWidth, const TargetInfo &target,
                               std::string &reason);

} // namespace mlir::kjit

#endif
