//===- KnobReader.cpp - read a #kjit.config into an op's config ----------===//
#include "dialects/kjit/IR/KnobReader.h"

using namespace mlir;
using namespace mlir::kjit;

KnobReader &KnobReader::integer(StringRef name, int64_t &field) {
  Binding b;
  b.name = name.str();
  b.integer = &field;
  bindings.push_back(std::move(b));
  return *this;
}

KnobReader &KnobReader::choice(StringRef name, ArrayRef<StringRef> values,
                               std::function<void(StringRef)> set) {
  Binding b;
  b.name = name.str();
  for (StringRef v : values)
    b.values.push_back(v.str());
  b.set = std::move(set);
  bindings.push_back(std::move(b));
  return *this;
}

LogicalResult KnobReader::read(ConfigAttr config, std::string &reason) const {
  if (!config)
    return success();
  for (NamedAttribute knob : config.getKnobs()) {
    StringRef name = knob.getName().getValue();
    const Binding *b = nullptr;
    for (const Binding &candidate : bindings)
      if (candidate.name == name)
        b = &candidate;
    if (!b) {
      std::string known;
      for (const Binding &candidate : bindings)
        known += (known.empty() ? "" : ", ") + candidate.name;
      reason = ("unknown knob '" + name + "' for " + what + " (knobs: " +
                known + ")")
                   .str();
      return failure();
    }
    if (b->integer) {
      auto i = dyn_cast<IntegerAttr>(knob.getValue());
      if (!i) {
        reason = ("knob '" + name + "' must be an integer").str();
        return failure();
      }
      *b->integer = i.getValue().getSExtValue();
      continue;
    }
    auto s = dyn_cast<StringAttr>(knob.getValue());
    if (!s || !llvm::is_contained(b->values, s.getValue().str())) {
      std::string choices;
      for (size_t i = 0; i < b->values.size(); ++i)
        choices += (i == 0 ? "" : i + 1 == b->values.size() ? " or " : ", ") +
                   ("\"" + b->values[i] + "\"");
      reason = (name + " must be " + choices).str();
      return failure();
    }
    b->set(s.getValue());
  }
  return success();
}

LogicalResult mlir::kjit::checkVectorWidth(int64_t vw, const TargetInfo &t,
                                           std::string &reason) {
  if (vw != 4 && vw != 8 && vw != 16) {
    reason = "vector_width must be 4, 8 or 16, got " + std::to_string(vw);
    return failure();
  }
  if (vw > (int64_t)t.maxF32Lanes()) {
    reason = "vector_width " + std::to_string(vw) + " needs " +
             std::to_string(vw * 32) + "-bit vectors; the target has " +
             std::to_string(t.vectorBits);
    return failure();
  }
  return success();
}
