//===- KjitDialect.h - the kjit dialect ------------------------*- C++ -*-===//
#ifndef KJIT_DIALECT_KJITDIALECT_H
#define KJIT_DIALECT_KJITDIALECT_H

#include "dialects/kjit/IR/TargetInfo.h"
#include "dialects/kjit/IR/Tuning.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::kjit {
using ::kjit::CostFeatures;
using ::kjit::Knob;
using ::kjit::SearchSpace;
using ::kjit::TargetInfo;
} // namespace mlir::kjit

#include "dialects/kjit/IR/KjitDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/kjit/IR/KjitAttrs.h.inc"

#include "dialects/kjit/IR/TunableOpInterface.h.inc"

#define GET_OP_CLASSES
#include "dialects/kjit/IR/KjitOps.h.inc"

namespace mlir::kjit {
/// Name of the discardable attribute that carries an op's config.
inline constexpr llvm::StringLiteral kConfigAttrName = "kjit.config";

/// The config attached to `op`, or null.
ConfigAttr getConfig(Operation *op);
} // namespace mlir::kjit

#endif
