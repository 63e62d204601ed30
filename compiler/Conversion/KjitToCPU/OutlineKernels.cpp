//===- OutlineKernels.cpp - kjit ops -> calls to kernels on memrefs ------===//
#include "compiler/Passes.h"

#include "mlir/IR/SymbolTable.h"

namespace kjit::compiler {
#define GEN_PASS_DEF_KJITOUTLINEKERNELS
#include "compiler/Passes.h.inc"
} // namespace kjit::compiler

using namespace mlir;
using namespace mlir::kjit;

namespace {
MemRefType toMemRef(Type t) {
  auto rt = cast<RankedTensorType>(t);
  return MemRefType::get(rt.getShape(), rt.getElementType());
}

struct OutlineKernels
    : ::kjit::compiler::impl::KjitOutlineKernelsBase<OutlineKernels> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<TunableOpInterface> ops;
    module.walk([&](TunableOpInterface op) { ops.push_back(op); });

    // The runtime calls public functions through their C interface.
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn.isPublic() && !fn.isDeclaration())
        fn->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));

    unsigned counter = 0;
    for (TunableOpInterface tunable : ops) {
      Operation *op = tunable.getOperation();
      auto parent = op->getParentOfType<func::FuncOp>();
      if (!parent) {
        op->emitError("kjit ops must be inside a func.func");
        return signalPassFailure();
      }
      for (Type t : llvm::concat<Type>(op->getOperandTypes(),
                                       op->getResultTypes())) {
        auto rt = dyn_cast<RankedTensorType>(t);
        if (!rt || !rt.hasStaticShape()) {
          op->emitError("code generation needs static tensor shapes, got ")
              << t;
          return signalPassFailure();
        }
      }
      ConfigAttr config = getConfig(op);
      if (!config) {
        op->emitError("has no kjit.config; run kjit-attach-configs first");
        return signalPassFailure();
      }
      if (op->getNumResults() != 1) {
        op->emitError("kernels with dynamically sized results are not "
                      "supported on the CPU path yet");
        return signalPassFailure();
      }

      // The kernel declaration: (inputs..., outputs...) as memrefs.
      SmallVector<Type> argTypes;
      for (Type t : op->getOperandTypes())
        argTypes.push_back(toMemRef(t));
      for (Type t : op->getResultTypes())
        argTypes.push_back(toMemRef(t));
      OpBuilder mb(module.getBodyRegion());
      mb.setInsertionPointToEnd(module.getBody());
      std::string name;
      do {
        name = (parent.getName() + "_kjit_" + Twine(counter++)).str();
      } while (symbols.lookup(name));
      auto decl = func::FuncOp::create(
          mb, op->getLoc(), name, mb.getFunctionType(argTypes, {}));
      decl.setPrivate();
      decl->setAttr("kjit.kernel_op",
                    mb.getStringAttr(op->getName().getStringRef()));
      Attribute props = op->getPropertiesAsAttribute();
      decl->setAttr("kjit.kernel_props",
                    props ? props : mb.getDictionaryAttr({}));
      decl->setAttr("kjit.kernel_config", config);
      decl->setAttr("kjit.kernel_num_inputs",
                    mb.getI64IntegerAttr(op->getNumOperands()));
      symbols.insert(decl);

      // The call site.
      OpBuilder b(op);
      Location loc = op->getLoc();
      SmallVector<Value> args;
      for (Value v : op->getOperands())
        args.push_back(bufferization::ToBufferOp::create(
            b, loc, toMemRef(v.getType()), v, /*read_only=*/true));
      SmallVector<Value> outs;
      for (Type t : op->getResultTypes()) {
        Value buf = memref::AllocOp::create(b, loc, toMemRef(t),
                                            b.getI64IntegerAttr(64));
        outs.push_back(buf);
        args.push_back(buf);
      }
      func::CallOp::create(b, loc, decl, args);
      SmallVector<Value> results;
      for (auto [buf, t] : llvm::zip(outs, op->getResultTypes()))
        results.push_back(bufferization::ToTensorOp::create(
            b, loc, t, buf, /*restrict=*/true, /*writable=*/true));
      op->replaceAllUsesWith(results);
      op->erase();
    }
  }
};
} // namespace
