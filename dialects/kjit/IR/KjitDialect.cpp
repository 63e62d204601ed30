//===- KjitDialect.cpp - the kjit dialect and #kjit.config ---------------===//
#include "dialects/kjit/IR/KjitDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::kjit;

#include "dialects/kjit/IR/KjitDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/kjit/IR/KjitAttrs.cpp.inc"

void KjitDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/kjit/IR/KjitAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/kjit/IR/KjitOps.cpp.inc"
      >();
}

LogicalResult ConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 DictionaryAttr knobs) {
  for (NamedAttribute knob : knobs) {
    Attribute v = knob.getValue();
    if (auto i = dyn_cast<IntegerAttr>(v)) {
      if (!i.getType().isSignlessInteger(64) && !i.getType().isIndex() &&
          !i.getType().isSignlessInteger())
        return emitError() << "config knob '" << knob.getName().getValue()
                           << "' must be an integer or a string";
      continue;
    }
    if (isa<StringAttr>(v))
      continue;
    return emitError() << "config knob '" << knob.getName().getValue()
                       << "' must be an integer or a string, got " << v;
  }
  return success();
}

int64_t ConfigAttr::getInt(StringRef name, int64_t fallback) const {
  if (auto i = dyn_cast_or_null<IntegerAttr>(getKnobs().get(name)))
    return i.getValue().getSExtValue();
  return fallback;
}

StringRef ConfigAttr::getString(StringRef name, StringRef fallback) const {
  if (auto s = dyn_cast_or_null<StringAttr>(getKnobs().get(name)))
    return s.getValue();
  return fallback;
}

bool ConfigAttr::has(StringRef name) const {
  return static_cast<bool>(getKnobs().get(name));
}

ConfigAttr
ConfigAttr::get(MLIRContext *ctx,
                ArrayRef<std::pair<std::string, int64_t>> ints,
                ArrayRef<std::pair<std::string, std::string>> strs) {
  Builder b(ctx);
  SmallVector<NamedAttribute> entries;
  for (auto &[name, value] : ints)
    entries.push_back(b.getNamedAttr(name, b.getI64IntegerAttr(value)));
  for (auto &[name, value] : strs)
    entries.push_back(b.getNamedAttr(name, b.getStringAttr(value)));
  return ConfigAttr::get(ctx, b.getDictionaryAttr(entries));
}

ConfigAttr ConfigAttr::merge(ConfigAttr other) const {
  if (!other)
    return *this;
  NamedAttrList entries(getKnobs());
  for (NamedAttribute knob : other.getKnobs())
    entries.set(knob.getName(), knob.getValue());
  return ConfigAttr::get(getContext(),
                         entries.getDictionary(getContext()));
}

LogicalResult KjitDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  if (attr.getName() == kConfigAttrName) {
    if (!isa<ConfigAttr>(attr.getValue()))
      return op->emitError() << "'" << kConfigAttrName
                             << "' must be a #kjit.config attribute";
    if (!isa<TunableOpInterface>(op))
      return op->emitError() << "'" << kConfigAttrName
                             << "' is only allowed on tunable kjit ops";
    return success();
  }
  // Attributes the compiler attaches to outlined kernel functions.
  if (attr.getName().getValue().starts_with("kjit.kernel"))
    return success();
  // The dynamic-output protocol: one flag per result of a function
  // (compiler/Passes.h, kDynamicResultsAttr).
  if (attr.getName() == "kjit.dynamic_results") {
    if (!isa<DenseBoolArrayAttr>(attr.getValue()))
      return op->emitError()
             << "'kjit.dynamic_results' must be an array<i1: ...>";
    return success();
  }
  return op->emitError() << "unknown kjit attribute '"
                         << attr.getName().getValue() << "'";
}

ConfigAttr mlir::kjit::getConfig(Operation *op) {
  return op->getAttrOfType<ConfigAttr>(kConfigAttrName);
}
