//===- KernelBodies.cpp - bodies for outlined kernel declarations --------===//
#include "compiler/Conversion/KernelBodies.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::kjit;

static LogicalResult generateBody(func::FuncOp fn, StringRef targetName,
                                  const TargetInfo &target,
                                  ::kjit::compiler::GeneratorLookup lookup) {
  auto opName = fn->getAttrOfType<StringAttr>("kjit.kernel_op");
  auto props = fn->getAttrOfType<DictionaryAttr>("kjit.kernel_props");
  auto config = fn->getAttrOfType<ConfigAttr>("kjit.kernel_config");
  auto numIn = fn->getAttrOfType<IntegerAttr>("kjit.kernel_num_inputs");
  if (!opName || !props || !config || !numIn)
    return fn.emitError("malformed kjit kernel declaration");
  int64_t nIn = numIn.getInt();

  Block *entry = fn.addEntryBlock();
  OpBuilder b(fn.getContext());
  b.setInsertionPointToStart(entry);
  Location loc = fn.getLoc();
  ValueRange args = entry->getArguments();
  ValueRange inputs = args.take_front(nIn), outputs = args.drop_front(nIn);

  SmallVector<Operation *> scaffolding;
  OperationState state(loc, opName.getValue());
  for (Value in : inputs) {
    auto mt = cast<MemRefType>(in.getType());
    auto tt = RankedTensorType::get(mt.getShape(), mt.getElementType());
    auto view = bufferization::ToTensorOp::create(b, loc, tt, in,
                                                 /*restrict=*/true,
                                                 /*writable=*/false);
    scaffolding.push_back(view);
    state.addOperands(view.getResult());
  }
  for (Value out : outputs) {
    auto mt = cast<MemRefType>(out.getType());
    state.addTypes(RankedTensorType::get(mt.getShape(), mt.getElementType()));
  }
  // Ops without properties (butterfly_matmul, fft_conv) carry an empty
  // dictionary; handing it to them would call a null property setter.
  if (!props.empty())
    state.propertiesAttr = props;
  Operation *op = b.create(state);
  op->setAttr(kConfigAttrName, config);

  std::string reason;
  LogicalResult ok = failure();
  if (succeeded(mlir::verify(op))) {
    if (::kjit::compiler::KernelGenerator *gen = lookup(op))
      ok = gen(b, loc, op, inputs, outputs, config, target, reason);
    else
      reason = op->getName().getStringRef().str() + " has no " +
               targetName.str() + " code generator yet";
  }
  op->erase();
  for (Operation *s : llvm::reverse(scaffolding))
    s->erase();
  if (failed(ok)) {
    // Leave a declaration behind, not a half-built body.
    entry->erase();
    if (reason.empty())
      return failure(); // the verifier has reported it
    return fn.emitError("cannot generate ")
           << targetName << " code for " << opName << ": " << reason;
  }
  func::ReturnOp::create(b, loc);
  // The body says it all now; LLVM IR export knows no kjit attributes.
  for (StringRef name : {"kjit.kernel_op", "kjit.kernel_props",
                         "kjit.kernel_config", "kjit.kernel_num_inputs"})
    fn->removeAttr(name);
  return success();
}

namespace kjit::compiler {
LogicalResult generateKernelBodies(ModuleOp module, StringRef targetName,
                                   const TargetInfo &target,
                                   GeneratorLookup lookup) {
  SmallVector<func::FuncOp> kernels;
  for (auto fn : module.getOps<func::FuncOp>())
    if (fn.isDeclaration() && fn->hasAttr("kjit.kernel_op"))
      kernels.push_back(fn);
  for (func::FuncOp fn : kernels)
    if (failed(generateBody(fn, targetName, target, lookup)))
      return failure();
  return success();
}
} // namespace kjit::compiler
