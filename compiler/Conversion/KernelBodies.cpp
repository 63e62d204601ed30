//===- KernelBodies.cpp - bodies for outlined kernel declarations --------===//
#include "compiler/Conversion/KernelBodies.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::kjit;

static LogicalResult generateBody(func::FuncOp fn, StringRef targetName,
                                  const TargetInfo &target,
                                  ::kjit::compiler::GeneratorLookup lookup,
                                  ::kjit::compiler::DynamicGeneratorLookup
                                      dynamicLookup) {
  auto opName = fn->getAttrOfType<StringAttr>("kjit.kernel_op");
  auto props = fn->getAttrOfType<DictionaryAttr>("kjit.kernel_props");
  auto config = fn->getAttrOfType<ConfigAttr>("kjit.kernel_config");
  auto numIn = fn->getAttrOfType<IntegerAttr>("kjit.kernel_num_inputs");
  if (!opName || !props || !config || !numIn)
    return fn.emitError("malformed kjit kernel declaration");
  int64_t nIn = numIn.getInt();
  // One flag per op result (kjit.dynamic_results): true for the results
  // the kernel allocates (the declaration's results, in order).
  SmallVector<bool> flags;
  if (auto d = fn->getAttrOfType<DenseBoolArrayAttr>("kjit.dynamic_results"))
    flags.assign(d.asArrayRef().begin(), d.asArrayRef().end());
  SmallVector<int64_t> dynamic;
  for (auto [i, f] : llvm::enumerate(flags))
    if (f)
      dynamic.push_back(i);
  int64_t numStatic = (int64_t)fn.getNumArguments() - nIn;
  int64_t numResults = numStatic + (int64_t)dynamic.size();
  if (nIn < 0 || numStatic < 0 ||
      (int64_t)dynamic.size() != (int64_t)fn.getNumResults() ||
      (!flags.empty() && (int64_t)flags.size() != numResults))
    return fn.emitError("malformed kjit kernel declaration (results and "
                        "kjit.dynamic_results disagree)");

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
  // Results in the op's order: static ones are the trailing arguments,
  // dynamic ones (kjit.dynamic_results) the declaration's results.
  for (int64_t i = 0, nextStatic = 0, nextDynamic = 0; i < numResults; ++i) {
    auto mt = cast<MemRefType>(
        (!flags.empty() && flags[i])
            ? fn.getResultTypes()[nextDynamic++]
            : outputs[nextStatic++].getType());
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
  SmallVector<Value> allocated;
  if (succeeded(mlir::verify(op))) {
    if (!dynamic.empty()) {
      ::kjit::compiler::DynamicKernelGenerator *gen =
          dynamicLookup ? dynamicLookup(op) : nullptr;
      if (gen) {
        ok = gen(b, loc, op, inputs, outputs, allocated, config, target,
                 reason);
        if (succeeded(ok) && (allocated.size() != dynamic.size() ||
                              TypeRange(ValueRange(allocated)) !=
                                  fn.getResultTypes())) {
          reason = "internal error: the generator returned the wrong "
                   "kernel-allocated results";
          ok = failure();
        }
      } else {
        reason = op->getName().getStringRef().str() + " has no " +
                 targetName.str() + " code generator yet";
      }
    } else if (::kjit::compiler::KernelGenerator *gen = lookup(op)) {
      ok = gen(b, loc, op, inputs, outputs, config, target, reason);
    } else {
      reason = op->getName().getStringRef().str() + " has no " +
               targetName.str() + " code generator yet";
    }
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
  func::ReturnOp::create(b, loc, allocated);
  // The body says it all now; LLVM IR export knows no kjit attributes.
  for (StringRef name :
       {"kjit.kernel_op", "kjit.kernel_props", "kjit.kernel_config",
        "kjit.kernel_num_inputs", "kjit.dynamic_results"})
    fn->removeAttr(name);
  return success();
}

namespace kjit::compiler {
LogicalResult generateKernelBodies(ModuleOp module, StringRef targetName,
                                   const TargetInfo &target,
                                   GeneratorLookup lookup,
                                   DynamicGeneratorLookup dynamicLookup) {
  SmallVector<func::FuncOp> kernels;
  for (auto fn : module.getOps<func::FuncOp>())
    if (fn.isDeclaration() && fn->hasAttr("kjit.kernel_op"))
      kernels.push_back(fn);
  for (func::FuncOp fn : kernels)
    if (failed(generateBody(fn, targetName, target, lookup, dynamicLookup)))
      return failure();
  return success();
}
} // namespace kjit::compiler
