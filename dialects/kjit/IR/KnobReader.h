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

/// Legality of a CPU `vector_width` knob (4, 8 or 16 f32 lanes, no wider
/// than the target's vectors): success, or failure with `reason`.
LogicalResult checkVectorWidth(int64_t vectorWidth, const TargetInfo &target,
                               std::string &reason);

} // namespace mlir::kjit

#endif
